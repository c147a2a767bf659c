"""Intake workflows: customer messages, 🎫 reactions, the shortcut and `/ticket new` become tickets."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from tortoise.transactions import in_transaction

from bot.errors import NotFoundError, PermissionDeniedError, UsageError, UserFacingError
from bot.flows import cards
from bot.flows import kb as kb_flows
from bot.flows.cards import active_card, stream_of
from bot.flows.escalation import actor_for, require
from bot.runtime import Runtime
from bot.services import escalation as escalation_service
from bot.services import intake
from bot.services.customers import ensure_customer
from bot.services.intake import InboundMessage, Outcome
from bot.services.permissions import Action, Actor
from bot.services.sla.engine import SlaEvent, on_ticket_event
from bot.slack import outbox, payload
from bot.slack.blocks.customer import build_customer_ack
from bot.slack.blocks.customer import text as customer_text
from bot.slack.blocks.tickets import build_thread_mirror
from bot.slack.ids import Reaction
from bot.slack.text import quote
from models import InboundEvent, Ticket, TicketSource

log = logging.getLogger(__name__)

IGNORED_SUBTYPES = frozenset(
    {
        "bot_message",
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "pinned_item",
        "unpinned_item",
        "ekm_access_denied",
        "me_message",
        "reminder_add",
    }
)


def ts_to_datetime(ts: str | float | None, fallback: datetime) -> datetime:
    """Slack ts ('1732700000.000100') as an aware UTC datetime (the fallback for one that is none)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC) if ts else fallback
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


async def _notify_new_ticket(rt: Runtime, ticket: Ticket, now: datetime, *, customer_root: bool) -> None:
    """Customer reply (or root message) plus the L1 card, recorded in the caller's transaction."""
    key = rt.key(ticket.id)
    language = ticket.customer.language or rt.config.defaults.language
    stream = stream_of(ticket)
    if customer_root:
        body = f"{customer_text(language, 'opened_for_you', key=key)}\n{quote(ticket.text, 2500)}"
        await outbox.enqueue(
            stream=stream,
            method="chat.postMessage",
            channel_id=ticket.channel_id,
            payload={"text": body, "unfurl_links": False},
            now=now,
            on_delivered={"ticket_thread": ticket.id},
        )
    else:
        await outbox.enqueue(
            stream=stream,
            method="chat.postMessage",
            channel_id=ticket.channel_id,
            payload=build_customer_ack(key=key, language=language),
            thread_ts=ticket.thread_ts,
            now=now,
        )
    await on_ticket_event(
        ticket, SlaEvent.CREATED, at=ticket.created_at, config=rt.config, actor_id=ticket.opened_by_id
    )
    level = rt.config.levels["L1"]
    await cards.post_card(rt, ticket, level="L1", channel=level.channel, pings=tuple(level.ping), now=now)
    await kb_flows.suggest_for_ticket(rt, ticket, stage="created", now=now)


async def _mirror(
    rt: Runtime,
    ticket: Ticket,
    now: datetime,
    *,
    author_id: str,
    author_kind: str,
    text: str,
    ts: str | None,
    change: str,
) -> None:
    card = await active_card(ticket)
    if card is None:
        return
    parent = await outbox.OutboxMessage.get(id=card.outbox_id)
    link = rt.permalink(ticket.channel_id, ts, ticket.thread_ts) if ts else None
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=card.channel_id,
        payload=build_thread_mirror(
            author_id=author_id, author_kind=author_kind, text=text, permalink=link, change=change
        ),
        thread_parent=parent,
        now=now,
    )


async def _mark_processed(inbound_id: int | None, now: datetime) -> None:
    if inbound_id is not None:
        await InboundEvent.filter(id=inbound_id).update(processed_at=now)


async def sender_team(rt: Runtime, event: dict[str, Any]) -> str | None:
    """The team of the message's author, from the event or (failing that) users.info."""
    team = (
        payload.ident(event.get("user_team"))
        or payload.ident(payload.obj(event.get("user_profile")).get("team"))
        or payload.ident(event.get("source_team"))
    )
    if team:
        return team
    user = payload.ident(event.get("user"))
    return await rt.user_team(user) if user else None


