"""Escalation workflow on tickets: levels, ownership, resolution, notes and L3 drafts (no Slack here).

State changes use conditional updates (`WHERE level = expected`), so a double click or two agents at once
change a ticket only once; the loser gets InvalidTransitionError with a clear message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.errors import InvalidTransitionError, NotFoundError, UsageError
from bot.services import tickets as ticket_service
from config.support import ContextField, SupportConfig
from models import DraftKind, DraftStatus, RelayDraft, Ticket, TicketStatus, TimelineEntry
from models.tickets import OPEN_STATUSES

NEXT_LEVEL = {"L1": "L2", "L2": "L3"}
PREVIOUS_LEVEL = {"L3": "L2", "L2": "L1"}
PRIORITIES = ("P1", "P2", "P3", "P4")
MAX_FIELD_CHARS = 2900
# Timeline kinds that move a ticket to another level or state (a form opened before one of them is stale).
MOVE_KINDS = ("escalated", "handed_back", "resolved", "confirmed", "reopened")


def context_fields(config: SupportConfig, to_level: str) -> list[ContextField]:
    """The context fields the target level asks for."""
    return list(config.escalation.fields.get(to_level, []))  # type: ignore[call-overload]


def missing_context(context: dict[str, str], fields: Iterable[ContextField]) -> list[ContextField]:
    """Required fields that are empty."""
    return [f for f in fields if f.required and not (context.get(f.id) or "").strip()]


def clean_context(values: dict[str, Any], fields: Iterable[ContextField]) -> dict[str, str]:
    """Keep only known fields, as trimmed strings of bounded length."""
    known = {f.id for f in fields}
    return {k: str(v).strip()[:MAX_FIELD_CHARS] for k, v in values.items() if k in known and v is not None}


async def load(ticket_id: int, key: str) -> Ticket:
    """The ticket with its customer, or NotFoundError."""
    if not 0 < ticket_id <= ticket_service.MAX_TICKET_ID:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    ticket = await Ticket.get_or_none(id=ticket_id).prefetch_related("customer")
    if ticket is None:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    return ticket


async def last_move(ticket_id: int) -> TimelineEntry | None:
    """The latest timeline entry that moved the ticket (escalated, handed back, resolved, reopened …)."""
    return await TimelineEntry.filter(ticket_id=ticket_id, kind__in=list(MOVE_KINDS)).order_by("-id").first()


async def _applied(updated: int, ticket: Ticket, key: str, *, conflict: str | None = None) -> None:
    """After a conditional update: InvalidTransitionError when someone else changed the ticket first
    (`conflict`, or what the ticket is now), else the ticket reloaded with the change."""
    if not updated:
        if conflict is None:
            fresh = await Ticket.get(id=ticket.id)
            conflict = f"{key} was just changed by someone else: it is now {fresh.level}, {fresh.status}."
        raise InvalidTransitionError(conflict)
    await ticket.refresh_from_db()


def _require_open(ticket: Ticket, key: str) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransitionError(f"{key} is {ticket.status}; reopen it first.")


async def escalate(
    *,
    ticket: Ticket,
    key: str,
    actor_id: str,
    reason: str,
    context: dict[str, str],
    component: str | None,
    config: SupportConfig,
    at: datetime,
) -> tuple[str, str]:
    """Move the ticket one level up; returns (from_level, to_level)."""
    _require_open(ticket, key)
    from_level = ticket.level
    to_level = NEXT_LEVEL.get(from_level)
    if to_level is None:
        raise InvalidTransitionError(f"{key} is already at L3, the highest level.")
    fields = context_fields(config, to_level)
    merged = {**(ticket.context or {}), **clean_context(context, fields)}
    missing = missing_context(merged, fields)
    if missing:
        names = ", ".join(f.label for f in missing)
        raise UsageError(f"{to_level} needs more context for {key}: {names}.")
    if (
        to_level == "L3"
        and component is not None
        and component != "general"
        and config.route(component) is None
    ):
        raise UsageError(f"'{component}' is not a known component.")
    if to_level == "L3" and config.escalation.require_component and config.routes and not component:
        raise UsageError("Pick the component, so the right 3rd level specialists get it.")
    new_status = TicketStatus.OPEN if ticket.status == TicketStatus.NEW else ticket.status
    updated = await Ticket.filter(id=ticket.id, level=from_level, status__in=list(OPEN_STATUSES)).update(
        level=to_level,
        status=new_status,
        context=merged,
        component=(component if component and component != "general" else None)
        if to_level == "L3"
        else ticket.component,
        assignee_id=None,
    )
    await _applied(updated, ticket, key)
    await ticket_service.record(
        ticket,
        kind="escalated",
        actor_id=actor_id,
        at=at,
        data={
            "from": from_level,
            "to": to_level,
            "reason": reason[:MAX_FIELD_CHARS],
            "component": ticket.component,
            "context": clean_context(context, fields),
        },
    )
    return from_level, to_level


async def hand_back(
    *, ticket: Ticket, key: str, actor_id: str, summary: str, at: datetime
) -> tuple[str, str]:
    """Return the ticket one level down with a summary; returns (from_level, to_level)."""
    _require_open(ticket, key)
    from_level = ticket.level
    to_level = PREVIOUS_LEVEL.get(from_level)
    if to_level is None:
        raise InvalidTransitionError(f"{key} is at L1 already; there is no level below.")
    if not summary.strip():
        raise UsageError("Add a hand-back summary: what did you find, what should the lower level do?")
    updated = await Ticket.filter(id=ticket.id, level=from_level, status__in=list(OPEN_STATUSES)).update(
        level=to_level, assignee_id=None
    )
    await _applied(updated, ticket, key)
    await ticket_service.record(
        ticket,
        kind="handed_back",
        actor_id=actor_id,
        at=at,
        data={"from": from_level, "to": to_level, "summary": summary[:MAX_FIELD_CHARS]},
    )
    return from_level, to_level


async def assign(
    *, ticket: Ticket, key: str, actor_id: str, assignee_id: str | None, at: datetime
) -> str | None:
    """Set (or clear) the assignee; returns the previous one."""
    _require_open(ticket, key)
    previous = ticket.assignee_id
    if previous == assignee_id:
        who = f"<@{assignee_id}>" if assignee_id else "nobody"
        raise InvalidTransitionError(f"{key} is already assigned to {who}.")
    ticket.assignee_id = assignee_id
    if assignee_id and ticket.status == TicketStatus.NEW:
        ticket.status = TicketStatus.OPEN
    await ticket.save(update_fields=["assignee_id", "status", "updated_at"])
    kind = "claimed" if assignee_id == actor_id else ("assigned" if assignee_id else "unassigned")
    await ticket_service.record(
        ticket,
        kind=kind,
        actor_id=actor_id,
        at=at,
        data={"assignee": assignee_id, "previous": previous, "level": ticket.level},
    )
    return previous


async def set_waiting(*, ticket: Ticket, key: str, actor_id: str, at: datetime) -> None:
    """Waiting on the customer (pauses the resolution clock until they reply)."""
    _require_open(ticket, key)
    if ticket.status == TicketStatus.WAITING:
        raise InvalidTransitionError(
            f"{key} is already waiting on the customer (`/ticket wait {key} off` ends the wait)."
        )
    ticket.status = TicketStatus.WAITING
    await ticket.save(update_fields=["status", "updated_at"])
    await ticket_service.record(ticket, kind="waiting", actor_id=actor_id, at=at)


async def customer_replied(*, ticket: Ticket, actor_id: str, at: datetime) -> bool:
    """A customer reply ends 'waiting on customer'; returns True when it did."""
    if ticket.status != TicketStatus.WAITING:
        return False
    ticket.status = TicketStatus.OPEN
    await ticket.save(update_fields=["status", "updated_at"])
    await ticket_service.record(ticket, kind="waiting_ended", actor_id=actor_id, at=at)
    return True


async def end_waiting(*, ticket: Ticket, key: str, actor_id: str, at: datetime) -> None:
    """An agent ends 'waiting on customer' without a reply from them (the clocks it paused run again)."""
    if ticket.status != TicketStatus.WAITING:
        raise InvalidTransitionError(f"{key} is not waiting on the customer.")
    if not await Ticket.filter(id=ticket.id, status=TicketStatus.WAITING).update(status=TicketStatus.OPEN):
        raise InvalidTransitionError(f"{key} was just changed by someone else.")
    await ticket.refresh_from_db()
    await ticket_service.record(ticket, kind="waiting_ended", actor_id=actor_id, at=at)


async def set_priority(*, ticket: Ticket, key: str, actor_id: str, priority: str, at: datetime) -> str:
    """Change the priority; returns the old one."""
    priority = priority.upper()
    if priority not in PRIORITIES:
        raise UsageError(f"Priority must be one of {', '.join(PRIORITIES)}.")
    if ticket.priority == priority:
        raise InvalidTransitionError(f"{key} is already {priority}.")
    old = ticket.priority
    ticket.priority, ticket.priority_reason = priority, None
    await ticket.save(update_fields=["priority", "priority_reason", "updated_at"])
    await ticket_service.record(
        ticket, kind="priority_changed", actor_id=actor_id, at=at, data={"from": old, "to": priority}
    )
    return old


async def add_note(*, ticket: Ticket, actor_id: str, text: str, at: datetime) -> None:
    """An internal note (never shown to the customer)."""
    if not text.strip():
        raise UsageError("The note is empty.")
    await ticket_service.record(
        ticket, kind="note", actor_id=actor_id, at=at, data={"text": text[:MAX_FIELD_CHARS]}
    )


async def resolve(
    *,
    ticket: Ticket,
    key: str,
    actor_id: str,
    solution: str,
    internal: str | None,
    publish: bool,
    at: datetime,
) -> None:
    """Mark resolved at the current level with the customer-facing solution."""
    _require_open(ticket, key)
    if not solution.strip():
        raise UsageError("Write the solution for the customer.")
    updated = await Ticket.filter(id=ticket.id, status__in=list(OPEN_STATUSES)).update(
        status=TicketStatus.RESOLVED,
        resolution=solution[:MAX_FIELD_CHARS],
        resolution_internal=(internal or "")[:MAX_FIELD_CHARS] or None,
        publish_to_kb=publish,
        resolved_by_id=actor_id,
        resolved_level=ticket.level,
        resolved_at=at,
    )
    await _applied(updated, ticket, key, conflict=f"{key} was just resolved or closed by someone else.")
    await ticket_service.record(
        ticket,
        kind="resolved",
        actor_id=actor_id,
        at=at,
        data={"level": ticket.level, "publish_to_kb": publish},
    )


async def reopen(
    *, ticket: Ticket, key: str, actor_id: str, reason: str, at: datetime, by_customer: bool
) -> str:
    """Reopen at the level that resolved it; returns that level."""
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise InvalidTransitionError(f"{key} is not resolved; nothing to reopen.")
    level = ticket.resolved_level or ticket.level
    updated = await Ticket.filter(id=ticket.id, status=ticket.status).update(
        status=TicketStatus.OPEN, level=level, closed_at=None, reopen_count=ticket.reopen_count + 1
    )
    await _applied(updated, ticket, key, conflict=f"{key} was just changed by someone else.")
    await ticket_service.record(
        ticket,
        kind="reopened",
        actor_id=actor_id,
        at=at,
        data={"level": level, "reason": reason[:MAX_FIELD_CHARS], "by_customer": by_customer},
    )
    return level


async def close(*, ticket: Ticket, key: str, actor_id: str, at: datetime) -> None:
    """The customer confirmed the solution."""
    updated = await Ticket.filter(id=ticket.id, status=TicketStatus.RESOLVED).update(
        status=TicketStatus.CLOSED, closed_at=at
    )
    await _applied(updated, ticket, key, conflict=f"{key} is not waiting for a confirmation anymore.")
    await ticket_service.record(ticket, kind="confirmed", actor_id=actor_id, at=at)


async def create_draft(
    *,
    ticket: Ticket,
    key: str,
    author_id: str,
    text: str,
    kind: DraftKind,
    at: datetime,
    internal: str | None = None,
    publish: bool = False,
) -> RelayDraft:
    """An L3 message for the customer, pending 2nd level review."""
    _require_open(ticket, key)
    if not text.strip():
        raise UsageError("The draft is empty.")
    draft = await RelayDraft.create(
        ticket=ticket,
        author_id=author_id,
        text=text[:MAX_FIELD_CHARS],
        kind=kind,
        internal_notes=internal,
        publish_to_kb=publish,
        created_at=at,
    )
    await ticket_service.record(
        ticket, kind="draft_created", actor_id=author_id, at=at, data={"draft": draft.id, "kind": kind.value}
    )
    return draft


async def review_draft(
    *,
    draft_id: int,
    reviewer_id: str,
    approve: bool,
    at: datetime,
    text: str | None = None,
    note: str | None = None,
) -> RelayDraft:
    """Approve (optionally with edited text) or reject a pending draft, exactly once."""
    values: dict[str, Any] = {
        "status": DraftStatus.APPROVED if approve else DraftStatus.REJECTED,
        "reviewer_id": reviewer_id,
        "reviewed_at": at,
        "review_note": (note or "")[:MAX_FIELD_CHARS] or None,
    }
    if approve and text is not None:
        if not text.strip():
            raise UsageError("The message for the customer is empty.")
        values["text"] = text[:MAX_FIELD_CHARS]
    updated = await RelayDraft.filter(id=draft_id, status=DraftStatus.PENDING).update(**values)
    draft = await RelayDraft.get_or_none(id=draft_id).prefetch_related("ticket__customer")
    if draft is None:
        raise NotFoundError("That draft doesn't exist anymore.")
    if not updated:
        raise InvalidTransitionError(f"That draft was already {draft.status} by <@{draft.reviewer_id}>.")
    await ticket_service.record(
        draft.ticket,
        kind="draft_approved" if approve else "draft_rejected",
        actor_id=reviewer_id,
        at=at,
        data={"draft": draft.id},
    )
    return draft
