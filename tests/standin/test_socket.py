"""Socket Mode in the stand-in: apps.connections.open, the websocket, envelopes, acks, disconnects.

The app side is slack_sdk's real aiohttp SocketModeClient over a real websocket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn, Workspace
from bot.sandbox.standin.socket import SocketNotConnected

from .conftest import STANDIN_SIGNING_SECRET, STANDIN_TOKEN, BotReceiver

APP_TOKEN = "xapp-1-A0BOT-1-standin-test"
Reply = Callable[[SocketModeRequest], dict[str, Any] | None]


@dataclass
class SocketApp:
    """slack_sdk's SocketModeClient acting as the app: records requests, acks them (optionally with a payload)."""

    client: SocketModeClient
    requests: list[SocketModeRequest] = field(default_factory=list)
    reply: Reply = lambda request: None
    ack: bool = True

    @property
    def last(self) -> SocketModeRequest:
        """The most recent request."""
        return self.requests[-1]


@pytest.fixture
async def socket_standin(standin_workspace: Workspace) -> AsyncIterator[SlackStandIn]:
    """A running stand-in that accepts the app-level token."""
    si = SlackStandIn(standin_workspace, bot_token=STANDIN_TOKEN, app_token=APP_TOKEN)
    await si.start()
    yield si
    await si.stop()


@pytest.fixture
async def socket_app(socket_standin: SlackStandIn) -> AsyncIterator[SocketApp]:
    """A connected Socket Mode app (hello received by the stand-in's side)."""
    web = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url, timeout=5)
    app = SocketApp(SocketModeClient(app_token=APP_TOKEN, web_client=web, ping_interval=2))

    async def listen(client: SocketModeClient, request: SocketModeRequest) -> None:
        app.requests.append(request)
        if app.ack:
            answer = SocketModeResponse(envelope_id=request.envelope_id, payload=app.reply(request))
            await client.send_socket_mode_response(answer)

    app.client.socket_mode_request_listeners.append(listen)  # type: ignore[arg-type]
    await app.client.connect()
    await socket_standin.socket.wait_connected()
    yield app
    await app.client.close()


@pytest.fixture
async def socket_driver(socket_standin: SlackStandIn) -> AsyncIterator[SlackDriver]:
    """A driver delivering over Socket Mode (no HTTP endpoint at all)."""
    driver = SlackDriver(socket_standin, "", STANDIN_SIGNING_SECRET, transport="socket", ack_timeout=2.0)
    yield driver
    await driver.close()


async def _error(coro: Any) -> str:
    with pytest.raises(SlackApiError) as err:
        await coro
    return str(err.value.response["error"])


# ---------------------------------------------------------------------- apps.connections.open and handshake


async def test_apps_connections_open_takes_only_the_app_token(socket_standin: SlackStandIn) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    opened = await client.apps_connections_open(app_token=APP_TOKEN)
    host_port = socket_standin.url.removeprefix("http://")
    assert opened["url"].startswith(f"ws://{host_port}/_standin/socket?ticket=")
    assert await _error(client.apps_connections_open(app_token=STANDIN_TOKEN)) == "not_allowed_token_type"
    assert await _error(client.apps_connections_open(app_token="xapp-1-A0BOT-wrong")) == "invalid_auth"
    app_client = AsyncWebClient(token=APP_TOKEN, base_url=socket_standin.api_url)
    assert (
        await _error(app_client.chat_postMessage(channel="C0SUPPORT", text="hi")) == "not_allowed_token_type"
    )
    assert (await client.auth_test())["user_id"] == "U0BOT"  # the bot token works as before
    outcomes = [c.outcome for c in socket_standin.calls_to("apps.connections.open")]
    assert outcomes == ["ok", "not_allowed_token_type", "invalid_auth"]


async def test_without_an_app_token_socket_mode_is_refused(standin: SlackStandIn) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=standin.api_url)
    assert await _error(client.apps_connections_open(app_token="xapp-1-A0BOT-any")) == "invalid_auth"


async def test_apps_connections_open_obeys_injected_faults(socket_standin: SlackStandIn) -> None:
    socket_standin.faults.error("apps.connections.open", "internal_error", times=1)
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    assert await _error(client.apps_connections_open(app_token=APP_TOKEN)) == "internal_error"
    assert (await client.apps_connections_open(app_token=APP_TOKEN))["ok"] is True


