"""The one error handler: known errors become a kind answer, unknown ones a reference id and a log entry.

It also answers requests no listener matched (Bolt's `raise_error_for_unhandled_request`): a button, form,
shortcut or command of another version of the app gets 'out of date' instead of Slack's generic error, and
anything else a quiet 200. It never raises: a failing error handler would leave the request without an ack
(Bolt then answers 404 after 3 s).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

from bot.db import note_failure
from bot.errors import UserFacingError
from bot.slack import payload
from bot.slack.answers import tell
from bot.slack.blocks.tickets import build_notice
from bot.slack.text import clip, escape

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "Support is temporarily unavailable (our database is not answering). Nothing was changed; "
    "please try again in a minute."
)
OUT_OF_DATE = {
    "block_actions": (
        "This button is out of date (it belongs to an older version of this message), so nothing was "
        "changed. Use the slash commands instead, e.g. `/ticket help`."
    ),
    "view_submission": "This form is out of date, so nothing was changed. Please close it and start again.",
    "message_action": (
        "This shortcut is out of date, so nothing was changed. Use *Create support ticket* on the message, "
        "or `/ticket new <problem>` in the customer's channel."
    ),
    "shortcut": "This shortcut is out of date, so nothing was changed. Try `/ticket help`.",
}


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
    error: Exception, body: Any, response: BoltResponse | None, respond: Any, client: Any
) -> BoltResponse | None:
    """The one error handler: known errors become a kind answer, unknown ones get a reference id."""
    try:
        if isinstance(error, BoltUnhandledRequestError):
            return await _answer_unmatched(body, response, respond, client)
        return await _answer_error(error, body, response, respond, client)
    except Exception:  # noqa: BLE001 - never leave Slack without an answer; the failure is logged in full
        log.exception("the error handler failed while answering %s", type(error).__name__)
        return _ok(response)


async def _answer_error(
    error: Exception, body: Any, response: BoltResponse | None, respond: Any, client: Any
) -> BoltResponse | None:
    message = describe(error)
    body = payload.obj(body)
    kind = body.get("type")
    if kind == "event_callback" or kind is None and "event" in body:
        return _ok(response)  # nobody to answer; Slack must not retry
    notice = build_notice(message)
    if response is not None and "command" in body:
        # Not acknowledged yet: the ack's body is the answer (Slack shows it to the person only).
        return BoltResponse(status=200, body=json.dumps(notice), headers={"content-type": "application/json"})
    # A modal closes (it can only show errors on a field); everything else is answered privately.
    await tell(client, body, text=notice["text"], blocks=notice["blocks"], respond=respond)
    return _ok(response)


async def _answer_unmatched(
    body: Any, response: BoltResponse | None, respond: Any, client: Any
) -> BoltResponse | None:
    """No listener for this request: say so where Slack shows an answer, else acknowledge quietly."""
    body = payload.obj(body)
    kind = payload.string(body.get("type"))
    if "command" in body and kind == "":
        command = clip(payload.string(body.get("command")).replace("`", "'"), 40)
        log.info("unmatched slash command %r", command)
        notice = build_notice(
            f"I don't know the command `{escape(command)}`, so nothing was changed. Try `/ticket help`."
        )
        return BoltResponse(status=200, body=json.dumps(notice), headers={"content-type": "application/json"})
    text = OUT_OF_DATE.get(kind)
    log.info("unmatched request of type %r; answered %s", kind[:40], "out of date" if text else "200")
    if text is not None:
        notice = build_notice(text)
        await tell(client, body, text=notice["text"], blocks=notice["blocks"], respond=respond)
    return _ok(response)


def _ok(response: BoltResponse | None) -> BoltResponse | None:
    return BoltResponse(status=200, body="") if response is not None else None
