"""Socket Mode: the bot connected to the stand-in over a real websocket (Bolt's AsyncSocketModeHandler).

Everything Slack sends arrives as envelopes on the socket; the HTTP endpoint of the same bot stays up and
still accepts only correctly signed requests. The last test runs `python -m bot` as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.bench.common import bot_env, error_lines, free_port, spawn_bot, write_toml
from bot.sandbox.demo import (
    ACME_CHANNEL,
    GLOBEX_CHANNEL,
    L1_CHANNEL,
    L2_CHANNEL,
    build_demo_workspace,
    demo_support_raw,
)
from bot.sandbox.driver import SlackDriver, compute_signature
from bot.sandbox.standin import SlackStandIn
from models import InboundEvent, Ticket, TimelineEntry
from tests.harness import (
    APP_TOKEN,
    SIGNING_SECRET,
    TOKEN,
    Harness,
    serving,
    start_socket_harness,
    stop_socket_harness,
)

ANNA, JO, MAX = "U0L1ANNA", "U0ACMEJO", "U0GLOBMAX"
L2_CONTEXT = {
    "tried": "Restarted the VPN client, reinstalled it",
    "impact": "12 users in Berlin office",
    "reproduce": "Connect, wait ten minutes",
}


@pytest.fixture
async def socket_bot(database_url: str) -> AsyncIterator[Harness]:
    """The bot in Socket Mode against the stand-in; the driver delivers over the websocket."""
    async with serving(await start_socket_harness(database_url), stop=stop_socket_harness) as h:
        yield h


async def _eventually(check: Callable[[], bool], limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_customer_message_over_the_socket_becomes_ticket_with_l1_card(socket_bot: Harness) -> None:
    sent = await socket_bot.driver.post_message(JO, ACME_CHANNEL, "Our VPN drops every 10 minutes since 9am")
    assert sent.status == 200 and sent.transport == "socket" and sent.acked_in_time
    await socket_bot.settle()

    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts).prefetch_related("customer")
    assert (ticket.status, ticket.level, ticket.customer.name) == ("new", "L1", "Acme Corp")
    key = f"SUP-{ticket.id}"
    [reply] = socket_bot.ws.thread_replies(ACME_CHANNEL, sent.ts)
    assert key in reply.text and reply.is_from_bot
    [card] = socket_bot.ws.channel_messages(L1_CHANNEL)
    joined = "\n".join(socket_bot.ws.visible_strings(card))
    assert key in joined and "Acme Corp" in joined and "VPN drops" in joined
    action_ids = [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"card.claim", "card.escalate"} <= set(action_ids)
    hub = socket_bot.standin.socket
    [envelope] = hub.envelopes_of("events_api")
    assert envelope.envelope_id == sent.envelope_id and envelope.acked and envelope.ack_payload is None
    assert hub.unacked == [] and socket_bot.standin.warnings == []


def _shown(h: Harness, user: str, channel: str, since: int = 0) -> str:
    return "\n".join("\n".join(h.ws.visible_strings(e)) for e in h.ws.ephemerals_for(user, channel)[since:])


async def test_slash_command_over_the_socket_is_acked_and_answered_like_over_http(
    socket_bot: Harness,
) -> None:
    sent = await socket_bot.driver.post_message(JO, ACME_CHANNEL, "Printer on floor 3 is offline")
    await socket_bot.settle()
    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts)
    key = f"SUP-{ticket.id}"

    claimed = await socket_bot.driver.slash_command(ANNA, L1_CHANNEL, "/claim", key)
    # The bot acks every command at once with an empty ack and answers through response_url (ack_first).
    assert claimed.status == 200 and claimed.acked_in_time and claimed.json is None and claimed.text == ""
    [envelope] = socket_bot.standin.socket.envelopes_of("slash_commands")
    assert envelope.accepts_response_payload and envelope.ack == {"envelope_id": envelope.envelope_id}
    assert envelope.payload["command"] == "/claim" and envelope.payload["text"] == key
    await socket_bot.settle()
    assert (await Ticket.get(id=ticket.id)).assignee_id == ANNA
    assert f"You own {key} now." in _shown(socket_bot, ANNA, L1_CHANNEL)

    # The same command over the socket and, signed, over HTTP: the same ack and the same answer.
    http = SlackDriver(socket_bot.standin, f"{socket_bot.bot_url}/slack/events", SIGNING_SECRET)
    try:
        seen = len(socket_bot.ws.ephemerals_for(ANNA, L1_CHANNEL))
        over_socket = await socket_bot.driver.slash_command(ANNA, L1_CHANNEL, "/ticket", key)
        await socket_bot.settle()
        socket_answer = _shown(socket_bot, ANNA, L1_CHANNEL, seen)
        seen = len(socket_bot.ws.ephemerals_for(ANNA, L1_CHANNEL))
        over_http = await http.slash_command(ANNA, L1_CHANNEL, "/ticket", key)
        await socket_bot.settle()
        http_answer = _shown(socket_bot, ANNA, L1_CHANNEL, seen)
    finally:
        await http.close()
    assert (over_socket.status, over_socket.text) == (over_http.status, over_http.text) == (200, "")
    assert key in socket_answer and socket_answer == http_answer


async def test_interactive_click_and_modal_over_the_socket(socket_bot: Harness) -> None:
    sent = await socket_bot.driver.post_message(JO, ACME_CHANNEL, "Mailbox full, cannot send")
    await socket_bot.settle()
    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts)
    card = socket_bot.ws.channel_messages(L1_CHANNEL)[0]

    clicked = await socket_bot.driver.click(ANNA, "card.claim", message=card)
    assert clicked.status == 200 and clicked.json is None
    await socket_bot.settle()
    assert (await Ticket.get(id=ticket.id)).assignee_id == ANNA

    await socket_bot.driver.click(
        ANNA, "card.escalate", message=socket_bot.ws.channel_messages(L1_CHANNEL)[0]
    )
    await socket_bot.settle()
    [view] = socket_bot.ws.open_views(ANNA)
    assert view.callback_id == "ticket.escalate"
    refused = await socket_bot.driver.submit_view(ANNA, view.id, {})
    assert refused.response_action == "errors" and "escalate_reason" in refused.view_errors
    assert [v.id for v in socket_bot.ws.open_views(ANNA)] == [view.id]
    values = {
        "escalate_reason": {"escalate.reason": "Needs log analysis"},
        **{f"ctx_{k}": {"field.input": v} for k, v in L2_CONTEXT.items()},
    }
    accepted = await socket_bot.driver.submit_view(ANNA, view.id, values)
    assert accepted.status == 200 and not accepted.view_errors and accepted.applied_error is None
    await socket_bot.settle()
    assert (await Ticket.get(id=ticket.id)).level == "L2" and not socket_bot.ws.open_views(ANNA)
    assert len(socket_bot.ws.channel_messages(L2_CHANNEL)) == 1
    kinds = [e.payload["type"] for e in socket_bot.standin.socket.envelopes_of("interactive")]
    assert kinds == ["block_actions", "block_actions", "view_submission", "view_submission"]


async def test_http_endpoint_still_rejects_unsigned_and_forged_requests(socket_bot: Harness) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0ACME",
            "api_app_id": "A0BOT",
            "event_id": "EvFORGED0001",
            "event": {
                "type": "message",
                "channel": ACME_CHANNEL,
                "user": JO,
                "text": "forged",
                "ts": "1.000001",
            },
        }
    ).encode()
    old = str(int(time.time()) - 6 * 60)
    cases = [
        await socket_bot.driver.send_raw(body, sign=False),
        await socket_bot.driver.send_raw(body, signature="v0=" + "0" * 64),
        await socket_bot.driver.send_raw(body, timestamp=old),
        await socket_bot.driver.send_raw(
            body, timestamp=old, signature=compute_signature(SIGNING_SECRET, old, body)
        ),
        await socket_bot.driver.send_raw(body, sign=False, headers={"X-Slack-Signature": "v0=forged"}),
    ]
    assert [c.status for c in cases] == [401] * 5
    await socket_bot.settle()
    assert await Ticket.all().count() == 0 and await InboundEvent.all().count() == 0

    # Correctly signed requests are still served over HTTP by the same bot.
    http = SlackDriver(socket_bot.standin, f"{socket_bot.bot_url}/slack/events", SIGNING_SECRET)
    try:
        sent = await http.post_message(MAX, GLOBEX_CHANNEL, "Signed and over HTTP")
    finally:
        await http.close()
    assert sent.status == 200 and sent.transport == "http"
    await socket_bot.settle()
    assert await Ticket.filter(channel_id=GLOBEX_CHANNEL, source_ts=sent.ts).exists()


async def test_same_event_over_the_socket_again_after_reconnect_is_processed_once(
    socket_bot: Harness,
) -> None:
    hub = socket_bot.standin.socket
    sent = await socket_bot.driver.post_message(JO, ACME_CHANNEL, "Cannot log in to the portal")
    assert sent.status == 200
    [old] = await hub.disconnect("refresh_requested")
    await hub.wait_connected(opened=2)
    # Slack delivers again what it is unsure about once the app reconnects, with the same event_id.
    retries = await asyncio.gather(
        *(socket_bot.driver.redeliver(sent, retry_num=n, reason="timeout") for n in (1, 2))
    )
    assert [r.status for r in retries] == [200, 200]
    assert {r.event_id for r in retries} == {sent.event_id}
    assert {e.connection_id for e in hub.envelopes_of("events_api")} == {old.id, hub.connections[-1].id}
    await socket_bot.settle()
    assert await Ticket.all().count() == 1
    assert await InboundEvent.filter(event_id=sent.event_id).count() == 1
    assert len(socket_bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert len(socket_bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 1


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_disconnect_makes_the_bot_reconnect_and_delivery_continues(
    socket_bot: Harness, reason: str
) -> None:
    hub = socket_bot.standin.socket
    before = await socket_bot.driver.post_message(JO, ACME_CHANNEL, "VPN drops again")
    await socket_bot.settle()
    [old] = await hub.disconnect(reason)  # type: ignore[arg-type]
    new = await hub.wait_connected(opened=2)
    assert await hub.wait_closed(old) and old.closed_by == "app" and new.is_open
    assert len(socket_bot.standin.calls_to("apps.connections.open")) == 2

    after = await socket_bot.driver.post_message(MAX, GLOBEX_CHANNEL, "Invoices show the wrong VAT")
    assert after.status == 200
    await socket_bot.settle()
    assert await Ticket.filter(source_ts__in=[before.ts, after.ts]).count() == 2
    assert len(socket_bot.ws.channel_messages(L1_CHANNEL)) == 2
    assert [e.connection_id for e in hub.envelopes_of("events_api")] == [old.id, new.id]
    kinds = await TimelineEntry.all().values_list("kind", flat=True)
    assert kinds == ["created", "created"]


async def test_python_m_bot_serves_socket_mode_when_the_app_token_is_set(
    database_url: str, tmp_path: Path
) -> None:
    standin = SlackStandIn(build_demo_workspace(), bot_token=TOKEN, app_token=APP_TOKEN)
    await standin.start()
    config = write_toml(tmp_path / "support.toml", demo_support_raw())
    env = bot_env(
        slack_api_url=standin.api_url,
        database_url=database_url,
        support_config=config,
        port=free_port(),
        token=TOKEN,
        signing_secret=SIGNING_SECRET,
        extra={"SLACK_APP_TOKEN": APP_TOKEN},
    )
    driver = SlackDriver(standin, "", SIGNING_SECRET, transport="socket")
    service = None
    try:
        service = await spawn_bot(env, workdir=tmp_path)
        conn = await standin.socket.wait_connected(limit=20.0)
        sent = await driver.post_message(JO, ACME_CHANNEL, "Laptop won't boot after the update")
        assert sent.status == 200, service.log_tail()
        assert await _eventually(lambda: bool(standin.workspace.channel_messages(L1_CHANNEL))), (
            service.log_tail()
        )
        assert await _eventually(lambda: bool(standin.workspace.thread_replies(ACME_CHANNEL, sent.ts or "")))
        [card] = standin.workspace.channel_messages(L1_CHANNEL)
        assert "Laptop won't boot" in "\n".join(standin.workspace.visible_strings(card))
        code = await service.stop(grace=15.0)
        log = service.log_text()
        assert code == 0, log
        assert "mode: socket" in log and not error_lines(log), log
        assert await standin.socket.wait_closed(conn, limit=5.0) and conn.closed_by == "app"
        # One check of the app token at start (a refused token stops the bot with exit code 2), one connection.
        assert len(standin.calls_to("apps.connections.open")) == 2
    finally:
        if service is not None:
            await service.stop(grace=5.0)
        await driver.close()
        await standin.stop()
    standin.assert_no_leaks()


async def test_python_m_bot_exits_2_when_slack_refuses_the_app_token(database_url: str, tmp_path) -> None:
    """A wrong SLACK_APP_TOKEN stops the bot with one clear line and exit code 2 (no endless retries)."""
    standin = SlackStandIn(build_demo_workspace(), bot_token=TOKEN, app_token=APP_TOKEN)
    await standin.start()
    try:
        config = write_toml(tmp_path / "support.toml", demo_support_raw())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": "xapp-wrong",
            "SLACK_API_URL": standin.api_url,
            "SUPPORT_CONFIG": str(config),
            "DATABASE_URL": database_url,
            "PORT": "0",
            "HOST": "127.0.0.1",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 2, stderr.decode()
        assert "SLACK_APP_TOKEN was refused" in stderr.decode() and "Traceback" not in stderr.decode()
    finally:
        await standin.stop()
