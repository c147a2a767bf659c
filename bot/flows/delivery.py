"""Messages Slack refused for good: tell the support team in a level channel, once per burst.

The outbox gives up on a message only for errors that retrying cannot fix (bot/slack/outbox.py). For the
channel errors people can fix (the channel is gone, archived, or the bot is not in it) the ticket's current
level channel is told what was not delivered where, why, and what to do — never the customer's channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import timedelta

from bot.flows.cards import active_card
from bot.runtime import Runtime
from bot.slack import outbox
from bot.slack.blocks.delivery import build_delivery_failure_notice
from bot.slack.text import escape
from models import OutboxMessage, Ticket

log = logging.getLogger(__name__)

# The Slack errors worth a notice: the people in the level channel can act on them.
NOTICE_ERRORS = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
# Notices have their own outbox streams: a notice that fails itself is never announced (no loop).
NOTICE_STREAM_PREFIX = "notice:"
# A burst of failures (every message of a day to an archived channel) is announced once in this window.
QUIET_PERIOD = timedelta(hours=1)
_TICKET_STREAM = re.compile(r"ticket:(\d+)")  # bot/flows/cards.py:stream_of


class DeliveryFailureNotices:
    """The outbox sender's `on_permanent_failure` hook."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # One check-then-enqueue at a time in this process: a burst of failures finds the first notice.
        self._lock = asyncio.Lock()

    async def __call__(self, row: OutboxMessage, reason: str) -> None:
        """Tell the level channel about a message Slack refused for good (once per channel and error)."""
        error, _, detail = reason.partition(" ")
        if row.stream.startswith(NOTICE_STREAM_PREFIX):
            log.warning("delivery notice %s could not be posted (%s); not announcing that", row.id, reason)
            return
        if error not in NOTICE_ERRORS:
            return
        ticket = await _ticket_of(row)
        audience = await self._audience(ticket, failed=row.channel_id)
        if audience is None:
            log.warning("no level channel to tell that %s failed in %s (%s)", row.id, row.channel_id, reason)
            return
        stream = _notice_stream(audience, row.channel_id, error)
        now = self.rt.clock.now()
        async with self._lock:
            recent = await OutboxMessage.filter(stream=stream, created_at__gte=now - QUIET_PERIOD).exists()
            if recent:
                return
            await outbox.enqueue(
                stream=stream,
                method="chat.postMessage",
                channel_id=audience,
                payload=build_delivery_failure_notice(
                    what=_what(row),
                    where=self._where(row.channel_id),
                    error=error,
                    detail=detail.strip(" ()"),
                    key=self.rt.key(ticket.id) if ticket else None,
                    bot_user_id=self.rt.bot_user_id,
                    direct=_is_direct(row.channel_id),
                    to_customer=self.rt.config.customer_by_channel(row.channel_id) is not None,
                    quiet_minutes=int(QUIET_PERIOD.total_seconds() // 60),
                ),
                now=now,
            )
        self.rt.sender.wake()

    async def _audience(self, ticket: Ticket | None, *, failed: str) -> str | None:
        """The channel of the ticket's current level (its active card's), else L1; never the failed channel
        and never anything but a support level channel."""
        config = self.rt.config
        first = config.levels["L1"].channel
        if ticket is not None:
            card = await active_card(ticket)
            first = card.channel_id if card else config.levels[ticket.level].channel  # type: ignore[index]
        for channel in (first, config.levels["L1"].channel):
            if channel != failed and config.is_internal_channel(channel):
                return channel
        return None

    def _where(self, channel: str) -> str:
        config = self.rt.config
        if _is_direct(channel):
            return (
                f"a direct message to <@{channel}>" if channel.startswith(("U", "W")) else "a direct message"
            )
        customer = config.customer_by_channel(channel)
        if customer is not None:
            return f"the customer channel <#{channel}> ({escape(customer.name)})"
        level = config.level_of_channel(channel)
        if level is not None:
            return f"the {level} channel <#{channel}>"
        return f"the channel <#{channel}>"


async def _ticket_of(row: OutboxMessage) -> Ticket | None:
    match = _TICKET_STREAM.fullmatch(row.stream)
    return await Ticket.get_or_none(id=int(match.group(1))) if match else None


def _what(row: OutboxMessage) -> str:
    if row.method == "chat.update":
        return "an update of a message"
    if row.method != "chat.postMessage":
        return f"a `{row.method}` call"
    in_thread = row.thread_parent_id is not None or bool(row.payload.get("thread_ts"))
    return "a reply in a thread" if in_thread else "a message"


def _is_direct(channel: str) -> bool:
    return channel.startswith(("U", "W", "D"))


def _notice_stream(audience: str, failed: str, error: str) -> str:
    """One stream per (level channel told, channel that failed, error): the key of the quiet period."""
    digest = hashlib.sha256(f"{audience}|{failed}|{error}".encode()).hexdigest()[:32]
    return f"{NOTICE_STREAM_PREFIX}{digest}"
