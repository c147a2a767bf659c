"""The live state of support, for App Home and /metrics: a person's tickets, their levels' queue, tickets at
risk, and counts per level.

Every function is one aggregate query (tickets joined with their open SLA timers, grouped per ticket,
ordered by urgency and limited in the database), so the cost does not grow with the number of open tickets
shown: a Home with 5,000 open tickets behind it still reads a few dozen rows.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from bot import db
from models import TimelineEntry
from models.sla import SlaKind, SlaState
from models.tickets import OPEN_STATUSES

LEVELS = ("L1", "L2", "L3")
_OPEN = tuple(str(s.value) for s in OPEN_STATUSES)
_OPEN_TIMER = (SlaState.RUNNING.value, SlaState.PAUSED.value)

# One row per open ticket with the urgency of its open (running or paused) customer and OLA timers.
_TICKETS = f"""
SELECT t.id AS id, t.priority AS priority, t.level AS level, t.status AS status,
       t.assignee_id AS assignee_id, t.created_at AS created_at, c.name AS customer_name,
       SUBSTR(t.text, 1, 200) AS text,
       MIN(CASE WHEN s.state = '{SlaState.RUNNING.value}' THEN s.due_at END) AS due_at,
       MAX(CASE WHEN s.breached_at IS NOT NULL THEN 1 ELSE 0 END) AS breached,
       MAX(CASE WHEN s.state = '{SlaState.PAUSED.value}' THEN 1 ELSE 0 END) AS paused
FROM tickets t
JOIN customers c ON c.id = t.customer_id
LEFT JOIN sla_timers s ON s.ticket_id = t.id AND s.kind <> '{SlaKind.IDLE.value}'
     AND s.state IN ('{_OPEN_TIMER[0]}', '{_OPEN_TIMER[1]}')
WHERE t.status IN ({", ".join(f"'{s}'" for s in _OPEN)}) AND ({{where}})
GROUP BY t.id, c.name
"""
_URGENCY = (
    "g.breached DESC, CASE WHEN g.due_at IS NULL THEN 1 ELSE 0 END, g.due_at, g.priority, g.created_at, g.id"
)


@dataclass(frozen=True)
class HomeTicket:
    """An open ticket as a Home row shows it."""

    id: int
    priority: str
    level: str
    status: str
    assignee_id: str | None
    customer_name: str
    text: str
    created_at: datetime
    due_at: datetime | None  # the earliest due time of its running SLA timers
    breached: bool
    paused: bool


@dataclass(frozen=True)
class Section:
    """The first rows of a list of tickets, most urgent first, and how many there are in all."""

    tickets: list[HomeTicket]
    total: int


@dataclass(frozen=True)
class LevelCounts:
    """A level's numbers on a lead's Home."""

    level: str
    open: int = 0
    unassigned: int = 0
    waiting: int = 0
    breached_now: int = 0
    at_risk: int = 0
    breaches_today: int = 0


@dataclass(frozen=True)
class TimerCounts:
    """Open SLA timers (customer and OLA, not activity nudges) by state."""

    running: int = 0
    paused: int = 0
    at_risk: int = 0
    breached: int = 0


@dataclass(frozen=True)
class Overview:
    """Counts for leads (per level) and for /metrics (per level and status)."""

    levels: list[LevelCounts]
    by_status: dict[tuple[str, str], int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ SQL


def _placeholders(sql: str) -> str:
    """`?` placeholders as the connection's dialect wants them ($1, $2 … on PostgreSQL)."""
    if db.dialect() != "postgres":
        return sql
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def _param(value: Any) -> Any:
    """Datetimes as tortoise stores them on SQLite (UTC text), as they are on PostgreSQL."""
    if isinstance(value, datetime) and db.dialect() != "postgres":
        return str(value.astimezone(UTC))
    return value


