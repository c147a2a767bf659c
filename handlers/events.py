"""Events API listeners."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.flows import intake

log = logging.getLogger(__name__)


async def handle_message_event(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Messages in customer channels: new tickets, follow-ups, thread replies, edits, deletes."""
    await intake.process_message_event(
        context["rt"], envelope=body, event=event, inbound_id=context.get("inbound_id")
    )


async def handle_reaction_added(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """🎫 on a customer's message opens a ticket for it."""
    await intake.process_reaction_event(
        context["rt"], envelope=body, event=event, inbound_id=context.get("inbound_id")
    )


async def ignore_event() -> None:
    """Events the bot subscribes to but does not act on yet."""


def register(app: AsyncApp) -> None:
    """Attach the event listeners."""
    app.event("message")(handle_message_event)
    app.event("reaction_added")(handle_reaction_added)
    app.event("app_home_opened")(ignore_event)
    app.event("member_joined_channel")(ignore_event)
