"""SLA workflows: the scheduler's tick (warnings, breaches, nudges through the outbox), breach
auto-escalation, the ticket card's SLA line, `/sla KEY` and the daily overview.

The tick claims due timers and records their notices in the outbox in one transaction, so each reminder is
sent exactly once: a crash before the commit sends nothing and the next tick claims the same reminders again,
a Slack 429 only delays delivery. See docs/sla.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import db
from bot.flows.cards import render_card, stream_of
from bot.flows.escalation import auto_escalate
from bot.flows.sla_card import known_lines, line_for
from bot.runtime import Runtime
from bot.services import tickets as ticket_service
from bot.services.sla import bulk, engine
from bot.services.sla.bulk import insert_many
from bot.services.sla.durations import format_duration
from bot.services.sla.engine import Claimed, Firing
from bot.services.sla.policy import calendar_named, policy_for
from bot.services.tickets import Viewer
from bot.slack.blocks.sla import (
    Notice,
    RiskRow,
    build_leads_ping,
    build_sla_notice,
    build_sla_overview,
    build_sla_view,
)
from config.sla import AlertPolicy
from models import OutboxMessage, OutboxStatus, Ticket, TicketCard, TimelineEntry
from models.sla import ScheduledRun, SlaKind, SlaTimer
from models.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

OVERVIEW_JOB = "sla.overview"
NEXT_LEVEL = {"L1": "L2", "L2": "L3"}


@dataclass
class TickReport:
    """What one tick did (for logs, tests and the benchmark)."""

    claimed: int = 0
    fired: int = 0
    late: int = 0
    batches: int = 0
    escalations: int = 0
    cards: int = 0
    more: bool = False
    seconds: float = 0.0
    # Per firing: seconds from the moment it fell due to the commit that recorded its notice.
    lateness: list[float] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# The tick
# ------------------------------------------------------------------------------------------------


async def sla_tick(
    rt: Runtime,
    *,
    batch: int = 500,
    budget: float | None = None,
    lanes: int = 2,
    card_batch: int = 50,
) -> TickReport:
    """Announce every warning, breach and nudge due at rt.clock.now(), batch by batch, then refresh the
    cards and run the breach auto-escalations; with a budget (seconds) it stops early and reports `more`.

    On PostgreSQL a wave of reminders is claimed by `lanes` transactions at once (FOR UPDATE SKIP LOCKED
    keeps them apart, as it keeps replicas apart), so the database works on one batch while Python builds
    the next. Cards are re-rendered in small batches with a look for due reminders before each, so a wave
    of card updates never holds back a reminder by more than one small batch.
    """
    report = TickReport()
    if not rt.config.sla.enabled:
        return report
    started = time.monotonic()

    def out_of_time() -> bool:
        return budget is not None and time.monotonic() - started >= budget

    while True:
        if await _record_batch(rt, report, batch=batch):  # a full batch: maybe more are due
            extra = lanes if db.dialect() == "postgres" else 1
            results = await asyncio.gather(
                *(_record_lane(rt, report, batch, out_of_time) for _ in range(extra)), return_exceptions=True
            )
            for result in results:  # raised once every lane has finished (committed or rolled back)
                if isinstance(result, BaseException):
                    raise result
        if report.more or out_of_time():
            report.more = True
            break
        refreshed = await refresh_stale_cards(rt, limit=card_batch)
        report.cards += refreshed
        if not refreshed:
            break
    report.escalations = await run_escalations(rt)
    report.seconds = time.monotonic() - started
    if report.fired:
        log.info(
            "sla: %d reminder(s) sent (%d late), %d escalation(s) in %.3fs",
            report.fired,
            report.late,
            report.escalations,
            report.seconds,
        )
    return report


async def _record_lane(rt: Runtime, report: TickReport, batch: int, out_of_time: Callable[[], bool]) -> None:
    """Claim and record batches until fewer than a full batch are due or the budget is spent."""
    while not report.more:
        if out_of_time():
            report.more = True
            return
        if not await _record_batch(rt, report, batch=batch):
            return


async def _record_batch(rt: Runtime, report: TickReport, *, batch: int) -> bool:
    """One transaction: claim up to `batch` due timers and record their notices; True when it was full."""
    now = rt.clock.now()
    async with in_transaction():
        claimed = await engine.claim_due(now=now, config=rt.config, limit=batch)
        if claimed.firings:
            await _announce(rt, claimed, now)
    if not claimed.rows:
        return False
    committed = rt.clock.now()
    report.batches += 1
    report.claimed += claimed.rows
    report.fired += len(claimed.firings)
    report.late += sum(1 for f in claimed.firings if f.late)
    report.lateness += [(committed - f.due_at).total_seconds() for f in claimed.firings]
    rt.sender.wake()
    return claimed.rows >= batch


def _outbox_row(
    *,
    stream: str,
    method: str,
    channel_id: str,
    payload: dict[str, Any],
    now: datetime,
    thread_parent_id: int | None = None,
    target_id: int | None = None,
) -> dict[str, Any]:
    """An outbox row shaped like outbox.enqueue records it, for one bulk insert per batch."""
    return {
        "stream": stream,
        "method": method,
        "channel_id": channel_id,
        "payload": {**payload, "channel": channel_id},
        "thread_parent_id": thread_parent_id,
        "target_id": target_id,
        "status": OutboxStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class _Card:
    """The parts of a ticket card a notice needs."""

    ticket_id: int
    level: str
    channel_id: str
    outbox_id: int
    active: bool
    ts: str | None  # the card's message ts, once posted


_CARDS_SQL = (
    'SELECT c.ticket_id, c.level, c.channel_id, c.outbox_id, c.active, o.result_ts FROM "ticket_cards" c'
    ' LEFT JOIN "outbox" o ON o.id = c.outbox_id WHERE c.ticket_id {match} ORDER BY c.id'
)


async def _cards_of(ticket_ids: Iterable[int]) -> dict[int, list[_Card]]:
    """Every card of the tickets with its posted ts (one query, by the ticket_cards index)."""
    ids = list(ticket_ids)
    cards: dict[int, list[_Card]] = defaultdict(list)
    if not ids:
        return cards
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(_CARDS_SQL.format(match="= ANY($1::int[])"), [ids])
    else:
        _, rows = await conn.execute_query(_CARDS_SQL.format(match=f"IN ({', '.join('?' * len(ids))})"), ids)
    for ticket_id, level, channel_id, outbox_id, active, ts in rows:
        cards[ticket_id].append(_Card(ticket_id, level, channel_id, outbox_id, bool(active), ts))
    return cards


def _card_for(cards: list[_Card], level: str) -> _Card | None:
    """The card a notice about `level` belongs under: that level's latest card, else the active one."""
    at_level = [c for c in cards if c.level == level]
    active = [c for c in cards if c.active]
    return (at_level or active or [None])[-1]


