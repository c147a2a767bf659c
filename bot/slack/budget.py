"""A time budget for interactive listeners: Slack wants an answer within 3 seconds."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import TemporarilyUnavailableError
from bot.slack.errors import UNAVAILABLE, handle_error

# Interactive requests must be answered within Slack's 3 s: past this budget the person is told to retry.
REQUEST_BUDGET = 2.5


def budgeted(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Bound a command/action/view listener; when the database hangs, answer 'temporarily unavailable'."""

    @functools.wraps(listener)
    async def bounded(**kwargs: Any) -> Any:
        ack = kwargs.get("ack")
        try:
            async with asyncio.timeout(REQUEST_BUDGET):
                return await listener(**kwargs)
        except Exception as exc:
            error = TemporarilyUnavailableError(UNAVAILABLE) if isinstance(exc, TimeoutError) else exc
            if ack is None or getattr(ack, "response", None) is None:
                raise error from None  # not acked yet: Bolt's error handler answers in the ack
            # Already acked: answer here. (Bolt would reset its ack response when a listener fails right after
            # acking, and Slack would get a 404 instead of the 200 it was already promised.)
            context = kwargs.get("context")
            body = kwargs.get("body") or kwargs.get("command") or kwargs.get("shortcut") or {}
            await handle_error(
                error, body, None, getattr(context, "respond", None), getattr(context, "client", None)
            )
            return None

    return bounded


def ack_first(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Acknowledge a slash command at once, then run it and send its answer through response_url.

    Slack only needs the ack within 3 s; the work (database, outbox) happens after it, so acks stay fast
    under load. The listener keeps calling `ack(text=…, blocks=…)`: after the real ack that becomes
    `respond(…)` (an ephemeral for the person who ran the command). Errors reach the error handler, which
    answers through response_url as well.
    """

    @functools.wraps(listener)
    async def deferred(**kwargs: Any) -> Any:
        real_ack, context = kwargs["ack"], kwargs["context"]
        await real_ack()
        respond = context.respond

        async def answer(text: str | None = None, blocks: Any = None, **_: Any) -> None:
            if text or blocks:
                await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

        kwargs["ack"] = answer
        return await listener(**kwargs)

    return deferred