async def test_hello_first_and_tickets_work_once(socket_standin: SlackStandIn) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    url = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = json.loads((await ws.receive(timeout=2)).data)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": "A0BOT"} and hello["debug_info"]["host"]
            for bad in (url, url.replace("ticket=", "ticket=x")):
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await session.ws_connect(bad)
                assert err.value.status == 401
        socket_standin.socket.ticket_ttl = 0.0
        expired = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(expired)
    errors = [r.error for r in socket_standin.socket.rejections]
    assert errors == ["ticket_already_used", "invalid_ticket", "expired_ticket"]
    [conn] = socket_standin.socket.connections
    assert await socket_standin.socket.wait_closed(conn) and conn.closed_by == "app"


# ---------------------------------------------------------------------- envelopes and acks


async def test_envelopes_reach_the_sdk_and_acks_are_recorded_with_latency(
    socket_standin: SlackStandIn, socket_app: SocketApp
) -> None:
    hub = socket_standin.socket
    socket_app.reply = lambda r: {"text": "On it"} if r.type == "slash_commands" else None
    command = await hub.deliver("slash_commands", {"command": "/ticket", "text": "new VPN"})
    event = await hub.deliver("events_api", {"type": "event_callback", "event_id": "Ev1"})
    click = await hub.deliver("interactive", {"type": "block_actions", "actions": []})
    submit = await hub.deliver("interactive", {"type": "view_submission", "view": {}})
    assert [e.acked for e in (command, event, click, submit)] == [True] * 4
    assert command.ack_payload == {"text": "On it"} and event.ack_payload is None
    assert all(e.acked_in_time and 0 <= (e.ack_latency or -1) < 3 for e in hub.envelopes)
    assert [e.accepts_response_payload for e in hub.envelopes] == [True, False, False, True]
    got = {r.envelope_id: r for r in socket_app.requests}
    assert got[command.envelope_id].type == "slash_commands"
    assert got[command.envelope_id].payload == {"command": "/ticket", "text": "new VPN"}
    assert got[command.envelope_id].accepts_response_payload is True
    assert (got[event.envelope_id].retry_attempt, got[event.envelope_id].retry_reason) == (0, "")
    assert got[click.envelope_id].accepts_response_payload is False
    kinds = [(f.direction, f.type) for f in hub.frames]
    assert kinds[0] == ("out", "hello") and kinds[1:3] == [("out", "slash_commands"), ("in", None)]
    assert hub.frames[2].data == {"envelope_id": command.envelope_id, "payload": {"text": "On it"}}
    assert hub.unacked == [] and socket_standin.warnings == []


async def test_missing_ack_is_a_bounded_wait(socket_standin: SlackStandIn, socket_app: SocketApp) -> None:
    socket_app.ack = False
    started = time.monotonic()
    envelope = await socket_standin.socket.deliver("events_api", {"type": "event_callback"}, ack_timeout=0.3)
    assert not envelope.acked and envelope.ack_latency is None and not envelope.acked_in_time
    assert 0.3 <= time.monotonic() - started < 2.0
    assert socket_standin.socket.unacked == [envelope]


async def test_ack_payload_slack_would_ignore_is_warned(
    socket_standin: SlackStandIn, socket_app: SocketApp
) -> None:
    socket_app.reply = lambda r: {"text": "nobody sees this"}
    await socket_standin.socket.deliver("events_api", {"type": "event_callback"})
    assert any("accepts_response_payload is false" in w for w in socket_standin.warnings)


async def test_no_connection_fails_fast(socket_standin: SlackStandIn) -> None:
    started = time.monotonic()
    with pytest.raises(SocketNotConnected, match="no accepting Socket Mode connection"):
        await socket_standin.socket.send("events_api", {"type": "event_callback"}, connect_timeout=0.2)
    assert time.monotonic() - started < 2.0 and socket_standin.socket.envelopes == []


# ---------------------------------------------------------------------- reconnects


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_disconnect_makes_the_client_reconnect_and_delivery_continues(
    socket_standin: SlackStandIn, socket_app: SocketApp, reason: str
) -> None:
    hub = socket_standin.socket
    first = await hub.deliver("events_api", {"type": "event_callback", "event_id": "Ev1"})
    [old] = await hub.disconnect(reason)  # type: ignore[arg-type]
    new = await hub.wait_connected(opened=2)
    assert new.id == 2 and await hub.wait_closed(old)
    assert (old.disconnect_reason, old.closed_by) == (reason, "app")
    after = await hub.deliver("events_api", {"type": "event_callback", "event_id": "Ev2"})
    assert first.acked and after.acked and (first.connection_id, after.connection_id) == (1, 2)
    assert after.ack_connection_id == 2
    [frame] = hub.frames_of("disconnect")
    assert frame.connection_id == 1 and frame.data["reason"] == reason
    assert len(socket_standin.calls_to("apps.connections.open")) == 2
    assert [r.payload["event_id"] for r in socket_app.requests] == ["Ev1", "Ev2"]


