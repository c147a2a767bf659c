"""SLA over real HTTP with a controllable clock: warnings and breaches in the card thread exactly once and on
time, replies meeting targets, auto-escalation, restarts, two bot processes on one database, `/sla`, the
daily overview, no-activity nudges and Slack rate limits.

The stand-in's clock follows the bot's FrozenClock, so message timestamps (when customers and agents wrote)
and the SLA tick agree. Tests drive the tick themselves (`sla_tick`), with the scheduler paused, except
where the scheduler itself is under test (the restart).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import db
from bot.clock import FrozenClock
from bot.flows.sla import post_daily_overview, sla_tick
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL, L1_GROUP, L2_CHANNEL, LEAD, build_demo_workspace
from bot.sandbox.standin import SlackStandIn
from bot.sandbox.standin.workspace import Message
from bot.server import STATE_KEY
from models import OutboxMessage, Ticket, TimelineEntry
from models.sla import SlaKind, SlaState, SlaTimer
from tests.conftest import PG_URL, REPO
from tests.harness import TOKEN, Harness, serving, start_harness, stop_harness

ANNA, CARL, JO = "U0L1ANNA", "U0L2CARL", "U0ACMEJO"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
H, M, S = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)

# Acme is on gold (24x7). P3: first response 10m, resolution 1h. P1: 2m / 15m, breach escalates.
SLA: dict[str, Any] = {
    "plans": {
        "gold": {
            "calendar": "24x7",
            "P1": {"first_response": "2m", "next_response": "5m", "resolution": "15m"},
            "P3": {"first_response": "10m", "next_response": "20m", "resolution": "1h"},
        },
        "silver": {"calendar": "24x7", "P3": {"resolution": "2h"}},
        "standard": {"calendar": "office"},
    },
    "stale_after": None,
    "alerts": {
        "thresholds": [50, 75, 90],
        "warning": ["channel", "assignee"],
        "breach": ["channel", "assignee", "group"],
        "P1": {"breach": ["channel", "group", "leads", "escalate"]},
    },
}


def strings(h: Harness, message: Any) -> str:
    return "\n".join(h.ws.visible_strings(message))


async def sla_harness(
    database_url: str,
    clock: FrozenClock,
    *,
    sla: dict[str, Any] | None = None,
    standin: SlackStandIn | None = None,
    paused: bool = True,
    **overrides: Any,
) -> Harness:
    """The bot on the demo workspace whose clock follows `clock`; the SLA scheduler paused unless asked."""
    if standin is None:
        standin = SlackStandIn(build_demo_workspace(clock=lambda: clock.now().timestamp()), bot_token=TOKEN)
        await standin.start()
    h = await start_harness(
        database_url, clock=clock, standin=standin, config_overrides={"sla": sla or SLA, **overrides}
    )
    if paused:
        scheduler_of(h).pause()
    return h


def scheduler_of(h: Harness) -> Any:
    return h.parts.web_app[STATE_KEY]["scheduler"]


@pytest.fixture
async def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def sla_bot(database_url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    async with serving(await sla_harness(database_url, clock)) as h:
        yield h


async def tick(h: Harness) -> None:
    await sla_tick(h.rt)
    await h.settle()


async def pump(h: Harness, rounds: int = 10) -> None:
    """Let the outbox sender try what is due (settle() would wait for a stream blocked until Retry-After)."""
    for _ in range(rounds):
        await h.rt.sender.dispatch_due()
        await asyncio.sleep(0.03)


async def open_ticket(h: Harness, text: str = "The printer queue is stuck") -> tuple[Ticket, Message]:
    sent = await h.driver.post_message(JO, ACME_CHANNEL, text)
    await h.settle()
    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts)
    card = h.ws.channel_messages(L1_CHANNEL)[-1]
    assert f"SUP-{ticket.id}" in strings(h, card)
    return ticket, card


def card_outbox_id(h: Harness, card: Message) -> int:
    """The outbox row that posted a card (its metadata carries the id)."""
    return int(card.metadata["event_payload"]["outbox_id"])


def notices(h: Harness, card: Message, needle: str = "") -> list[str]:
    """SLA notices in the card's thread (optionally only those containing `needle`)."""
    texts = [strings(h, m) for m in h.ws.thread_replies(L1_CHANNEL, card.ts)]
    return [t for t in texts if ("% of" in t or "breached" in t or "no activity" in t) and needle in t]


