"""Every action_id, callback_id, block_id and command the bot emits and matches, in one place."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    """Slash commands (declared in manifest.json)."""

    TICKET = "/ticket"
    ESCALATE = "/escalate"
    DEESCALATE = "/deescalate"
    ASSIGN = "/assign"
    CLAIM = "/claim"
    UNASSIGN = "/unassign"
    RESOLVE = "/resolve"
    REOPEN = "/reopen"


class ActionId(StrEnum):
    """Buttons and other interactive elements."""

    CARD_CLAIM = "card.claim"
    CARD_ESCALATE = "card.escalate"
    CARD_HANDBACK = "card.handback"
    CARD_RESOLVE = "card.resolve"
    CARD_WAIT = "card.wait"
    CARD_NOTE = "card.note"
    CARD_OPEN_ORIGINAL = "card.open_original"
    TICKET_TEXT = "ticket.text"
    TICKET_PRIORITY = "ticket.priority"
    TICKET_CUSTOMER = "ticket.customer"


class CallbackId(StrEnum):
    """Shortcuts and modals."""

    SHORTCUT_CREATE_TICKET = "create_support_ticket"
    MODAL_CREATE_TICKET = "ticket.create"


class BlockId(StrEnum):
    """Input blocks of modals."""

    TICKET_TEXT = "ticket_text"
    TICKET_PRIORITY = "ticket_priority"
    TICKET_CUSTOMER = "ticket_customer"
    CARD_ACTIONS = "card_actions"


class Reaction(StrEnum):
    """Emoji reactions the bot listens to."""

    TICKET = "ticket"


OUTBOX_EVENT_TYPE = "support_outbox"
