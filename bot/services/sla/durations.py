"""Parse and format SLA durations such as ``15m``, ``4h``, ``1h30m`` or ``2d``.

Units are ``d`` (24 hours), ``h`` and ``m``; long forms (``day``/``days``, ``hr``/``hour``/``hours``,
``min``/``mins``/``minute``/``minutes``) are accepted too. Parsing is case-insensitive and tolerates
whitespace (``"1d 4h"``, ``"1 h 30 m"``). Each unit may appear once, in any order.

A ``d`` is always 24 hours of *counted* time: on a 09:00-17:00 calendar ``1d`` is three business
days. Because that is rarely what a support lead means, callers parsing targets for a calendar
that is not 24x7 should pass ``allow_days=False`` so ``2d`` is rejected with a hint to write hours
(``16h`` = two 8-hour business days). See ``docs/sla-time.md``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

__all__ = ["Duration", "format_duration", "parse_duration"]

_EXAMPLES = "valid examples: '15m', '4h', '1h30m', '2d', '1d 4h'"
_EXAMPLES_NO_DAYS = "valid examples: '15m', '4h', '1h30m', '16h'"

_UNITS: dict[str, str] = {
    "d": "d",
    "day": "d",
    "days": "d",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
}
_UNIT_SIZE: dict[str, timedelta] = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_TOKEN = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*")
_MAX = timedelta(days=36_500)  # 100 years: far beyond any SLA, well inside datetime's range


def parse_duration(text: str, *, allow_days: bool = True) -> timedelta:
    """Parse a positive duration like '15m', '4h', '1h30m' or '2d' (d = 24 h); raise ValueError."""
    examples = _EXAMPLES if allow_days else _EXAMPLES_NO_DAYS
    if not isinstance(text, str):
        raise ValueError(
            f"duration must be a string such as '4h', got {type(text).__name__} {text!r}; {examples}"
        )
    raw = text
    s = text.strip().lower()
    if not s:
        raise ValueError(f"duration is empty; {examples}")
    if s.startswith("-"):
        raise ValueError(f"duration {raw!r} is negative; it must be greater than zero; {examples}")
    if s.startswith("+"):
        s = s[1:]
    pos = 0
    seen: set[str] = set()
    total = timedelta(0)
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise ValueError(_garbage_message(raw, s, pos, examples))
        number, word = m.group(1), m.group(2)
        unit = _UNITS.get(word)
        if unit is None:
            units = "d, h or m" if allow_days else "h or m"
            raise ValueError(f"duration {raw!r} has unknown unit {word!r}; use {units}; {examples}")
        if unit == "d" and not allow_days:
            raise ValueError(
                f"duration {raw!r} uses days, which are ambiguous on a business-hours calendar "
                f"('1d' would mean 24 business hours, three days on 09:00-17:00); "
                f"write hours instead, e.g. '16h' for two 8-hour business days; {examples}"
            )
        if unit in seen:
            raise ValueError(f"duration {raw!r} repeats the unit {unit!r}; {examples}")
        seen.add(unit)
        if len(number) > 9:
            raise ValueError(f"duration {raw!r} is too large (at most {format_duration(_MAX)}); {examples}")
        total += int(number) * _UNIT_SIZE[unit]
        pos = m.end()
    if total <= timedelta(0):
        raise ValueError(f"duration {raw!r} is zero; it must be greater than zero; {examples}")
    if total > _MAX:
        raise ValueError(f"duration {raw!r} is too large (at most {format_duration(_MAX)}); {examples}")
    return total


def _garbage_message(raw: str, s: str, pos: int, examples: str) -> str:
    """Explain why the text at ``pos`` is not a ``<number><unit>`` token."""
    rest = s[pos:].strip()
    if re.fullmatch(r"[0-9]+", rest):
        return f"duration {raw!r} has a number without a unit ({rest!r}); add d, h or m; {examples}"
    if re.match(r"[0-9]+[.,][0-9]", rest):
        return f"duration {raw!r} has a decimal number; use whole units, e.g. '1h30m' instead of '1.5h'; {examples}"
    if re.match(r"-", rest):
        return f"duration {raw!r} has a negative part; {examples}"
    return f"duration {raw!r} is not a duration (unexpected {rest[:10]!r}); {examples}"


def format_duration(td: timedelta, *, use_days: bool = True) -> str:
    """Format a timedelta compactly for humans, e.g. '1d 4h', '45m', '-2h 5m' (seconds are dropped)."""
    if not isinstance(td, timedelta):
        raise TypeError(f"format_duration expects a timedelta, got {type(td).__name__}")
    sign = "-" if td < timedelta(0) else ""
    minutes = abs(td) // timedelta(minutes=1)
    if minutes == 0:
        return "0m" if td == timedelta(0) else f"{sign}<1m"
    days, rest = divmod(minutes, 24 * 60) if use_days else (0, minutes)
    hours, mins = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (mins, "m")) if v]
    return sign + " ".join(parts)


def _validate_duration(value: Any) -> timedelta:
    """Pydantic hook: accept a duration string or a positive timedelta."""
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise PydanticCustomError(
                "sla_duration", "duration must be greater than zero; {examples}", {"examples": _EXAMPLES}
            )
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError(
            "sla_duration",
            "duration must be a string with a unit, got {value}; {examples}",
            {"value": repr(value), "examples": _EXAMPLES},
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("sla_duration", "{reason}", {"reason": str(exc)}) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""Pydantic field type for SLA targets: ``reaction: Duration`` accepts ``"15m"`` and names the key on errors."""
