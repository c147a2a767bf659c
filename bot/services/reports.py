"""Support reports: volume, SLA compliance, response and resolution times in business time, escalation and
hand-back rates, knowledge-base deflection and helpfulness, CSAT.

Everything is computed from the database's records (tickets, their append-only timeline, the SLA engine's
`sla_met`/`sla_breached` entries, KB feedback, CSAT surveys) for a period [since, until). The definitions
are in docs/operations.md; the tests check them against hand-computed numbers. No Slack here.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.services.home import as_datetime, query_rows
from bot.services.sla.calendar import BusinessCalendar
from bot.services.sla.policy import CUSTOMER_KINDS, calendar_named, policy_for
from config.sla import ALWAYS_OPEN
from config.support import SupportConfig
from models import CsatSurvey

PeriodName = Literal["today", "week", "month"]
Breakdown = Literal["level", "customer"]
PERIODS: tuple[PeriodName, ...] = ("today", "week", "month")
BREAKDOWNS: tuple[Breakdown, ...] = ("level", "customer")
LEVELS = ("L1", "L2", "L3")
PRIORITIES = ("P1", "P2", "P3", "P4")
# Timeline kinds that are a customer-visible answer by the support team (the SLA engine's first response).
RESPONSE_KINDS = ("agent_reply", "agent_reply_via_bot", "agent_followup", "draft_approved")
SATISFIED = 4  # ratings of 4 and 5 count as satisfied (the usual CSAT score)
_CUSTOMER_TIMERS = frozenset(str(k) for k in CUSTOMER_KINDS)


# ------------------------------------------------------------------------------------------------ periods


@dataclass(frozen=True)
class Period:
    """A reporting period [since, until) in UTC, with the time zone its days are counted in."""

    since: datetime
    until: datetime
    label: str
    timezone: str = "UTC"

    def days(self) -> list[date]:
        """The local dates the period touches, in order."""
        tz = ZoneInfo(self.timezone)
        first = self.since.astimezone(tz).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(tz).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def local_date(self, at: datetime) -> date:
        """The local date of an instant."""
        return at.astimezone(ZoneInfo(self.timezone)).date()


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def named_period(*, name: PeriodName, now: datetime, timezone: str) -> Period:
    """today: since local midnight; week: today and the 6 days before; month: today and the 29 days before
    (all up to now)."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    back = {"today": 0, "week": 6, "month": 29}[name]
    since = _midnight(today - timedelta(days=back), tz)
    label = {"today": "Today", "week": "Last 7 days", "month": "Last 30 days"}[name]
    return Period(since=since, until=now, label=label, timezone=timezone)


