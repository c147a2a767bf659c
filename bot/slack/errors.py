"""The one error handler: known errors become a kind answer, unknown ones a reference id and a log entry."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt.response import BoltResponse

from bot.db import note_failure
from bot.errors import UserFacingError
from bot.slack.blocks.tickets import build_notice

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "Support is temporarily unavailable (our database is not answering). Nothing was changed; "
    "please try again in a minute."
)


def describe(error: Exception) -> str:
    """What to tell the person about `error` (logged here; unknown errors get a reference id)."""
    if isinstance(error, UserFacingError):
        return error.message
    if note_failure(error):
        log.warning("database unavailable while handling a request: %s", error)
        return UNAVAILABLE
    ref = secrets.token_hex(4).upper()
    log.error("unhandled error, reference %s", ref, exc_info=error, extra={"ref": ref})
    return (
        "Sorry, something went wrong on our side and nothing was changed. Please try again; "
        f"if it keeps happening, give your admin the reference `{ref}`."
    )


async def handle_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None, respond: Any, client: Any
) -> BoltResponse | None:
    """The one error handler: known errors become a kind answer, unknown ones get a reference id."""
    message = describe(error)
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "event_callback" or kind is None and "event" in (body or {}):
        return BoltResponse(status=200, body="") if response is not None else None
    notice = build_notice(message)
    if kind == "view_submission":
        # A modal can only show errors on a field; close it and tell the person in a DM instead.
        user = (body.get("user") or {}).get("id")
        if user:
            try:
                await client.chat_postMessage(channel=user, text=notice["text"], blocks=notice["blocks"])
            except Exception:
                log.exception("could not send the error message to the user")
        return BoltResponse(status=200, body="") if response is not None else None
    if response is not None and kind != "block_actions":
        return BoltResponse(status=200, body=json.dumps(notice), headers={"content-type": "application/json"})
    if respond is not None and (body.get("response_url") or (body.get("response_urls") or [None])[0]):
        try:
            await respond(
                **{k: v for k, v in notice.items() if k in ("text", "blocks", "response_type")},
                replace_original=False,
            )
        except Exception:
            log.exception("could not send the error message to the user")
    return BoltResponse(status=200, body="") if response is not None else None
