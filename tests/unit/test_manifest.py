"""The Slack app manifest is valid against Slack's schema and matches what the bot handles."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bot.slack.ids import CallbackId, Command

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "reference" / "slack" / "manifest-schema" / "manifest.schema.v1.json"
MANIFEST = json.loads((REPO / "manifest.json").read_text())


def test_manifest_is_valid_against_slack_schema() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA} (shared/ reference material missing)")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(MANIFEST, schema)


def test_schema_rejects_a_broken_manifest() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text())
    broken = {**MANIFEST, "display_information": {}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_command_the_bot_handles_is_declared_and_nothing_else() -> None:
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert declared == {c.value for c in Command}
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events") and len(command["description"]) <= 100


def test_shortcuts_match_callback_ids() -> None:
    declared = {s["callback_id"] for s in MANIFEST["features"]["shortcuts"]}
    assert declared == {CallbackId.SHORTCUT_CREATE_TICKET.value}


def test_events_and_scopes_cover_the_listeners() -> None:
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert {"message.channels", "message.groups", "reaction_added", "app_home_opened"} <= events
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    needed = {"chat:write", "commands", "channels:history", "groups:history", "reactions:read", "users:read"}
    assert needed <= scopes


def test_every_subscribed_event_type_has_a_handler_and_no_handler_waits_for_an_unsubscribed_one() -> None:
    from handlers.events import HANDLERS

    subscribed = {e.partition(".")[0] for e in MANIFEST["settings"]["event_subscriptions"]["bot_events"]}
    assert subscribed == set(HANDLERS)


def test_the_one_command_listener_has_a_handler_for_every_declared_command() -> None:
    from handlers.slash import COMMANDS, check_table

    check_table()  # also run at start-up: every handler takes only what the listener passes
    assert set(COMMANDS) == {c["command"] for c in MANIFEST["features"]["slash_commands"]}


def test_a_handler_wanting_more_than_the_listener_passes_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from handlers import slash

    async def wants_client(ack: object, command: object, context: object, client: object) -> None: ...

    monkeypatch.setitem(slash.COMMANDS, "/ticket", wants_client)
    with pytest.raises(RuntimeError, match=r"/ticket handler wants \['client'\]"):
        slash.check_table()
