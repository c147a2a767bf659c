"""Pure business-time core of the SLA engine (no Slack, no database).

``parse_duration``/``format_duration`` handle targets such as ``"4h"`` or ``"1h30m"``;
``CalendarConfig`` validates a calendar (time zone, weekly hours, holidays, closed dates) and
``BusinessCalendar`` does the arithmetic: ``add``, ``between``, ``is_open``, ``next_open``,
``next_close``. Nothing here reads a clock: every function takes its instants explicitly.
Semantics are documented in ``docs/sla-time.md``.
"""

from __future__ import annotations

from bot.services.sla.calendar import (
    MAX_YEAR,
    MIN_YEAR,
    WEEKDAYS,
    BusinessCalendar,
    CalendarConfig,
    HolidaySpec,
    Period,
    WeeklyHours,
)
from bot.services.sla.durations import Duration, format_duration, parse_duration

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarConfig",
    "Duration",
    "HolidaySpec",
    "Period",
    "WeeklyHours",
    "format_duration",
    "parse_duration",
]
