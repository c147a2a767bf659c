"""Button listeners: ack first, then call a flow or open a modal; stale cards refresh instead of acting."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.errors import InvalidTransitionError, UsageError
from bot.flows import escalation, forms
from bot.runtime import Runtime
from bot.services.permissions import Action, Actor
from bot.slack import payload
from bot.slack.blocks.customer import strip_actions
from bot.slack.budget import budgeted
from bot.slack.ids import ActionId, CallbackId, any_of
from bot.slack.modals import form_opener
from handlers.actors import actor_of
from models import RelayDraft, Ticket

BROKEN_BUTTON = "This button is broken or out of date; please use the slash command instead."


def _int(value: Any) -> int:
    return payload.required_id(value, BROKEN_BUTTON)


# Card buttons that open a form, and the permission each form is for.
FORM_BUTTONS = {
    ActionId.CARD_ESCALATE: Action.ESCALATE,
    ActionId.CARD_HANDBACK: Action.HAND_BACK,
    ActionId.CARD_RESOLVE: Action.RESOLVE,
    ActionId.CARD_NOTE: Action.NOTE,
    ActionId.CARD_DRAFT: Action.DRAFT,
}
TEXT_FORM_OF = {
    ActionId.CARD_HANDBACK: CallbackId.MODAL_HANDBACK,
    ActionId.CARD_NOTE: CallbackId.MODAL_NOTE,
    ActionId.CARD_DRAFT: CallbackId.MODAL_DRAFT,
}


async def _current_ticket(rt: Runtime, body: dict[str, Any], action: dict[str, Any], actor: Actor) -> Ticket:
    """The card's ticket; a card whose ticket moved on is refreshed and the press refused (nothing done)."""
    ticket = await escalation.load_for(rt, _int(action.get("value")), actor)
    container = payload.obj(body.get("container"))
    card = await escalation.card_for_message(
        payload.ident(container.get("channel_id")), payload.ident(container.get("message_ts"))
    )
    if escalation.is_stale(card, ticket):
        await escalation.refresh_stale_card(rt, card)
        raise InvalidTransitionError(
            f"This card is out of date: {rt.key(ticket.id)} is now at {ticket.level} ({ticket.status}). "
            "I've refreshed it; nothing was changed."
        )
    return ticket


def _card_form(rt: Runtime, name: str, actor: Actor, ticket: Ticket) -> dict[str, Any]:
    """The form a card button opens, if the actor may use it on the ticket."""
    escalation.require(actor, FORM_BUTTONS[name], ticket)
    if name == ActionId.CARD_ESCALATE:
        return forms.escalate_view(rt, ticket)
    if name == ActionId.CARD_RESOLVE:
        return forms.resolve_view(rt, ticket, actor)
    return forms.text_view(rt, TEXT_FORM_OF[name], ticket)


async def handle_card_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Claim, Escalate, Hand back, Resolve, Waiting on customer, Add note, Draft reply — on a ticket card."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    name = action.get("action_id")
    if name in FORM_BUTTONS:
        escalation.require(actor, FORM_BUTTONS[name])  # outsiders are refused before the database is asked
        async with form_opener(context, body) as form:
            ticket = await _current_ticket(rt, body, action, actor)
            await form.show(_card_form(rt, name, actor, ticket))
        return
    ticket = await _current_ticket(rt, body, action, actor)
    if name == ActionId.CARD_CLAIM:
        await escalation.assign(rt, ticket_id=ticket.id, actor=actor, assignee_id=actor.user_id)
    elif name == ActionId.CARD_WAIT:
        await escalation.set_waiting(rt, ticket_id=ticket.id, actor=actor)


async def handle_customer_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """'Did this solve it?' — Yes closes, No reopens at the level that resolved it."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    ticket_id = _int(action.get("value"))
    if action.get("action_id") == ActionId.CUSTOMER_CONFIRM:
        await escalation.confirm(rt, ticket_id=ticket_id, actor=actor)
        note = "✅ Confirmed as solved"
    else:
        await escalation.reopen(
            rt, ticket_id=ticket_id, actor=actor, reason="The customer says it is still a problem."
        )
        note = "🔁 Reopened: still a problem"
    await respond(replace_original=True, **strip_actions(payload.obj(body.get("message")), note))


async def handle_draft_button(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    """2nd level reviews an L3 draft: Approve and send, Edit, Reject."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    draft_id = _int(action.get("value"))
    name = action.get("action_id")
    if name == ActionId.DRAFT_EDIT:
        escalation.require(actor, Action.REVIEW_DRAFT)  # outsiders are refused before the database is asked
        async with form_opener(context, body) as form:
            draft = await RelayDraft.get_or_none(id=draft_id)
            if draft is None:
                raise UsageError("That draft doesn't exist anymore.")
            ticket = await escalation.load_for(rt, draft.ticket_id, actor)
            escalation.require(actor, Action.REVIEW_DRAFT, ticket)
            await form.show(forms.text_view(rt, CallbackId.MODAL_DRAFT_EDIT, draft=draft))
        return
    await escalation.review_draft(rt, draft_id=draft_id, actor=actor, approve=name == ActionId.DRAFT_APPROVE)


def register(app: AsyncApp) -> None:
    """Attach the action listeners."""
    card_buttons = any_of(
        ActionId.CARD_CLAIM,
        ActionId.CARD_ESCALATE,
        ActionId.CARD_HANDBACK,
        ActionId.CARD_RESOLVE,
        ActionId.CARD_WAIT,
        ActionId.CARD_NOTE,
        ActionId.CARD_DRAFT,
    )
    app.action(card_buttons)(budgeted(handle_card_button))
    app.action(any_of(ActionId.CUSTOMER_CONFIRM, ActionId.CUSTOMER_REJECT))(budgeted(handle_customer_answer))
    app.action(any_of(ActionId.DRAFT_APPROVE, ActionId.DRAFT_EDIT, ActionId.DRAFT_REJECT))(
        budgeted(handle_draft_button)
    )
