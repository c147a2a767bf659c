"""A time budget for interactive listeners: Slack wants an answer within 3 seconds."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import TemporarilyUnavailableError

UNAVAILABLE = (
    "Support is temporarily unavailable (our database is not answering). Nothing was changed; "
    "please try again in a minute."
)
# Interactive requests must be answered within Slack's 3 s: past this budget the person is told to retry.
REQUEST_BUDGET = 2.5


def budgeted(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Bound a command/action/view listener; when the database hangs, answer 'temporarily unavailable'."""

    @functools.wraps(listener)
    async def bounded(**kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(REQUEST_BUDGET):
                return await listener(**kwargs)
        except TimeoutError:
            raise TemporarilyUnavailableError(UNAVAILABLE) from None

    return bounded
