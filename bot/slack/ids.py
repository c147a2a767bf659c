"""Every action_id, callback_id, block_id and command the bot emits and matches, in one place."""

from __future__ import annotations

import re
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
    SLA = "/sla"
    KB = "/kb"
    SUPPORT = "/support"


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
    KB_HELPED = "kb.helped"
    KB_NOT_RELEVANT = "kb.not_relevant"
    KB_SEND = "kb.send"
    KB_CUSTOMER_SOLVED = "kb.customer.solved"
    KB_CUSTOMER_NEED_HELP = "kb.customer.need_help"
    KB_SHARE = "kb.share"
    KB_WRITE = "kb.write"
    KB_REVIEW_CONFIRM = "kb.review.confirm"
    KB_REVIEW_EDIT = "kb.review.edit"
    KB_REVIEW_RETIRE = "kb.review.retire"
    KB_TITLE = "kb.title"
    KB_PROBLEM = "kb.problem"
    KB_SOLUTION = "kb.solution"
    KB_TAGS = "kb.tags"
    KB_COMPONENT = "kb.component"
    KB_VISIBILITY = "kb.visibility"
    HOME_CLAIM = "home.claim"
    HOME_OPEN = "home.open"
    HOME_REFRESH = "home.refresh"
    CSAT_RATE_1 = "csat.rate.1"
    CSAT_RATE_2 = "csat.rate.2"
    CSAT_RATE_3 = "csat.rate.3"
    CSAT_RATE_4 = "csat.rate.4"
    CSAT_RATE_5 = "csat.rate.5"
    CSAT_COMMENT = "csat.comment"
    CSAT_COMMENT_TEXT = "csat.comment.text"


# The CSAT rating buttons (1 … 5), each its own action_id (Slack wants them unique within a block).
CSAT_RATINGS: dict[int, ActionId] = {
    1: ActionId.CSAT_RATE_1,
    2: ActionId.CSAT_RATE_2,
    3: ActionId.CSAT_RATE_3,
    4: ActionId.CSAT_RATE_4,
    5: ActionId.CSAT_RATE_5,
}


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
    MODAL_KB_ARTICLE = "kb.article"
    MODAL_HOME_TICKET = "home.ticket"
    MODAL_CSAT_COMMENT = "csat.comment"


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
    KB_TITLE = "kb_title"
    KB_PROBLEM = "kb_problem"
    KB_SOLUTION = "kb_solution"
    KB_TAGS = "kb_tags"
    KB_COMPONENT = "kb_component"
    KB_VISIBILITY = "kb_visibility"
    # One actions block per suggested article / search result / article under review, suffixed by its id.
    KB_SUGGESTION_PREFIX = "kb_sug_"
    KB_RESULT_PREFIX = "kb_res_"
    KB_REVIEW_PREFIX = "kb_rev_"
    KB_CUSTOMER_ACTIONS = "kb_customer_actions"
    KB_WRITE_ACTIONS = "kb_write_actions"
    # One section per ticket on Home, suffixed by its id (a ticket can be in two lists).
    HOME_MINE_PREFIX = "home_mine_"
    HOME_QUEUE_PREFIX = "home_queue_"
    HOME_RISK_PREFIX = "home_risk_"
    CSAT_ACTIONS = "csat_actions"
    CSAT_COMMENT = "csat_comment"


class Reaction(StrEnum):
    """Emoji reactions the bot listens to."""

    TICKET = "ticket"


OUTBOX_EVENT_TYPE = "support_outbox"


def any_of(*ids: str) -> re.Pattern[str]:
    """One listener for several ids (Bolt matches a compiled pattern against action_id / callback_id).

    Bolt tries its listeners one after the other and builds the full set of listener arguments for each one
    it tries, so every listener registered before the one that matches costs each request a little; one
    listener per handler instead of one per id keeps the list short."""
    return re.compile("^(?:" + "|".join(re.escape(str(i)) for i in ids) + ")$")
