"""Tortoise models, one module per aggregate. Tortoise discovers them through this package."""

from models.csat import CsatSurvey
from models.inbox import InboundEvent
from models.kb import (
    KbArticle,
    KbArticleVersion,
    KbEmbedding,
    KbFeedback,
    KbFeedbackKind,
    KbState,
    KbSuggestion,
    KbTermFeedback,
    KbVisibility,
)
from models.outbox import OutboxMessage, OutboxStatus
from models.relay import DraftKind, DraftStatus, RelayDraft
from models.sla import ScheduledRun, SlaKind, SlaPending, SlaState, SlaTimer, SlaWork
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
    "CsatSurvey",
    "Customer",
    "DraftKind",
    "DraftStatus",
    "RelayDraft",
    "ScheduledRun",
    "SlaKind",
    "SlaPending",
    "SlaState",
    "SlaTimer",
    "SlaWork",
    "InboundEvent",
    "KbArticle",
    "KbArticleVersion",
    "KbEmbedding",
    "KbFeedback",
    "KbFeedbackKind",
    "KbState",
    "KbSuggestion",
    "KbTermFeedback",
    "KbVisibility",
    "OutboxMessage",
    "OutboxStatus",
    "Ticket",
    "TicketCard",
    "TicketMessage",
    "TicketSource",
    "TicketStatus",
    "TimelineEntry",
]
