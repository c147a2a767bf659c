"""Opening modals: views.open, with Slack's refusals turned into answers the person can act on."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import TemporarilyUnavailableError, UsageError
from bot.slack import payload

log = logging.getLogger(__name__)

# A trigger_id works once, for 3 seconds: these mean "too late" (or a trigger Slack never issued).
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"})
TOO_LATE = (
    "That took a moment too long, and Slack no longer lets me open the form. Nothing was changed; "
    "please try again."
)
NO_TRIGGER = "Slack didn't send what I need to open the form. Nothing was changed; please try again."
SLACK_DOWN = "Slack didn't open the form just now. Nothing was changed; please try again in a minute."


async def open_modal(client: AsyncWebClient, *, trigger_id: Any, view: dict[str, Any]) -> None:
    """views.open; an expired or missing trigger raises UsageError ('try again'), Slack failing or not
    answering TemporarilyUnavailableError. Other refusals (our token, our view) stay errors for the handler."""
    if not isinstance(trigger_id, str) or not trigger_id:
        raise UsageError(NO_TRIGGER)
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = payload.api_error(exc)
        if error in TRIGGER_ERRORS:
            log.info("views.open refused the trigger: %s", error)
            raise UsageError(TOO_LATE) from None
        if exc.response.status_code >= 500 or error in ("ratelimited", "internal_error", "fatal_error"):
            log.warning("views.open failed: %s", error)
            raise TemporarilyUnavailableError(SLACK_DOWN) from None
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("views.open got no answer: %s", type(exc).__name__)
        raise TemporarilyUnavailableError(SLACK_DOWN) from None
