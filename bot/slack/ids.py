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
    CARD_DRAFT = "card.draft"
    CUSTOMER_CONFIRM = "customer.confirm"
    CUSTOMER_REJECT = "customer.reject"
    DRAFT_APPROVE = "draft.approve"
    DRAFT_EDIT = "draft.edit"
    DRAFT_REJECT = "draft.reject"
    FIELD_INPUT = "field.input"
    ESCALATE_REASON = "escalate.reason"
    ESCALATE_COMPONENT = "escalate.component"
    TICKET_PICK = "ticket.pick"
    TEXT_INPUT = "text.input"
    RESOLVE_SOLUTION = "resolve.solution"
    RESOLVE_INTERNAL = "resolve.internal"
    RESOLVE_PUBLISH = "resolve.publish"
    TICKET_TEXT = "ticket.text"
    TICKET_PRIORITY = "ticket.priority"
    TICKET_CUSTOMER = "ticket.customer"


class CallbackId(StrEnum):
    """Shortcuts and modals."""

    SHORTCUT_CREATE_TICKET = "create_support_ticket"
    MODAL_CREATE_TICKET = "ticket.create"
    MODAL_ESCALATE = "ticket.escalate"
    MODAL_PICK_FOR_ESCALATE = "ticket.escalate.pick"
    MODAL_HANDBACK = "ticket.handback"
    MODAL_RESOLVE = "ticket.resolve"
    MODAL_NOTE = "ticket.note"
    MODAL_DRAFT = "ticket.draft"
    MODAL_DRAFT_EDIT = "draft.edit"


class BlockId(StrEnum):
    """Input blocks of modals."""

    TICKET_TEXT = "ticket_text"
    TICKET_PRIORITY = "ticket_priority"
    TICKET_CUSTOMER = "ticket_customer"
    CARD_ACTIONS = "card_actions"
    CUSTOMER_ACTIONS = "customer_actions"
    DRAFT_ACTIONS = "draft_actions"
    ESCALATE_REASON = "escalate_reason"
    ESCALATE_COMPONENT = "escalate_component"
    TICKET_PICK = "ticket_pick"
    TEXT = "text"
    RESOLVE_SOLUTION = "resolve_solution"
    RESOLVE_INTERNAL = "resolve_internal"
    RESOLVE_PUBLISH = "resolve_publish"
    CONTEXT_PREFIX = "ctx_"


class Reaction(StrEnum):
    """Emoji reactions the bot listens to."""

    TICKET = "ticket"


OUTBOX_EVENT_TYPE = "support_outbox"
