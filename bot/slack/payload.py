"""Reading Slack payloads defensively (pure, no I/O).

A correctly signed request can still carry any JSON type where Slack documents an object, or an id the
database cannot hold. Handlers and flows read payloads through these helpers, so a list, a string or null
becomes "missing" and a bad id becomes None, instead of an AttributeError, a TypeError or an integer overflow
in the database driver.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError

from bot.errors import UsageError

# Ids the database can hold: `IntField` is PostgreSQL's 32-bit integer, `BigIntField` 64 bits.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
# Slack ids and message timestamps are short (`C0123ABCD`, `1732700000.000100`); the columns hold 32.
MAX_IDENT = 32
_MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,9}")
# What no URL Slack sends contains: whitespace (str.isspace, which `\s` matches on str) or a control character.
_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")


def obj(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def string(value: Any) -> str:
    """The value if it is a string, else ''."""
    return value if isinstance(value, str) else ""


def ident(value: Any) -> str:
    """A Slack id or ts: a non-blank string that fits its column, else ''."""
    return value if isinstance(value, str) and 0 < len(value) <= MAX_IDENT and value.strip() else ""


def message_ts(value: Any) -> str:
    """A Slack message timestamp ('1712345678.000100'), else '' (Slack refuses replies to anything else)."""
    text = ident(value)
    return text if _MESSAGE_TS.fullmatch(text) else ""


def record_id(value: Any, *, big: bool = False) -> int | None:
    """A database id from a button value or form metadata ('42', 42); None when it is none the database
    could hold (text, other JSON types, beyond the integer column)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:  # also: more digits than Python converts
        return None
    limit = MAX_BIG_ID if big else MAX_ID
    return number if -limit - 1 <= number <= limit else None


def required_id(value: Any, refusal: str, *, big: bool = False) -> int:
    """`record_id`, or UsageError(refusal) when the value is no id (a broken or forged button value)."""
    number = record_id(value, big=big)
    if number is None:
        raise UsageError(refusal)
    return number


def user_of(body: Any) -> tuple[str, str | None]:
    """(user id, team id claimed in the payload) of an interactive payload; '' and None when absent."""
    user = obj(obj(body).get("user"))
    return ident(user.get("id")), ident(user.get("team_id")) or None


def channel_of(body: Any) -> str:
    """The channel an interactive payload or command came from ('' when none)."""
    body = obj(body)
    return (
        ident(obj(body.get("channel")).get("id"))
        or ident(obj(body.get("container")).get("channel_id"))
        or ident(body.get("channel_id"))
    )


def is_url(value: Any) -> bool:
    """True for an absolute http(s) URL without blanks (what Slack sends as response_url)."""
    if not isinstance(value, str) or not value or _BLANK_OR_CONTROL.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.netloc)


def response_url(body: Any) -> str | None:
    """The response_url Bolt's respond() would use for this payload, if it is a usable URL."""
    body = obj(body)
    if "response_url" in body:
        url = body["response_url"]
    else:
        urls = body.get("response_urls")
        url = obj(urls[0]).get("response_url") if isinstance(urls, list) and urls else None
    return url if is_url(url) else None


def metadata(view: Any) -> dict[str, Any]:
    """A modal's private_metadata as a JSON object ({} when missing, not JSON or not an object)."""
    raw = obj(view).get("private_metadata")
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def input_value(view: Any, block: str, action: str) -> dict[str, Any]:
    """One input's state in a submitted modal ({} when missing or malformed)."""
    values = obj(obj(obj(view).get("state")).get("values"))
    return obj(obj(values.get(block)).get(action))


def input_text(view: Any, block: str, action: str) -> str:
    """The text typed into a modal input, stripped ('' when missing or not text)."""
    return string(input_value(view, block, action).get("value")).strip()


def selected(view: Any, block: str, action: str) -> str | None:
    """The value of a select's chosen option (None when nothing valid was chosen)."""
    value = obj(input_value(view, block, action).get("selected_option")).get("value")
    return value if isinstance(value, str) else None


def selected_all(view: Any, block: str, action: str) -> list[str]:
    """The values of the chosen checkboxes (only well-formed options)."""
    options = input_value(view, block, action).get("selected_options")
    if not isinstance(options, list):
        return []
    return [v for o in options if isinstance(v := obj(o).get("value"), str)]


def api_error(exc: SlackApiError) -> str:
    """The error code of a failed Web API call (`http_500` when the answer was not Slack's JSON)."""
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else f"http_{exc.response.status_code}"


def without_nul(value: Any) -> Any:
    """The JSON value with every NUL character removed from its strings and keys (PostgreSQL cannot store
    NUL in text or jsonb, and no person means one)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value