def _group_pings(rt: Runtime, channel: str, level: str) -> tuple[str, ...]:
    route = next((r for r in rt.config.routes if r.channel == channel), None)
    if route is not None:
        return tuple(route.ping)
    lc = rt.config.levels.get(level)  # type: ignore[call-overload]
    return tuple(lc.ping) if lc else ()


def _leads(rt: Runtime, level: str) -> tuple[str, ...]:
    return tuple(rt.config.sla.leads.get(level) or rt.config.leads)  # type: ignore[call-overload]


# The columns the tick fills per row, in this order (the rest are NULL or the same for the whole batch).
_POST_COLUMNS = ("stream", "channel_id", "payload", "thread_parent_id")
_ENTRY_COLUMNS = ("ticket_id", "kind", "data")


async def _announce(rt: Runtime, claimed: Claimed, now: datetime) -> None:
    """Record the notices, DMs and timeline entries of one claimed batch (one insert per table)."""
    cards = await _cards_of({f.ticket_id for f in claimed.firings})
    sqlite = bulk.is_sqlite()
    at = bulk.stamp(now, sqlite=sqlite)
    payload_json = bulk.encoder(OutboxMessage, "payload")
    data_json = bulk.encoder(TimelineEntry, "data")
    pending = OutboxStatus.PENDING.value
    posts: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    actor = rt.bot_user_id or engine.SYSTEM_ACTOR
    # The same few answers for every firing of a wave: looked up once per batch.
    policies: dict[str, AlertPolicy] = {}
    groups: dict[tuple[str, str], tuple[str, ...]] = {}
    days: dict[str, bool] = {}

    def post(stream: str, channel: str, payload: dict[str, Any], parent: int | None) -> None:
        posts.append((stream, channel, payload_json({**payload, "channel": channel}), parent))

    for firing in claimed.firings:
        ticket = claimed.tickets[firing.ticket_id]
        card = _card_for(cards[ticket.id], firing.level)
        channel = card.channel_id if card else rt.config.levels[firing.level].channel  # type: ignore[index]
        policy = policies.get(firing.priority)
        if policy is None:
            policy = policies[firing.priority] = rt.config.sla.alerts.for_priority(firing.priority)
        actions = policy.breach if firing.is_breach else policy.warning
        group = groups.get((channel, firing.level))
        if group is None:
            group = groups[(channel, firing.level)] = _group_pings(rt, channel, firing.level)
        pings: tuple[str, ...] = ()
        if "group" in actions or ("assignee" in actions and not ticket.assignee_id):
            pings += group  # nobody to DM: the level hears it
        if "leads" in actions:
            pings += _leads(rt, firing.level)
        use_days = days.get(firing.calendar)
        if use_days is None:
            use_days = days[firing.calendar] = rt.config.sla.is_24x7(firing.calendar)
        notice = Notice(
            key=rt.key(ticket.id),
            customer_name=ticket.customer_name,
            priority=firing.priority,
            label=firing.label,
            percent=firing.percent,
            breach=firing.is_breach,
            nudge=firing.is_nudge,
            target=firing.target,
            deadline=firing.deadline,
            due_at=firing.due_at,
            late=firing.late,
            missed=firing.missed,
            use_days=use_days,
            pings=pings,
            note=_escalation_note(ticket.level) if firing.escalate else None,
        )
        stream = stream_of(ticket)  # type: ignore[arg-type]  # it only needs the id
        if "channel" in actions or pings:
            payload = build_sla_notice(notice)
            if firing.is_breach and card is not None:
                payload["reply_broadcast"] = True
            post(stream, channel, payload, card.outbox_id if card else None)
        if "assignee" in actions and ticket.assignee_id:
            link = rt.permalink(card.channel_id, card.ts) if card and card.ts else None
            post(
                stream, ticket.assignee_id, build_sla_notice(replace(notice, pings=(), card_link=link)), None
            )
        kind = "sla_nudge" if firing.is_nudge else "sla_breached" if firing.is_breach else "sla_warning"
        entries.append((ticket.id, kind, data_json(_firing_data(firing))))
    await bulk.insert_rows(
        OutboxMessage,
        _POST_COLUMNS,
        posts,
        same={
            "method": "chat.postMessage",
            "status": pending,
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
        },
    )
    await bulk.insert_rows(TimelineEntry, _ENTRY_COLUMNS, entries, same={"at": at, "actor_id": actor})


