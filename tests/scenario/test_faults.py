"""Slack misbehaves during a burst of escalations: 429s, 500s and stalls. Everything arrives, in order per
thread, nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from tortoise.transactions import in_transaction

from bot.sandbox.demo import ACME_CHANNEL, GLOBEX_CHANNEL, L1_CHANNEL, L2_CHANNEL
from bot.slack.ids import OUTBOX_EVENT_TYPE
from bot.slack.outbox import MAX_UNKNOWN_ERROR_ATTEMPTS, enqueue
from models import OutboxMessage, OutboxStatus, Ticket, TimelineEntry
from tests.harness import Harness, start_harness, stop_harness

CONTEXT = {"tried": "restart", "impact": "one team", "reproduce": "always"}
CUSTOMERS = [("U0ACMEJO", ACME_CHANNEL), ("U0ACMEKIM", ACME_CHANNEL), ("U0GLOBMAX", GLOBEX_CHANNEL)]


def outbox_ids(ws, channel: str) -> Counter[str]:
    """How often each outbox message id appears among the channel's messages and thread replies."""
    seen: Counter[str] = Counter()
    for message in ws.channel_messages(channel):
        for m in [message, *ws.thread_replies(channel, message.ts)]:
            outbox_id = ((m.metadata or {}).get("event_payload") or {}).get("outbox_id")
            if outbox_id:
                seen[outbox_id] += 1
    return seen


async def test_escalation_burst_survives_429_500_and_stalls(database_url: str) -> None:
    h = await start_harness(
        database_url, settings_overrides={"outbox_send_timeout": 1.0, "outbox_uncertain_grace": 4.0}
    )
    try:
        # Followups from one person within 2 min join a ticket; use threads so each message is its own ticket.
        for i in range(9):
            user, channel = CUSTOMERS[i % len(CUSTOMERS)]
            root = h.ws.post_as_user("U0L1ANNA", channel, f"Announcement {i}")
            await h.driver.post_message(user, channel, f"Problem {i}: the app crashes", thread_ts=root.ts)
        await h.settle(limit=60)
        tickets = await Ticket.all().order_by("id")
        assert len(tickets) == 9
        for t in tickets:
            t.context = CONTEXT
            await t.save(update_fields=["context"])

        h.standin.faults.rate_limit("chat.postMessage", retry_after=1, times=6)
        h.standin.faults.server_error("chat.postMessage", status=500, times=4)
        h.standin.faults.server_error("chat.update", status=503, times=3)
        h.standin.faults.stall("chat.postMessage", seconds=2.5, times=3)
        answers = await asyncio.gather(
            *(h.command("U0L1ANNA", L1_CHANNEL, "/escalate", f"SUP-{t.id} burst") for t in tickets)
        )
        assert all(a.status == 200 and a.elapsed < 3 for a in answers)
        await h.settle(limit=90)

        assert await OutboxMessage.filter(status__not=OutboxStatus.DELIVERED).count() == 0
        faults = Counter(c.fault for c in h.standin.calls if c.fault)
        assert faults["ratelimited"] == 6 and faults["http_error"] == 7 and faults["stall"] == 3
        # Every L2 card once, every customer update once, nothing doubled anywhere.
        assert len(h.ws.channel_messages(L2_CHANNEL)) == 9
        for channel in (ACME_CHANNEL, GLOBEX_CHANNEL, L1_CHANNEL, L2_CHANNEL):
            doubled = {k: v for k, v in outbox_ids(h.ws, channel).items() if v > 1}
            assert not doubled, f"doubled in {channel}: {doubled}"
        for t in tickets:
            thread = h.ws.thread_replies(t.channel_id, t.thread_ts)
            texts = [m.text for m in thread]
            ack = next(
                i for i, x in enumerate(texts) if f"*SUP-{t.id}*. " in x or f"*SUP-{t.id}* erfasst" in x
            )
            forwarded = [
                i for i, x in enumerate(texts) if "forwarded to our specialists" in x or "weitergeleitet" in x
            ]
            assert len(forwarded) == 1 and ack < forwarded[0], texts  # in order per thread
            l1 = next(m for m in h.ws.channel_messages(L1_CHANNEL) if f"SUP-{t.id} " in m.text)
            assert "Escalated to *L2*" in "\n".join(h.ws.visible_strings(l1))
    finally:
        await stop_harness(h)
    h.standin.assert_no_leaks()