async def is_customer_channel(rt: Runtime, channel_id: str, envelope: dict[str, Any]) -> bool:
    """Configured customer channels and Slack Connect channels that are not support level channels."""
    if rt.config.is_internal_channel(channel_id):
        return False
    return rt.config.customer_by_channel(channel_id) is not None or bool(
        envelope.get("is_ext_shared_channel")
    )


async def process_message_event(
    rt: Runtime, *, envelope: dict[str, Any], event: dict[str, Any], inbound_id: int | None = None
) -> Outcome:
    """Handle one `message` event from a channel; idempotent, safe to call again after a crash."""
    now = rt.clock.now()
    subtype = event.get("subtype")
    subtype = subtype if subtype is None or isinstance(subtype, str) else "malformed"
    channel = payload.ident(event.get("channel"))
    if subtype in IGNORED_SUBTYPES or (event.get("bot_id") and subtype != "message_changed"):
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    if not await is_customer_channel(rt, channel, envelope):
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    if subtype == "message_changed":
        return await _process_edit(rt, event, inbound_id, now)
    if subtype == "message_deleted":
        return await _process_delete(rt, event, inbound_id, now)
    if subtype not in (None, "thread_broadcast", "file_share"):
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    ts, user = payload.message_ts(event.get("ts")), payload.ident(event.get("user"))
    if not ts or not user or not channel:
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    team = await sender_team(rt, event)
    external = rt.is_external_team(team)
    msg = InboundMessage(
        channel_id=channel,
        ts=ts,
        thread_ts=payload.message_ts(event.get("thread_ts")) or None,
        user_id=user,
        user_team_id=team,
        text=payload.string(event.get("text"))[:40000],
        is_external=external,
        at=ts_to_datetime(ts, now),
    )
    if not msg.ts or not msg.user_id:
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    # Outside the transaction: a concurrent first message of a new customer must not abort ours.
    customer = await ensure_customer(team_id=team, config=rt.config) if external and team else None
    async with in_transaction():
        result = await intake.take_message(msg=msg, customer=customer, config=rt.config)
        if result.outcome == Outcome.CREATED and result.ticket:
            ticket = result.ticket
            ticket.permalink = rt.permalink(channel, msg.ts, msg.thread_ts)
            await ticket.save(update_fields=["permalink"])
            await _notify_new_ticket(rt, ticket, now, customer_root=False)
        elif result.outcome in (Outcome.REPLY, Outcome.FOLLOWUP) and result.ticket and result.message:
            sla_event = (
                SlaEvent.AGENT_REPLY if result.message.author_kind == "agent" else SlaEvent.CUSTOMER_REPLY
            )
            await on_ticket_event(result.ticket, sla_event, at=msg.at, config=rt.config, actor_id=msg.user_id)
            if result.message.author_kind == "customer" and await escalation_service.customer_replied(
                ticket=result.ticket, actor_id=msg.user_id, at=now
            ):
                await cards.refresh_active_card(rt, result.ticket, now)
            await _mirror(
                rt,
                result.ticket,
                now,
                author_id=msg.user_id,
                author_kind=result.message.author_kind,
                text=msg.text,
                ts=msg.ts,
                change="followup" if result.outcome == Outcome.FOLLOWUP else "reply",
            )
        await _mark_processed(inbound_id, now)
    rt.sender.wake()
    if result.ticket is not None:
        log.info(
            "intake: %s %s",
            result.outcome.value,
            rt.key(result.ticket.id),
            extra={"ticket": rt.key(result.ticket.id), "event_id": envelope.get("event_id")},
        )
    return result.outcome


async def _process_edit(rt: Runtime, event: dict[str, Any], inbound_id: int | None, now: datetime) -> Outcome:
    message = payload.obj(event.get("message"))
    channel, ts = payload.ident(event.get("channel")), payload.message_ts(message.get("ts"))
    if message.get("bot_id") or message.get("subtype") == "bot_message" or not channel or not ts:
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    text, author = payload.string(message.get("text"))[:40000], payload.ident(message.get("user"))
    async with in_transaction():
        result = await intake.edit_message(channel_id=channel, ts=ts, text=text, actor_id=author, at=now)
        if result.ticket is not None and result.outcome == Outcome.REPLY:
            source = result.message is None
            await _mirror(
                rt,
                result.ticket,
                now,
                author_id=author,
                author_kind=result.message.author_kind if result.message else "customer",
                text=text,
                ts=ts,
                change="source_edited" if source else "edited",
            )
            if source:
                await cards.refresh_active_card(rt, result.ticket, now)
        await _mark_processed(inbound_id, now)
    rt.sender.wake()
    return result.outcome


