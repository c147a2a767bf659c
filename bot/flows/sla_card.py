"""The ticket card's SLA line: the most urgent running (or paused) timer, or how the timers ended.

A module of its own because both sides need it: the card renderer (bot/flows/cards.py) puts it on every
card, and the SLA flows (bot/flows/sla.py) import the card renderer to refresh cards after a tick.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.services.sla import engine
from bot.slack.blocks.sla import sla_line, sla_summary_line
from models import Ticket
from models.sla import SlaTimer

# SLA lines computed ahead for a batch of cards (one query for all of them instead of one per card).
_KNOWN: ContextVar[dict[int, str | None] | None] = ContextVar("sla_card_lines", default=None)


async def card_sla_line(ticket: Ticket) -> str | None:
    """The ticket card's SLA line: the most urgent running (or paused) timer, or how it ended."""
    known = _KNOWN.get()
    if known is not None and ticket.id in known:
        return known[ticket.id]
    return line_for(await engine.ticket_timers(ticket_id=ticket.id))


def line_for(timers: list[SlaTimer]) -> str | None:
    """The SLA line for one ticket's timers (None: the ticket has none)."""
    if not timers:
        return None
    urgent = engine.most_urgent(timers)
    if urgent is not None:
        return sla_line(engine.timer_status(urgent, config=None, now=None))
    return sla_summary_line([engine.timer_status(t, config=None, now=None) for t in timers])


@contextmanager
def known_lines(lines: dict[int, str | None]) -> Iterator[None]:
    """Within the block, card_sla_line answers from `lines` (ticket id -> line) for those tickets."""
    token = _KNOWN.set(lines)
    try:
        yield
    finally:
        _KNOWN.reset(token)
