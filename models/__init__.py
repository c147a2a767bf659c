"""Tortoise models, one module per aggregate. Tortoise discovers them through this package."""

from models.inbox import InboundEvent
from models.outbox import OutboxMessage, OutboxStatus
from models.relay import DraftKind, DraftStatus, RelayDraft
from models.tickets import (
    Customer,
    Ticket,
    TicketCard,
    TicketMessage,
    TicketSource,
    TicketStatus,
    TimelineEntry,
)

__all__ = [
    "Customer",
    "DraftKind",
    "DraftStatus",
    "RelayDraft",
    "InboundEvent",
    "OutboxMessage",
    "OutboxStatus",
    "Ticket",
    "TicketCard",
    "TicketMessage",
    "TicketSource",
    "TicketStatus",
    "TimelineEntry",
]
