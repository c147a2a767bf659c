"""Button and select listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.ids import ActionId


async def handle_card_action_pending(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
    """Card buttons whose workflow is not built yet: acknowledge and say so, change nothing."""
    await ack()
    await respond(
        text="Claiming and escalating from the card are coming with the escalation workflow; nothing was changed.",
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: AsyncApp) -> None:
    """Attach the action listeners."""
    for action_id in (ActionId.CARD_CLAIM, ActionId.CARD_ESCALATE):
        app.action(action_id)(handle_card_action_pending)