def digest_period(*, now: datetime, timezone: str, days: int) -> Period:
    """The `days` full local days before the day of `now` (the weekly digest's period)."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days)
    label = f"{first.isoformat()} – {(today - timedelta(days=1)).isoformat()}"
    return Period(since=_midnight(first, tz), until=_midnight(today, tz), label=label, timezone=timezone)


def date_period(*, since: date, until: date | None, now: datetime, timezone: str) -> Period:
    """From local midnight of `since` to local midnight of `until` (exclusive), or to now."""
    tz = ZoneInfo(timezone)
    start = _midnight(since, tz)
    end = _midnight(until, tz) if until is not None else now
    if end <= start:
        raise ValueError("the end of the period must be after its start")
    label = f"{since.isoformat()} – {(until - timedelta(days=1)).isoformat() if until else 'now'}"
    return Period(since=start, until=end, label=label, timezone=timezone)


# ------------------------------------------------------------------------------------------------ numbers


@dataclass(frozen=True)
class Durations:
    """Business-time durations: how many, their median and 90th percentile (nearest rank)."""

    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class Ratio:
    """A share: numerator of denominator (None when there is nothing to divide)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The share from 0 to 1, or None."""
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Compliance:
    """SLA targets met in time versus breached (customer timers: first response, next response,
    resolution)."""

    met: int = 0
    breached: int = 0

    @property
    def rate(self) -> float | None:
        """Share met in time, or None when no target ended in the period."""
        total = self.met + self.breached
        return self.met / total if total else None

    def __add__(self, other: Compliance) -> Compliance:
        return Compliance(self.met + other.met, self.breached + other.breached)


@dataclass(frozen=True)
class Csat:
    """Satisfaction ratings (1-5) given in the period, and surveys asked in it."""

    asked: int = 0
    ratings: tuple[int, ...] = ()

    @property
    def rated(self) -> int:
        """How many ratings."""
        return len(self.ratings)

    @property
    def average(self) -> float | None:
        """Mean rating."""
        return sum(self.ratings) / len(self.ratings) if self.ratings else None

    @property
    def score(self) -> float | None:
        """Share of ratings of 4 or 5 (the CSAT score)."""
        return sum(1 for r in self.ratings if r >= SATISFIED) / len(self.ratings) if self.ratings else None

    @property
    def distribution(self) -> dict[int, int]:
        """How many of each rating."""
        return {r: sum(1 for x in self.ratings if x == r) for r in range(1, 6)}


@dataclass(frozen=True)
class GroupStats:
    """The main numbers of one group (everything, a level or a customer)."""

    name: str
    opened: int
    resolved: int
    first_response: Durations
    resolution: Durations
    compliance: Compliance
    csat: Csat


@dataclass(frozen=True)
class DayStats:
    """One local day: arrivals per level (L1: opened, L2/L3: escalated to it), SLA breaches, compliance."""

    day: date
    arrivals: dict[str, int]
    breaches: int
    compliance: Compliance


@dataclass(frozen=True)
class TicketRow:
    """One ticket opened in the period, for exports."""

    key: str
    customer: str
    priority: str
    level: str
    resolved_level: str | None
    status: str
    created_at: datetime
    first_response_at: datetime | None
    first_response_business_s: int | None
    resolved_at: datetime | None
    resolution_business_s: int | None
    escalated_to_l2: bool
    escalated_to_l3: bool
    handed_back: bool
    kb_deflected: bool
    sla_breaches: int
    csat_rating: int | None


@dataclass(frozen=True)
class Report:
    """A whole report for a period."""

    period: Period
    overall: GroupStats
    compliance_by_priority: dict[str, Compliance]
    compliance_by_level: dict[str, Compliance]
    escalation_l1_l2: Ratio
    escalation_l2_l3: Ratio
    hand_back: Ratio
    kb_deflection: Ratio
    kb_helpfulness: Ratio | None  # None: the knowledge base is not installed
    breakdown_by: Breakdown | None = None
    breakdown: list[GroupStats] = field(default_factory=list)
    days: list[DayStats] = field(default_factory=list)


def durations(values: Iterable[timedelta]) -> Durations:
    """Count, median (mean of the middle two for an even count) and nearest-rank 90th percentile."""
    ordered = sorted(values)
    if not ordered:
        return Durations(0, None, None)
    median = statistics.median(ordered)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Durations(len(ordered), median, p90)


# ------------------------------------------------------------------------------------------------ loading


@dataclass
class _Ticket:
    id: int
    created_at: datetime
    priority: str
    level: str
    resolved_level: str | None
    status: str
    customer: str
    plan: str | None

    @property
    def owner_level(self) -> str:
        """The level a ticket counts for in breakdowns: the one that resolved it, else its current one."""
        return self.resolved_level or self.level


@dataclass
class _Data:
    """The rows a report is computed from."""

    period: Period
    tickets: dict[int, _Ticket]
    cohort: list[int]
    first_responses: dict[int, datetime]
    resolutions: dict[int, datetime]
    sla_outcomes: list[tuple[int, datetime, bool]]  # (ticket, when it ended, met in time)
    escalations: list[tuple[int, datetime, str]]  # in the period: (ticket, when, to level)
    cohort_events: dict[int, list[tuple[str, datetime, dict[str, Any]]]]
    csat_asked: list[int]  # tickets whose survey was sent in the period
    csat_ratings: list[tuple[int, int]]  # (ticket, rating) given in the period
    kb_feedback: tuple[int, int] | None  # (helped, not relevant), None without a knowledge base


def _marks(values: Iterable[str]) -> tuple[str, list[str]]:
    items = list(values)
    return ", ".join("?" for _ in items), items


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        value = json.loads(value or "{}")
    return value if isinstance(value, dict) else {}


def _entries(rows: list[dict[str, Any]]) -> list[tuple[int, str, datetime, dict[str, Any]]]:
    """(ticket, kind, at, data) from raw rows (parsed here: much faster than the ORM's per-field parsing)."""
    return [
        (int(r["ticket_id"]), str(r["kind"]), as_datetime(r["at"]), _json(r["data"]))  # type: ignore[misc]
        for r in rows
    ]


async def _tickets(period: Period, *, kinds: Iterable[str]) -> dict[int, _Ticket]:
    """Tickets opened in the period, those with an event of `kinds` in it, and those with a CSAT survey
    asked or answered in it: one query."""
    marks, values = _marks(kinds)
    since, until = period.since, period.until
    rows = await query_rows(
        "SELECT t.id AS id, t.created_at AS created_at, t.priority AS priority, t.level AS level, "
        "t.resolved_level AS resolved_level, t.status AS status, c.name AS customer, c.plan AS plan "
        "FROM tickets t JOIN customers c ON c.id = t.customer_id "
        "WHERE (t.created_at >= ? AND t.created_at < ?) "
        f"OR t.id IN (SELECT ticket_id FROM ticket_timeline WHERE at >= ? AND at < ? AND kind IN ({marks})) "
        "OR t.id IN (SELECT ticket_id FROM csat_surveys WHERE (asked_at >= ? AND asked_at < ?) "
        "OR (rated_at >= ? AND rated_at < ?))",
        [since, until, since, until, *values, since, until, since, until],
    )
    return {
        int(r["id"]): _Ticket(
            id=int(r["id"]),
            created_at=as_datetime(r["created_at"]),  # type: ignore[arg-type]
            priority=str(r["priority"]),
            level=str(r["level"]),
            resolved_level=r["resolved_level"],
            status=str(r["status"]),
            customer=str(r["customer"]),
            plan=r["plan"],
        )
        for r in rows
    }


async def _kb_feedback(period: Period) -> tuple[int, int] | None:
    try:
        from models.kb import KbFeedbackKind
    except ImportError:  # the knowledge base is optional
        return None
    rows = await query_rows(
        "SELECT kind, COUNT(*) AS n FROM kb_feedback WHERE at >= ? AND at < ? GROUP BY kind",
        [period.since, period.until],
    )
    counts = {str(r["kind"]): int(r["n"]) for r in rows}
    helped = counts.get(KbFeedbackKind.HELPED.value, 0)
    return helped, sum(counts.values()) - helped


def _key(ticket_id: int, data: dict[str, Any]) -> tuple[int, str, int]:
    return ticket_id, str(data.get("timer")), int(data.get("cycle") or 1)


_PERIOD_KINDS = ("resolved", "sla_met", "sla_breached", "escalated", *RESPONSE_KINDS)
_COHORT_KINDS = ("escalated", "handed_back", "kb_deflected")
_EXPORT_KINDS = (*_COHORT_KINDS, "resolved", "sla_breached", *RESPONSE_KINDS)


async def load(*, period: Period, cohort_kinds: Iterable[str] = _COHORT_KINDS) -> _Data:
    """Read everything a report for the period needs: a handful of queries, none per ticket."""
    since, until = period.since, period.until
    marks, kinds = _marks(_PERIOD_KINDS)
    in_period = _entries(
        await query_rows(
            f"SELECT ticket_id, kind, at, data FROM ticket_timeline WHERE at >= ? AND at < ? AND kind IN ({marks})",
            [since, until, *kinds],
        )
    )
    cohort_marks, cohort_values = _marks(cohort_kinds)
    cohort_entries = _entries(
        await query_rows(
            "SELECT e.ticket_id AS ticket_id, e.kind AS kind, e.at AS at, e.data AS data "
            "FROM ticket_timeline e JOIN tickets t ON t.id = e.ticket_id "
            f"WHERE t.created_at >= ? AND t.created_at < ? AND e.at < ? AND e.kind IN ({cohort_marks})",
            [since, until, until, *cohort_values],
        )
    )
    responses, response_kinds = _marks(RESPONSE_KINDS)
    # Tickets answered in the period that had been answered before: their first response is not in it.
    answered_before = {
        int(r["ticket_id"])
        for r in await query_rows(
            f"SELECT DISTINCT ticket_id FROM ticket_timeline WHERE at < ? AND kind IN ({responses}) "
            f"AND ticket_id IN (SELECT ticket_id FROM ticket_timeline WHERE at >= ? AND at < ? "
            f"AND kind IN ({responses}))",
            [since, *response_kinds, since, until, *response_kinds],
        )
    }

    responded: dict[int, datetime] = {}
    resolved: dict[int, datetime] = {}
    escalations: list[tuple[int, datetime, str]] = []
    breached: dict[tuple[int, str, int], datetime] = {}
    met: list[tuple[tuple[int, str, int], datetime, bool]] = []
    for ticket_id, kind, at, data in in_period:
        if kind in RESPONSE_KINDS:
            if ticket_id not in answered_before and (ticket_id not in responded or at < responded[ticket_id]):
                responded[ticket_id] = at
        elif kind == "resolved":
            if ticket_id not in resolved or at > resolved[ticket_id]:
                resolved[ticket_id] = at
        elif kind == "escalated":
            escalations.append((ticket_id, at, str(data.get("to"))))
        elif data.get("timer") in _CUSTOMER_TIMERS:
            key = _key(ticket_id, data)
            if kind == "sla_breached":
                breached[key] = min(at, breached.get(key, at))
            else:
                met.append((key, at, bool(data.get("in_time"))))
    # A target met late counts as breached, once: not again if its breach was recorded before the period.
    late = {key for key, _, in_time in met if not in_time and key not in breached}
    earlier_breaches: set[tuple[int, str, int]] = set()
    if late:
        ids = sorted({key[0] for key in late})
        earlier_breaches = {
            _key(ticket_id, data)
            for ticket_id, _, _, data in _entries(
                await query_rows(
                    f"SELECT ticket_id, kind, at, data FROM ticket_timeline WHERE kind = 'sla_breached' "
                    f"AND at < ? AND ticket_id IN ({', '.join('?' for _ in ids)})",
                    [since, *ids],
                )
            )
        }
    outcomes = [(key[0], at, False) for key, at in breached.items()]
    outcomes += [(key[0], at, True) for key, at, in_time in met if in_time]
    outcomes += [
        (key[0], at, False) for key, at, in_time in met if key in late and key not in earlier_breaches
    ]

    events: dict[int, list[tuple[str, datetime, dict[str, Any]]]] = defaultdict(list)
    for ticket_id, kind, at, data in cohort_entries:
        events[ticket_id].append((kind, at, data))
    surveys = await query_rows(
        "SELECT ticket_id, asked_at, rating, rated_at FROM csat_surveys "
        "WHERE (asked_at >= ? AND asked_at < ?) OR (rated_at >= ? AND rated_at < ?)",
        [since, until, since, until],
    )
    asked, rated = [], []
    for r in surveys:
        asked_at, rated_at = as_datetime(r["asked_at"]), as_datetime(r["rated_at"])
        if asked_at is not None and since <= asked_at < until:
            asked.append(int(r["ticket_id"]))
        if r["rating"] is not None and rated_at is not None and since <= rated_at < until:
            rated.append((int(r["ticket_id"]), int(r["rating"])))
    tickets = await _tickets(period, kinds=_PERIOD_KINDS)
    return _Data(
        period=period,
        tickets=tickets,
        cohort=sorted(t.id for t in tickets.values() if since <= t.created_at < until),
        first_responses=responded,
        resolutions=resolved,
        sla_outcomes=outcomes,
        escalations=escalations,
        cohort_events=events,
        csat_asked=asked,
        csat_ratings=rated,
        kb_feedback=await _kb_feedback(period),
    )


# ------------------------------------------------------------------------------------------------ computing


class _Calendars:
    """The business calendar each ticket's times are counted on: its customer plan's SLA calendar."""

    def __init__(self, config: SupportConfig) -> None:
        self.config = config
        self._cache: dict[tuple[str | None, str], BusinessCalendar] = {}

    def of(self, ticket: _Ticket) -> BusinessCalendar:
        key = (ticket.plan, ticket.priority)
        if key not in self._cache:
            policy = policy_for(config=self.config, plan=ticket.plan, priority=ticket.priority)
            self._cache[key] = calendar_named(
                config=self.config, name=policy.calendar if policy else ALWAYS_OPEN
            )
        return self._cache[key]

    def between(self, ticket: _Ticket, start: datetime, end: datetime) -> timedelta:
        return self.of(ticket).between(start, end)


@dataclass
class _Times:
    """Business-time durations per ticket, computed once per report."""

    first_response: dict[int, timedelta]
    resolution: dict[int, timedelta]


def _times(data: _Data, calendars: _Calendars) -> _Times:
    tickets = data.tickets

    def since_opened(pairs: dict[int, datetime]) -> dict[int, timedelta]:
        return {
            t: calendars.between(tickets[t], tickets[t].created_at, at)
            for t, at in pairs.items()
            if t in tickets
        }

    return _Times(since_opened(data.first_responses), since_opened(data.resolutions))


def _group(data: _Data, times: _Times, name: str, keep: Any) -> GroupStats:
    """The main numbers of the tickets for which keep(ticket) is true."""
    tickets = data.tickets
    chosen = {t for t, ticket in tickets.items() if keep(ticket)}
    return GroupStats(
        name=name,
        opened=sum(1 for t in data.cohort if t in chosen),
        resolved=sum(1 for t in data.resolutions if t in chosen),
        first_response=durations(d for t, d in times.first_response.items() if t in chosen),
        resolution=durations(d for t, d in times.resolution.items() if t in chosen),
        compliance=Compliance(
            met=sum(1 for t, _, in_time in data.sla_outcomes if in_time and t in chosen),
            breached=sum(1 for t, _, in_time in data.sla_outcomes if not in_time and t in chosen),
        ),
        csat=Csat(
            asked=sum(1 for t in data.csat_asked if t in chosen),
            ratings=tuple(r for t, r in data.csat_ratings if t in chosen),
        ),
    )


def _cohort_flags(data: _Data) -> dict[int, set[str]]:
    """What happened to each ticket of the cohort by the end of the period."""
    flags: dict[int, set[str]] = {t: set() for t in data.cohort}
    for ticket_id, entries in data.cohort_events.items():
        for kind, _, payload in entries:
            if kind == "escalated":
                flags[ticket_id].add(f"to_{payload.get('to')}")
            elif kind in ("handed_back", "kb_deflected"):
                flags[ticket_id].add(kind)
    return flags


def _days(data: _Data) -> list[DayStats]:
    period = data.period
    arrivals: dict[date, dict[str, int]] = {d: dict.fromkeys(LEVELS, 0) for d in period.days()}
    for ticket_id in data.cohort:
        day = period.local_date(data.tickets[ticket_id].created_at)
        arrivals.setdefault(day, dict.fromkeys(LEVELS, 0))["L1"] += 1
    for _, at, to in data.escalations:
        if to in LEVELS:
            arrivals.setdefault(period.local_date(at), dict.fromkeys(LEVELS, 0))[to] += 1
    compliance: dict[date, Compliance] = defaultdict(Compliance)
    for _, at, in_time in data.sla_outcomes:
        day = period.local_date(at)
        compliance[day] = compliance[day] + Compliance(met=int(in_time), breached=int(not in_time))
    return [
        DayStats(day=day, arrivals=counts, breaches=compliance[day].breached, compliance=compliance[day])
        for day, counts in sorted(arrivals.items())
    ]


def compute(data: _Data, *, config: SupportConfig, breakdown: Breakdown | None = None) -> Report:
    """The report from loaded rows (pure: no database)."""
    times = _times(data, _Calendars(config))
    tickets = data.tickets
    overall = _group(data, times, "All tickets", lambda _: True)
    by_priority = {p: _group(data, times, p, lambda t, p=p: t.priority == p).compliance for p in PRIORITIES}
    by_level = {
        lvl: _group(data, times, lvl, lambda t, lvl=lvl: t.owner_level == lvl).compliance for lvl in LEVELS
    }
    flags = _cohort_flags(data)
    reached_l2 = [t for t, f in flags.items() if "to_L2" in f or "to_L3" in f]
    escalated = [t for t, f in flags.items() if any(x.startswith("to_") for x in f)]
    rows: list[GroupStats] = []
    if breakdown == "level":
        rows = [_group(data, times, lvl, lambda t, lvl=lvl: t.owner_level == lvl) for lvl in LEVELS]
    elif breakdown == "customer":
        names = sorted({t.customer for t in tickets.values()}, key=str.lower)
        rows = [_group(data, times, n, lambda t, n=n: t.customer == n) for n in names]
    helped = data.kb_feedback
    return Report(
        period=data.period,
        overall=overall,
        compliance_by_priority=by_priority,
        compliance_by_level=by_level,
        escalation_l1_l2=Ratio(sum(1 for f in flags.values() if "to_L2" in f), len(flags)),
        escalation_l2_l3=Ratio(sum(1 for t in reached_l2 if "to_L3" in flags[t]), len(reached_l2)),
        hand_back=Ratio(sum(1 for t in escalated if "handed_back" in flags[t]), len(escalated)),
        kb_deflection=Ratio(sum(1 for f in flags.values() if "kb_deflected" in f), len(flags)),
        kb_helpfulness=Ratio(helped[0], helped[0] + helped[1]) if helped is not None else None,
        breakdown_by=breakdown,
        breakdown=rows,
        days=_days(data),
    )


async def build_report(
    *, period: Period, config: SupportConfig, breakdown: Breakdown | None = None
) -> Report:
    """Load and compute the report for a period."""
    return compute(await load(period=period), config=config, breakdown=breakdown)


async def ticket_rows(*, period: Period, config: SupportConfig, key_prefix: str) -> list[TicketRow]:
    """One row per ticket opened in the period, with what happened to it by the period's end (exports)."""
    data = await load(period=period, cohort_kinds=_EXPORT_KINDS)
    calendars = _Calendars(config)
    ratings: dict[int, int] = {}
    for ticket_id, rating in await CsatSurvey.filter(
        ticket_id__in=data.cohort or [0], rating__isnull=False, rated_at__lt=period.until
    ).values_list("ticket_id", "rating"):
        ratings[int(ticket_id)] = int(rating)
    rows = []
    for ticket_id in data.cohort:
        ticket = data.tickets[ticket_id]
        entries = data.cohort_events.get(ticket_id, [])
        responses = [at for kind, at, _ in entries if kind in RESPONSE_KINDS]
        resolutions = [at for kind, at, _ in entries if kind == "resolved"]
        first = min(responses) if responses else None
        resolved = max(resolutions) if resolutions else None
        targets = {payload.get("to") for kind, _, payload in entries if kind == "escalated"}
        kinds = {kind for kind, _, _ in entries}
        rows.append(
            TicketRow(
                key=f"{key_prefix}-{ticket_id}",
                customer=ticket.customer,
                priority=ticket.priority,
                level=ticket.level,
                resolved_level=ticket.resolved_level,
                status=ticket.status,
                created_at=ticket.created_at,
                first_response_at=first,
                first_response_business_s=(
                    int(calendars.between(ticket, ticket.created_at, first).total_seconds())
                    if first
                    else None
                ),
                resolved_at=resolved,
                resolution_business_s=(
                    int(calendars.between(ticket, ticket.created_at, resolved).total_seconds())
                    if resolved
                    else None
                ),
                escalated_to_l2="L2" in targets,
                escalated_to_l3="L3" in targets,
                handed_back="handed_back" in kinds,
                kb_deflected="kb_deflected" in kinds,
                sla_breaches=sum(
                    1
                    for kind, _, payload in entries
                    if kind == "sla_breached" and payload.get("timer") in _CUSTOMER_TIMERS
                ),
                csat_rating=ratings.get(ticket_id),
            )
        )
    return rows
