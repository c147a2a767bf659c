"""Modals prefilled from a ticket (data from the database, Block Kit from the builders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import UsageError
from bot.flows.escalation import resolves_via_review
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.services.permissions import Actor
from bot.slack.blocks.escalation import build_escalate_modal, build_resolve_modal, build_text_modal
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


@dataclass(frozen=True)
class TextForm:
    """What tells the one-field forms apart (the intro is formatted with key, level, to_level, text,
    author)."""

    title: str
    submit: str
    label: str
    intro: str
    hint: str | None = None


TEXT_FORMS = {
    CallbackId.MODAL_HANDBACK: TextForm(
        title="Hand back to {to_level}",
        submit="Hand back",
        label="Hand-back summary",
        intro="*{key}* · {level} → *{to_level}*\n{text}",
        hint="What did you find? What should the lower level do next?",
    ),
    CallbackId.MODAL_NOTE: TextForm(
        title="Internal note",
        submit="Add note",
        label="Note",
        intro="*{key}* · internal, never shown to the customer",
    ),
    CallbackId.MODAL_DRAFT: TextForm(
        title="Draft reply",
        submit="Send for review",
        label="Message for the customer",
        intro="*{key}* · 2nd level reviews your draft before the customer sees it.",
    ),
    CallbackId.MODAL_DRAFT_EDIT: TextForm(
        title="Edit and send",
        submit="Send to customer",
        label="Message for the customer",
        intro="*{key}* · draft by <@{author}> (3rd level)",
    ),
}


def text_view(
    rt: Runtime, callback_id: CallbackId, ticket: Ticket | None = None, *, draft: RelayDraft | None = None
) -> dict[str, Any]:
    """A one-field form about a ticket: hand back, internal note, L3 draft, or 2nd level editing a draft."""
    form = TEXT_FORMS[callback_id]
    ticket_id = draft.ticket_id if draft is not None else ticket.id  # type: ignore[union-attr]
    key = rt.key(ticket_id)
    level = ticket.level if ticket is not None else ""
    to_level = svc.PREVIOUS_LEVEL.get(level, "L1")
    meta: dict[str, Any] = {}
    if callback_id == CallbackId.MODAL_HANDBACK:
        meta["level"] = level
    if draft is not None:
        meta["draft"] = draft.id
    return build_text_modal(
        callback_id=callback_id,
        title=form.title.format(to_level=to_level),
        submit=form.submit,
        label=form.label,
        ticket_id=ticket_id,
        key=key,
        intro=form.intro.format(
            key=key,
            level=level,
            to_level=to_level,
            text=quote(ticket.text, 500) if ticket is not None else "",
            author=draft.author_id if draft is not None else "",
        ),
        hint=form.hint,
        initial=draft.text if draft is not None else "",
        **meta,
    )


def resolve_view(rt: Runtime, ticket: Ticket, actor: Actor, *, solution: str = "") -> dict[str, Any]:
    """The resolve form: the solution for the customer (3rd level's goes to 2nd level review first)."""
    return build_resolve_modal(
        ticket_id=ticket.id,
        key=rt.key(ticket.id),
        level=ticket.level,
        solution=solution,
        publish_default=ticket.level == "L3",
        via_review=resolves_via_review(actor, ticket),
    )
