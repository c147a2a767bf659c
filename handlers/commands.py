"""Slash command listeners: parse, ack (with the answer or a modal), call a flow."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.errors import PermissionDeniedError, UsageError
from bot.flows import escalation, forms, intake, viewing
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.services.permissions import Action
from bot.slack.blocks.customer import text as customer_text
from bot.slack.blocks.escalation import build_pick_ticket_modal
from bot.slack.blocks.tickets import build_notice
from bot.slack.budget import ack_first
from bot.slack.ids import CallbackId, Command
from bot.slack.modals import form_opener
from bot.slack.parsing import parse_ticket_key, parse_user, split_key
from bot.slack.text import clip, escape
from handlers.actors import actor_of

TICKET_USAGE = (
    "*/ticket* — support tickets\n"
    "• `/ticket {p}-42` (or `42`, `#42`) shows a ticket\n"
    "• `/ticket new <problem>` opens a ticket for the customer of this shared channel\n"
    "• `/ticket list [mine|level|customer <name>]` lists open tickets\n"
    "• `/ticket priority {p}-42 P1..P4` · `/ticket wait {p}-42 [off]` (waiting on customer, or no longer)\n"
    "• `/ticket note {p}-42 <text>` internal note · `/ticket reply {p}-42 <text>` answer the customer\n"
    "Moving tickets: `/escalate`, `/deescalate`, `/claim`, `/assign`, `/unassign`, `/resolve`, `/reopen` "
    "(each with `help`)."
)
USAGE = {
    Command.ESCALATE: "`/escalate {p}-42 [reason]` moves a ticket one level up (a form asks for missing context). "
    "`/escalate` alone lets you pick a ticket.",
    Command.DEESCALATE: "`/deescalate {p}-42 [summary]` hands a ticket back one level with a summary.",
    Command.ASSIGN: "`/assign {p}-42 @person` assigns a ticket.",
    Command.CLAIM: "`/claim {p}-42` makes you the owner of a ticket.",
    Command.UNASSIGN: "`/unassign {p}-42` removes the owner.",
    Command.RESOLVE: "`/resolve {p}-42 [solution]` resolves a ticket (a form asks for the solution).",
    Command.REOPEN: "`/reopen {p}-42 [reason]` reopens a resolved ticket at the level that resolved it.",
}


def _usage(rt: Runtime, command: str) -> str:
    return USAGE[command].format(p=rt.config.tickets.key_prefix)  # type: ignore[index]


async def _refuse_customers(rt: Runtime, command: dict[str, Any]) -> None:
    if rt.is_external_team(command.get("team_id")):
        raise UsageError(customer_text("en", "not_for_customers"))


async def handle_ticket_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/ticket KEY | new | list | priority | wait | note | reply | help`."""
    rt: Runtime = context["rt"]
    raw = (command.get("text") or "").strip()
    sub, _, rest = raw.partition(" ")
    sub = sub.lower()
    user, team, channel = (
        command.get("user_id") or "",
        command.get("team_id"),
        command.get("channel_id") or "",
    )
    prefix = rt.config.tickets.key_prefix
    external = rt.is_external_team(team)
    if sub in ("", "help"):
        text = customer_text("en", "help", prefix=prefix) if external else TICKET_USAGE.format(p=prefix)
        await ack(**build_notice(text))
        return
    if sub == "new":
        ticket = await intake.open_ticket_by_command(
            rt, actor_id=user, actor_team=team, channel_id=channel, text=rest
        )
        await ack(**build_notice(f"Opened *{rt.key(ticket.id)}*; the customer sees it in this channel."))
        return
    if sub in ("list", "priority", "wait", "note", "reply"):
        await _refuse_customers(rt, command)
        actor = await actor_of(rt, command)
        if sub == "list":
            await ack(**await viewing.list_tickets(rt, actor=actor, args=rest))
            return
        usage = f"Usage: `/ticket {sub} {prefix}-42" + (
            " P1..P4`" if sub == "priority" else " <text>`" if sub in ("note", "reply") else " [off]`"
        )
        ticket_id, text = split_key(rest, prefix, usage)
        if ticket_id is None:
            raise UsageError(usage)
        key = rt.key(ticket_id)
        if sub == "priority":
            await escalation.set_priority(rt, ticket_id=ticket_id, actor=actor, priority=text)
            answer = f"{key} is now {text.upper()}."
        elif sub == "wait" and text.strip().lower() == "off":
            await escalation.set_waiting(rt, ticket_id=ticket_id, actor=actor, waiting=False)
            answer = f"{key} is no longer waiting on the customer; its SLA clocks run again."
        elif sub == "wait":
            await escalation.set_waiting(rt, ticket_id=ticket_id, actor=actor)
            answer = f"{key} is waiting on the customer; their next reply reopens it."
        elif sub == "note":
            if not text:
                raise UsageError(usage)
            await escalation.add_note(rt, ticket_id=ticket_id, actor=actor, text=text)
            answer = f"Internal note added to {key}."
        else:
            draft = await escalation.reply_to_customer(rt, ticket_id=ticket_id, actor=actor, text=text)
            answer = (
                f"Sent to the customer in {key}."
                if draft is None
                else f"As 3rd level, your reply for {key} went to 2nd level for review."
            )
        await ack(**build_notice(answer))
        return
    if " " not in raw:
        ticket_id = parse_ticket_key(raw, prefix)
        viewer = await viewing.viewer_for(rt, user_id=user, team_id=team, channel_id=channel)
        await ack(**await viewing.show_ticket(rt, key_text=rt.key(ticket_id), viewer=viewer))
        return
    if external:
        raise UsageError(customer_text("en", "help", prefix=prefix))
    raise UsageError(
        f"I didn't understand `{escape(clip(raw.replace('`', chr(39)), 60))}`.\n"
        + TICKET_USAGE.format(p=prefix)
    )


