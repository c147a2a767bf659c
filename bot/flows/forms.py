"""Modals prefilled from a ticket (data from the database, Block Kit from the builders)."""

from __future__ import annotations

from typing import Any

from bot.errors import UsageError
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.slack.blocks.escalation import build_escalate_modal, build_text_modal
from bot.slack.ids import CallbackId
from bot.slack.text import mention, quote
from models import RelayDraft, Ticket
from models.tickets import OPEN_STATUSES


def escalate_view(rt: Runtime, ticket: Ticket, *, reason: str = "") -> dict[str, Any]:
    """The escalation modal for a ticket's next level, prefilled with the context it already has."""
    to_level = svc.NEXT_LEVEL.get(ticket.level)
    if to_level is None:
        raise UsageError(f"{rt.key(ticket.id)} is already at {ticket.level}, the highest level.")
    return build_escalate_modal(
        ticket_id=ticket.id,
        key=rt.key(ticket.id),
        from_level=ticket.level,
        to_level=to_level,
        summary=ticket.text,
        fields=svc.context_fields(rt.config, to_level),
        context=ticket.context or {},
        routes=list(rt.config.routes),
        component=ticket.component,
        reason=reason,
    )


async def moved_meanwhile(rt: Runtime, ticket: Ticket, *, opened_at: str | None) -> str | None:
    """Why a form opened when the ticket was at `opened_at` no longer fits it (None while it still does).

    A form opened at one level must not act on (or be validated against) another level: the person is told
    who moved the ticket, and nothing is changed.
    """
    moved = isinstance(opened_at, str) and opened_at != ticket.level
    if not moved and ticket.status in OPEN_STATUSES:
        return None
    key = rt.key(ticket.id)
    entry = await svc.last_move(ticket.id)
    data = (entry.data or {}) if entry else {}
    who = mention(entry.actor_id) if entry else ""
    if entry is None:
        what = f"is now at {ticket.level} ({ticket.status})"
    elif entry.kind == "escalated":
        what = f"was escalated to {data.get('to') or ticket.level} meanwhile by {who}"
    elif entry.kind == "handed_back":
        what = f"was handed back to {data.get('to') or ticket.level} meanwhile by {who}"
    elif entry.kind == "resolved":
        what = f"was resolved meanwhile by {who}"
    elif entry.kind == "confirmed":
        what = "was closed meanwhile: the customer confirmed the solution"
    else:
        by = "the customer" if data.get("by_customer") else who
        what = f"was reopened at {data.get('level') or ticket.level} meanwhile by {by}"
    return f"{key} {what} — nothing was changed."


def handback_view(rt: Runtime, ticket: Ticket) -> dict[str, Any]:
    """The hand-back modal."""
    to_level = svc.PREVIOUS_LEVEL.get(ticket.level, "L1")
    key = rt.key(ticket.id)
    return build_text_modal(
        callback_id=CallbackId.MODAL_HANDBACK,
        title=f"Hand back to {to_level}",
        submit="Hand back",
        label="Hand-back summary",
        ticket_id=ticket.id,
        key=key,
        level=ticket.level,
        intro=f"*{key}* · {ticket.level} → *{to_level}*\n{quote(ticket.text, 500)}",
        hint="What did you find? What should the lower level do next?",
    )


def note_view(rt: Runtime, ticket: Ticket) -> dict[str, Any]:
    """The internal note modal."""
    key = rt.key(ticket.id)
    return build_text_modal(
        callback_id=CallbackId.MODAL_NOTE,
        title="Internal note",
        submit="Add note",
        label="Note",
        ticket_id=ticket.id,
        key=key,
        intro=f"*{key}* · internal, never shown to the customer",
    )


def draft_view(rt: Runtime, ticket: Ticket) -> dict[str, Any]:
    """The L3 'draft reply to customer' modal."""
    key = rt.key(ticket.id)
    return build_text_modal(
        callback_id=CallbackId.MODAL_DRAFT,
        title="Draft reply",
        submit="Send for review",
        label="Message for the customer",
        ticket_id=ticket.id,
        key=key,
        intro=f"*{key}* · 2nd level reviews your draft before the customer sees it.",
    )


def draft_edit_view(rt: Runtime, draft: RelayDraft) -> dict[str, Any]:
    """2nd level edits an L3 draft before sending it."""
    key = rt.key(draft.ticket_id)
    return build_text_modal(
        callback_id=CallbackId.MODAL_DRAFT_EDIT,
        title="Edit and send",
        submit="Send to customer",
        label="Message for the customer",
        ticket_id=draft.ticket_id,
        key=key,
        draft=draft.id,
        intro=f"*{key}* · draft by <@{draft.author_id}> (3rd level)",
        initial=draft.text,
    )
