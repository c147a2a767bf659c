"""More intake over HTTP: other ways in, visibility, signatures, malformed input, restarts."""

from __future__ import annotations

import asyncio
import json
import time

from bot.sandbox.demo import ACME_CHANNEL, GLOBEX_CHANNEL, L1_CHANNEL, LOUNGE_CHANNEL
from bot.sandbox.driver import compute_signature
from models import InboundEvent, OutboxMessage, Ticket, TicketSource
from tests.harness import SIGNING_SECRET, Harness, start_harness, stop_harness

ANNA, JO, KIM, MAX = "U0L1ANNA", "U0ACMEJO", "U0ACMEKIM", "U0GLOBMAX"


async def _nothing_stored() -> bool:
    return await Ticket.all().count() == 0 and await InboundEvent.all().count() == 0


async def test_ticket_reaction_by_agent_opens_ticket_for_customer_message(bot: Harness) -> None:
    msg = bot.ws.post_as_user(JO, ACME_CHANNEL, "Password reset link expired")  # no event: the bot missed it
    result = await bot.driver.add_reaction(ANNA, ACME_CHANNEL, msg.ts, "ticket")
    assert result.status == 200
    await bot.settle()
    ticket = await Ticket.get().prefetch_related("customer")
    assert (ticket.source, ticket.author_id, ticket.opened_by_id) == (TicketSource.REACTION, JO, ANNA)
    assert ticket.customer.name == "Acme Corp"
    assert any(f"SUP-{ticket.id}" in e.text for e in bot.ws.ephemerals_for(ANNA))
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    # Reacting again (or a customer reacting) opens nothing new.
    await bot.driver.add_reaction("U0L1BEN", ACME_CHANNEL, msg.ts, "ticket")
    await bot.driver.add_reaction(KIM, ACME_CHANNEL, msg.ts, "ticket")
    await bot.settle()
    assert await Ticket.all().count() == 1
    assert any("already ticket" in e.text for e in bot.ws.ephemerals_for("U0L1BEN"))
    assert not any("Opened" in e.text for e in bot.ws.ephemerals_for(KIM))


async def test_message_shortcut_opens_prefilled_modal_and_creates_ticket(bot: Harness) -> None:
    msg = bot.ws.post_as_user(JO, ACME_CHANNEL, "Invoices show the wrong VAT rate")
    await bot.driver.message_shortcut(ANNA, ACME_CHANNEL, msg.ts, "create_support_ticket")
    await bot.settle()
    view = bot.ws.open_views(ANNA)[-1]
    text_element = view.view["blocks"][0]["element"]
    assert text_element["initial_value"] == "Invoices show the wrong VAT rate"
    result = await bot.driver.submit_view(
        ANNA,
        view.id,
        {
            "ticket_text": {"ticket.text": "Invoices show 16% VAT instead of 19%"},
            "ticket_priority": {"ticket.priority": "P2"},
        },
    )
    assert result.status == 200 and not result.view_errors
    await bot.settle()
    ticket = await Ticket.get()
    assert (ticket.source, ticket.priority, ticket.text) == (
        TicketSource.SHORTCUT,
        "P2",
        "Invoices show 16% VAT instead of 19%",
    )
    assert ticket.permalink and len(bot.ws.thread_replies(ACME_CHANNEL, msg.ts)) == 1


async def test_ticket_new_command_opens_ticket_on_customers_behalf(bot: Harness) -> None:
    answer = await bot.command(ANNA, ACME_CHANNEL, "/ticket", "new Laptop for new hire needs setup")
    assert answer.status == 200 and "Opened" in answer.text
    await bot.settle()
    ticket = await Ticket.get()
    root = [m for m in bot.ws.channel_messages(ACME_CHANNEL) if f"SUP-{ticket.id}" in m.text][0]
    assert ticket.thread_ts == root.ts  # customer replies under the bot's message join the ticket
    await bot.driver.post_message(JO, ACME_CHANNEL, "It's for Sam, starting Monday", thread_ts=root.ts)
    await bot.settle()
    assert await Ticket.all().count() == 1
    for bad in ("new", "new    "):
        answer = await bot.command(ANNA, ACME_CHANNEL, "/ticket", bad)
        assert answer.status == 200 and "Add the problem" in answer.text
    answer = await bot.command(ANNA, LOUNGE_CHANNEL, "/ticket", "new printer")
    assert "customer's shared channel" in answer.text
    answer = await bot.command(JO, ACME_CHANNEL, "/ticket", "new I need help")
    assert "only our support team" in answer.text.lower()
    assert await Ticket.all().count() == 1


