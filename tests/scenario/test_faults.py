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


def delivery_notices(ws, channel: str) -> list[str]:
    """The texts of the bot's 'couldn't deliver' notices among the channel's messages."""
    return [
        "\n".join(ws.visible_strings(m)) for m in ws.channel_messages(channel) if "couldn't deliver" in m.text
    ]


def cards(ws, channel: str) -> list:
    return [m for m in ws.channel_messages(channel) if "couldn't deliver" not in m.text]


def tried_to_tell(standin, channel: str) -> list:
    """Every chat.postMessage the bot attempted in the channel with a delivery notice in it."""
    return [
        c
        for c in standin.calls_to("chat.postMessage")
        if c.args.get("channel") == channel and "deliver" in str(c.args)
    ]


async def test_permanent_error_is_recorded_and_does_not_block_other_channels(bot: Harness) -> None:
    bot.standin.faults.error("chat.postMessage", "channel_not_found", times=1)
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "first ticket")
    await bot.settle()
    failed = await OutboxMessage.filter(status=OutboxStatus.FAILED)
    assert len(failed) == 1 and failed[0].last_error == "channel_not_found"
    # The L1 card depends on nothing failed and still arrives; the customer ack was the failed one.
    assert len(cards(bot.ws, L1_CHANNEL)) == 1
    assert len(bot.ws.thread_replies(ACME_CHANNEL, sent.ts)) == 0
    await bot.driver.post_message("U0GLOBMAX", GLOBEX_CHANNEL, "second ticket")
    await bot.settle()
    assert len(cards(bot.ws, L1_CHANNEL)) == 2


async def test_permanent_failure_is_told_in_the_level_channel_never_the_customers(bot: Harness) -> None:
    """The customer's acknowledgement is refused (channel_not_found): L1, where the ticket is, hears what,
    where, why and what to do; the customer channel gets nothing, not even an attempt."""
    bot.standin.faults.error("chat.postMessage", "channel_not_found", times=1)
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN down")
    await bot.settle()
    ticket = await Ticket.get()
    notices = delivery_notices(bot.ws, L1_CHANNEL)
    assert len(notices) == 1, notices
    notice = notices[0]
    assert f"SUP-{ticket.id}" in notice and f"the customer channel <#{ACME_CHANNEL}> (Acme Corp)" in notice
    assert "`channel_not_found`" in notice and "invite <@U0BOT>" in notice
    assert bot.ws.channel_messages(ACME_CHANNEL)[-1].text == "VPN down"  # nothing of ours in the channel
    assert not tried_to_tell(bot.standin, ACME_CHANNEL)
    assert not delivery_notices(bot.ws, L2_CHANNEL)


async def test_a_burst_of_failures_is_told_once_per_level_channel(bot: Harness) -> None:
    """Acme's channel is archived: a dozen replies to four tickets fail; L1 and L2 (one ticket is at L2) each
    hear it once, with what to do, and the customer channel gets no attempt at a notice."""
    keys = []
    for i in range(4):
        root = bot.ws.post_as_user("U0L1ANNA", ACME_CHANNEL, f"Announcement {i}")
        await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, f"Problem {i}", thread_ts=root.ts)
    await bot.settle()
    tickets = await Ticket.all().order_by("id")
    keys = [f"SUP-{t.id}" for t in tickets]
    await Ticket.filter(id=tickets[-1].id).update(context=CONTEXT)
    await bot.command("U0L1ANNA", L1_CHANNEL, "/escalate", f"{keys[-1]} needs L2")
    assert (await Ticket.get(id=tickets[-1].id)).level == "L2"
    bot.ws.archive_channel(ACME_CHANNEL)
    before = len(bot.ws.channel_messages(ACME_CHANNEL))
    replies = [("U0L1ANNA", L1_CHANNEL, key) for key in keys[:-1]] + [("U0L2CARL", L2_CHANNEL, keys[-1])]
    await asyncio.gather(
        *(
            bot.driver.slash_command(user, channel, "/ticket", f"reply {key} update {n}")
            for user, channel, key in replies
            for n in range(3)
        )
    )
    await bot.settle()
    failed = await OutboxMessage.filter(status=OutboxStatus.FAILED, channel_id=ACME_CHANNEL).count()
    assert failed == 12
    l1, l2 = delivery_notices(bot.ws, L1_CHANNEL), delivery_notices(bot.ws, L2_CHANNEL)
    assert len(l1) == 1 and len(l2) == 1, (l1, l2)
    assert "`is_archived`" in l1[0] and "unarchive it" in l1[0] and f"<#{ACME_CHANNEL}>" in l1[0]
    assert keys[-1] in l2[0]
    assert len(bot.ws.channel_messages(ACME_CHANNEL)) == before
    assert not tried_to_tell(bot.standin, ACME_CHANNEL)


async def test_a_notice_that_fails_itself_is_not_announced(bot: Harness) -> None:
    """The customer reply and then the notice are refused: two failed rows, no third message, no loop."""
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN down")
    await bot.settle()
    ticket = await Ticket.get()
    calls = len(bot.standin.calls_to("chat.postMessage"))
    bot.standin.faults.error("chat.postMessage", "channel_not_found", times=2)
    await bot.command("U0L1ANNA", L1_CHANNEL, "/ticket", f"reply SUP-{ticket.id} looking into it")
    await bot.settle()
    failed = await OutboxMessage.filter(status=OutboxStatus.FAILED).order_by("id")
    assert [(f.channel_id, f.last_error) for f in failed] == [
        (ACME_CHANNEL, "channel_not_found"),
        (L1_CHANNEL, "channel_not_found"),
    ]
    assert len(bot.standin.calls_to("chat.postMessage")) == calls + 2
    assert not delivery_notices(bot.ws, L1_CHANNEL)


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


async def test_interactive_answers_stay_direct_while_the_outbox_waits(bot: Harness) -> None:
    """Acks, ephemerals (response_url) and modals do not queue behind the outbox: with every chat.postMessage
    failing, the agent still gets the command's answer and the escalation form at once."""
    sent = await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
    await bot.settle()
    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts)
    bot.standin.faults.server_error("chat.postMessage", status=500, times=1000)
    await bot.driver.post_message("U0ACMEKIM", ACME_CHANNEL, "Printer on floor 3 is offline")
    for _ in range(50):  # the second ticket's reply and card wait in the outbox
        if await OutboxMessage.filter(status=OutboxStatus.PENDING).exists():
            break
        await asyncio.sleep(0.05)
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).exists()

    before = len(bot.ws.ephemerals_for("U0L1ANNA"))
    listed = await bot.driver.slash_command("U0L1ANNA", L1_CHANNEL, "/ticket", "list level")
    form = await bot.driver.slash_command("U0L1ANNA", L1_CHANNEL, "/escalate", f"SUP-{ticket.id}")
    assert (listed.status, form.status) == (200, 200)
    for _ in range(50):
        if len(bot.ws.ephemerals_for("U0L1ANNA")) > before and bot.ws.open_views("U0L1ANNA"):
            break
        await asyncio.sleep(0.05)
    assert f"SUP-{ticket.id}" in "\n".join(
        "\n".join([e.text, *bot.ws.visible_strings(e)]) for e in bot.ws.ephemerals_for("U0L1ANNA")[before:]
    )
    assert bot.ws.open_views("U0L1ANNA"), "the escalation form opened while chat.postMessage kept failing"
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).exists()  # still waiting meanwhile

    bot.standin.faults.clear("chat.postMessage")
    await bot.settle()
    assert await OutboxMessage.filter(status__not=OutboxStatus.DELIVERED).count() == 0