async def refresh_stale_cards(rt: Runtime, *, limit: int = 200) -> int:
    """Re-render the cards of tickets whose timers changed state (chat.update through the outbox)."""
    async with in_transaction():
        ticket_ids = await engine.take_stale_cards(limit=limit)
        if not ticket_ids:
            return 0
        tickets = await Ticket.filter(id__in=ticket_ids).prefetch_related("customer")
        active: dict[int, TicketCard] = {}
        for card in await TicketCard.filter(ticket_id__in=ticket_ids, active=True).order_by("id"):
            active[card.ticket_id] = card
        timers: dict[int, list[SlaTimer]] = defaultdict(list)
        for timer in await SlaTimer.filter(ticket_id__in=ticket_ids):
            timers[timer.ticket_id].append(timer)
        with known_lines({t: line_for(timers[t]) for t in ticket_ids}):  # one query, not one per card
            now = rt.clock.now()
            rows = [
                _outbox_row(
                    stream=stream_of(ticket),
                    method="chat.update",
                    channel_id=card.channel_id,
                    payload=await render_card(rt, ticket, card),
                    now=now,
                    target_id=card.outbox_id,
                )
                for ticket in tickets
                if (card := active.get(ticket.id)) is not None
            ]
        await insert_many(OutboxMessage, rows)
    rt.sender.wake()
    return len(ticket_ids)


