"""Intake: customer messages in shared channels become tickets; replies, edits and deletes follow them.

Pure domain logic on the database; the caller owns the transaction and the notifications.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.services import tickets as ticket_service
from config.support import PRIORITIES, SupportConfig
from models import Customer, Ticket, TicketMessage, TicketSource, TicketStatus
from models.tickets import OPEN_STATUSES


class Outcome(StrEnum):
    """What intake did with a message."""

    CREATED = "created"
    FOLLOWUP = "followup"
    REPLY = "reply"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True)
class InboundMessage:
    """A message as intake needs it, independent of Slack's payload shapes."""

    channel_id: str
    ts: str
    thread_ts: str | None
    user_id: str
    user_team_id: str | None
    text: str
    is_external: bool
    at: datetime


@dataclass(frozen=True)
class IntakeResult:
    """The outcome and the rows it touched."""

    outcome: Outcome
    ticket: Ticket | None = None
    message: TicketMessage | None = None
    reason: str = ""


def detect_priority(text: str, config: SupportConfig) -> tuple[str, str | None]:
    """The priority for a new ticket and the keyword that raised it (whole words, case-insensitive)."""
    default = config.tickets.default_priority
    lowered = text.casefold()
    for priority in PRIORITIES:
        if PRIORITIES.index(priority) >= PRIORITIES.index(default):
            break
        for word in config.tickets.priority_keywords.get(priority, []):
            if re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", lowered):
                return priority, word
    return default, None


async def take_message(
    *, msg: InboundMessage, customer: Customer | None, config: SupportConfig
) -> IntakeResult:
    """Turn a message in a customer channel into a ticket, a follow-up, a thread reply, or nothing.

    Call it inside a transaction (it locks the customer's row until the ticket is written)."""
    if not msg.text.strip():
        return IntakeResult(Outcome.IGNORED, reason="empty text")
    if await TicketMessage.exists(channel_id=msg.channel_id, ts=msg.ts) or await Ticket.exists(
        channel_id=msg.channel_id, source_ts=msg.ts
    ):
        return IntakeResult(Outcome.DUPLICATE, reason="message already taken")
    if msg.thread_ts and msg.thread_ts != msg.ts:
        ticket = await _ticket_for_thread(msg.channel_id, msg.thread_ts)
        if ticket is not None:
            return await _add_reply(ticket, msg)
        if not msg.is_external:
            return IntakeResult(Outcome.IGNORED, reason="agent reply outside a ticket thread")
    elif not msg.is_external:
        return IntakeResult(Outcome.IGNORED, reason="internal user talking in a customer channel")
    if customer is None:
        return IntakeResult(Outcome.IGNORED, reason="no customer for this channel")
    # One customer's messages are taken one at a time (PostgreSQL row lock; SQLite has one writer anyway):
    # otherwise several messages sent at once each miss the others' new ticket and open one of their own.
    await Customer.filter(id=customer.id).select_for_update().first()
    followup = await _open_followup_ticket(msg, config)
    if followup is not None:
        return await _add_reply(followup, msg, kind="followup")
    ticket = await open_ticket(
        customer=customer,
        channel_id=msg.channel_id,
        source_ts=msg.ts,
        thread_ts=msg.thread_ts or msg.ts,
        author_id=msg.user_id,
        author_team_id=msg.user_team_id,
        opened_by_id=msg.user_id,
        text=msg.text,
        source=TicketSource.MESSAGE,
        at=msg.at,
        config=config,
    )
    return IntakeResult(Outcome.CREATED, ticket=ticket)


async def open_ticket(
    *,
    customer: Customer,
    channel_id: str,
    source_ts: str,
    thread_ts: str | None,
    author_id: str,
    author_team_id: str | None,
    opened_by_id: str,
    text: str,
    source: TicketSource,
    at: datetime,
    config: SupportConfig,
    permalink: str | None = None,
    priority: str | None = None,
) -> Ticket:
    """Create a ticket at L1 with status new and its first timeline entry."""
    detected, keyword = detect_priority(text, config)
    reason = f"keyword '{keyword}'" if keyword and priority is None else None
    ticket = await Ticket.create(
        customer=customer,
        channel_id=channel_id,
        source_ts=source_ts,
        thread_ts=thread_ts,
        author_id=author_id,
        author_team_id=author_team_id,
        opened_by_id=opened_by_id,
        source=source,
        text=text,
        permalink=permalink,
        priority=priority or detected,
        priority_reason=reason,
        status=TicketStatus.NEW,
        level="L1",
        last_customer_message_at=at,
        created_at=at,
    )
    await ticket_service.record(
        ticket,
        kind="created",
        actor_id=opened_by_id,
        at=at,
        data={"source": source.value, "priority": ticket.priority, "priority_reason": reason, "level": "L1"},
    )
    ticket.customer = customer
    return ticket


