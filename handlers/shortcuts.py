"""Shortcut listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import PermissionDeniedError
from bot.runtime import Runtime
from bot.services.intake import detect_priority
from bot.slack.blocks.modals import build_create_ticket_modal
from bot.slack.budget import budgeted
from bot.slack.ids import CallbackId


async def handle_create_ticket_shortcut(
    ack: AsyncAck, shortcut: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Message shortcut 'Create support ticket': open the modal prefilled with the message."""
    rt: Runtime = context["rt"]
    await ack()
    user = shortcut.get("user") or {}
    if rt.is_external_team(user.get("team_id") or (shortcut.get("team") or {}).get("id")):
        raise PermissionDeniedError("Only the support team can turn messages into tickets.")
    channel = (shortcut.get("channel") or {}).get("id") or ""
    message = shortcut.get("message") or {}
    text = message.get("text") or ""
    ts = message.get("ts") or shortcut.get("message_ts") or ""
    view = build_create_ticket_modal(
        channel_id=channel,
        message_ts=ts,
        text=text,
        permalink=rt.permalink(channel, ts, message.get("thread_ts")),
        priority=detect_priority(text, rt.config)[0],
    )
    await rt.client.views_open(trigger_id=shortcut["trigger_id"], view=view)


def register(app: AsyncApp) -> None:
    """Attach the shortcut listeners."""
    app.shortcut(CallbackId.SHORTCUT_CREATE_TICKET)(budgeted(handle_create_ticket_shortcut))