async def handle_escalate_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/escalate [KEY] [reason]`: at once when the reason and all required context are there, else a modal."""
    rt: Runtime = context["rt"]
    await _refuse_customers(rt, command)
    raw = (command.get("text") or "").strip()
    if raw.lower() == "help":
        await ack(**build_notice(_usage(rt, Command.ESCALATE)))
        return
    actor = await actor_of(rt, command)
    ticket_id, reason = split_key(raw, rt.config.tickets.key_prefix, _usage(rt, Command.ESCALATE))
    if ticket_id is None and not actor.is_agent:
        raise PermissionDeniedError("Only members of a support level channel can escalate tickets.")
    escalation.require(actor, Action.ESCALATE)  # outsiders are refused before the database is asked
    # From here on the database decides which form opens (if any): see FormOpener.
    async with form_opener(context, command) as form:
        if ticket_id is None:
            options = await escalation.tickets_at_levels(rt, actor)
            if not options:
                raise UsageError("There are no open tickets at your level to escalate.")
            await ack()
            await form.show(build_pick_ticket_modal(tickets=options))
            return
        ticket = await escalation.load_for(rt, ticket_id, actor)
        escalation.require(actor, Action.ESCALATE, ticket)
        to_level = svc.NEXT_LEVEL.get(ticket.level)
        if to_level is None:
            raise UsageError(f"{rt.key(ticket.id)} is already at L3, the highest level.")
        fields = svc.context_fields(rt.config, to_level)
        needs_component = (
            to_level == "L3"
            and rt.config.escalation.require_component
            and rt.config.routes
            and not ticket.component
        )
        if reason and not svc.missing_context(ticket.context or {}, fields) and not needs_component:
            await escalation.escalate(
                rt,
                ticket_id=ticket.id,
                actor=actor,
                reason=reason,
                context={},
                component=ticket.component,
                expected_level=ticket.level,
                loaded=ticket,
            )
            done = f"Escalated {rt.key(ticket.id)} to {to_level}."
            await form.close_with(done)
            await ack(**build_notice(done))
            return
        await ack()
        await form.show(forms.escalate_view(rt, ticket, reason=reason))


async def _keyed(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, name: Command):
    rt: Runtime = context["rt"]
    await _refuse_customers(rt, command)
    raw = (command.get("text") or "").strip()
    if raw.lower() in ("", "help"):
        await ack(**build_notice(_usage(rt, name)))
        return rt, None, None, ""
    actor = await actor_of(rt, command)
    ticket_id, rest = split_key(raw, rt.config.tickets.key_prefix, _usage(rt, name))
    return rt, actor, ticket_id, rest


async def handle_deescalate_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    """`/deescalate KEY [summary]`."""
    rt, actor, ticket_id, summary = await _keyed(ack, command, context, Command.DEESCALATE)
    if actor is None:
        return
    if summary:
        ticket = await escalation.hand_back(rt, ticket_id=ticket_id, actor=actor, summary=summary)
        await ack(**build_notice(f"Handed {rt.key(ticket.id)} back to {ticket.level}."))
        return
    escalation.require(actor, Action.HAND_BACK)  # outsiders are refused before the database is asked
    async with form_opener(context, command) as form:
        ticket = await escalation.load_for(rt, ticket_id, actor)
        escalation.require(actor, Action.HAND_BACK, ticket)
        await ack()
        await form.show(forms.text_view(rt, CallbackId.MODAL_HANDBACK, ticket))


async def handle_assign_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/assign KEY @person`."""
    rt, actor, ticket_id, rest = await _keyed(ack, command, context, Command.ASSIGN)
    if actor is None:
        return
    assignee = parse_user(rest)
    if assignee is None:
        raise UsageError(_usage(rt, Command.ASSIGN))
    await escalation.assign(rt, ticket_id=ticket_id, actor=actor, assignee_id=assignee)
    await ack(**build_notice(f"Assigned {rt.key(ticket_id)} to <@{assignee}>."))


async def handle_claim_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/claim KEY`."""
    rt, actor, ticket_id, _ = await _keyed(ack, command, context, Command.CLAIM)
    if actor is None:
        return
    await escalation.assign(rt, ticket_id=ticket_id, actor=actor, assignee_id=actor.user_id)
    await ack(**build_notice(f"You own {rt.key(ticket_id)} now."))


