"""Who may do what to a ticket: one matrix, used by every command, button and modal.

Roles: a *customer* is a user of another organisation (Slack Connect); an *agent* is an internal user who
is a member of a level channel (L3 includes the component channels); a *lead* is listed in `leads`.
Acting at a level needs membership of that level's channel or of a higher one (2nd level backs up 1st).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LEVEL_RANK = {"L1": 1, "L2": 2, "L3": 3}


class Action(StrEnum):
    """Everything a person can try to do with a ticket."""

    VIEW = "view"
    CREATE = "create"
    CONFIRM = "confirm"  # customer: "Did this solve it?"
    NOTE = "note"
    CLAIM = "claim"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    HAND_BACK = "hand_back"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    WAIT = "wait"
    PRIORITY = "priority"
    REPLY = "reply"  # message to the customer through the bot (L3: only as a draft)
    DRAFT = "draft"  # L3 draft for the customer
    REVIEW_DRAFT = "review_draft"  # 2nd level approves/edits/rejects an L3 draft


@dataclass(frozen=True)
class Actor:
    """The person acting, as the permission check needs them."""

    user_id: str
    team_id: str | None
    is_external: bool
    levels: frozenset[str] = frozenset()
    is_lead: bool = False

    @property
    def top_rank(self) -> int:
        """The highest level the person works at (0 for none)."""
        return max((LEVEL_RANK[lvl] for lvl in self.levels), default=0)

    @property
    def is_agent(self) -> bool:
        """Internal and a member of at least one level channel, or a lead."""
        return not self.is_external and (bool(self.levels) or self.is_lead)


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and a polite reason to show when not."""

    allowed: bool
    reason: str = ""


ALLOW = Decision(True)

# Actions that work on the ticket at its current level and need the actor at that level or above.
_LEVEL_ACTIONS = frozenset(
    {
        Action.CLAIM,
        Action.ASSIGN,
        Action.ESCALATE,
        Action.HAND_BACK,
        Action.RESOLVE,
        Action.REOPEN,
        Action.WAIT,
        Action.PRIORITY,
    }
)


def decide(
    actor: Actor,
    action: Action,
    *,
    ticket_level: str | None = None,
    ticket_team_id: str | None = None,
) -> Decision:
    """The permission matrix (documented as a table in the README)."""
    if actor.is_external:
        same_org = ticket_team_id is None or ticket_team_id == actor.team_id
        if action in (Action.VIEW, Action.CREATE, Action.CONFIRM) and same_org:
            return ALLOW
        return Decision(False, "That's something only our support team can do.")
    if action == Action.CONFIRM:
        return Decision(False, "Only the customer can confirm that a solution worked.")
    if actor.is_lead:
        return ALLOW
    if action == Action.VIEW:
        return ALLOW
    if not actor.levels:
        return Decision(False, "Only members of a support level channel can do that. Ask a lead to add you.")
    if action in (Action.NOTE, Action.CREATE):
        return ALLOW
    if action == Action.DRAFT:
        return ALLOW if "L3" in actor.levels else Decision(False, "Drafts for review are for 3rd level.")
    if action == Action.REVIEW_DRAFT:
        if "L2" in actor.levels:
            return ALLOW
        return Decision(False, "Only 2nd level (or a lead) can approve messages from 3rd level.")
    if action == Action.REPLY:
        # 3rd level has no direct customer contact: their messages go through 2nd level as drafts.
        if actor.levels <= {"L3"}:
            return Decision(
                False, "3rd level answers customers through 2nd level: use *Draft reply* instead."
            )
        return ALLOW
    if action in _LEVEL_ACTIONS:
        need = LEVEL_RANK.get(ticket_level or "L1", 1)
        if actor.top_rank >= need:
            return ALLOW
        return Decision(
            False, f"This ticket is at {ticket_level}; only {ticket_level} (or higher) and leads can do that."
        )
    return Decision(False, "That action isn't available.")
