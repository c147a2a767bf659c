"""Events API listeners."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.flows import intake
from bot.runtime import Runtime
from bot.slack.errors import describe

log = logging.getLogger(__name__)


async def handle_message_event(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Messages in customer channels: new tickets, follow-ups, thread replies, edits, deletes."""
    rt: Runtime = context["rt"]
    work = intake.process_message_event(rt, envelope=body, event=event, inbound_id=context.get("inbound_id"))
    rt.spawn(_after_ack(rt, work, body), name="event")


async def handle_reaction_added(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """🎫 on a customer's message opens a ticket for it."""
    rt: Runtime = context["rt"]
    work = intake.process_reaction_event(rt, envelope=body, event=event, inbound_id=context.get("inbound_id"))
    rt.spawn(_after_ack(rt, work, body), name="event")


async def _after_ack(rt: Runtime, work: Coroutine[Any, Any, Any], body: dict[str, Any]) -> None:
    """An event's work, after Slack got its 200 (the delivery is recorded already, see the middleware).

    It waits for a work slot; at shutdown it is left for the next start, which processes recorded events
    that were never processed (`resume_pending`). Errors are logged; the recorded event stays unprocessed.
    """
    if not await rt.take_work_slot():
        work.close()
        return
    try:
        await work
    except Exception as exc:  # the one error handler's logging; the event stays recorded (unprocessed)
        describe(exc)
    finally:
        rt.work_slots.release()


async def ignore_event() -> None:
    """Events the bot subscribes to but does not act on yet."""


def register(app: AsyncApp) -> None:
    """Attach the event listeners."""
    app.event("message")(handle_message_event)
    app.event("reaction_added")(handle_reaction_added)
    app.event("member_joined_channel")(ignore_event)