async def test_standin_closing_the_connection_makes_the_client_reconnect(
    socket_standin: SlackStandIn, socket_app: SocketApp
) -> None:
    hub = socket_standin.socket
    [old] = hub.connections
    await hub.close_connection(old)
    assert old.closed_by == "standin" and not old.is_open
    await hub.wait_connected(opened=2)
    assert (await hub.deliver("events_api", {"type": "event_callback"})).acked


async def test_disconnect_with_close_after_closes_a_lingering_connection(
    socket_standin: SlackStandIn,
) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    url = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive(timeout=2)  # hello
        [conn] = await socket_standin.socket.disconnect("warning", close_after=0.1)
        assert json.loads((await ws.receive(timeout=2)).data)["type"] == "disconnect"
        assert (await ws.receive(timeout=2)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert conn.closed_by == "standin"


async def test_stop_closes_open_sockets_promptly(standin_workspace: Workspace) -> None:
    si = SlackStandIn(standin_workspace, bot_token=STANDIN_TOKEN, app_token=APP_TOKEN)
    await si.start()
    web = AsyncWebClient(token=STANDIN_TOKEN, base_url=si.api_url)
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web, auto_reconnect_enabled=False)
    try:
        await client.connect()
        conn = await si.socket.wait_connected()
        started = time.monotonic()
        await si.stop()
        assert time.monotonic() - started < 3.0 and not conn.is_open and conn.closed_by == "standin"
    finally:
        await client.close()


# ---------------------------------------------------------------------- the driver over Socket Mode


async def test_driver_socket_message_has_the_http_payload_without_signature(
    socket_standin: SlackStandIn, socket_app: SocketApp, socket_driver: SlackDriver
) -> None:
    result = await socket_driver.post_message("U0CAROL", "C0CUST", "VPN is down again")
    assert result.status == 200 and result.ok and result.transport == "socket" and result.envelope_id
    assert result.sent_headers == {} and result.elapsed < 3.0 and result.acked_in_time
    request = socket_app.last
    assert request.type == "events_api" and request.envelope_id == result.envelope_id
    assert request.payload == result.payload
    body = request.payload
    assert body["type"] == "event_callback" and body["event_id"] == result.event_id
    assert body["team_id"] == "T0CUST" and body["is_ext_shared_channel"] is True
    assert body["event"]["text"] == "VPN is down again" and body["event"]["ts"] == result.ts
    assert json.loads(result.sent_body)["payload"] == body
    assert socket_standin.workspace.message("C0CUST", result.ts or "") is not None


async def test_driver_payloads_are_the_same_over_http_and_socket(
    socket_standin: SlackStandIn,
    socket_app: SocketApp,
    socket_driver: SlackDriver,
    standin_receiver: BotReceiver,
) -> None:
    http = SlackDriver(socket_standin, standin_receiver.url, STANDIN_SIGNING_SECRET)
    try:
        await http.post_message("U0ALICE", "C0SUPPORT", "over http")
        await socket_driver.post_message("U0ALICE", "C0SUPPORT", "over the socket")
        await http.slash_command("U0ALICE", "C0SUPPORT", "/ticket", "list")
        await socket_driver.slash_command("U0ALICE", "C0SUPPORT", "/ticket", "list")
    finally:
        await http.close()
    http_event, http_command = standin_receiver.requests[0].json, standin_receiver.requests[1].form
    socket_event, socket_command = (r.payload for r in socket_app.requests)
    assert set(socket_event) == set(http_event) and set(socket_event["event"]) == set(http_event["event"])
    assert set(socket_command) == set(http_command)
    assert {k: v for k, v in socket_command.items() if k not in ("response_url", "trigger_id")} == {
        k: v for k, v in http_command.items() if k not in ("response_url", "trigger_id")
    }


async def test_driver_socket_slash_command_ack_payload_is_shown_to_the_user(
    socket_standin: SlackStandIn, socket_app: SocketApp, socket_driver: SlackDriver
) -> None:
    socket_app.reply = lambda r: {"text": "Creating your ticket…"}
    result = await socket_driver.slash_command("U0CAROL", "C0CUST", "/ticket", "VPN down")
    assert result.status == 200 and result.json == {"text": "Creating your ticket…"}
    assert result.applied_error is None
    payload = socket_app.last.payload
    assert socket_app.last.type == "slash_commands" and socket_app.last.accepts_response_payload
    assert (payload["command"], payload["text"], payload["user_id"]) == ("/ticket", "VPN down", "U0CAROL")
    assert payload["response_url"] == result.response_url and payload["trigger_id"] == result.trigger_id
    [eph] = socket_standin.workspace.ephemerals_for("U0CAROL", "C0CUST")
    assert eph.text == "Creating your ticket…"


