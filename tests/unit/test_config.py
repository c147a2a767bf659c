"""Settings and support configuration: validated at start, errors name the key and say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox.demo import demo_support_raw
from config.settings import RunMode, SettingsError, load_settings
from config.support import SupportConfigError, load_support_config, parse_support_config

REPO = Path(__file__).resolve().parents[2]


def _env(**values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "SUPPORT_CONFIG"))
    }
    return {**env, **values}


def test_modes_follow_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    assert load_settings(_env_file=None).mode == RunMode.SANDBOX
    http = load_settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s")
    assert http.mode == RunMode.HTTP and http.slack_api_url == "https://slack.com/api/"
    socket = load_settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s", slack_app_token="xapp-1"
    )
    assert socket.mode == RunMode.SOCKET


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"slack_bot_token": "xoxp-user", "slack_signing_secret": "s"}, "SLACK_BOT_TOKEN"),
        (
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "slack_app_token": "xoxb-2"},
            "SLACK_APP_TOKEN",
        ),
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
        ({"slack_api_url": "slack.com/api"}, "SLACK_API_URL"),
        ({"port": 70000}, "PORT"),
    ],
)
def test_bad_settings_name_the_variable(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(_env_file=None, **overrides)


def test_cli_exits_2_with_one_clear_line_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(SLACK_BOT_TOKEN="not-a-token", SLACK_SIGNING_SECRET="x"),
    )
    assert result.returncode == 2
    assert (
        "SLACK_BOT_TOKEN" in result.stderr and "xoxb-" in result.stderr and "Traceback" not in result.stderr
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(
            SLACK_BOT_TOKEN="xoxb-1",
            SLACK_SIGNING_SECRET="x",
            SUPPORT_CONFIG=str(tmp_path / "nope.toml"),
            DATABASE_URL=f"sqlite://{tmp_path}/x.sqlite3",
        ),
    )
    assert (
        result.returncode == 2
        and "support.example.toml" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_example_config_is_valid() -> None:
    config = load_support_config(REPO / "config" / "support.example.toml")
    assert config.tickets.key_prefix == "SUP" and config.route("network") is not None


def _with(**changes: object) -> dict:
    raw = demo_support_raw()
    for dotted, value in changes.items():
        node = raw
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return raw


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"levels__L2": None}, "levels: missing L2"),
        ({"levels__L1__channel": "general"}, "levels.L1.channel: 'general' is not a Slack channel id"),
        ({"levels__L3__ping": ["@team"]}, "levels.L3.ping"),
        ({"tickets__key_prefix": "sup-"}, "tickets.key_prefix"),
        ({"tickets__followup_window": "soon"}, "tickets.followup_window"),
        ({"tickets__default_priority": "P9"}, "tickets.default_priority"),
        ({"customers__0__team_id": "acme"}, "customers[0].team_id"),
        ({"customers__1__channels": ["C0L1"]}, "customers[1].channels: C0L1 is also a support level channel"),
        ({"routes__1__component": "billing"}, "routes: component 'billing' is listed twice"),
        ({"defaults__timezone": "Mars/Olympus"}, "defaults.timezone"),
        ({"unknown_section": {"x": 1}}, "unknown_section"),
    ],
)
def test_bad_support_config_names_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SupportConfigError) as info:
        parse_support_config(_with(**changes), source="support.toml")
    assert message in str(info.value) and str(info.value).startswith("support.toml: ")


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "support.toml"
    bad.write_text("[levels\nL1 = 3")
    with pytest.raises(SupportConfigError, match="not valid TOML"):
        load_support_config(bad)
    with pytest.raises(SupportConfigError, match="file not found"):
        load_support_config(tmp_path / "missing.toml")
