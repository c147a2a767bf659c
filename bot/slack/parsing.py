"""Parsing of slash command text: ticket keys, user mentions, the rest."""

from __future__ import annotations

import re

from bot.errors import UsageError
from bot.services.tickets import parse_key

_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
MAX_TEXT = 3000


def split_key(text: str, prefix: str, usage: str) -> tuple[int | None, str]:
    """('SUP-42 rest of text') -> (42, 'rest of text'); no text -> (None, ''); a bad key -> UsageError."""
    text = (text or "").strip()
    if not text:
        return None, ""
    first, _, rest = text.partition(" ")
    try:
        return parse_key(first, prefix), rest.strip()[:MAX_TEXT]
    except UsageError as exc:
        raise UsageError(f"{exc.message}\n{usage}") from None


def parse_user(text: str) -> str | None:
    """A user id from an escaped mention '<@U123|name>' (or a bare 'U123')."""
    text = (text or "").strip()
    match = _USER.match(text)
    if match:
        return match.group(1)
    if re.fullmatch(r"[UW][A-Z0-9]{2,}", text):
        return text
    return None
