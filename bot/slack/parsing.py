"""Parsing of slash command text: ticket keys, user mentions, the rest."""

from __future__ import annotations

import re

from bot.errors import UsageError
from bot.services.tickets import looks_like_key, parse_key
from bot.slack.text import clip, escape

_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
MAX_TEXT = 3000


def parse_ticket_key(text: str, prefix: str) -> int:
    """A ticket key a person typed ('SUP-42', '42', '#42'); a bad one gets an answer that quotes it escaped
    (no ping, link or formatting can come back from it)."""
    try:
        return parse_key(text, prefix)
    except UsageError:
        if looks_like_key(text):
            raise  # the right shape with another prefix: that answer names no user text
        shown = escape(clip(" ".join((text or "").split()).replace("`", "'"), 40))
        raise UsageError(f"`{shown}` is not a ticket key. Write it like {prefix}-42, 42 or #42.") from None


def split_key(text: str, prefix: str, usage: str) -> tuple[int | None, str]:
    """('SUP-42 rest of text') -> (42, 'rest of text'); no text -> (None, ''); a bad key -> UsageError."""
    text = (text or "").strip()
    if not text:
        return None, ""
    first, _, rest = text.partition(" ")
    try:
        return parse_ticket_key(first, prefix), rest.strip()[:MAX_TEXT]
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