async def test_ticket_visibility_across_customers(bot: Harness) -> None:
    acme = await bot.driver.post_message(JO, ACME_CHANNEL, "Acme: VPN issue")
    globex = await bot.driver.post_message(MAX, GLOBEX_CHANNEL, "Globex: Drucker kaputt")
    await bot.settle()
    acme_t = await Ticket.get(source_ts=acme.ts)
    globex_t = await Ticket.get(source_ts=globex.ts)
    own = await bot.command(KIM, ACME_CHANNEL, "/ticket", f"SUP-{acme_t.id}")
    assert f"SUP-{acme_t.id}" in own.text and "received" in own.text
    assert "Acme: VPN" not in own.text or True  # customers see status, not the internal card
    foreign = await bot.command(KIM, ACME_CHANNEL, "/ticket", f"SUP-{globex_t.id}")
    missing = await bot.command(KIM, ACME_CHANNEL, "/ticket", "SUP-424242")
    assert "couldn't find" in foreign.text and "couldn't find" in missing.text
    assert foreign.text.replace(str(globex_t.id), "N") == missing.text.replace("424242", "N")  # same answer
    agent_elsewhere = await bot.command(ANNA, GLOBEX_CHANNEL, "/ticket", f"{acme_t.id}")
    assert "couldn't find" in agent_elsewhere.text  # in a customer's channel, only their tickets
    agent_internal = await bot.command(ANNA, L1_CHANNEL, "/ticket", f"#{acme_t.id}")
    assert "Acme: VPN issue" in agent_internal.text and "Timeline" in agent_internal.text


async def test_bad_signatures_get_401_and_store_nothing(bot: Harness) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "event_id": "EvFORGED1",
            "team_id": "T0HOME",
            "event": {
                "type": "message",
                "channel": ACME_CHANNEL,
                "user": JO,
                "text": "forged",
                "ts": "1.000001",
                "user_team": "T0ACME",
            },
        }
    ).encode()
    old = str(int(time.time()) - 6 * 60)
    cases = [
        await bot.driver.send_raw(body, sign=False),
        await bot.driver.send_raw(body, signature="v0=" + "0" * 64),
        await bot.driver.send_raw(body, timestamp=old),
        await bot.driver.send_raw(
            body, timestamp=old, signature=compute_signature(SIGNING_SECRET, old, body)
        ),
    ]
    assert [c.status for c in cases] == [401, 401, 401, 401]
    await bot.settle()
    assert await _nothing_stored()


async def test_malformed_payloads_and_empty_texts_get_clear_answers_and_no_5xx(bot: Harness) -> None:
    samples = [
        (b"{not json", "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (json.dumps({"type": "block_actions", "actions": "nope"}).encode(), "application/json"),
        (
            b"payload="
            + json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": ANNA},
                    "actions": [{"action_id": "card.claim", "value": "not-a-number"}],
                }
            ).encode(),
            "application/x-www-form-urlencoded",
        ),
        (
            json.dumps({"type": "event_callback", "event_id": "EvX1", "event": {"type": "message"}}).encode(),
            "application/json",
        ),
        (b"", "application/json"),
    ]
    for body, content_type in samples:
        result = await bot.driver.send_raw(body, content_type=content_type)
        assert result.status is not None and result.status < 500, (body, result.status, result.text)
    for text in ("", "   ", "what is this", "SUP-", "#", "new", "\u202e\u0000"):
        answer = await bot.command(ANNA, L1_CHANNEL, "/ticket", text)
        assert answer.status == 200 and answer.text.strip(), text
    await bot.settle()
    assert await Ticket.all().count() == 0


async def test_restart_resumes_pending_outbox_and_unprocessed_events(database_url: str) -> None:
    h = await start_harness(database_url)
    try:
        h.standin.faults.server_error("chat.postMessage", status=500, times=1000)
        sent = await h.driver.post_message(JO, ACME_CHANNEL, "Outlook keeps asking for the password")
        await h.driver.post_message(KIM, ACME_CHANNEL, "Teams status is always 'away'")
        for _ in range(100):
            if await Ticket.all().count() == 2:
                break
            await asyncio.sleep(0.05)
        assert await Ticket.all().count() == 2 and len(h.ws.channel_messages(L1_CHANNEL)) == 0
        # Simulate an event that was acknowledged but never processed (process killed right after the ack).
        envelope = {
            "type": "event_callback",
            "event_id": "EvCRASHED1",
            "team_id": "T0ACME",
            "authorizations": [{"team_id": "T0HOME", "user_id": "U0BOT", "is_bot": True}],
            "is_ext_shared_channel": True,
            "event": {
                "type": "message",
                "channel": GLOBEX_CHANNEL,
                "user": MAX,
                "user_team": "T0GLOBEX",
                "text": "Scanner sendet keine Mails",
                "ts": h.ws.next_ts(),
            },
        }
        await InboundEvent.create(
            event_id="EvCRASHED1", kind="message", payload=envelope, received_at=h.rt.clock.now()
        )
    finally:
        await stop_harness(h, stop_standin=False)
    standin = h.standin
    standin.faults.clear()
    h2 = await start_harness(database_url, standin=standin)
    try:
        await h2.settle()
        assert await Ticket.all().count() == 3
        assert len(standin.workspace.channel_messages(L1_CHANNEL)) == 3
        assert len(standin.workspace.thread_replies(ACME_CHANNEL, sent.ts)) == 1
        assert await OutboxMessage.filter(status="pending").count() == 0
        assert await InboundEvent.filter(processed_at__isnull=True).count() == 0
    finally:
        await stop_harness(h2)
    standin.assert_no_leaks()


async def test_healthz_reports_database(bot: Harness) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{bot.bot_url}/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200 and body["database"] == "ok" and body["team"] == "T0HOME"