def as_datetime(value: Any) -> datetime | None:
    """A datetime read back from a raw query (SQLite answers text, PostgreSQL datetimes)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    return datetime.fromisoformat(str(value)).astimezone(UTC)


async def query_rows(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """Run a raw SELECT written with `?` placeholders on either dialect."""
    connection = connections.get("default")
    return await connection.execute_query_dict(_placeholders(sql), [_param(p) for p in params])


def _marks(values: Iterable[Any]) -> tuple[str, list[Any]]:
    items = list(values) or [""]
    return ", ".join("?" for _ in items), items


# ------------------------------------------------------------------------------------------------ sections


async def ticket_section(
    *,
    assignee_id: str | None = None,
    levels: Iterable[str] | None = None,
    unassigned: bool = False,
    risky_before: datetime | None = None,
    limit: int = 10,
) -> Section:
    """Open tickets (assigned to someone, or unassigned, at some levels), most urgent first: breached,
    then by the earliest SLA due time, then priority and age; `risky_before` keeps only breached tickets
    and those due before it."""
    where: list[str] = []
    params: list[Any] = []
    if assignee_id is not None:
        where.append("t.assignee_id = ?")
        params.append(assignee_id)
    if levels is not None:
        marks, values = _marks(levels)
        where.append(f"t.level IN ({marks})")
        params += values
    if unassigned:
        where.append("t.assignee_id IS NULL")
    outer = "1 = 1"
    if risky_before is not None:
        outer = "g.breached = 1 OR g.due_at <= ?"
        params.append(risky_before)
    sql = (
        f"SELECT g.*, COUNT(*) OVER () AS total FROM ({_TICKETS.format(where=' AND '.join(where) or '1 = 1')}) g "
        f"WHERE {outer} ORDER BY {_URGENCY} LIMIT ?"
    )
    rows = await query_rows(sql, [*params, max(1, limit)])
    tickets = [
        HomeTicket(
            id=int(r["id"]),
            priority=str(r["priority"]),
            level=str(r["level"]),
            status=str(r["status"]),
            assignee_id=r["assignee_id"],
            customer_name=str(r["customer_name"]),
            text=str(r["text"] or ""),
            created_at=as_datetime(r["created_at"]) or datetime.min.replace(tzinfo=UTC),
            due_at=as_datetime(r["due_at"]),
            breached=bool(r["breached"]),
            paused=bool(r["paused"]),
        )
        for r in rows
    ]
    return Section(tickets=tickets, total=int(rows[0]["total"]) if rows else 0)


# ------------------------------------------------------------------------------------------------ counts


async def overview(*, now: datetime, risky_before: datetime, day_start: datetime) -> Overview:
    """Per level: open, unassigned, waiting, breached now, at risk (due before `risky_before`) and breaches
    since `day_start` (from the SLA engine's timeline records); plus open tickets by level and status."""
    marks, statuses = _marks(_OPEN)
    ticket_rows = await query_rows(
        f"SELECT level, status, COUNT(*) AS n, "
        f"SUM(CASE WHEN assignee_id IS NULL THEN 1 ELSE 0 END) AS unassigned "
        f"FROM tickets WHERE status IN ({marks}) GROUP BY level, status",
        statuses,
    )
    risk_rows = await query_rows(
        f"SELECT level, SUM(breached) AS breached_now, "
        f"SUM(CASE WHEN breached = 0 AND due_at <= ? THEN 1 ELSE 0 END) AS at_risk "
        f"FROM ({_TICKETS.format(where='1 = 1')}) g GROUP BY level",
        [risky_before],
    )
    breaches = await TimelineEntry.filter(kind="sla_breached", at__gte=day_start, at__lte=now).values_list(
        "data", flat=True
    )
    today: dict[str, int] = defaultdict(int)
    for data in breaches:
        today[str((data or {}).get("level") or "?")] += 1
    counts: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
    by_status: dict[tuple[str, str], int] = {}
    for row in ticket_rows:
        level, status, n = str(row["level"]), str(row["status"]), int(row["n"])
        by_status[(level, status)] = n
        level_counts = counts.setdefault(level, defaultdict(int))
        level_counts["open"] += n
        level_counts["unassigned"] += int(row["unassigned"] or 0)
        if status == "waiting":
            level_counts["waiting"] += n
    for row in risk_rows:
        level_counts = counts.setdefault(str(row["level"]), defaultdict(int))
        level_counts["breached_now"] = int(row["breached_now"] or 0)
        level_counts["at_risk"] = int(row["at_risk"] or 0)
    levels = [
        LevelCounts(level=level, breaches_today=today.get(level, 0), **values)
        for level, values in sorted(counts.items())
    ]
    return Overview(levels=levels, by_status=by_status)


async def ticket_counts() -> dict[tuple[str, str], int]:
    """Open and closed tickets by (level, status): one GROUP BY."""
    rows = await query_rows("SELECT level, status, COUNT(*) AS n FROM tickets GROUP BY level, status", [])
    return {(str(r["level"]), str(r["status"])): int(r["n"]) for r in rows}


async def timer_counts(*, risky_before: datetime) -> TimerCounts:
    """Open SLA timers of open tickets: running, paused, at risk (running, not breached, due before
    `risky_before`) and breached (open and past their target): one GROUP BY."""
    marks, statuses = _marks(_OPEN)
    rows = await query_rows(
        f"SELECT s.state AS state, COUNT(*) AS n, "
        f"SUM(CASE WHEN s.breached_at IS NOT NULL THEN 1 ELSE 0 END) AS breached, "
        f"SUM(CASE WHEN s.breached_at IS NULL AND s.state = ? AND s.due_at <= ? THEN 1 ELSE 0 END) AS risky "
        f"FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id "
        f"WHERE s.kind <> ? AND s.state IN (?, ?) AND t.status IN ({marks}) GROUP BY s.state",
        [SlaState.RUNNING.value, risky_before, SlaKind.IDLE.value, *_OPEN_TIMER, *statuses],
    )
    by_state = {str(r["state"]): r for r in rows}
    running, paused = by_state.get(SlaState.RUNNING.value), by_state.get(SlaState.PAUSED.value)
    return TimerCounts(
        running=int(running["n"]) if running else 0,
        paused=int(paused["n"]) if paused else 0,
        at_risk=sum(int(r["risky"] or 0) for r in rows),
        breached=sum(int(r["breached"] or 0) for r in rows),
    )