async def test_permanent_error_is_recorded_and_does_not_block_other_channels(bot: Harness) -> None:
    bot.standin.faults.error("chat.postMessage", "channel_not_found", times=1)
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "first ticket")
    await bot.settle()
    failed = await OutboxMessage.filter(status=OutboxStatus.FAILED)
    assert len(failed) == 1 and failed[0].last_error == "channel_not_found"
    # The L1 card depends on nothing failed and still arrives; the customer ack was the failed one.
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert len(bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 0
    await bot.driver.post_message("U0GLOBMAX", GLOBEX_CHANNEL, "second ticket")
    await bot.settle()
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 2


async def test_bot_removed_from_channel_rejoins_and_delivers(bot: Harness) -> None:
    channel = bot.ws.channels[L1_CHANNEL]
    channel.members.remove("U0BOT")
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "card must still arrive")
    await bot.settle()
    assert "U0BOT" in channel.members and len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert await OutboxMessage.filter(status=OutboxStatus.FAILED).count() == 0


async def test_per_channel_pace_does_not_block_other_channels(database_url: str) -> None:
    h = await start_harness(
        database_url, settings_overrides={"outbox_channel_rate": 2.0, "outbox_channel_burst": 1}
    )
    try:
        for i in range(4):
            root = h.ws.post_as_user("U0L1ANNA", ACME_CHANNEL, f"Announcement {i}")
            await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, f"Acme problem {i}", thread_ts=root.ts)
        started = asyncio.get_running_loop().time()
        await h.settle(limit=30)
        elapsed = asyncio.get_running_loop().time() - started
        posts = [c for c in h.standin.calls_to("chat.postMessage") if c.outcome == "ok"]
        acme_times = sorted(c.time for c in posts if c.args.get("channel") == ACME_CHANNEL)
        gaps = [b - a for a, b in zip(acme_times, acme_times[1:], strict=False)]
        assert len(acme_times) == 4 and min(gaps) >= 0.4  # ~2 per second in the customer channel
        assert elapsed >= 1.2
    finally:
        await stop_harness(h)


async def test_message_claimed_by_a_dead_process_is_not_sent_twice(bot: Harness) -> None:
    """A sender claimed a row, Slack posted the message, and the process died before recording it: after the
    lease runs out the next sender finds the message in Slack (by its outbox id) instead of posting again."""
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "printer on fire")
    await bot.settle()
    ticket = await Ticket.get(source_ts=sent.ts)
    rt = bot.rt
    now = rt.clock.now()
    row = await enqueue(
        stream=f"ticket:{ticket.id}",
        method="chat.postMessage",
        channel_id=L1_CHANNEL,
        payload={"text": "posted by a process that died"},
        now=now,
    )
    # What the dead process did: claimed the row (its lease has run out since) and got the message to Slack.
    await OutboxMessage.filter(id=row.id).update(lease_until=now - timedelta(seconds=1), attempts=1)
    posted = await rt.client.chat_postMessage(
        channel=L1_CHANNEL,
        text="posted by a process that died",
        metadata={"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": str(row.id)}},
    )
    # A busy channel (the message is not on the newest page of history) and a rate-limited first lookup.
    for i in range(250):
        await rt.client.chat_postMessage(channel=L1_CHANNEL, text=f"busy {i}")
    bot.standin.faults.rate_limit("conversations.history", times=1)
    rt.sender.wake()
    for _ in range(100):  # the lookup after the 429 comes after a short backoff
        await bot.settle()
        await row.refresh_from_db()
        if row.status != OutboxStatus.PENDING:
            break
        await asyncio.sleep(0.05)
    assert row.status == OutboxStatus.DELIVERED and row.result_ts == posted["ts"]
    assert outbox_ids(bot.ws, L1_CHANNEL)[str(row.id)] == 1