async def edit_message(*, channel_id: str, ts: str, text: str, actor_id: str, at: datetime) -> IntakeResult:
    """Reflect an edit of a ticket's original message or of a thread reply."""
    ticket = await Ticket.get_or_none(channel_id=channel_id, source_ts=ts).prefetch_related("customer")
    if ticket is not None:
        if ticket.text == text:
            return IntakeResult(Outcome.IGNORED, ticket=ticket, reason="text unchanged")
        old = ticket.text
        ticket.text = text
        await ticket.save(update_fields=["text", "updated_at"])
        await ticket_service.record(
            ticket,
            kind="source_edited",
            actor_id=actor_id,
            at=at,
            data={"old": old[:2000], "new": text[:2000]},
        )
        return IntakeResult(Outcome.REPLY, ticket=ticket, reason="source edited")
    message = await TicketMessage.get_or_none(channel_id=channel_id, ts=ts).prefetch_related(
        "ticket__customer"
    )
    if message is None or message.text == text:
        return IntakeResult(Outcome.IGNORED, reason="not a ticket message")
    message.text, message.edited = text, True
    await message.save(update_fields=["text", "edited"])
    await ticket_service.record(
        message.ticket, kind="message_edited", actor_id=actor_id, at=at, data={"ts": ts}
    )
    return IntakeResult(Outcome.REPLY, ticket=message.ticket, message=message, reason="reply edited")


async def delete_message(*, channel_id: str, ts: str, actor_id: str, at: datetime) -> IntakeResult:
    """Reflect a deletion; the ticket itself stays (nothing a customer said is lost for the team)."""
    ticket = await Ticket.get_or_none(channel_id=channel_id, source_ts=ts).prefetch_related("customer")
    if ticket is not None:
        if ticket.source_deleted:
            return IntakeResult(Outcome.IGNORED, ticket=ticket, reason="already deleted")
        ticket.source_deleted = True
        await ticket.save(update_fields=["source_deleted", "updated_at"])
        await ticket_service.record(ticket, kind="source_deleted", actor_id=actor_id, at=at)
        return IntakeResult(Outcome.REPLY, ticket=ticket, reason="source deleted")
    message = await TicketMessage.get_or_none(channel_id=channel_id, ts=ts).prefetch_related(
        "ticket__customer"
    )
    if message is None or message.deleted:
        return IntakeResult(Outcome.IGNORED, reason="not a ticket message")
    message.deleted = True
    await message.save(update_fields=["deleted"])
    await ticket_service.record(
        message.ticket, kind="message_deleted", actor_id=actor_id, at=at, data={"ts": ts}
    )
    return IntakeResult(Outcome.REPLY, ticket=message.ticket, message=message, reason="reply deleted")


async def _ticket_for_thread(channel_id: str, thread_ts: str) -> Ticket | None:
    return (
        await Ticket.filter(channel_id=channel_id, thread_ts=thread_ts)
        .order_by("-id")
        .prefetch_related("customer")
        .first()
    )


async def _open_followup_ticket(msg: InboundMessage, config: SupportConfig) -> Ticket | None:
    if msg.thread_ts:
        return None
    since = msg.at - config.tickets.followup
    return (
        await Ticket.filter(
            channel_id=msg.channel_id,
            author_id=msg.user_id,
            status__in=list(OPEN_STATUSES),
            source=TicketSource.MESSAGE,
            last_customer_message_at__gte=since,
            # Only a ticket opened before this message: deliveries can be processed out of order, and an
            # earlier message is no follow-up of a later one.
            created_at__lte=msg.at,
        )
        .order_by("-id")
        .prefetch_related("customer")
        .first()
    )


async def _add_reply(ticket: Ticket, msg: InboundMessage, kind: str = "reply") -> IntakeResult:
    author_kind = "customer" if msg.is_external else "agent"
    message = await TicketMessage.create(
        ticket=ticket,
        channel_id=msg.channel_id,
        ts=msg.ts,
        author_id=msg.user_id,
        author_kind=author_kind,
        text=msg.text,
        created_at=msg.at,
    )
    if msg.is_external:
        ticket.last_customer_message_at = msg.at
        await ticket.save(update_fields=["last_customer_message_at", "updated_at"])
    await ticket_service.record(
        ticket, kind=f"{author_kind}_{kind}", actor_id=msg.user_id, at=msg.at, data={"ts": msg.ts}
    )
    return IntakeResult(
        Outcome.FOLLOWUP if kind == "followup" else Outcome.REPLY, ticket=ticket, message=message
    )