async def _process_delete(
    rt: Runtime, event: dict[str, Any], inbound_id: int | None, now: datetime
) -> Outcome:
    previous = payload.obj(event.get("previous_message"))
    channel = payload.ident(event.get("channel"))
    ts = payload.message_ts(event.get("deleted_ts")) or payload.message_ts(previous.get("ts"))
    author = payload.ident(previous.get("user"))
    if not channel or not ts:
        await _mark_processed(inbound_id, now)
        return Outcome.IGNORED
    async with in_transaction():
        result = await intake.delete_message(channel_id=channel, ts=ts, actor_id=author, at=now)
        if result.ticket is not None and result.outcome == Outcome.REPLY:
            source = result.message is None
            await _mirror(
                rt,
                result.ticket,
                now,
                author_id=author,
                author_kind=result.message.author_kind if result.message else "customer",
                text="",
                ts=None,
                change="source_deleted" if source else "deleted",
            )
            if source:
                await cards.refresh_active_card(rt, result.ticket, now)
        await _mark_processed(inbound_id, now)
    rt.sender.wake()
    return result.outcome


NOT_FOR_OUTSIDERS = "Only the support team can turn messages into tickets."


async def ticket_opener(
    rt: Runtime, *, user_id: str, team_id: str | None, refusal: str = NOT_FOR_OUTSIDERS
) -> Actor:
    """The person opening a ticket for a customer, if they may: of our own team, verifiably (users.info, or
    the payload when Slack cannot tell; unknown means no), and allowed to create tickets (a support level
    channel or a lead)."""
    actor = await actor_for(rt, user_id=user_id, team_id=team_id)
    if actor.is_external or not actor.team_id or not rt.home_team_id:
        raise PermissionDeniedError(refusal)
    require(actor, Action.CREATE)
    return actor


async def open_ticket_for_message(
    rt: Runtime,
    *,
    actor_id: str,
    actor_team: str | None,
    channel_id: str,
    message: dict[str, Any],
    source: TicketSource,
    text: str | None = None,
    priority: str | None = None,
) -> Ticket:
    """🎫 reaction or shortcut: an agent opens a ticket for a customer's message."""
    await ticket_opener(rt, user_id=actor_id, team_id=actor_team)
    if rt.config.is_internal_channel(channel_id):
        raise UsageError("This is a support team channel. Open tickets from messages in customer channels.")
    ts = payload.message_ts(message.get("ts"))
    author = message.get("user") or ""
    body = (text if text is not None else message.get("text") or "").strip()
    if not ts or not author:
        raise UsageError("I can't read that message. Try again on a message written by a person.")
    if not body:
        raise UsageError("That message has no text. Describe the problem in the ticket text.")
    existing = await Ticket.get_or_none(channel_id=channel_id, source_ts=ts)
    if existing is not None:
        raise UsageError(f"That message is already ticket {rt.key(existing.id)}.")
    author_team = message.get("user_team") or message.get("team") or await rt.user_team(author)
    configured = rt.config.customer_by_channel(channel_id)
    team = author_team if rt.is_external_team(author_team) else (configured.team_id if configured else None)
    if team is None:
        raise UsageError("I can't tell which customer this is. Use it in a customer's shared channel.")
    now = rt.clock.now()
    customer = await ensure_customer(team_id=team, config=rt.config)
    async with in_transaction():
        ticket = await intake.open_ticket(
            customer=customer,
            channel_id=channel_id,
            source_ts=ts,
            thread_ts=message.get("thread_ts") or ts,
            author_id=author,
            author_team_id=author_team,
            opened_by_id=actor_id,
            text=body[: rt.config.tickets.max_text_chars],
            source=source,
            at=now,
            config=rt.config,
            permalink=rt.permalink(channel_id, ts, message.get("thread_ts")),
            priority=priority,
        )
        await _notify_new_ticket(rt, ticket, now, customer_root=False)
    rt.sender.wake()
    return ticket


