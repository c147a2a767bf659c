"""The SLA engine: ticket events start, pause, resume, stop and retarget timers; the tick claims due ones.

No Slack here. `on_ticket_event` runs inside the caller's transaction (the flow that changes the ticket);
`claim_due` runs inside the scheduler tick's transaction and returns what to announce, which the flow
renders and records in the outbox in that same transaction. Semantics and the reasons behind them:
docs/sla.md. Business-time arithmetic: bot/services/sla/calendar.py (docs/sla-time.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise import connections
from tortoise.expressions import Q

from bot import db
from bot.services import tickets as ticket_service
from bot.services.sla.bulk import insert_rows
from bot.services.sla.calendar import BusinessCalendar
from bot.services.sla.policy import (
    CUSTOMER_KINDS,
    KIND_LABELS,
    OLA_KINDS,
    TicketPolicy,
    calendar_named,
    policy_for,
)
from config.support import SupportConfig
from models import Customer, Ticket, TimelineEntry
from models.sla import SlaKind, SlaPending, SlaState, SlaTimer, SlaWork
from models.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "sla"
"""Timeline actor of changes the engine makes on its own (warnings, breaches, nudges)."""
LATE_AFTER = timedelta(minutes=1)
"""A reminder sent more than this after it fell due (the bot was down or overloaded) is marked late."""
WAITING = "waiting"
_US = timedelta(microseconds=1)
_LEVEL_RANK = {"L1": 1, "L2": 2, "L3": 3}
_OPEN_TIMER = (SlaState.RUNNING, SlaState.PAUSED)


@dataclass(slots=True)
class DueTimer:
    """A claimed timer: the columns the tick reads and writes back, as plain attributes (turning rows into
    tortoise models cost more than the database work of the whole claim)."""

    id: int
    ticket_id: int
    kind: str
    state: str
    cycle: int
    level: str | None
    priority: str
    calendar: str
    target_us: int
    thresholds: list[int]
    elapsed_us: int
    run_started_at: datetime | None
    due_at: datetime | None
    next_threshold: int
    next_fire_at: datetime | None
    breached_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None


Timer = SlaTimer | DueTimer  # the arithmetic below works on a model or a claimed row alike


class SlaEvent(StrEnum):
    """Ticket events the SLA engine reacts to (call `on_ticket_event` after changing the ticket)."""

    CREATED = "created"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    WAITING = "waiting"
    RESUMED = "resumed"  # waiting on customer ended without a customer reply
    RESOLVED = "resolved"
    REOPENED = "reopened"
    PRIORITY_CHANGED = "priority_changed"
    ESCALATED = "escalated"
    HANDED_BACK = "handed_back"
    CLAIMED = "claimed"
    CLOSED = "closed"


# ------------------------------------------------------------------------------------------------
# Timer arithmetic (pure)
# ------------------------------------------------------------------------------------------------


def _micros(td: timedelta) -> int:
    return td // _US


def _delta(us: int) -> timedelta:
    return timedelta(microseconds=us)


def used_time(timer: Timer, calendar: BusinessCalendar, at: datetime) -> timedelta:
    """Business time the timer has counted up to `at`."""
    extra = timedelta(0)
    if timer.state == SlaState.RUNNING and timer.run_started_at is not None:
        extra = calendar.between(timer.run_started_at, at)
    return _delta(timer.elapsed_us) + extra


def fire_time(timer: Timer, calendar: BusinessCalendar, index: int) -> datetime | None:
    """When warning `index` (len(thresholds): the breach) falls due while the timer keeps running."""
    thresholds = timer.thresholds or []
    if timer.state != SlaState.RUNNING or timer.run_started_at is None or index > len(thresholds):
        return None
    point = timer.target_us if index == len(thresholds) else timer.target_us * thresholds[index] // 100
    return calendar.add(timer.run_started_at, _delta(max(0, point - timer.elapsed_us)))


def schedule(timer: Timer, calendar: BusinessCalendar) -> None:
    """Recompute due_at and next_fire_at from the timer's state."""
    if timer.state == SlaState.RUNNING:
        timer.due_at = fire_time(timer, calendar, len(timer.thresholds or []))
        timer.next_fire_at = fire_time(timer, calendar, timer.next_threshold)
    else:
        timer.next_fire_at = None
        if timer.state == SlaState.PAUSED:
            timer.due_at = None


def checkpoint(timer: Timer, calendar: BusinessCalendar, at: datetime) -> None:
    """Fold the running stretch up to `at` into elapsed_us (a later `at` only)."""
    if timer.state == SlaState.RUNNING and timer.run_started_at is not None and at > timer.run_started_at:
        timer.elapsed_us += _micros(calendar.between(timer.run_started_at, at))
        timer.run_started_at = at


