"""Shortcut listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import UsageError
from bot.flows import intake
from bot.runtime import Runtime
from bot.services.intake import detect_priority
from bot.slack import payload
from bot.slack.blocks.modals import build_create_ticket_modal
from bot.slack.budget import budgeted
from bot.slack.ids import CallbackId
from bot.slack.modals import open_modal


async def handle_create_ticket_shortcut(
    ack: AsyncAck, shortcut: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Message shortcut 'Create support ticket': open the modal prefilled with the message."""
    rt: Runtime = context["rt"]
    await ack()
    user_id, team_id = payload.user_of(shortcut)
    # Only someone verifiably of the support team gets the internal form (a missing team is not ours).
    await intake.ticket_opener(
        rt, user_id=user_id, team_id=team_id or payload.ident(payload.obj(shortcut.get("team")).get("id"))
    )
    channel = payload.ident(payload.obj(shortcut.get("channel")).get("id"))
    message = payload.obj(shortcut.get("message"))
    text = payload.string(message.get("text"))
    ts = payload.ident(message.get("ts")) or payload.ident(shortcut.get("message_ts"))
    if not channel or not ts:
        raise UsageError("Slack didn't say which message this is, so nothing was changed. Please try again.")
    view = build_create_ticket_modal(
        channel_id=channel,
        message_ts=ts,
        text=text,
        permalink=rt.permalink(channel, ts, payload.ident(message.get("thread_ts")) or None),
        priority=detect_priority(text, rt.config)[0],
    )
    await open_modal(rt.client, trigger_id=shortcut.get("trigger_id"), view=view)


def register(app: AsyncApp) -> None:
    """Attach the shortcut listeners."""
    app.shortcut(CallbackId.SHORTCUT_CREATE_TICKET)(budgeted(handle_create_ticket_shortcut))