async def open_ticket_by_command(
    rt: Runtime, *, actor_id: str, actor_team: str | None, channel_id: str, text: str
) -> Ticket:
    """`/ticket new <text>` in a customer channel: an agent opens a ticket on the customer's behalf."""
    await ticket_opener(
        rt, user_id=actor_id, team_id=actor_team, refusal=customer_text("en", "not_for_customers")
    )
    configured = rt.config.customer_by_channel(channel_id)
    if configured is None:
        raise UsageError(
            "Run `/ticket new <text>` in the customer's shared channel, so I know whose ticket it is."
        )
    body = text.strip()
    if not body:
        raise UsageError("Add the problem after `new`, e.g. `/ticket new VPN drops every 10 minutes`.")
    now = rt.clock.now()
    customer = await ensure_customer(team_id=configured.team_id, config=rt.config)
    async with in_transaction():
        ticket = await intake.open_ticket(
            customer=customer,
            channel_id=channel_id,
            source_ts=f"cmd-{uuid.uuid4().hex[:24]}",
            thread_ts=None,
            author_id=actor_id,
            author_team_id=actor_team,
            opened_by_id=actor_id,
            text=body[: rt.config.tickets.max_text_chars],
            source=TicketSource.COMMAND,
            at=now,
            config=rt.config,
        )
        await _notify_new_ticket(rt, ticket, now, customer_root=True)
    rt.sender.wake()
    return ticket


async def fetch_message(rt: Runtime, channel_id: str, ts: str) -> dict[str, Any]:
    """One message by ts (top-level or in a thread), or NotFoundError."""
    try:
        response = await rt.client.conversations_history(
            channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        for message in response.get("messages", []):
            if message.get("ts") == ts:
                return payload.without_nul(dict(message))
        response = await rt.client.conversations_replies(channel=channel_id, ts=ts, limit=1)
        for message in response.get("messages", []):
            if message.get("ts") == ts:
                return payload.without_nul(dict(message))
    except SlackApiError as exc:
        log.info("fetch_message %s/%s failed: %s", channel_id, ts, payload.api_error(exc))
    raise NotFoundError("I couldn't read that message; it may have been deleted, or I'm not in that channel.")


async def process_reaction_event(
    rt: Runtime, *, envelope: dict[str, Any], event: dict[str, Any], inbound_id: int | None = None
) -> Ticket | None:
    """🎫 on a customer's message opens a ticket for it; the reacting agent gets a private note."""
    item = payload.obj(event.get("item"))
    user, channel, ts = (
        payload.ident(event.get("user")),
        payload.ident(item.get("channel")),
        payload.message_ts(item.get("ts")),
    )
    if (
        event.get("reaction") != Reaction.TICKET
        or item.get("type") != "message"
        or not (user and channel and ts)
    ):
        await _mark_processed(inbound_id, rt.clock.now())
        return None
    ticket: Ticket | None = None
    existing = await Ticket.get_or_none(channel_id=channel, source_ts=ts)
    if existing is not None and existing.opened_by_id == user and existing.source == TicketSource.REACTION:
        await _mark_processed(inbound_id, rt.clock.now())  # replay after a crash: already done
        return existing
    try:
        message = await fetch_message(rt, channel, ts)
        ticket = await open_ticket_for_message(
            rt,
            actor_id=user,
            actor_team=payload.ident(event.get("user_team")) or await rt.user_team(user),
            channel_id=channel,
            message=message,
            source=TicketSource.REACTION,
        )
        notice = f"Opened {rt.key(ticket.id)} for that message."
    except UserFacingError as exc:
        notice = exc.message
    await _mark_processed(inbound_id, rt.clock.now())
    try:
        await rt.client.chat_postEphemeral(channel=channel, user=user, text=notice)
    except SlackApiError as exc:
        log.info("could not tell %s about the reaction: %s", user, payload.api_error(exc))
    return ticket
