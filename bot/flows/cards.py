"""Ticket cards and ticket messages: render a card for its level, post, update, and write in threads.

Every write goes through the outbox, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.flows import home
from bot.flows.sla_card import card_sla_line
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.slack import outbox
from bot.slack.blocks.escalation import build_internal_line
from bot.slack.blocks.tickets import CardData, build_ticket_card
from bot.slack.ids import ActionId
from models import OutboxMessage, Ticket, TicketCard, TimelineEntry
from models.tickets import OPEN_STATUSES

BUTTONS = {
    "L1": (
        ActionId.CARD_CLAIM,
        ActionId.CARD_ESCALATE,
        ActionId.CARD_RESOLVE,
        ActionId.CARD_WAIT,
        ActionId.CARD_NOTE,
    ),
    "L2": (
        ActionId.CARD_CLAIM,
        ActionId.CARD_ESCALATE,
        ActionId.CARD_HANDBACK,
        ActionId.CARD_RESOLVE,
        ActionId.CARD_WAIT,
        ActionId.CARD_NOTE,
    ),
    "L3": (
        ActionId.CARD_CLAIM,
        ActionId.CARD_HANDBACK,
        ActionId.CARD_RESOLVE,
        ActionId.CARD_DRAFT,
        ActionId.CARD_NOTE,
    ),
}


def stream_of(ticket: Ticket) -> str:
    """Outbox stream of a ticket: its messages are delivered in order."""
    return f"ticket:{ticket.id}"


def card_data(
    rt: Runtime, ticket: Ticket, *, pings: tuple[str, ...] = (), notes: tuple[str, ...] = ()
) -> CardData:
    """The card's content for a ticket (customer must be loaded)."""
    return CardData(
        ticket_id=ticket.id,
        key=rt.key(ticket.id),
        customer_name=ticket.customer.name,
        author_id=ticket.author_id,
        text=ticket.text,
        priority=ticket.priority,
        status=ticket.status.value if hasattr(ticket.status, "value") else str(ticket.status),
        level=ticket.level,
        created_ts=ticket.created_at.timestamp(),
        permalink=ticket.permalink,
        assignee_id=ticket.assignee_id,
        priority_reason=ticket.priority_reason,
        component=ticket.component,
        source_deleted=ticket.source_deleted,
        pings=pings,
        notes=notes,
    )


async def active_card(ticket: Ticket) -> TicketCard | None:
    """The card of the ticket's current level."""
    return await TicketCard.filter(ticket_id=ticket.id, active=True).order_by("-id").first()


async def _last_reason(ticket: Ticket, level: str) -> str | None:
    entry = await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").order_by("-id").first()
    return (entry.data or {}).get("reason") if entry and (entry.data or {}).get("to") == level else None


async def render_card(
    rt: Runtime,
    ticket: Ticket,
    card: TicketCard,
    *,
    pings: tuple[str, ...] = (),
    reason: str | None = None,
) -> dict[str, Any]:
    """A card payload for the ticket as it is now, from the point of view of that card. `reason`: the
    escalation reason to show, when the caller has just escalated to the card's level (else it is read)."""
    home.touch(rt, ticket, level=card.level)  # a card changes when its ticket does: so do Home views
    is_current = card.active and card.level == ticket.level and ticket.status in OPEN_STATUSES
    fields = svc.context_fields(rt.config, card.level) if card.level != "L1" else []
    context = tuple((f.label, (ticket.context or {}).get(f.id, "")) for f in fields)
    if not pings and is_current:
        pings = card_pings(rt, card)
    data = card_data(rt, ticket, pings=pings)
    data = type(data)(
        **{
            **data.__dict__,
            "level": ticket.level,
            "active": is_current,
            "context": context,
            "reason": reason
            if reason is not None
            else (await _last_reason(ticket, card.level) if card.level != "L1" else None),
            "state_note": card.note,
            "buttons": BUTTONS.get(card.level, ()),
            "sla_line": await card_sla_line(ticket) if is_current else None,
        }
    )
    return build_ticket_card(data)


async def refresh_card(rt: Runtime, ticket: Ticket, card: TicketCard, now: datetime) -> None:
    """Update a card in place (chat.update through the outbox, after its post)."""
    target = await OutboxMessage.get(id=card.outbox_id)
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.update",
        channel_id=card.channel_id,
        payload=await render_card(rt, ticket, card),
        target=target,
        now=now,
    )


def card_pings(rt: Runtime, card: TicketCard) -> tuple[str, ...]:
    """Who a card is for: the route's specialists in a component channel, else the level's group."""
    route = next((r for r in rt.config.routes if r.channel == card.channel_id), None)
    if route is not None:
        return tuple(route.ping)
    level = rt.config.levels.get(card.level)  # type: ignore[call-overload]
    return tuple(level.ping) if level else ()


async def refresh_all_cards(rt: Runtime, ticket: Ticket, now: datetime) -> None:
    """Update every card of the ticket (status changes like resolved or closed show on all of them)."""
    for card in await TicketCard.filter(ticket_id=ticket.id).order_by("id"):
        await refresh_card(rt, ticket, card, now)


async def refresh_active_card(rt: Runtime, ticket: Ticket, now: datetime) -> None:
    """Update the card of the ticket's current level."""
    card = await active_card(ticket)
    if card is not None:
        await refresh_card(rt, ticket, card, now)


async def post_card(
    rt: Runtime,
    ticket: Ticket,
    *,
    level: str,
    channel: str,
    pings: tuple[str, ...],
    now: datetime,
    note: str | None = None,
    reason: str | None = None,
) -> TicketCard:
    """Post a new card for the ticket at a level (`reason`: see render_card)."""
    card = TicketCard(ticket=ticket, level=level, channel_id=channel, outbox_id=0, active=True, note=note)
    payload = await render_card(rt, ticket, card, pings=pings, reason=reason)
    message = await outbox.enqueue(
        stream=stream_of(ticket), method="chat.postMessage", channel_id=channel, payload=payload, now=now
    )
    card.outbox_id = message.id
    await card.save()
    return card


async def post_in_card_thread(
    rt: Runtime, ticket: Ticket, card: TicketCard, text: str, now: datetime
) -> None:
    """An internal line in the card's thread."""
    parent = await OutboxMessage.get(id=card.outbox_id)
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=card.channel_id,
        payload=build_internal_line(text),
        thread_parent=parent,
        now=now,
    )


async def post_to_customer(rt: Runtime, ticket: Ticket, payload: dict[str, Any], now: datetime) -> None:
    """A message in the customer's ticket thread (customer-safe payloads only)."""
    if ticket.thread_ts:
        await outbox.enqueue(
            stream=stream_of(ticket),
            method="chat.postMessage",
            channel_id=ticket.channel_id,
            payload=payload,
            thread_ts=ticket.thread_ts,
            now=now,
        )
        return
    root = (
        await OutboxMessage.filter(
            stream=stream_of(ticket), channel_id=ticket.channel_id, thread_parent_id__isnull=True
        )
        .order_by("id")
        .first()
    )
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=ticket.channel_id,
        payload=payload,
        thread_parent=root,
        now=now,
    )
