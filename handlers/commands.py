"""Slash command listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import UsageError
from bot.flows import intake, viewing
from bot.runtime import Runtime
from bot.slack.blocks.customer import text as customer_text
from bot.slack.blocks.tickets import build_notice
from bot.slack.ids import Command
from bot.slack.text import clip, escape

TICKET_USAGE = (
    "*/ticket* — support tickets\n"
    "• `/ticket {p}-42` (or `42`, `#42`) shows a ticket\n"
    "• `/ticket new <problem>` opens a ticket for the customer of this shared channel\n"
    "• `/ticket help` shows this help\n"
    "Customers don't need a command: a message in the shared channel opens a ticket."
)


async def handle_ticket_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/ticket KEY | new <text> | help`."""
    rt: Runtime = context["rt"]
    raw = command.get("text") or ""
    text = " ".join(raw.split())
    words = text.split(" ", 1) if text else []
    sub = words[0].lower() if words else "help"
    user, team, channel = (
        command.get("user_id") or "",
        command.get("team_id"),
        command.get("channel_id") or "",
    )
    if sub == "help":
        if rt.is_external_team(team):
            await ack(**build_notice(customer_text("en", "help", prefix=rt.config.tickets.key_prefix)))
        else:
            await ack(**build_notice(TICKET_USAGE.format(p=rt.config.tickets.key_prefix)))
        return
    if sub == "new":
        ticket = await intake.open_ticket_by_command(
            rt, actor_id=user, actor_team=team, channel_id=channel, text=raw.strip()[3:]
        )
        await ack(**build_notice(f"Opened *{rt.key(ticket.id)}*; the customer sees it in this channel."))
        return
    if len(words) == 1:
        viewer = await viewing.viewer_for(rt, user_id=user, team_id=team, channel_id=channel)
        await ack(**await viewing.show_ticket(rt, key_text=words[0], viewer=viewer))
        return
    raise UsageError(
        f"I didn't understand `{_clip(text)}`.\n" + TICKET_USAGE.format(p=rt.config.tickets.key_prefix)
        if not rt.is_external_team(team)
        else customer_text("en", "help", prefix=rt.config.tickets.key_prefix)
    )


def _clip(text: str) -> str:
    return escape(clip(text.replace("`", "'"), 60))


def register(app: AsyncApp) -> None:
    """Attach the command listeners."""
    app.command(Command.TICKET)(handle_ticket_command)