def _escalation_note(level: str) -> str:
    if level in NEXT_LEVEL:
        return (
            f"↗️ The breach policy escalates it to {NEXT_LEVEL[level]} now (if the ticket has what they need)."
        )
    return "↗️ It is at the highest level already: the leads are asked to decide."


def _firing_data(firing: Firing) -> dict[str, Any]:
    return {
        "timer": firing.kind.value,
        "cycle": firing.cycle,
        "level": firing.level,
        "percent": firing.percent,
        "due": firing.due_at.isoformat(),
        "late": firing.late,
        "missed": list(firing.missed),
    }


# ------------------------------------------------------------------------------------------------
# Breach auto-escalation
# ------------------------------------------------------------------------------------------------


async def run_escalations(rt: Runtime, *, limit: int = 100) -> int:
    """Escalate breached tickets whose policy says so; where the next level lacks context (or at L3),
    ping the leads instead. Each one runs in its own transaction and happens once across processes."""
    done = 0
    for pending in await engine.pending_escalations(limit=limit):
        try:
            async with in_transaction():
                if not await engine.take_escalation(pending_id=pending.id):
                    continue
                ticket = await Ticket.get_or_none(id=pending.ticket_id).prefetch_related("customer")
                timer = await SlaTimer.get_or_none(id=pending.timer_id or 0)
                level = pending.level or ""
                if (
                    ticket is None
                    or timer is None
                    or ticket.status not in OPEN_STATUSES
                    or ticket.level != level
                ):
                    continue  # resolved or moved meanwhile: nothing left to do
                await _escalate_or_ping(rt, ticket, timer, level)
                done += 1
        except Exception:
            log.exception("sla: acting on the breach of ticket %s failed; will retry", pending.ticket_id)
        rt.sender.wake()
    return done


async def _escalate_or_ping(rt: Runtime, ticket: Ticket, timer: SlaTimer, level: str) -> None:
    label = engine.KIND_LABELS.get(timer.kind, str(timer.kind))
    target = format_duration(timedelta(microseconds=timer.target_us))
    reason = f"SLA breach: the {target} {label.lower()} target of {rt.key(ticket.id)} ran out."
    if level in NEXT_LEVEL:
        try:
            if await _auto_escalate(rt, ticket_id=ticket.id, reason=reason):
                return
            why = (
                f"could not be escalated to {NEXT_LEVEL[level]} automatically (it lacks the context or component "
                "that level needs)"
            )
        except Exception:  # a failing escalation flow must not keep the breach from reaching people
            log.exception("sla: auto-escalation of %s failed; pinging the leads instead", rt.key(ticket.id))
            why = f"the automatic escalation to {NEXT_LEVEL[level]} failed"
    else:
        why = "is at the highest level already"
    await _ping_leads(rt, ticket, label=label, level=level, why=why)


async def _auto_escalate(rt: Runtime, *, ticket_id: int, reason: str) -> bool:
    """The escalation flow's auto_escalate, inside our transaction (so claim and escalation commit together)."""
    return await auto_escalate(rt, ticket_id=ticket_id, reason=reason)


async def _ping_leads(rt: Runtime, ticket: Ticket, *, label: str, level: str, why: str) -> None:
    leads = _leads(rt, level)
    card = _card_for((await _cards_of([ticket.id]))[ticket.id], level)
    channel = card.channel_id if card else rt.config.levels[level].channel  # type: ignore[index]
    payload = build_leads_ping(key=rt.key(ticket.id), label=label, level=level, leads=leads, why=why)
    now = rt.clock.now()
    row = _outbox_row(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=channel,
        payload=payload,
        now=now,
        thread_parent_id=card.outbox_id if card else None,
    )
    await insert_many(OutboxMessage, [row])
    await ticket_service.record(
        ticket,
        kind="sla_leads_pinged",
        actor_id=rt.bot_user_id or engine.SYSTEM_ACTOR,
        at=now,
        data={"level": level, "leads": list(leads), "why": why},
    )


# ------------------------------------------------------------------------------------------------
# Views
# ------------------------------------------------------------------------------------------------


