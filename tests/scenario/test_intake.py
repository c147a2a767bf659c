"""Intake over real HTTP: customer messages in shared channels become tickets the 1st level sees."""

from __future__ import annotations

import asyncio
import json

from bot.sandbox.demo import ACME_CHANNEL, GLOBEX_CHANNEL, L1_CHANNEL, L1_GROUP
from models import InboundEvent, Ticket, TicketMessage, TimelineEntry
from tests.harness import Harness


def _texts(messages) -> list[str]:
    return [m.text for m in messages]


async def test_customer_message_becomes_ticket_with_thread_reply_and_l1_card(bot: Harness) -> None:
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Our VPN drops every 10 minutes since 9am")
    assert sent.status == 200
    await bot.settle()

    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts).prefetch_related("customer")
    assert (ticket.status, ticket.level, ticket.priority) == ("new", "L1", "P3")
    assert ticket.customer.name == "Acme Corp" and ticket.author_id == "U0ACMEJO"
    assert ticket.permalink and sent.ts.replace(".", "") in ticket.permalink
    key = f"SUP-{ticket.id}"

    replies = bot.ws.thread_replies(ACME_CHANNEL, sent.ts)
    assert len(replies) == 1 and key in replies[0].text and replies[0].is_from_bot
    assert "thread" in replies[0].text  # tells the customer what happens next

    cards = bot.ws.channel_messages(L1_CHANNEL)
    assert len(cards) == 1
    card = bot.ws.visible_strings(cards[0])
    joined = "\n".join(card)
    assert key in joined and "Acme Corp" in joined and "VPN drops" in joined
    assert f"<!subteam^{L1_GROUP}>" in joined and ticket.permalink in joined
    action_ids = [e["action_id"] for b in cards[0].blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"card.claim", "card.escalate"} <= set(action_ids)

    kinds = await TimelineEntry.filter(ticket_id=ticket.id).values_list("kind", flat=True)
    assert kinds == ["created"]


async def test_same_event_delivered_again_creates_nothing(bot: Harness) -> None:
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Printer on floor 3 is offline")
    again = await bot.driver.redeliver(sent, retry_num=1, reason="http_timeout")
    third = await bot.driver.redeliver(sent, retry_num=2, reason="http_error")
    assert {sent.status, again.status, third.status} == {200}
    await bot.settle()
    assert await Ticket.all().count() == 1
    assert await InboundEvent.filter(event_id=sent.event_id).count() == 1
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert len(bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 1


async def test_same_message_under_a_new_event_id_creates_nothing(bot: Harness) -> None:
    """Deduplication by the message's ts too, not only by event_id: the same message delivered again as a new
    event (a replay, a reinstalled app) is recorded as a delivery but opens no second ticket, reply or card."""
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Scanner sends no mails")
    await bot.settle()
    replay = {**sent.payload, "event_id": f"{sent.event_id}-replayed"}
    again = await bot.driver.send_raw(json.dumps(replay).encode())
    assert (sent.status, again.status) == (200, 200)
    await bot.settle()
    assert await InboundEvent.filter(event_id__in=[sent.event_id, replay["event_id"]]).count() == 2
    assert await Ticket.filter(channel_id=ACME_CHANNEL, source_ts=sent.ts).count() == 1
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert len(bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 1
    assert await bot.unprocessed_events() == 0


async def test_retry_while_first_delivery_still_processing_is_processed_once(bot: Harness) -> None:
    bot.standin.faults.stall("chat.postMessage", seconds=1.0, times=2)
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Mailbox full, cannot send")
    retries = await asyncio.gather(*(bot.driver.redeliver(sent, retry_num=n) for n in (1, 2, 3)))
    assert all(r.status == 200 for r in retries)
    await bot.settle()
    assert await Ticket.all().count() == 1
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1


async def test_thread_reply_joins_ticket_and_is_mirrored_to_card_thread(bot: Harness) -> None:
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Cannot log in to the portal")
    await bot.settle()
    await bot.driver.post_message("U0ACMEKIM", ACME_CHANNEL, "Same for me, error 403", thread_ts=sent.ts)
    await bot.driver.post_message("U0L1ANNA", ACME_CHANNEL, "Looking into it now", thread_ts=sent.ts)
    await bot.settle()
    assert await Ticket.all().count() == 1
    ticket = await Ticket.get()
    kinds = sorted(await TicketMessage.filter(ticket_id=ticket.id).values_list("author_kind", flat=True))
    assert kinds == ["agent", "customer"]
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    mirrored = "\n".join(_texts(bot.ws.thread_replies(L1_CHANNEL, card.ts)))
    assert "error 403" in mirrored and "Looking into it now" in mirrored and "(customer)" in mirrored


async def test_followup_from_same_person_joins_open_ticket_within_window(bot: Harness) -> None:
    first = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "hi")
    await bot.settle()
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "our CRM export fails with a timeout")
    await bot.driver.post_message("U0ACMEKIM", ACME_CHANNEL, "separate issue: need a new licence")
    await bot.settle()
    tickets = await Ticket.all().order_by("id")
    assert len(tickets) == 2 and tickets[0].source_ts == first.ts and tickets[1].author_id == "U0ACMEKIM"
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    assert any("CRM export" in m.text for m in bot.ws.thread_replies(L1_CHANNEL, card.ts))


async def test_followup_window_expires(database_url: str) -> None:
    from tests.harness import start_harness, stop_harness

    h = await start_harness(database_url, config_overrides={"tickets": {"followup_window": "1s"}})
    try:
        await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN slow")
        await h.settle()
        await asyncio.sleep(1.2)
        await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, "different topic: printer jam")
        await h.settle()
        assert await Ticket.all().count() == 2
    finally:
        await stop_harness(h)