def next_threshold_after_retarget(
    *, used_us: int, old_thresholds: list[int], fired: int, new_thresholds: list[int], new_target_us: int
) -> int:
    """Index of the next warning under a new target: never repeat a percentage already sent for the same
    target, and announce at once (collapsed) the thresholds the new target has already crossed."""
    fired_pct = old_thresholds[fired - 1] if 0 < fired <= len(old_thresholds) else 0
    first_unfired = sum(1 for p in new_thresholds if p <= fired_pct)
    crossed = sum(1 for p in new_thresholds if used_us >= new_target_us * p // 100)
    return min(first_unfired, crossed)


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


@dataclass
class _Change:
    """One event applied to one ticket's timers; collects what to save and what to record."""

    ticket: Ticket
    config: SupportConfig
    policy: TicketPolicy | None
    at: datetime
    actor_id: str
    timers: dict[SlaKind, SlaTimer]
    dirty: dict[SlaKind, SlaTimer] = field(default_factory=dict)
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def calendar(self, timer: SlaTimer) -> BusinessCalendar:
        return calendar_named(config=self.config, name=timer.calendar)

    def touch(self, timer: SlaTimer) -> None:
        self.dirty[SlaKind(timer.kind)] = timer

    def live(self, kind: SlaKind) -> SlaTimer | None:
        timer = self.timers.get(kind)
        return timer if timer is not None and timer.state in _OPEN_TIMER else None

    def start(
        self,
        kind: SlaKind,
        *,
        level: str | None = None,
        elapsed: timedelta = timedelta(0),
        started_at: datetime | None = None,
    ) -> SlaTimer | None:
        """Start (or restart, as a new cycle) a timer at `at`, when the policy has a target for it."""
        target = self.policy.target(kind) if self.policy else None
        if target is None or self.policy is None:
            return None
        timer = self.timers.get(kind)
        if timer is None:
            timer = SlaTimer(ticket_id=self.ticket.id, kind=kind, cycle=1)
            self.timers[kind] = timer
        else:
            timer.cycle += 1
        timer.state = SlaState.RUNNING
        timer.level = level
        timer.plan, timer.priority = self.policy.plan, self.policy.priority
        timer.calendar = self.policy.calendar_of(kind)
        timer.target_us = _micros(target)
        timer.thresholds = list(self.policy.thresholds_of(kind))
        timer.elapsed_us = _micros(elapsed)
        timer.started_at = started_at or self.at
        timer.run_started_at = self.at
        timer.paused_at = timer.pause_reason = None
        timer.next_threshold = 0
        timer.breached_at = timer.met_at = timer.stopped_at = None
        timer.stop_reason = None
        if elapsed:
            timer.next_threshold = next_threshold_after_retarget(
                used_us=timer.elapsed_us,
                old_thresholds=[],
                fired=0,
                new_thresholds=timer.thresholds,
                new_target_us=timer.target_us,
            )
        schedule(timer, self.calendar(timer))
        self.touch(timer)
        return timer

    def meet(self, kind: SlaKind) -> None:
        """The promise was kept (perhaps late): stop the clock and record it."""
        timer = self.live(kind)
        if timer is None:
            return
        calendar = self.calendar(timer)
        checkpoint(timer, calendar, self.at)
        timer.state, timer.met_at = SlaState.MET, self.at
        timer.run_started_at = None
        schedule(timer, calendar)
        self.touch(timer)
        in_time = timer.elapsed_us <= timer.target_us
        self.records.append(
            (
                "sla_met",
                {
                    "timer": timer.kind,
                    "cycle": timer.cycle,
                    "used_s": timer.elapsed_us // 1_000_000,
                    "target_s": timer.target_us // 1_000_000,
                    "in_time": in_time,
                },
            )
        )

    def stop(self, kind: SlaKind, reason: str) -> None:
        """The promise no longer applies (resolved before a reply, moved to another level ...)."""
        timer = self.live(kind)
        if timer is None:
            return
        checkpoint(timer, self.calendar(timer), self.at)
        timer.state, timer.stopped_at, timer.stop_reason = SlaState.STOPPED, self.at, reason
        timer.run_started_at = None
        timer.next_fire_at = None
        self.touch(timer)

    def pause(self, kinds: tuple[SlaKind, ...], reason: str) -> None:
        """Stop counting until `resume` (waiting on the customer)."""
        paused = []
        for kind in kinds:
            timer = self.timers.get(kind)
            if timer is None or timer.state != SlaState.RUNNING:
                continue
            calendar = self.calendar(timer)
            checkpoint(timer, calendar, self.at)
            timer.state, timer.paused_at, timer.pause_reason = SlaState.PAUSED, self.at, reason
            timer.run_started_at = None
            schedule(timer, calendar)
            self.touch(timer)
            paused.append(timer.kind)
        if paused and any(k != SlaKind.IDLE for k in paused):
            self.records.append(
                ("sla_paused", {"timers": [k for k in paused if k != SlaKind.IDLE], "reason": reason})
            )

    def resume(self, reason: str, cause: str) -> None:
        """Count again from `at`; the pause and its length go into the timeline."""
        resumed: list[str] = []
        since: datetime | None = None
        business = timedelta(0)
        for timer in self.timers.values():
            if timer.state != SlaState.PAUSED or timer.pause_reason != reason:
                continue
            calendar = self.calendar(timer)
            if timer.paused_at is not None and timer.kind != SlaKind.IDLE:
                since = timer.paused_at if since is None else min(since, timer.paused_at)
                business = max(business, calendar.between(timer.paused_at, self.at))
            timer.state, timer.run_started_at = SlaState.RUNNING, self.at
            timer.paused_at = timer.pause_reason = None
            if timer.kind == SlaKind.IDLE:
                timer.elapsed_us, timer.next_threshold = 0, 0
            schedule(timer, calendar)
            self.touch(timer)
            if timer.kind != SlaKind.IDLE:
                resumed.append(timer.kind)
        if resumed and since is not None:
            self.records.append(
                (
                    "sla_resumed",
                    {
                        "timers": resumed,
                        "reason": reason,
                        "cause": cause,
                        "paused_since": since.isoformat(),
                        "paused_s": int((self.at - since).total_seconds()),
                        "paused_business_s": int(business.total_seconds()),
                    },
                )
            )

    def activity(self) -> None:
        """Something happened on the ticket: restart the no-activity clock (or start it)."""
        timer = self.timers.get(SlaKind.IDLE)
        if self.ticket.status not in OPEN_STATUSES:
            return
        if timer is None or timer.state in (SlaState.MET, SlaState.STOPPED):
            self.start(SlaKind.IDLE)
        elif timer.state == SlaState.RUNNING:
            timer.elapsed_us, timer.next_threshold, timer.run_started_at = 0, 0, self.at
            schedule(timer, self.calendar(timer))
            self.touch(timer)

    def retarget(self, *, agent_replied: bool) -> None:
        """New priority: same business time used, new targets; a breach stays a breach."""
        changes: dict[str, Any] = {}
        old_priority = next((t.priority for t in self.timers.values() if t.state in _OPEN_TIMER), None)
        for kind, timer in list(self.timers.items()):
            if timer.state not in _OPEN_TIMER or kind == SlaKind.IDLE:
                continue
            target = self.policy.target(kind) if self.policy else None
            if target is None:
                self.stop(kind, f"no target at {self.ticket.priority}")
                changes[kind] = {"stopped": True}
                continue
            calendar = self.calendar(timer)
            checkpoint(timer, calendar, self.at)
            new_thresholds = list(self.policy.thresholds_of(kind)) if self.policy else []
            if timer.breached_at is not None:
                timer.next_threshold = len(new_thresholds) + 1
            else:
                timer.next_threshold = next_threshold_after_retarget(
                    used_us=timer.elapsed_us,
                    old_thresholds=list(timer.thresholds or []),
                    fired=timer.next_threshold,
                    new_thresholds=new_thresholds,
                    new_target_us=_micros(target),
                )
            timer.thresholds, timer.target_us = new_thresholds, _micros(target)
            timer.priority = self.ticket.priority
            schedule(timer, calendar)
            self.touch(timer)
            changes[kind] = {
                "target_s": int(target.total_seconds()),
                "due": timer.due_at.isoformat() if timer.due_at else None,
            }
        if self.policy is not None and self.ticket.status in OPEN_STATUSES:
            for kind in (SlaKind.FIRST_RESPONSE, SlaKind.RESOLUTION):
                if kind in self.timers or self.policy.target(kind) is None:
                    continue
                if kind == SlaKind.FIRST_RESPONSE and agent_replied:
                    continue  # answered already: nothing owed
                # Newly promised: counted as if it had run since the ticket was opened.
                calendar = calendar_named(config=self.config, name=self.policy.calendar_of(kind))
                elapsed = calendar.between(self.ticket.created_at, self.at)
                timer = self.start(kind, elapsed=elapsed, started_at=self.ticket.created_at)
                if timer is not None:
                    changes[kind] = {
                        "target_s": timer.target_us // 1_000_000,
                        "due": timer.due_at.isoformat() if timer.due_at else None,
                    }
        if changes:
            self.records.append(
                ("sla_retargeted", {"from": old_priority, "to": self.ticket.priority, "timers": changes})
            )

    async def save(self, *, refresh_card: bool) -> None:
        for timer in self.dirty.values():
            await timer.save()
        if refresh_card and self.dirty:
            await SlaPending.create(work=SlaWork.CARD, ticket_id=self.ticket.id, created_at=self.at)
        for kind, data in self.records:
            await ticket_service.record(self.ticket, kind=kind, actor_id=self.actor_id, at=self.at, data=data)


async def _plan_of(ticket: Ticket) -> str | None:
    customer = ticket.customer if isinstance(getattr(ticket, "customer", None), Customer) else None
    if customer is not None:
        return customer.plan
    return await Customer.filter(id=ticket.customer_id).values_list("plan", flat=True).first()  # type: ignore[return-value]


async def _agent_replied(ticket_id: int) -> bool:
    """True when an agent answered the customer (in the thread, or through the bot)."""
    return await TimelineEntry.filter(ticket_id=ticket_id, kind__startswith="agent_reply").exists()


async def on_ticket_event(
    ticket: Ticket,
    event: SlaEvent | str,
    *,
    at: datetime,
    config: SupportConfig,
    level: str | None = None,
    actor_id: str | None = None,
    cards_follow: bool = False,
) -> bool:
    """Apply a ticket event to the ticket's SLA timers (inside the caller's transaction, after the ticket
    itself changed); True when a timer started, stopped, paused, resumed or got a new due time.

    The next tick re-renders the ticket's card to show the change, unless `cards_follow`: the caller renders
    the card after this call in the same transaction. A new ticket's card is posted after CREATED, so it
    shows its timers already."""
    if not config.sla.enabled:
        return False
    event = SlaEvent(event)
    query = SlaTimer.filter(ticket_id=ticket.id).order_by("id")
    if db.dialect() == "postgres":
        query = query.select_for_update()  # a tick or another event on this ticket waits for us
    timers = {SlaKind(t.kind): t for t in await query}
    policy = policy_for(config=config, plan=await _plan_of(ticket), priority=ticket.priority)
    if policy is None and not timers:
        return False
    change = _Change(
        ticket=ticket, config=config, policy=policy, at=at, actor_id=actor_id or SYSTEM_ACTOR, timers=timers
    )
    level = level or ticket.level
    if event == SlaEvent.CREATED:
        if not timers:
            change.start(SlaKind.FIRST_RESPONSE)
            change.start(SlaKind.RESOLUTION)
            change.start(SlaKind.IDLE)
    elif event == SlaEvent.AGENT_REPLY:
        change.meet(SlaKind.FIRST_RESPONSE)
        change.meet(SlaKind.NEXT_RESPONSE)
        change.activity()
    elif event == SlaEvent.CUSTOMER_REPLY:
        change.resume(WAITING, cause="customer replied")
        if (
            ticket.status in OPEN_STATUSES
            and change.live(SlaKind.FIRST_RESPONSE) is None
            and change.live(SlaKind.NEXT_RESPONSE) is None
        ):
            change.start(SlaKind.NEXT_RESPONSE)
        change.activity()
    elif event == SlaEvent.WAITING:
        change.pause((SlaKind.NEXT_RESPONSE, SlaKind.RESOLUTION, SlaKind.IDLE), WAITING)
    elif event == SlaEvent.RESUMED:
        change.resume(WAITING, cause="waiting ended")
        change.activity()
    elif event == SlaEvent.RESOLVED:
        change.resume(WAITING, cause="resolved")  # resolved while waiting: the pause ends here
        change.meet(SlaKind.RESOLUTION)
        for kind in (
            SlaKind.FIRST_RESPONSE,
            SlaKind.NEXT_RESPONSE,
            SlaKind.OLA_L2,
            SlaKind.OLA_L3,
            SlaKind.IDLE,
        ):
            change.stop(kind, "resolved")
    elif event == SlaEvent.REOPENED:
        _reopen(change)
        change.activity()
    elif event == SlaEvent.PRIORITY_CHANGED:
        change.retarget(agent_replied=await _agent_replied(ticket.id))
    elif event == SlaEvent.ESCALATED:
        for lvl, kind in OLA_KINDS.items():
            if lvl != level:
                change.stop(kind, f"moved to {level}")
        if level in OLA_KINDS:
            change.start(OLA_KINDS[level], level=level)
        change.activity()
    elif event == SlaEvent.HANDED_BACK:
        for lvl, kind in OLA_KINDS.items():
            if _LEVEL_RANK[lvl] > _LEVEL_RANK.get(level, 0):
                change.stop(kind, f"handed back to {level}")
        change.activity()
    elif event == SlaEvent.CLAIMED:
        if level in OLA_KINDS:
            change.meet(OLA_KINDS[level])
        change.activity()
    elif event == SlaEvent.CLOSED:
        change.resume(WAITING, cause="closed")
        for kind in list(change.timers):
            change.stop(kind, "closed")
    await change.save(refresh_card=event != SlaEvent.CREATED and not cards_follow)
    return bool(change.dirty)


def _reopen(change: _Change) -> None:
    """Resolution counts on from where it stopped; thresholds already sent are not sent again."""
    timer = change.timers.get(SlaKind.RESOLUTION)
    if timer is None or timer.state in _OPEN_TIMER:
        return
    timer.state, timer.run_started_at = SlaState.RUNNING, change.at
    timer.met_at = timer.stopped_at = timer.stop_reason = None
    schedule(timer, change.calendar(timer))
    change.touch(timer)
    change.records.append(
        (
            "sla_resumed",
            {
                "timers": [timer.kind],
                "reason": "reopened",
                "cause": "reopened",
                "used_s": timer.elapsed_us // 1_000_000,
            },
        )
    )


# ------------------------------------------------------------------------------------------------
# The tick
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """A warning, breach or no-activity nudge that fell due and was claimed (announce it exactly once)."""

    timer_id: int
    ticket_id: int
    kind: SlaKind
    cycle: int
    level: str
    priority: str
    percent: int | None  # the warning's threshold; None for a breach or a nudge
    due_at: datetime  # when this reminder fell due
    deadline: datetime | None  # when the target is (was) breached
    target: timedelta
    calendar: str
    late: bool
    missed: tuple[int, ...] = ()  # earlier thresholds folded into this one (they fell due at the same time)
    escalate: bool = False

    @property
    def is_breach(self) -> bool:
        """True for a breach notice."""
        return self.percent is None and self.kind != SlaKind.IDLE

    @property
    def is_nudge(self) -> bool:
        """True for a no-activity nudge."""
        return self.kind == SlaKind.IDLE

    @property
    def label(self) -> str:
        """Human name of the timer."""
        return KIND_LABELS.get(self.kind, str(self.kind))


@dataclass(frozen=True)
class TicketInfo:
    """What a notice needs of a ticket (read without loading the whole row)."""

    id: int
    status: str
    level: str
    priority: str
    assignee_id: str | None
    customer_name: str


@dataclass(frozen=True)
class Claimed:
    """What one claim advanced, with the tickets the firings belong to."""

    firings: list[Firing]
    tickets: dict[int, TicketInfo]
    rows: int


# What the claim reads: the timer's columns (DueTimer, in order), then its ticket's and customer's. Only
# next_fire_at in the ORDER BY: the index gives that order, so the query stops after `limit` rows (with a
# tie-breaker PostgreSQL read, joined and sorted every due row again for each batch of a wave).
_TIMER_COLUMNS = tuple(DueTimer.__dataclass_fields__)
_CLAIM_SQL = (
    f"SELECT {', '.join(f't.{c}' for c in _TIMER_COLUMNS)}, k.status, k.level, k.priority, k.assignee_id, c.name"
    ' FROM "sla_timers" t JOIN "tickets" k ON k.id = t.ticket_id JOIN "customers" c ON c.id = k.customer_id'
    " WHERE t.next_fire_at <= {now} ORDER BY t.next_fire_at LIMIT {limit}"
)
_CLAIM_POSTGRES = _CLAIM_SQL.format(now="$1", limit="$2") + " FOR UPDATE OF t SKIP LOCKED"
_CLAIM_SQLITE = _CLAIM_SQL.format(now="?", limit="?")
_PENDING_COLUMNS = ("work", "ticket_id", "timer_id", "level")
_DATETIME_AT = frozenset(
    _TIMER_COLUMNS.index(c) for c in ("run_started_at", "due_at", "next_fire_at", "breached_at", "stopped_at")
)
_THRESHOLDS_AT = _TIMER_COLUMNS.index("thresholds")
# What the tick writes back (everything else belongs to the event side).
_WRITTEN = (  # in this order (see _write_back), with their PostgreSQL types
    ("state", "text"),
    ("cycle", "int"),
    ("elapsed_us", "bigint"),
    ("breached_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("next_fire_at", "timestamptz"),
    ("run_started_at", "timestamptz"),
    ("stopped_at", "timestamptz"),
    ("next_threshold", "smallint"),
    ("stop_reason", "text"),
)
_WRITE_BACK_POSTGRES = (
    'UPDATE "sla_timers" AS t SET "updated_at" = $1, '
    + ", ".join(f'"{c}" = u.{c}' for c, _ in _WRITTEN)
    + " FROM unnest("
    + ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate([*_WRITTEN, ("id", "bigint")], start=2))
    + ") AS u("
    + ", ".join([*(c for c, _ in _WRITTEN), "id"])
    + ") WHERE t.id = u.id"
)
_WRITE_BACK_SQLITE = (
    'UPDATE "sla_timers" SET '
    + ", ".join(f'"{c}" = ?' for c in [*(c for c, _ in _WRITTEN), "updated_at"])
    + ' WHERE "id" = ?'
)


def _parse_claimed(records: list[Any], *, postgres: bool) -> tuple[list[DueTimer], dict[int, TicketInfo]]:
    """The claim's rows as DueTimers and the TicketInfo of their tickets."""
    rows: list[DueTimer] = []
    tickets: dict[int, TicketInfo] = {}
    thresholds: dict[str, list[int]] = {}  # the same few JSON texts over and over (not mutated)
    width = len(_TIMER_COLUMNS)
    for record in records:
        if postgres:  # asyncpg hands over datetimes already
            values = list(record[:width])
        else:  # SQLite: tortoise's UTC text
            values = [_from_db(record[i]) if i in _DATETIME_AT else record[i] for i in range(width)]
        raw = values[_THRESHOLDS_AT]
        if isinstance(raw, str):  # JSON text (PostgreSQL jsonb and SQLite alike, without a codec)
            values[_THRESHOLDS_AT] = thresholds.get(raw) or thresholds.setdefault(raw, json.loads(raw))
        row = DueTimer(*values)
        rows.append(row)
        if row.ticket_id not in tickets:
            status, level, priority, assignee_id, customer = (record[i] for i in range(width, width + 5))
            tickets[row.ticket_id] = TicketInfo(
                id=row.ticket_id,
                status=str(status),
                level=level,
                priority=priority,
                assignee_id=assignee_id,
                customer_name=customer,
            )
    return rows, tickets


def _from_db(value: Any) -> Any:
    """A datetime as the driver returns it (SQLite: tortoise's text) -> aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def claim_due(*, now: datetime, config: SupportConfig, limit: int = 500) -> Claimed:
    """Advance up to `limit` timers whose next warning or breach is due at `now` (inside a transaction).

    PostgreSQL: the rows are locked with FOR UPDATE SKIP LOCKED, so concurrent ticks (other replicas) take
    other rows and never wait. SQLite: the transaction writes first, so it holds the database's write lock
    before it reads. Either way the reminders returned are this transaction's alone: announce them in it.
    One query reads the due timers with their tickets; one executemany writes them back.
    """
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:
        _, records = await conn.execute_query(_CLAIM_POSTGRES, [now, limit])
    else:
        await _take_sqlite_write_lock()
        _, records = await conn.execute_query(_CLAIM_SQLITE, [_sqlite_text(now), limit])
    if not records:
        return Claimed([], {}, 0)
    rows, tickets = _parse_claimed(records, postgres=postgres)
    firings: list[Firing] = []
    work: list[tuple[Any, ...]] = []  # follow-up work (_PENDING_COLUMNS)
    at = now if postgres else _sqlite_text(now)
    calendars: dict[str, BusinessCalendar] = {}
    for row in rows:
        calendar = calendars.get(row.calendar)
        if calendar is None:
            calendar = calendars[row.calendar] = calendar_named(config=config, name=row.calendar)
        firing = _advance(row, tickets[row.ticket_id], now=now, config=config, calendar=calendar)
        if firing is None:
            continue
        firings.append(firing)
        if not firing.is_nudge:  # the card shows the timer's new state
            work.append((SlaWork.CARD.value, row.ticket_id, None, None))
        if firing.escalate:
            work.append((SlaWork.ESCALATE.value, row.ticket_id, row.id, tickets[row.ticket_id].level))
    await _write_back(rows, now=now, postgres=postgres)
    await insert_rows(SlaPending, _PENDING_COLUMNS, work, same={"created_at": at})
    return Claimed(firings, tickets, len(rows))


async def _take_sqlite_write_lock() -> None:
    """Start the transaction with a write (that changes nothing): SQLite then holds its write lock before we
    read, so another process can neither change what we read nor make our later write fail as stale."""
    await connections.get("default").execute_query('UPDATE "sla_timers" SET "cycle" = 0 WHERE "id" = -1')


async def _write_back(rows: list[DueTimer], *, now: datetime, postgres: bool) -> None:
    """Write the advanced timers back (the rows are ours: locked, or under SQLite's write lock). PostgreSQL:
    one UPDATE … FROM unnest(arrays), a third less server time than an executemany of single-row UPDATEs;
    SQLite: one executemany."""
    time = _same if postgres else _sqlite_text
    values = [
        (
            str(row.state),
            row.cycle,
            row.elapsed_us,
            time(row.breached_at),
            time(row.due_at),
            time(row.next_fire_at),
            time(row.run_started_at),
            time(row.stopped_at),
            row.next_threshold,
            row.stop_reason,
            row.id,
        )
        for row in rows
    ]
    conn = connections.get("default")
    if postgres:
        await conn.execute_query(_WRITE_BACK_POSTGRES, [now, *(list(c) for c in zip(*values, strict=True))])
    else:
        stamp = time(now)
        await conn.execute_many(_WRITE_BACK_SQLITE, [(*v[:-1], stamp, v[-1]) for v in values])


def _same(value: Any) -> Any:
    return value


def _sqlite_text(value: datetime | None) -> str | None:
    """A datetime as tortoise stores it in SQLite (UTC text)."""
    return None if value is None else str(value.astimezone(UTC))


def _advance(
    row: DueTimer,
    ticket: TicketInfo | None,
    *,
    now: datetime,
    config: SupportConfig,
    calendar: BusinessCalendar | None = None,
) -> Firing | None:
    """Move one due timer past everything that fell due by `now`; the firing to announce, if any."""
    if ticket is None or row.state != SlaState.RUNNING:
        row.next_fire_at = None
        return None
    calendar = calendar or calendar_named(config=config, name=row.calendar)
    if ticket.status not in OPEN_STATUSES:
        log.warning(
            "sla: timer %s of ticket %s still ran after %s; stopped", row.id, ticket.id, ticket.status
        )
        checkpoint(row, calendar, now)
        row.state, row.stopped_at, row.stop_reason, row.run_started_at = (
            SlaState.STOPPED,
            now,
            ticket.status,
            None,
        )
        row.next_fire_at = None
        return None
    thresholds = list(row.thresholds or [])
    last = len(thresholds)
    crossed: int | None = None
    crossed_at = first_due = upcoming = None
    index = row.next_threshold
    while index <= last:
        when = fire_time(row, calendar, index)
        if when is None or when > now:
            upcoming = when  # the next one, not due yet
            break
        first_due = first_due or when
        crossed, crossed_at = index, when
        index += 1
    if crossed is None or crossed_at is None or first_due is None:
        schedule(row, calendar)  # nothing due after all (e.g. the calendar changed): just reschedule
        return None
    late = now - first_due > LATE_AFTER
    missed = tuple(thresholds[row.next_threshold : crossed])
    deadline = row.due_at
    level = row.level or ticket.level
    escalate = False
    if row.kind == SlaKind.IDLE:
        row.elapsed_us, row.next_threshold, row.run_started_at = 0, 0, now
        row.cycle += 1
        schedule(row, calendar)
        percent = None
    elif crossed == last:
        row.breached_at = crossed_at
        row.next_threshold, row.next_fire_at = last + 1, None
        percent = None
        escalate = (
            row.kind in CUSTOMER_KINDS and "escalate" in config.sla.alerts.for_priority(row.priority).breach
        )
    else:
        row.next_threshold = crossed + 1
        row.next_fire_at = upcoming
        percent = thresholds[crossed]
    return Firing(
        timer_id=row.id,
        ticket_id=row.ticket_id,
        kind=SlaKind(row.kind),
        cycle=row.cycle,
        level=level,
        priority=row.priority,
        percent=percent,
        due_at=crossed_at,
        deadline=deadline,
        target=_delta(row.target_us),
        calendar=row.calendar,
        late=late,
        missed=missed,
        escalate=escalate,
    )


async def take_stale_cards(*, limit: int = 200) -> list[int]:
    """Tickets whose card must show a timer's new state, taken off the queue (inside the transaction that
    re-renders them; PostgreSQL: rows another process is taking are skipped)."""
    query = SlaPending.filter(work=SlaWork.CARD).limit(limit)
    if db.dialect() == "postgres":
        query = query.select_for_update(skip_locked=True)
    else:
        await _take_sqlite_write_lock()
    rows = await query.only("id", "ticket_id")
    if not rows:
        return []
    await SlaPending.filter(id__in=[r.id for r in rows]).delete()
    return sorted({r.ticket_id for r in rows})


async def pending_escalations(*, limit: int = 100) -> list[SlaPending]:
    """Breaches whose auto-escalation (or the leads' ping instead) is not done yet."""
    return await SlaPending.filter(work=SlaWork.ESCALATE).order_by("id").limit(limit)


async def take_escalation(*, pending_id: int) -> bool:
    """Take a pending auto-escalation off the queue, inside the transaction that performs it; False when
    another process took it (its transaction deleted the row first)."""
    return bool(await SlaPending.filter(id=pending_id).delete())


async def next_fire_time() -> datetime | None:
    """The earliest next_fire_at of all timers (an index lookup)."""
    row = (
        await SlaTimer.filter(next_fire_at__isnull=False)
        .order_by("next_fire_at")
        .first()
        .values("next_fire_at")
    )
    return row["next_fire_at"] if row else None


# ------------------------------------------------------------------------------------------------
# Reading timers
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimerStatus:
    """A timer as people see it (`/sla`, cards, the daily overview)."""

    kind: SlaKind
    label: str
    state: SlaState
    cycle: int
    level: str | None
    target: timedelta
    used: timedelta
    remaining: timedelta
    due_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    paused_at: datetime | None
    pause_reason: str | None
    stopped_at: datetime | None
    stop_reason: str | None
    calendar: str
    always_open: bool
    warned_percent: int | None

    @property
    def breached(self) -> bool:
        """True when the target was missed (also if it was met late afterwards)."""
        if self.breached_at is not None:
            return True
        return self.state in (SlaState.MET, SlaState.RUNNING) and self.used > self.target

    @property
    def fraction_used(self) -> float:
        """Share of the target used (1.0 = due)."""
        return self.used / self.target if self.target else 0.0


def timer_status(timer: SlaTimer, *, config: SupportConfig | None, now: datetime | None) -> TimerStatus:
    """The timer's state at `now`, with business time used and left. Without config and now, a running
    timer's used time is that of its finished runs only (enough for due times and paused timers)."""
    calendar = calendar_named(config=config, name=timer.calendar) if config is not None else None
    used = (
        used_time(timer, calendar, now)
        if calendar is not None and now is not None
        else _delta(timer.elapsed_us)
    )
    thresholds = list(timer.thresholds or [])
    fired = min(timer.next_threshold, len(thresholds))
    always_open = bool(
        config is not None
        and calendar is not None
        and (calendar.is_always_open or config.sla.is_24x7(timer.calendar))
    )
    return TimerStatus(
        kind=SlaKind(timer.kind),
        label=KIND_LABELS.get(timer.kind, str(timer.kind)),
        state=SlaState(timer.state),
        cycle=timer.cycle,
        level=timer.level,
        target=_delta(timer.target_us),
        used=used,
        remaining=_delta(timer.target_us) - used,
        due_at=timer.due_at,
        breached_at=timer.breached_at,
        met_at=timer.met_at,
        paused_at=timer.paused_at,
        pause_reason=timer.pause_reason,
        stopped_at=timer.stopped_at,
        stop_reason=timer.stop_reason,
        calendar=timer.calendar,
        always_open=always_open,
        warned_percent=thresholds[fired - 1] if fired > 0 else None,
    )


async def ticket_timers(*, ticket_id: int) -> list[SlaTimer]:
    """All timers of a ticket, customer promises first."""
    order = {kind: i for i, kind in enumerate(SlaKind)}
    return sorted(await SlaTimer.filter(ticket_id=ticket_id), key=lambda t: order[SlaKind(t.kind)])


def most_urgent(timers: list[SlaTimer]) -> SlaTimer | None:
    """The timer a card should show: a running breach, else the running one due first, else a paused one."""
    live = [t for t in timers if t.kind != SlaKind.IDLE and t.state in _OPEN_TIMER]
    breached = [t for t in live if t.state == SlaState.RUNNING and t.breached_at is not None]
    if breached:
        return min(breached, key=lambda t: (t.breached_at, t.id))
    running = [t for t in live if t.state == SlaState.RUNNING and t.due_at is not None]
    if running:
        return min(running, key=lambda t: (t.due_at, t.id))
    return min(live, key=lambda t: t.id) if live else None


async def at_risk(*, now: datetime, horizon: timedelta, limit: int = 500) -> list[SlaTimer]:
    """Running timers of open tickets that breached, got a warning, or fall due within `horizon`
    (ticket and customer loaded), soonest first."""
    return await (
        SlaTimer.filter(
            state=SlaState.RUNNING, kind__not=SlaKind.IDLE, ticket__status__in=list(OPEN_STATUSES)
        )
        .filter(Q(breached_at__isnull=False) | Q(next_threshold__gte=1) | Q(due_at__lte=now + horizon))
        .order_by("due_at", "id")
        .limit(limit)
        .prefetch_related("ticket__customer")
    )


__all__ = [
    "LATE_AFTER",
    "SYSTEM_ACTOR",
    "Claimed",
    "Firing",
    "SlaEvent",
    "TicketInfo",
    "TimerStatus",
    "at_risk",
    "claim_due",
    "take_stale_cards",
    "most_urgent",
    "next_fire_time",
    "on_ticket_event",
    "pending_escalations",
    "take_escalation",
    "ticket_timers",
    "timer_status",
]
