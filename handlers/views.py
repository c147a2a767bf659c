"""Modal submission listeners: validate fields (errors shown on the field), run the flow, close the modal."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import UsageError, UserFacingError
from bot.flows import escalation, forms, intake
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.services.permissions import Action, Actor
from bot.slack import payload
from bot.slack.answers import tell_privately
from bot.slack.blocks.modals import build_status_modal
from bot.slack.budget import budgeted
from bot.slack.ids import ActionId, BlockId, CallbackId, any_of
from handlers.actors import actor_of
from models import DraftKind, Ticket, TicketSource

OUT_OF_DATE = "This form is out of date; please start again."


def _text(view: dict[str, Any], block: str, action: str = ActionId.TEXT_INPUT) -> str:
    return payload.input_text(view, block, action)


def _selected(view: dict[str, Any], block: str, action: str) -> str | None:
    return payload.selected(view, block, action)


def _meta(view: dict[str, Any]) -> dict[str, Any]:
    return payload.metadata(view)


def _ticket_id(meta: dict[str, Any]) -> int:
    return payload.required_id(meta.get("ticket"), OUT_OF_DATE)


async def _run(ack: AsyncAck, work: Awaitable[Any], error_block: str) -> None:
    """Run the flow; user errors go back onto the form, on the given block.

    Not bounded here: `budgeted` answers Slack in time and never cancels the work (see bot/slack/budget.py).
    """
    try:
        await work
    except UserFacingError as exc:
        await ack(response_action="errors", errors={error_block: exc.message[:150]})
        return
    await ack()


# Forms that act on a ticket at the level they were opened for: the permission they need, the metadata key
# of that level, and the block that carries their answers.
LEVEL_FORMS = {
    CallbackId.MODAL_ESCALATE: (Action.ESCALATE, "from_level", BlockId.ESCALATE_REASON),
    CallbackId.MODAL_HANDBACK: (Action.HAND_BACK, "level", BlockId.TEXT),
    CallbackId.MODAL_RESOLVE: (Action.RESOLVE, "level", BlockId.RESOLVE_SOLUTION),
}


async def _form_ticket(
    ack: AsyncAck, rt: Runtime, view: dict[str, Any], *, actor: Actor, ticket_id: int
) -> Ticket | None:
    """The form's ticket, when it still fits the form; otherwise the form is answered and None returned.

    Before anything is validated against the ticket: people who may not act on tickets are refused without
    learning its level or state (customers: other organisations' tickets are 'not found'); a ticket that
    moved since the form was opened (escalated, handed back, resolved …) replaces the form with who moved
    it, instead of errors on fields the form does not have.
    """
    action, level_key, error_block = LEVEL_FORMS[view.get("callback_id")]  # type: ignore[index]
    try:
        ticket = await escalation.load_for(rt, ticket_id, actor)
        if not actor.is_agent:
            escalation.require(actor, action, ticket)
    except UserFacingError as exc:
        await ack(response_action="errors", errors={error_block: exc.message[:150]})
        return None
    opened_at = _meta(view).get(level_key)
    notice = await forms.moved_meanwhile(
        rt, ticket, opened_at=opened_at if isinstance(opened_at, str) else None
    )
    if notice is not None:
        await ack(response_action="update", view=build_status_modal("Nothing changed", notice))
        return None
    return ticket


def _block_ids(view: dict[str, Any]) -> set[str]:
    blocks = view.get("blocks")
    return (
        {b["block_id"] for b in blocks if isinstance(b, dict) and isinstance(b.get("block_id"), str)}
        if isinstance(blocks, list)
        else set()
    )


async def handle_pick_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Ticket picked for /escalate: replace the modal with that ticket's escalation form."""
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    picked = payload.record_id(_selected(view, BlockId.TICKET_PICK, ActionId.TICKET_PICK))
    try:
        if picked is None:
            raise UsageError("Pick a ticket.")
        ticket = await escalation.load_for(rt, picked, actor)
        if ticket.level not in svc.NEXT_LEVEL:
            raise UsageError(f"{rt.key(ticket.id)} is already at L3.")
    except UserFacingError as exc:
        await ack(response_action="errors", errors={BlockId.TICKET_PICK: exc.message})
        return
    await ack(response_action="update", view=forms.escalate_view(rt, ticket))


async def handle_escalate_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Escalation form: required fields are checked per field, then the ticket moves up."""
    rt: Runtime = context["rt"]
    meta = _meta(view)
    ticket_id = _ticket_id(meta)
    actor = await actor_of(rt, body)
    ticket = await _form_ticket(ack, rt, view, actor=actor, ticket_id=ticket_id)
    if ticket is None:
        return
    if ticket.level not in svc.NEXT_LEVEL:
        await ack(
            response_action="errors",
            errors={BlockId.ESCALATE_REASON: "This ticket can't be escalated anymore."},
        )
        return
    to_level = svc.NEXT_LEVEL[ticket.level]
    fields = svc.context_fields(rt.config, to_level)
    values = {f.id: _text(view, f"{BlockId.CONTEXT_PREFIX}{f.id}", ActionId.FIELD_INPUT) for f in fields}
    reason = _text(view, BlockId.ESCALATE_REASON, ActionId.ESCALATE_REASON)
    component = _selected(view, BlockId.ESCALATE_COMPONENT, ActionId.ESCALATE_COMPONENT)
    errors = {
        f"{BlockId.CONTEXT_PREFIX}{f.id}": f"{to_level} needs this."
        for f in svc.missing_context(values, fields)
    }
    if not reason:
        errors[BlockId.ESCALATE_REASON] = "Say why, and what the next level should do."
    if to_level == "L3" and rt.config.routes and rt.config.escalation.require_component and not component:
        errors[BlockId.ESCALATE_COMPONENT] = "Pick the component."
    if errors and not set(errors) <= _block_ids(view):
        # Slack shows errors only on blocks the form has: one that asks for fields it lacks is out of date.
        notice = (
            f"This form no longer fits {rt.key(ticket.id)}: {to_level} needs context it does not ask for. "
            "Nothing was changed; please open it again."
        )
        await ack(response_action="update", view=build_status_modal("Nothing changed", notice))
        return
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await _run(
        ack,
        escalation.escalate(
            rt,
            ticket_id=ticket_id,
            actor=actor,
            reason=reason,
            context=values,
            component=component,
            expected_level=ticket.level,
        ),
        BlockId.ESCALATE_REASON,
    )


async def handle_text_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """One-field forms: hand back, note, L3 draft, edited draft."""
    rt: Runtime = context["rt"]
    meta = _meta(view)
    text = _text(view, BlockId.TEXT)
    if not text:
        await ack(response_action="errors", errors={BlockId.TEXT: "Please write something here."})
        return
    callback = view.get("callback_id")
    target = payload.record_id(meta.get("draft" if callback == CallbackId.MODAL_DRAFT_EDIT else "ticket"))
    if target is None:
        await ack(response_action="errors", errors={BlockId.TEXT: OUT_OF_DATE})
        return
    actor = await actor_of(rt, body)
    if callback == CallbackId.MODAL_HANDBACK:
        ticket = await _form_ticket(ack, rt, view, actor=actor, ticket_id=target)
        if ticket is None:
            return
        work = escalation.hand_back(
            rt, ticket_id=target, actor=actor, summary=text, expected_level=ticket.level
        )
    elif callback == CallbackId.MODAL_NOTE:
        work = escalation.add_note(rt, ticket_id=target, actor=actor, text=text)
    elif callback == CallbackId.MODAL_DRAFT:
        work = escalation.create_draft(rt, ticket_id=target, actor=actor, text=text, kind=DraftKind.REPLY)
    else:
        work = escalation.review_draft(rt, draft_id=target, actor=actor, approve=True, text=text)
    await _run(ack, work, BlockId.TEXT)


async def handle_resolve_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Resolution form: solution for the customer, internal notes, publish to KB."""
    rt: Runtime = context["rt"]
    meta = _meta(view)
    solution = _text(view, BlockId.RESOLVE_SOLUTION, ActionId.RESOLVE_SOLUTION)
    if not solution:
        await ack(
            response_action="errors",
            errors={BlockId.RESOLVE_SOLUTION: "Write the solution for the customer."},
        )
        return
    internal = _text(view, BlockId.RESOLVE_INTERNAL, ActionId.RESOLVE_INTERNAL) or None
    publish = "publish" in payload.selected_all(view, BlockId.RESOLVE_PUBLISH, ActionId.RESOLVE_PUBLISH)
    ticket_id = payload.record_id(meta.get("ticket"))
    if ticket_id is None:
        await ack(response_action="errors", errors={BlockId.RESOLVE_SOLUTION: OUT_OF_DATE})
        return
    actor = await actor_of(rt, body)
    if await _form_ticket(ack, rt, view, actor=actor, ticket_id=ticket_id) is None:
        return
    await _run(
        ack,
        escalation.resolve(
            rt, ticket_id=ticket_id, actor=actor, solution=solution, internal=internal, publish=publish
        ),
        BlockId.RESOLVE_SOLUTION,
    )


async def handle_create_ticket_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Create the ticket from the modal; the message is re-read from Slack, never trusted from metadata."""
    rt: Runtime = context["rt"]
    text = _text(view, BlockId.TICKET_TEXT, ActionId.TICKET_TEXT)
    if not text:
        await ack(
            response_action="errors", errors={BlockId.TICKET_TEXT: "Describe the problem in a few words."}
        )
        return
    priority = _selected(view, BlockId.TICKET_PRIORITY, ActionId.TICKET_PRIORITY)
    priority = priority if priority in ("P1", "P2", "P3", "P4") else None
    meta = _meta(view)
    channel, ts = payload.ident(meta.get("channel")), payload.ident(meta.get("ts"))
    if not channel or not ts:
        await ack(
            response_action="errors", errors={BlockId.TICKET_TEXT: "This form is out of date; start again."}
        )
        return
    await ack()
    user_id, team_id = payload.user_of(body)
    try:
        message = await intake.fetch_message(rt, channel, ts)
        ticket = await intake.open_ticket_for_message(
            rt,
            actor_id=user_id,
            actor_team=team_id,
            channel_id=channel,
            message=message,
            source=TicketSource.SHORTCUT,
            text=text,
            priority=priority,
        )
        notice = f"Opened {rt.key(ticket.id)}."
    except UserFacingError as exc:
        notice = exc.message
    # In the message's channel if the bot can post there, else as a DM (the bot may not be in that channel:
    # exactly when the message could not be read).
    await tell_privately(rt.client, user_id=user_id, channel_id=channel, text=notice)


def register(app: AsyncApp) -> None:
    """Attach the view listeners."""
    app.view(CallbackId.MODAL_CREATE_TICKET)(budgeted(handle_create_ticket_submission))
    app.view(CallbackId.MODAL_PICK_FOR_ESCALATE)(budgeted(handle_pick_submission))
    app.view(CallbackId.MODAL_ESCALATE)(budgeted(handle_escalate_submission))
    app.view(CallbackId.MODAL_RESOLVE)(budgeted(handle_resolve_submission))
    text_forms = any_of(
        CallbackId.MODAL_HANDBACK, CallbackId.MODAL_NOTE, CallbackId.MODAL_DRAFT, CallbackId.MODAL_DRAFT_EDIT
    )
    app.view(text_forms)(budgeted(handle_text_submission))