async def test_edit_and_delete_of_original_and_replies_are_reflected(bot: Harness) -> None:
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Excel crashes on startup")
    await bot.settle()
    reply = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "version 2408", thread_ts=sent.ts)
    await bot.settle()
    await bot.driver.edit_message("U0ACMEJO", ACME_CHANNEL, sent.ts, "Excel and Word crash on startup")
    await bot.driver.edit_message("U0ACMEJO", ACME_CHANNEL, reply.ts, "version 2409")
    await bot.settle()
    ticket = await Ticket.get()
    assert ticket.text == "Excel and Word crash on startup"
    assert (await TicketMessage.get(ts=reply.ts)).text == "version 2409"
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    assert "Excel and Word crash" in "\n".join(bot.ws.visible_strings(card))  # card updated in place
    await bot.driver.delete_message("U0ACMEJO", ACME_CHANNEL, sent.ts)
    await bot.settle()
    ticket = await Ticket.get()
    assert ticket.source_deleted and ticket.status == "new"  # the ticket stays
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    assert "deleted the original message" in "\n".join(bot.ws.visible_strings(card))
    thread = "\n".join(_texts(bot.ws.thread_replies(L1_CHANNEL, card.ts)))
    assert "edited the original request" in thread and "deleted the original request" in thread
    kinds = await TimelineEntry.filter(ticket_id=ticket.id).values_list("kind", flat=True)
    assert {"created", "customer_reply", "source_edited", "message_edited", "source_deleted"} <= set(kinds)


async def test_bot_messages_joins_and_internal_chatter_open_no_ticket(bot: Harness) -> None:
    bot.standin.echo_events_to = bot.driver.deliver_event
    await bot.driver.channel_join_message("U0ACMEKIM", ACME_CHANNEL)
    await bot.driver.post_message("U0L1ANNA", ACME_CHANNEL, "Reminder: maintenance tonight")
    await bot.driver.post_message("U0L1ANNA", L1_CHANNEL, "anyone seen SUP-1?")
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "   ")
    await bot.settle()
    assert await Ticket.all().count() == 0
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Need access to the wiki")
    await bot.settle()
    await asyncio.sleep(0.2)  # echoed bot messages arrive as events too
    await bot.settle()
    assert await Ticket.all().count() == 1
    assert len(bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 1
    assert await bot.unprocessed_events() == 0


async def test_priority_keywords_raise_priority(bot: Harness) -> None:
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Production is DOWN for all users!")
    await bot.driver.post_message("U0ACMEKIM", ACME_CHANNEL, "urgent: invoice portal shows wrong totals")
    await bot.driver.post_message("U0GLOBMAX", GLOBEX_CHANNEL, "Dringend: Drucker druckt nicht")
    await bot.settle()
    priorities = {t.text[:12]: (t.priority, t.priority_reason) for t in await Ticket.all()}
    assert priorities["Production i"] == ("P1", "keyword 'down'")
    assert priorities["urgent: invo"][0] == "P2" and priorities["Dringend: Dr"][0] == "P2"
    assert await Ticket.filter(priority="P3").count() == 0


async def test_german_customer_gets_german_answer(bot: Harness) -> None:
    sent = await bot.driver.post_message("U0GLOBMAX", GLOBEX_CHANNEL, "Unser Drucker druckt nicht mehr")
    await bot.settle()
    reply = bot.ws.thread_replies(GLOBEX_CHANNEL, sent.ts)[0]
    assert "Danke" in reply.text and "SUP-" in reply.text


async def test_intake_acks_fast_while_slack_api_stalls(bot: Harness) -> None:
    bot.standin.faults.stall("chat.postMessage", seconds=4.0, times=2)
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Teams calls drop")
    assert sent.status == 200 and sent.elapsed < 1.0
    await bot.settle(limit=30)
    assert await Ticket.all().count() == 1 and len(bot.ws.channel_messages(L1_CHANNEL)) == 1


async def test_mentions_and_links_in_customer_text_are_neutralised(bot: Harness) -> None:
    evil = "<!channel> <!here> <@U0LEAD> click <https://evil.example|https://bank.example> @channel"
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, evil)
    await bot.settle()
    card = "\n".join(bot.ws.visible_strings(bot.ws.channel_messages(L1_CHANNEL)[0]))
    for forbidden in ("<!channel>", "<!here>", "<@U0LEAD>", "<https://evil.example|"):
        assert forbidden not in card
    assert "&lt;!channel&gt;" in card


async def test_first_requests_need_no_auth_test_so_a_429_there_loses_nothing(bot: Harness) -> None:
    """Bolt identifies the bot from what start-up learnt; a rate-limited auth.test cannot drop events."""
    bot.standin.faults.rate_limit("auth.test")
    calls_before = len(bot.standin.calls_to("auth.test"))
    sent = await asyncio.gather(
        *(bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, f"first burst {i}") for i in range(10))
    )
    assert all(r.status == 200 for r in sent)
    await bot.settle()
    # Recorded and processed, all of them; each message opened a ticket or joined one as a follow-up.
    assert await InboundEvent.filter(processed_at__isnull=False).count() == 10
    taken = set(await Ticket.all().values_list("source_ts", flat=True))
    taken |= set(await TicketMessage.all().values_list("ts", flat=True))
    assert {r.ts for r in sent} <= taken
    assert len(bot.standin.calls_to("auth.test")) == calls_before  # no auth.test per request
    # The bot's own thread acknowledgement did not become a ticket message (it knows its own ids).
    assert await TicketMessage.filter(author_id=bot.ws.bot_user_id).count() == 0
