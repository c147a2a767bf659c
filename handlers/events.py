"""Events API listeners."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.flows import intake
from bot.runtime import Runtime
from bot.slack.errors import describe
from bot.slack.ids import any_of
from handlers import home

log = logging.getLogger(__name__)


async def handle_message_event(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Messages in customer channels: new tickets, follow-ups, thread replies, edits, deletes."""
    rt: Runtime = context["rt"]
    rt.after_ack.submit(_after_ack, intake.process_message_event, rt, body, event, context.get("inbound_id"))


async def handle_reaction_added(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """🎫 on a customer's message opens a ticket for it."""
    rt: Runtime = context["rt"]
    rt.after_ack.submit(_after_ack, intake.process_reaction_event, rt, body, event, context.get("inbound_id"))


async def _after_ack(
    process: Callable[..., Coroutine[Any, Any, Any]],
    rt: Runtime,
    body: dict[str, Any],
    event: dict[str, Any],
    inbound_id: int | None,
) -> None:
    """An event's work, after Slack got its 200 (the delivery is recorded already, see the middleware), when
    its turn comes (`bot.slack.afterack`). Not started when shutdown comes first: the next start processes
    recorded events that were never processed (`resume_pending`). Errors are logged; the recorded event
    stays unprocessed."""
    try:
        await process(rt, envelope=body, event=event, inbound_id=inbound_id)
    except Exception as exc:  # the one error handler's logging; the event stays recorded (unprocessed)
        describe(exc)


async def ignore_event(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Events the bot subscribes to but does not act on yet."""


Handler = Callable[[dict[str, Any], dict[str, Any], AsyncBoltContext], Awaitable[None]]

# Every event type the bot subscribes to (manifest.json), and who handles it.
HANDLERS: dict[str, Handler] = {
    "message": handle_message_event,
    "reaction_added": handle_reaction_added,
    "app_home_opened": home.handle_app_home_opened,
    "member_joined_channel": ignore_event,
}


async def handle_event(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
    """The one events listener: hands the event to its type's handler (a type not in HANDLERS never matches,
    so it reaches the error handler as any unhandled request does)."""
    await HANDLERS[event["type"]](body, event, context)


def register(app: AsyncApp) -> None:
    """One listener for all event types: Bolt tries the listeners in turn, building the full set of listener
    arguments for every one it tries, so each listener ahead of a slash command's costs that command."""
    app.event(any_of(*HANDLERS))(handle_event)