async def handle_unassign_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/unassign KEY`."""
    rt, actor, ticket_id, _ = await _keyed(ack, command, context, Command.UNASSIGN)
    if actor is None:
        return
    await escalation.assign(rt, ticket_id=ticket_id, actor=actor, assignee_id=None)
    await ack(**build_notice(f"{rt.key(ticket_id)} has no owner now."))


async def handle_resolve_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/resolve KEY [solution]`: always a modal (solution, internal notes, publish to KB)."""
    rt, actor, ticket_id, solution = await _keyed(ack, command, context, Command.RESOLVE)
    if actor is None:
        return
    escalation.require(actor, Action.RESOLVE)  # outsiders are refused before the database is asked
    async with form_opener(context, command) as form:
        ticket = await escalation.load_for(rt, ticket_id, actor)
        escalation.require(actor, Action.RESOLVE, ticket)
        await ack()
        view = forms.resolve_view(rt, ticket, actor, solution=solution)
        await form.show(view)


async def handle_reopen_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/reopen KEY [reason]`."""
    rt, actor, ticket_id, reason = await _keyed(ack, command, context, Command.REOPEN)
    if actor is None:
        return
    ticket = await escalation.reopen(rt, ticket_id=ticket_id, actor=actor, reason=reason)
    await ack(**build_notice(f"Reopened {rt.key(ticket.id)} at {ticket.level}."))


# The ticket commands (handlers/slash.py is their one Bolt listener).
COMMANDS = {
    Command.TICKET: ack_first(handle_ticket_command),
    Command.ESCALATE: ack_first(handle_escalate_command),
    Command.DEESCALATE: ack_first(handle_deescalate_command),
    Command.ASSIGN: ack_first(handle_assign_command),
    Command.CLAIM: ack_first(handle_claim_command),
    Command.UNASSIGN: ack_first(handle_unassign_command),
    Command.RESOLVE: ack_first(handle_resolve_command),
    Command.REOPEN: ack_first(handle_reopen_command),
}
