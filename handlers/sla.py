"""`/sla KEY`: the SLA timers of a ticket, for agents (ephemeral); customers get a polite refusal.

Like the other commands: acknowledged at once, answered through response_url, within the request budget.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import PermissionDeniedError, UsageError
from bot.flows import sla as sla_flows
from bot.flows import viewing
from bot.flows.escalation import actor_for
from bot.runtime import Runtime
from bot.slack.blocks.customer import text as customer_text
from bot.slack.blocks.tickets import build_notice
from bot.slack.budget import ack_first
from bot.slack.ids import Command
from bot.slack.parsing import parse_ticket_key

SLA_USAGE = (
    "*/sla {p}-42* shows the ticket's service levels: each timer with its due time, the business time left, "
    "and whether it is paused (waiting on the customer) or breached. Times are in your time zone."
)


async def handle_sla_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/sla KEY | help`."""
    rt: Runtime = context["rt"]
    raw = (command.get("text") or "").strip()
    user, team, channel = (
        command.get("user_id") or "",
        command.get("team_id"),
        command.get("channel_id") or "",
    )
    prefix = rt.config.tickets.key_prefix
    if rt.is_external_team(team):
        customer = rt.config.customer_by_team(team)
        language = (customer.language if customer else None) or rt.config.defaults.language
        raise PermissionDeniedError(customer_text(language, "not_for_customers"))
    if raw.lower() in ("", "help"):
        await ack(**build_notice(SLA_USAGE.format(p=prefix)))
        return
    if " " in raw:
        raise UsageError(f"Give one ticket key, like `/sla {prefix}-42`.")
    ticket_id = parse_ticket_key(raw, prefix)
    actor = await actor_for(rt, user_id=user, team_id=team)
    if not actor.is_agent:
        raise PermissionDeniedError(
            "SLA details are for the support team (members of a support level channel)."
        )
    viewer = await viewing.viewer_for(rt, user_id=user, team_id=team, channel_id=channel)
    await ack(**await sla_flows.show_sla(rt, key_text=rt.key(ticket_id), viewer=viewer))


COMMANDS = {Command.SLA: ack_first(handle_sla_command)}  # its listener: handlers/slash.py