async def show_sla(rt: Runtime, *, key_text: str, viewer: Viewer) -> dict[str, Any]:
    """`/sla KEY` for an agent: each timer with due time, business time left, paused and breached."""
    ticket_id = ticket_service.parse_key(key_text, rt.config.tickets.key_prefix)
    key = rt.key(ticket_id)
    ticket = await ticket_service.get_visible_ticket(ticket_id=ticket_id, viewer=viewer, key=key)
    now = rt.clock.now()
    timers = [t for t in await engine.ticket_timers(ticket_id=ticket.id) if t.kind != SlaKind.IDLE]
    policy = policy_for(config=rt.config, plan=ticket.customer.plan, priority=ticket.priority)
    names = list(dict.fromkeys([t.calendar for t in timers] or ([policy.calendar] if policy else [])))
    calendars = [_describe_calendar(rt, name) for name in names]
    return build_sla_view(
        key=key,
        customer_name=ticket.customer.name,
        plan=policy.plan if policy else ticket.customer.plan,
        priority=ticket.priority,
        calendars=calendars,
        statuses=[engine.timer_status(t, config=rt.config, now=now) for t in timers],
        now=now,
    )


def _describe_calendar(rt: Runtime, name: str) -> str:
    calendar = calendar_named(config=rt.config, name=name)
    hours = "24x7" if rt.config.sla.is_24x7(name) else "business hours"
    holidays = calendar.config.holidays
    extra = (
        f", holidays {holidays.country}{'-' + holidays.subdiv if holidays.subdiv else ''}" if holidays else ""
    )
    return f"{name} ({hours}, {calendar.config.timezone}{extra})"


# ------------------------------------------------------------------------------------------------
# Daily overview
# ------------------------------------------------------------------------------------------------


async def post_daily_overview(rt: Runtime, *, now: datetime | None = None) -> int:
    """Post the tickets at risk to each level channel, once per local day across all processes;
    returns how many overviews were posted (0 when another process did it or nothing is at risk)."""
    sla = rt.config.sla
    if not sla.enabled or not sla.overview.at:
        return 0
    now = now or rt.clock.now()
    day = now.astimezone(ZoneInfo(rt.config.defaults.timezone)).date().isoformat()
    per_ticket: dict[tuple[str, int], list[SlaTimer]] = defaultdict(list)
    for timer in await engine.at_risk(now=now, horizon=sla.overview.horizon_delta):
        per_ticket[(timer.level or timer.ticket.level, timer.ticket_id)].append(timer)
    by_level: dict[str, list[RiskRow]] = defaultdict(list)
    for (level, _), timers in per_ticket.items():
        urgent = engine.most_urgent(timers) or timers[0]
        ticket = urgent.ticket
        by_level[level].append(
            RiskRow(
                key=rt.key(ticket.id),
                customer_name=ticket.customer.name,
                priority=ticket.priority,
                assignee_id=ticket.assignee_id,
                status=engine.timer_status(urgent, config=rt.config, now=now),
            )
        )
    try:
        async with in_transaction():
            await ScheduledRun.create(job=OVERVIEW_JOB, period=day, at=now)
            rows = []
            for level, risks in sorted(by_level.items()):
                risks.sort(key=lambda r: (not r.status.breached, r.status.due_at or now))
                channel = rt.config.levels[level].channel  # type: ignore[index]
                rows.append(
                    _outbox_row(
                        stream=f"sla:overview:{level}",
                        method="chat.postMessage",
                        channel_id=channel,
                        payload=build_sla_overview(level=level, rows=risks, now=now),
                        now=now,
                    )
                )
            await insert_many(OutboxMessage, rows)
    except IntegrityError:
        return 0  # another process posted today's overview
    rt.sender.wake()
    return len(by_level)


async def overview_due(rt: Runtime, *, now: datetime) -> bool:
    """True when today's overview time has passed and it was not posted yet (catch-up after a restart)."""
    overview = rt.config.sla.overview
    if not rt.config.sla.enabled or not overview.at:
        return False
    local = now.astimezone(ZoneInfo(rt.config.defaults.timezone))
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    if weekday not in overview.days or local.strftime("%H:%M") < overview.at:
        return False
    return not await ScheduledRun.exists(job=OVERVIEW_JOB, period=local.date().isoformat())