async def test_driver_socket_click_and_message_shortcut(
    socket_standin: SlackStandIn, socket_app: SocketApp, socket_driver: SlackDriver
) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    button = {"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}}
    blocks = [{"type": "actions", "block_id": "acts", "elements": [{**button, "value": "INC-1"}]}]
    ts = (await client.chat_postMessage(channel="C0SUPPORT", text="INC-1", blocks=blocks))["ts"]
    clicked = await socket_driver.click("U0ALICE", "claim", channel="C0SUPPORT", ts=ts)
    request = socket_app.last
    assert clicked.status == 200 and request.type == "interactive" and not request.accepts_response_payload
    assert request.payload["type"] == "block_actions" and request.payload["actions"][0]["value"] == "INC-1"
    assert request.payload["response_url"] == clicked.response_url
    shortcut = await socket_driver.message_shortcut("U0ALICE", "C0SUPPORT", ts, "ticket_from_message")
    assert shortcut.status == 200 and socket_app.last.payload["type"] == "message_action"
    assert socket_app.last.payload["trigger_id"] == shortcut.trigger_id


async def test_driver_socket_view_submission_response_action(
    socket_standin: SlackStandIn, socket_app: SocketApp, socket_driver: SlackDriver
) -> None:
    client = AsyncWebClient(token=STANDIN_TOKEN, base_url=socket_standin.api_url)
    modal = {
        "type": "modal",
        "callback_id": "ticket_new",
        "title": {"type": "plain_text", "text": "New ticket"},
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "Summary"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    trigger = socket_standin.issue_trigger_id("U0ALICE")
    view_id = (await client.views_open(trigger_id=trigger, view=modal))["view"]["id"]
    socket_app.reply = lambda r: {"response_action": "errors", "errors": {"summary": "Describe the problem"}}
    result = await socket_driver.submit_view("U0ALICE", view_id, {"summary": {"value": ""}})
    assert socket_app.last.type == "interactive" and socket_app.last.accepts_response_payload
    assert result.response_action == "errors" and result.view_errors == {"summary": "Describe the problem"}
    assert [v.id for v in socket_standin.workspace.open_views("U0ALICE")] == [view_id]
    socket_app.reply = lambda r: None
    closed = await socket_driver.submit_view("U0ALICE", view_id, {"summary": {"value": "VPN"}})
    assert closed.status == 200 and closed.response_action is None
    assert socket_standin.workspace.open_views("U0ALICE") == []


async def test_driver_socket_redeliver_sends_the_same_event_as_a_retry(
    socket_standin: SlackStandIn, socket_app: SocketApp, socket_driver: SlackDriver
) -> None:
    first = await socket_driver.post_message("U0ALICE", "C0SUPPORT", "hello")
    again = await socket_driver.redeliver(first, retry_num=1, reason="timeout")
    original, retry = socket_app.requests
    assert again.status == 200 and again.event_id == first.event_id and again.ts == first.ts
    assert again.envelope_id != first.envelope_id and retry.payload == original.payload
    assert (retry.retry_attempt, retry.retry_reason) == (1, "timeout")


async def test_driver_socket_without_ack_reports_no_status(
    socket_standin: SlackStandIn, socket_app: SocketApp
) -> None:
    socket_app.ack = False
    driver = SlackDriver(socket_standin, "", STANDIN_SIGNING_SECRET, transport="socket", ack_timeout=0.2)
    result = await driver.post_message("U0ALICE", "C0SUPPORT", "anyone?")
    assert result.status is None and result.delivered and not result.ok
    assert 0.2 <= result.elapsed < 2.0


async def test_driver_rejects_unknown_transport(socket_standin: SlackStandIn) -> None:
    with pytest.raises(ValueError, match="transport"):
        SlackDriver(socket_standin, "", STANDIN_SIGNING_SECRET, transport="carrier-pigeon")  # type: ignore[arg-type]


async def test_concurrent_envelopes_are_matched_to_their_acks(
    socket_standin: SlackStandIn, socket_app: SocketApp
) -> None:
    socket_app.reply = lambda r: {"text": r.payload["text"]}
    hub = socket_standin.socket
    sent = await asyncio.gather(*(hub.deliver("slash_commands", {"text": f"n{i}"}) for i in range(20)))
    assert [e.ack_payload for e in sent] == [{"text": f"n{i}"} for i in range(20)]
