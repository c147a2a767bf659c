"""Modal submission listeners."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import UserFacingError
from bot.flows import intake
from bot.runtime import Runtime
from bot.slack.ids import ActionId, BlockId, CallbackId
from models import TicketSource


def _value(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    return ((view.get("state") or {}).get("values") or {}).get(block, {}).get(action) or {}


async def handle_create_ticket_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Create the ticket from the modal; the message is re-read from Slack, never trusted from metadata."""
    rt: Runtime = context["rt"]
    text = (_value(view, BlockId.TICKET_TEXT, ActionId.TICKET_TEXT).get("value") or "").strip()
    if not text:
        await ack(
            response_action="errors", errors={BlockId.TICKET_TEXT: "Describe the problem in a few words."}
        )
        return
    option = _value(view, BlockId.TICKET_PRIORITY, ActionId.TICKET_PRIORITY).get("selected_option") or {}
    priority = option.get("value") if option.get("value") in ("P1", "P2", "P3", "P4") else None
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        channel, ts = str(meta["channel"]), str(meta["ts"])
    except (ValueError, KeyError, TypeError):
        await ack(
            response_action="errors", errors={BlockId.TICKET_TEXT: "This form is out of date; start again."}
        )
        return
    await ack()
    user = body.get("user") or {}
    try:
        message = await intake.fetch_message(rt, channel, ts)
        ticket = await intake.open_ticket_for_message(
            rt,
            actor_id=user.get("id") or "",
            actor_team=user.get("team_id"),
            channel_id=channel,
            message=message,
            source=TicketSource.SHORTCUT,
            text=text,
            priority=priority,
        )
        notice = f"Opened {rt.key(ticket.id)}."
    except UserFacingError as exc:
        notice = exc.message
    await rt.client.chat_postEphemeral(channel=channel, user=user.get("id") or "", text=notice)


def register(app: AsyncApp) -> None:
    """Attach the view listeners."""
    app.view(CallbackId.MODAL_CREATE_TICKET)(handle_create_ticket_submission)
