"""App Home listeners: publish on open; Claim, Open and Refresh from the Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import PermissionDeniedError, UserFacingError
from bot.flows import escalation, home
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.blocks.home import build_notice_modal
from bot.slack.budget import budgeted
from bot.slack.ids import ActionId, any_of
from bot.slack.modals import form_opener
from handlers.actors import actor_of

log = logging.getLogger(__name__)


def _int(value: Any) -> int:
    return payload.required_id(value, "This button is out of date; please open the Home tab again.")


async def handle_app_home_opened(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Someone opened the Home tab: publish their Home (the Messages tab needs nothing)."""
    user_id = payload.ident(event.get("user"))
    if event.get("tab", "home") != "home" or not user_id:
        return
    rt: Runtime = context["rt"]
    rt.spawn(_publish_home(rt, user_id), name="home")  # after the ack (views.publish is a Web API call)


async def _publish_home(rt: Runtime, user_id: str) -> None:
    try:
        await home.opened(rt, user_id=user_id)
    except Exception:
        log.exception("could not publish the Home of %s", user_id)


async def handle_home_button(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Claim a ticket from the queue, open a ticket in a modal, or refresh the Home. Home has no thread to
    answer in, so a refusal (or a ticket that moved on) is shown in a small modal."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    name = action.get("action_id")
    if name == ActionId.HOME_REFRESH:
        await home.refresh(rt, user_id=actor.user_id)
        return
    async with form_opener(context, body) as form:
        try:
            if not actor.is_agent:
                raise PermissionDeniedError("That's something only our support team can do.")
            ticket_id = _int(action.get("value"))
            if name == ActionId.HOME_CLAIM:
                await escalation.assign(rt, ticket_id=ticket_id, actor=actor, assignee_id=actor.user_id)
                await form.close_with(f"You own {rt.key(ticket_id)} now.")
                await home.refresh(rt, user_id=actor.user_id)
                return
            view = await home.ticket_modal(rt, user_id=actor.user_id, ticket_id=ticket_id)
        except UserFacingError as exc:
            await form.show(build_notice_modal(exc.message))
            await home.refresh(rt, user_id=actor.user_id)
            return
        await form.show(view)


def register(app: AsyncApp) -> None:
    """Attach the Home listeners (app_home_opened is one of handlers.events' event types)."""
    app.action(any_of(ActionId.HOME_CLAIM, ActionId.HOME_OPEN, ActionId.HOME_REFRESH))(
        budgeted(handle_home_button)
    )
