"""Environment settings, typed and validated once at start (pydantic-settings)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite://data/support.sqlite3"


class RunMode(StrEnum):
    """How the bot talks to Slack."""

    HTTP = "http"
    SOCKET = "socket"
    SANDBOX = "sandbox"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what to do."""


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # repr=False: secrets never show up in logs, tracebacks or error messages that print the settings.
    slack_bot_token: str | None = Field(default=None, description="Bot token, xoxb-…", repr=False)
    slack_signing_secret: str | None = Field(default=None, description="Signing secret", repr=False)
    slack_app_token: str | None = Field(default=None, description="App-level token xapp-…", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    database_url: str = DEFAULT_DATABASE_URL
    support_config: Path = Path("config/support.toml")
    migrate_on_start: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Outbound pacing: Slack allows about one message per second per channel, with short bursts.
    outbox_channel_rate: float = Field(default=1.0, gt=0)
    outbox_channel_burst: int = Field(default=4, ge=1)
    outbox_workers: int = Field(default=8, ge=1, le=64)
    # Seconds to wait for Slack's answer to one outbound call; after no answer, how long to keep looking for
    # the message (by its metadata) before sending it again.
    outbox_send_timeout: float = Field(default=10.0, gt=0)
    outbox_uncertain_grace: float = Field(default=45.0, ge=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Requests worked on at once after their ack (slash commands, events). More wait their turn in memory:
    # hundreds of concurrent units of work only fight over the database and the event loop, and acks slow
    # down while the total throughput drops (measured: docs/benchmarks.md).
    work_concurrency: int = Field(default=16, ge=1, le=1024)
    # Requests first (bot/slack/priority.py): while Slack requests keep arriving, work that has not started
    # (after-ack units, outbox passes) waits for `requests_first_gap` seconds without a request, at most
    # `requests_first_max_wait` seconds from the start of the busy spell (0 turns it off).
    requests_first_gap: float = Field(default=0.002, gt=0, le=1)
    requests_first_max_wait: float = Field(default=1.0, ge=0, le=10)
    # Keep what lives long out of the garbage collector's full passes (gc.freeze: start-up's objects, and a
    # burst's backlog while it waits), which pause every ack for as long as they walk the heap
    # (bot/collector.py, docs/operations.md). Off where many bots share a process.
    gc_freeze: bool = True

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: str | None) -> str | None:
        if value and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with 'xoxb-' (OAuth & Permissions page)")
        return value or None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: str | None) -> str | None:
        if value and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with 'xapp-' (Basic Information page)")
        return value or None

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite:// or postgres:// (e.g. postgres://user@host:5432/db)")
        return value

    @model_validator(mode="after")
    def _slack_pair(self) -> Settings:
        if bool(self.slack_bot_token) != bool(self.slack_signing_secret):
            missing = "SLACK_SIGNING_SECRET" if self.slack_bot_token else "SLACK_BOT_TOKEN"
            raise ValueError(
                f"{missing} is missing: set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to serve Slack, "
                "or neither to start the local sandbox"
            )
        if self.slack_app_token and not self.slack_bot_token:
            raise ValueError("SLACK_APP_TOKEN needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET as well")
        return self

    @property
    def mode(self) -> RunMode:
        """HTTP when bot token and secret are set, Socket Mode with an app token too, else the sandbox."""
        if self.slack_bot_token and self.slack_app_token:
            return RunMode.SOCKET
        if self.slack_bot_token:
            return RunMode.HTTP
        return RunMode.SANDBOX


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError naming the variable on failure."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        name = loc[0].upper() if loc else ""
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if name else msg)
    return "; ".join(lines)
