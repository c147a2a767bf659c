"""Safe text for Slack: escaping user input for mrkdwn, and trimming to Slack's limits."""

from __future__ import annotations

import re

_BROADCAST_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SPECIAL_MENTION = re.compile(r"<(!(?:channel|here|everyone|subteam\^)[^<>]*)>", re.IGNORECASE)


def escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot ping (<!channel>, <@U…>) or spoof links (<url|label>)."""
    text = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Slack only links @channel etc. with link_names, but never let a literal one look like a ping.
    return _BROADCAST_WORDS.sub(lambda m: "@\u2060" + m.group(1), text)


def clip(text: str, limit: int, marker: str = "…") -> str:
    """Cut text to at most `limit` characters, marking the cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker


def quote(text: str, limit: int = 2900) -> str:
    """Escaped, clipped text as a mrkdwn block quote."""
    body = clip(escape(text.strip()), limit - 2 * (text.count("\n") + 1) - 20)
    return "\n".join("> " + line if line else ">" for line in body.split("\n"))


def plain(text: str, limit: int) -> str:
    """Text for plain_text objects: single-line, clipped, with angle brackets that can never form a ping."""
    text = " ".join((text or "").split()).replace("<", "‹").replace(">", "›")
    return clip(text, limit)


def prefill(text: str, limit: int) -> str:
    """User text as the initial value of a modal's input: kept as written (line breaks, links, user mentions:
    it is edited and sent on), but a broadcast or group mention can never form from it (‹!channel›)."""
    return clip(_SPECIAL_MENTION.sub(lambda m: "‹" + m.group(1) + "›", text or ""), limit)


def slack_date(ts: float, fmt: str = "{date_short_pretty} {time}", fallback: str = "") -> str:
    """A date Slack renders in each viewer's own time zone."""
    return f"<!date^{int(ts)}^{fmt}|{fallback or 'time'}>"


def mention(user_id: str) -> str:
    """A user mention."""
    return f"<@{user_id}>"


def ping(target: str) -> str:
    """A mention of a user (U…/W…) or a user group (S…)."""
    return f"<!subteam^{target}>" if target.startswith("S") else f"<@{target}>"