async def test_membership_check_rate_limited_says_try_again_not_refused(bot: Harness) -> None:
    """Right after start nothing is cached; a 429 on conversations.members is 'try again', not 'you may not'.
    A burst of commands then asks Slack once per channel, not once per command."""
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "mail is down")
    await bot.settle()
    key = f"SUP-{(await Ticket.get(source_ts=sent.ts)).id}"
    bot.rt.forget_members()
    bot.standin.faults.rate_limit("conversations.members", times=1)
    refused = await bot.command("U0L1ANNA", L1_CHANNEL, "/ticket", f"note {key} first try")
    assert "try again in a few seconds" in refused.text and "Only members" not in refused.text
    assert await TimelineEntry.filter(kind="note").count() == 0
    bot.rt.forget_members()
    before = len(bot.standin.calls_to("conversations.members"))
    answers = await asyncio.gather(
        *(bot.command("U0L1ANNA", L1_CHANNEL, "/ticket", f"note {key} burst {i}") for i in range(5))
    )
    assert all("Internal note added" in a.text for a in answers), [a.text for a in answers]
    channels_asked = [c.args.get("channel") for c in bot.standin.calls_to("conversations.members")[before:]]
    assert len(channels_asked) == len(set(channels_asked))  # one fetch per channel for the whole burst


async def test_unknown_slack_error_gives_up_after_bounded_attempts(bot: Harness) -> None:
    """An `ok: false` error the outbox does not know is retried (it might pass), but only
    MAX_UNKNOWN_ERROR_ATTEMPTS times (a few seconds of backoff): then the row fails with the reason recorded,
    and the ticket's stream moves on (its L1 card, queued behind the customer's acknowledgement, arrives)."""
    bot.standin.faults.error("chat.postMessage", "brand_new_error", times=MAX_UNKNOWN_ERROR_ATTEMPTS)
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops")
    await bot.settle(limit=20)
    failed = await OutboxMessage.get(status=OutboxStatus.FAILED)
    assert failed.attempts == MAX_UNKNOWN_ERROR_ATTEMPTS and failed.channel_id == ACME_CHANNEL
    assert failed.last_error == (
        f"brand_new_error (not a known Slack error; gave up after {MAX_UNKNOWN_ERROR_ATTEMPTS} attempts)"
    )
    assert not await OutboxMessage.filter(status=OutboxStatus.PENDING).exists(), (
        await OutboxMessage.all().values_list(
            "id", "method", "channel_id", "status", "attempts", "last_error"
        )
    )
    assert len(bot.ws.channel_messages(L1_CHANNEL)) == 1
    assert not bot.ws.thread_replies(ACME_CHANNEL, sent.ts)


async def test_a_long_paced_backlog_in_one_channel_does_not_hide_other_channels(database_url: str) -> None:
    """600 messages wait for one channel's pace (1 per second); a message for another channel, recorded after
    all of them, still goes out at once (the sender never only looks at the oldest rows)."""
    h = await start_harness(
        database_url, settings_overrides={"outbox_channel_rate": 1.0, "outbox_channel_burst": 1}
    )
    try:
        rt = h.rt
        now = rt.clock.now()
        async with in_transaction():
            for i in range(600):
                await enqueue(
                    stream=f"backlog:{i}",
                    method="chat.postMessage",
                    channel_id=ACME_CHANNEL,
                    payload={"text": f"backlog {i}"},
                    now=now,
                )
            late = await enqueue(
                stream="other",
                method="chat.postMessage",
                channel_id=L2_CHANNEL,
                payload={"text": "urgent"},
                now=now,
            )
        rt.sender.wake()
        for _ in range(60):
            await late.refresh_from_db()
            if late.status == OutboxStatus.DELIVERED:
                break
            await asyncio.sleep(0.05)
        assert late.status == OutboxStatus.DELIVERED
        delivered_backlog = await OutboxMessage.filter(
            channel_id=ACME_CHANNEL, status=OutboxStatus.DELIVERED
        ).count()
        assert delivered_backlog <= 5  # the customer channel keeps its pace meanwhile
    finally:
        await stop_harness(h)