async def timer(ticket: Ticket, kind: SlaKind) -> SlaTimer:
    return await SlaTimer.get(ticket_id=ticket.id, kind=kind)


# ---------------------------------------------------------------------------------------------------


async def test_warnings_and_breach_fire_once_each_at_the_right_time(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, card = await open_ticket(h)
    assert "SLA: *First response* due" in strings(h, h.ws.message(L1_CHANNEL, card.ts))
    updates = len(h.standin.calls_to("chat.update"))
    for at, percent in ((5 * M, "50 %"), (7.5 * M, "75 %"), (9 * M, "90 %")):
        clock.set(T0 + at - S)
        await tick(h)
        assert notices(h, card, percent) == []  # not a second early
        clock.set(T0 + at)
        await tick(h)
        await tick(h)  # a second tick at the same moment sends nothing more
        sent = notices(h, card, percent)
        assert len(sent) == 1 and "First response" in sent[0] and f"<!subteam^{L1_GROUP}>" in sent[0]
        assert "Sent late" not in sent[0]
        assert f"{percent} used" in strings(h, h.ws.message(L1_CHANNEL, card.ts))  # the card shows it
    clock.set(T0 + 10 * M)
    await tick(h)
    await tick(h)
    breach = notices(h, card, "breached")
    assert len(breach) == 1 and "First response" in breach[0]
    broadcast = [m for m in h.ws.channel_messages(L1_CHANNEL) if m.ts != card.ts]
    assert len(broadcast) == 1 and "breached" in strings(h, broadcast[0])  # also shown in the channel
    assert "🚨 SLA: *First response* breached" in strings(h, h.ws.message(L1_CHANNEL, card.ts))
    assert len(h.standin.calls_to("chat.update")) == updates + 4  # one card update per state change
    assert len(notices(h, card)) == 4
    kinds = await TimelineEntry.filter(ticket_id=ticket.id, kind__startswith="sla_").values_list(
        "kind", flat=True
    )
    assert kinds == ["sla_warning", "sla_warning", "sla_warning", "sla_breached"]


async def test_an_agent_reply_meets_the_first_response_the_bots_acknowledgement_does_not(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, card = await open_ticket(h)
    acknowledgement = h.ws.thread_replies(ACME_CHANNEL, ticket.source_ts)
    assert len(acknowledgement) == 1 and acknowledgement[0].is_from_bot
    assert (await timer(ticket, SlaKind.FIRST_RESPONSE)).state == SlaState.RUNNING
    clock.set(T0 + 3 * M)
    await h.driver.post_message(ANNA, ACME_CHANNEL, "Looking into it now", thread_ts=ticket.source_ts)
    await h.settle()
    first = await timer(ticket, SlaKind.FIRST_RESPONSE)
    assert (first.state, first.met_at) == (SlaState.MET, T0 + 3 * M)
    updates = len(h.standin.calls_to("chat.update"))
    await tick(h)  # the next tick shows the timers' new state on the card, once
    await tick(h)
    assert len(h.standin.calls_to("chat.update")) == updates + 1
    assert "SLA: *Resolution* due" in strings(h, h.ws.message(L1_CHANNEL, card.ts))
    clock.set(T0 + 20 * M)
    await tick(h)
    assert notices(h, card, "First response") == []
    # The customer writes again: now an agent owes a next response (20m).
    await h.driver.post_message(JO, ACME_CHANNEL, "Any news?", thread_ts=ticket.source_ts)
    await h.settle()
    reply = await timer(ticket, SlaKind.NEXT_RESPONSE)
    assert (reply.state, reply.due_at) == (SlaState.RUNNING, T0 + 40 * M)


async def test_breach_auto_escalates_when_the_next_level_has_what_it_needs(
    database_url: str, clock: FrozenClock
) -> None:
    escalation = importlib.import_module("bot.flows.escalation")
    if not hasattr(escalation, "auto_escalate"):
        pytest.skip("bot.flows.escalation.auto_escalate (the lead's escalation flow) does not exist yet")
    h = await sla_harness(database_url, clock, escalation={"fields": {"L2": []}})
    try:
        ticket, card = await open_ticket(
            h, "Production is down for everyone"
        )  # 'down': P1, 2m first response
        assert ticket.priority == "P1"
        clock.set(T0 + 2 * M)
        await tick(h)
        ticket = await Ticket.get(id=ticket.id)
        assert ticket.level == "L2"
        assert len(notices(h, card, "breached")) == 1
        l2_cards = h.ws.channel_messages(L2_CHANNEL)
        assert len(l2_cards) == 1 and f"SUP-{ticket.id}" in strings(h, l2_cards[0])
        escalated = await TimelineEntry.get(ticket_id=ticket.id, kind="escalated")
        assert "SLA breach" in escalated.data["reason"]
        assert (await timer(ticket, SlaKind.OLA_L2)).state == SlaState.RUNNING  # L2 must now pick it up
        await tick(h)
        assert await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").count() == 1  # once
        await h.settle()
    finally:
        await stop_harness(h)
    h.standin.assert_no_leaks()


async def test_breach_pings_the_leads_when_the_next_level_lacks_context(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, card = await open_ticket(h, "Production is down for everyone")
    clock.set(T0 + 2 * M)
    await tick(h)
    assert (await Ticket.get(id=ticket.id)).level == "L1"  # L2 needs context the ticket does not have
    thread = [strings(h, m) for m in h.ws.thread_replies(L1_CHANNEL, card.ts)]
    fallback = [t for t in thread if "could not be escalated" in t]
    assert len(fallback) == 1 and f"<@{LEAD}>" in fallback[0]
    assert await TimelineEntry.filter(ticket_id=ticket.id, kind="sla_leads_pinged").count() == 1
    await tick(h)
    assert (
        len([m for m in h.ws.thread_replies(L1_CHANNEL, card.ts) if "could not be escalated" in m.text]) == 1
    )


async def test_a_restart_loses_nothing_doubles_nothing_and_marks_late_reminders(
    database_url: str, clock: FrozenClock
) -> None:
    first = await sla_harness(database_url, clock)
    ticket, card = await open_ticket(first)
    clock.set(T0 + 5 * M)
    await tick(first)
    assert len(notices(first, card, "50 %")) == 1
    await stop_harness(first, stop_standin=False)

    clock.set(T0 + 9 * M + 30 * S)  # 75 % and 90 % fell due while the bot was down
    second = await sla_harness(database_url, clock, standin=first.standin, paused=False)
    try:
        deadline = time.monotonic() + 10
        while not notices(second, card, "90 %") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the scheduler's first tick runs at start
            await second.settle()
        scheduler_of(second).pause()
        await second.settle()
        late = notices(second, card, "90 %")
        assert (
            len(late) == 1 and "Sent late" in late[0] and "The 75 % warning(s) fell due before it" in late[0]
        )
        assert len(notices(second, card, "50 %")) == 1 and notices(second, card, "75 % of") == []
        await tick(second)
        assert len(notices(second, card)) == 2
        clock.set(T0 + 10 * M)
        await tick(second)
        assert len(notices(second, card, "breached")) == 1 and len(notices(second, card)) == 3
    finally:
        await stop_harness(second)
    second.standin.assert_no_leaks()


async def test_slack_rate_limits_delay_a_notice_but_never_lose_it(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, card = await open_ticket(h)
    h.standin.faults.rate_limit("chat.postMessage", retry_after=2, times=2)
    clock.set(T0 + 5 * M)
    await sla_tick(h.rt)
    for _attempt in range(2):  # two 429s in a row: the notice waits for Retry-After each time
        await pump(h)
        assert notices(h, card, "50 %") == []
        row = await OutboxMessage.get(stream=f"ticket:{ticket.id}", thread_parent_id=card_outbox_id(h, card))
        assert row.status == "pending" and (row.last_error or "").startswith("rate limited")
        clock.advance(3 * S)
    await h.settle()
    assert len(notices(h, card, "50 %")) == 1
    assert len([c for c in h.standin.calls_to("chat.postMessage") if c.status == 429]) == 2


async def ask_sla(h: Harness, user: str, channel: str, text: str) -> str:
    """Run /sla as a person and return what they were shown (the ephemeral answer, via response_url)."""
    before = len(h.ws.ephemerals_for(user, channel))
    result = await h.driver.slash_command(user, channel, "/sla", text)
    assert result.status == 200
    await h.settle()
    shown = h.ws.ephemerals_for(user, channel)[before:]
    assert len(shown) == 1
    return strings(h, shown[0])


async def test_sla_command_shows_each_timer_to_agents_and_refuses_customers(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, _ = await open_ticket(h)
    key = f"SUP-{ticket.id}"
    clock.set(T0 + 10 * M)
    await tick(h)  # first response breached
    shown = await ask_sla(h, ANNA, L1_CHANNEL, key)
    assert "First response" in shown and "breached" in shown and "over by" in shown
    assert "Resolution" in shown and "50m of 1h left" in shown and "<!date^" in shown
    assert "Plan *gold*" in shown and "24x7" in shown
    await h.driver.slash_command(ANNA, L1_CHANNEL, "/ticket", f"wait {key}")
    await h.settle()
    assert "paused (waiting on customer)" in await ask_sla(h, ANNA, L1_CHANNEL, key)
    refused = await ask_sla(h, JO, ACME_CHANNEL, key)
    assert "support team" in refused and "Resolution" not in refused


async def test_daily_overview_lists_tickets_at_risk_once_per_day(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, _ = await open_ticket(h)
    clock.set(T0 + 6 * M)
    await tick(h)  # 50 % warning: at risk
    before = len(h.ws.channel_messages(L1_CHANNEL))
    assert await post_daily_overview(h.rt) == 0  # today's ran when the bot started (nothing at risk then)
    clock.set(datetime(2026, 3, 3, 7, 30, tzinfo=UTC))  # Tuesday 08:30 in Berlin
    assert await post_daily_overview(h.rt) == 1
    assert await post_daily_overview(h.rt) == 0  # once per day, also across processes
    await h.settle()
    posted = h.ws.channel_messages(L1_CHANNEL)[before:]
    assert len(posted) == 1
    text = strings(h, posted[0])
    assert "SLA overview for L1" in text and f"SUP-{ticket.id}" in text and "1 ticket(s) at risk" in text


async def test_a_ticket_without_activity_gets_a_nudge(database_url: str, clock: FrozenClock) -> None:
    h = await sla_harness(database_url, clock, sla={**SLA, "stale_after": "30m"})
    try:
        ticket, card = await open_ticket(h)
        clock.set(T0 + 20 * M)
        await h.driver.post_message(ANNA, ACME_CHANNEL, "Checking the spooler", thread_ts=ticket.source_ts)
        await h.settle()
        clock.set(T0 + 49 * M)
        await tick(h)
        assert notices(h, card, "no activity") == []  # the reply at 20m restarted the clock
        clock.set(T0 + 50 * M)
        await tick(h)
        nudge = notices(h, card, "no activity")
        assert len(nudge) == 1 and "30m of business time" in nudge[0]
        await h.settle()
    finally:
        await stop_harness(h)


# ---------------------------------------------------------------------------------------------------
# Two bot processes, one database


async def _race_two_workers(
    database_url: str, clock: FrozenClock, tickets: int = 24
) -> tuple[list[dict], int]:
    """Open tickets through the bot, stop it, then let two worker processes tick the same due reminders."""
    h = await sla_harness(database_url, clock, tickets={"followup_window": "1s"})
    try:
        for n in range(tickets):
            clock.advance(2 * S)  # not a follow-up of the previous message
            await h.driver.post_message(JO, ACME_CHANNEL, f"Printer {n} is jammed")
        await h.settle()
    finally:
        await stop_harness(h)
    at = (T0 + 6 * M).isoformat()  # every ticket's 50 % warning is due, no 75 % yet
    start_at = time.time() + 2.0
    args = [
        "--database-url",
        database_url,
        "--at",
        at,
        "--start-at",
        str(start_at),
        "--batch",
        "2",
        "--sla-json",
        json.dumps(SLA),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.bench",
            "sla",
            "worker",
            *args,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    print("reminders fired per process:", [r["fired"] for r in results])
    return results, tickets


async def _assert_each_reminder_once(database_url: str, results: list[dict], tickets: int) -> None:
    assert sum(r["fired"] for r in results) == tickets  # every 50 % warning, by one process or the other
    await db.init_db(database_url, migrate=False)
    try:
        warnings = await TimelineEntry.filter(kind="sla_warning").values_list("ticket_id", flat=True)
        assert sorted(warnings) == sorted(set(warnings)) and len(warnings) == tickets
        posts = await OutboxMessage.filter(
            method="chat.postMessage", channel_id=L1_CHANNEL, thread_parent_id__isnull=False
        ).values_list("stream", "payload")
        notices_per_ticket: dict[str, int] = {}
        for stream, payload in posts:
            if "50 % of" in payload["text"]:
                notices_per_ticket[stream] = notices_per_ticket.get(stream, 0) + 1
        assert len(notices_per_ticket) == tickets and set(notices_per_ticket.values()) == {1}
    finally:
        await db.close_db()


async def test_two_processes_on_postgresql_send_each_reminder_exactly_once(
    database_url: str, clock: FrozenClock
) -> None:
    if not PG_URL:
        pytest.skip("needs PostgreSQL (FOR UPDATE SKIP LOCKED): set TEST_DATABASE_URL=postgres://…")
    results, tickets = await _race_two_workers(database_url, clock)
    await _assert_each_reminder_once(database_url, results, tickets)


async def test_two_processes_on_one_sqlite_file_send_each_reminder_exactly_once(
    tmp_path: Path, clock: FrozenClock
) -> None:
    if PG_URL:
        pytest.skip(
            "runs in the SQLite suite: tortoise caches SQL per model, so one process can't mix dialects"
        )
    database_url = f"sqlite://{tmp_path}/race.sqlite3"
    results, tickets = await _race_two_workers(database_url, clock)
    await _assert_each_reminder_once(database_url, results, tickets)


# ---------------------------------------------------------------------------------------------------
# Who changed the clocks, and the end of a wait without a customer reply


async def sla_entries(ticket: Ticket, kind: str) -> list[TimelineEntry]:
    return await TimelineEntry.filter(ticket_id=ticket.id, kind=kind).order_by("id")


async def test_the_timeline_names_the_agent_who_changed_the_clocks(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, _ = await open_ticket(h)
    key = f"SUP-{ticket.id}"
    clock.set(T0 + 1 * M)
    assert "now P1" in (await h.command(ANNA, L1_CHANNEL, "/ticket", f"priority {key} P1")).text
    clock.set(T0 + 90 * S)
    assert "Sent to the customer" in (await h.command(ANNA, L1_CHANNEL, "/ticket", f"reply {key} On it")).text
    clock.set(T0 + 2 * M)
    assert "is waiting on the customer" in (await h.command(ANNA, L1_CHANNEL, "/ticket", f"wait {key}")).text
    retargeted, met, paused = (
        await sla_entries(ticket, "sla_retargeted"),
        await sla_entries(ticket, "sla_met"),
        await sla_entries(ticket, "sla_paused"),
    )
    assert [e.actor_id for e in retargeted + met + paused] == [ANNA, ANNA, ANNA]
    assert (retargeted[0].data["to"], met[0].data["timer"]) == ("P1", "first_response")


async def test_an_agent_ends_the_wait_and_the_pause_is_on_the_timeline(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, card = await open_ticket(h)  # P3: resolution 1h
    key = f"SUP-{ticket.id}"
    clock.set(T0 + 10 * M)
    await h.command(ANNA, L1_CHANNEL, "/ticket", f"wait {key}")
    assert (await timer(ticket, SlaKind.RESOLUTION)).state == SlaState.PAUSED
    clock.set(T0 + 40 * M)
    answer = await h.command(ANNA, L1_CHANNEL, "/ticket", f"wait {key} off")
    assert "no longer waiting" in answer.text
    assert (await Ticket.get(id=ticket.id)).status == "open"
    resolution = await timer(ticket, SlaKind.RESOLUTION)
    assert (resolution.state, resolution.paused_at) == (SlaState.RUNNING, None)
    assert resolution.due_at == T0 + 1 * H + 30 * M  # the 30 minutes of waiting did not count
    (resumed,) = await sla_entries(ticket, "sla_resumed")
    assert resumed.actor_id == ANNA
    assert (resumed.data["cause"], resumed.data["paused_s"], resumed.data["paused_business_s"]) == (
        "waiting ended",
        30 * 60,
        30 * 60,
    )
    assert await TimelineEntry.filter(ticket_id=ticket.id, kind="waiting_ended", actor_id=ANNA).count() == 1
    await tick(h)  # the card shows the running clock again
    assert "SLA paused" not in strings(h, h.ws.message(L1_CHANNEL, card.ts))
    again = await h.command(ANNA, L1_CHANNEL, "/ticket", f"wait {key} off")
    assert "is not waiting on the customer" in again.text
    assert len(await sla_entries(ticket, "sla_resumed")) == 1


async def test_resolving_a_waiting_ticket_ends_the_pause_on_the_timeline(
    sla_bot: Harness, clock: FrozenClock
) -> None:
    h = sla_bot
    ticket, _ = await open_ticket(h)
    key = f"SUP-{ticket.id}"
    clock.set(T0 + 10 * M)
    await h.command(ANNA, L1_CHANNEL, "/ticket", f"wait {key}")
    clock.set(T0 + 25 * M)
    await h.command(ANNA, L1_CHANNEL, "/resolve", key)
    form = h.ws.open_views(ANNA)[-1]
    result = await h.driver.submit_view(
        ANNA, form.id, {"resolve_solution": {"resolve.solution": "Restarted it."}}
    )
    assert result.status == 200 and not result.view_errors
    await h.settle()
    (resumed,) = await sla_entries(ticket, "sla_resumed")
    assert (resumed.actor_id, resumed.data["cause"], resumed.data["paused_s"]) == (ANNA, "resolved", 15 * 60)
    resolution = await timer(ticket, SlaKind.RESOLUTION)
    assert (resolution.state, resolution.paused_at, resolution.elapsed_us) == (
        SlaState.MET,
        None,
        10 * 60 * 10**6,
    )
    met = [e for e in await sla_entries(ticket, "sla_met") if e.data["timer"] == "resolution"]
    assert len(met) == 1 and met[0].actor_id == ANNA and met[0].data["used_s"] == 10 * 60
