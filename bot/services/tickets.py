"""Ticket keys, lookups with visibility rules, and the append-only timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import NotFoundError, UsageError
from models import Ticket, TimelineEntry

# Ticket ids are (PostgreSQL) integers: a larger number names no ticket, and must not reach a query.
MAX_TICKET_ID = 2**31 - 1

_KEY = re.compile(r"^\s*(?:#|(?P<prefix>[A-Za-z][A-Za-z0-9]{0,9})-)?(?P<number>\d{1,9})\s*$")


def format_key(prefix: str, ticket_id: int) -> str:
    """SUP-42."""
    return f"{prefix}-{ticket_id}"


def parse_key(text: str, prefix: str) -> int:
    """Accept 'SUP-42', 'sup-42', '42' and '#42'; raise UsageError otherwise."""
    match = _KEY.match(text or "")
    if not match:
        raise UsageError(f"'{_safe(_clip(text))}' is not a ticket key. Write it like {prefix}-42, 42 or #42.")
    given = match.group("prefix")
    if given and given.upper() != prefix.upper():
        raise UsageError(f"Ticket keys here start with {prefix}-, like {prefix}-42.")
    return int(match.group("number"))


def looks_like_key(text: str) -> bool:
    """True when the word is shaped like a ticket key."""
    return bool(_KEY.match(text or ""))


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and where: decides what they may see."""

    user_id: str
    is_external: bool
    customer_team_id: str | None = None
    channel_customer_team_id: str | None = None


async def get_visible_ticket(*, ticket_id: int, viewer: Viewer, key: str) -> Ticket:
    """The ticket if the viewer may see it; NotFoundError otherwise (never reveals existence)."""
    if not 0 < ticket_id <= MAX_TICKET_ID:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    ticket = await Ticket.get_or_none(id=ticket_id).prefetch_related("customer")
    if ticket is None:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    team = ticket.customer.team_id
    if viewer.is_external and viewer.customer_team_id != team:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    if viewer.channel_customer_team_id is not None and viewer.channel_customer_team_id != team:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    return ticket


async def record(
    ticket: Ticket, *, kind: str, actor_id: str, at: datetime, data: dict[str, Any] | None = None
) -> TimelineEntry:
    """Append one entry to the ticket's timeline."""
    return await TimelineEntry.create(ticket=ticket, kind=kind, actor_id=actor_id, at=at, data=data or {})


def _safe(text: str) -> str:
    """User text echoed in an answer: no mrkdwn control characters (no pings, links or formatting)."""
    return "".join(ch for ch in text if ch not in "<>&`*_~@!")


def _clip(text: str, limit: int = 40) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
