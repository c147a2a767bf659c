"""Business calendars: opening hours, holidays and business-time arithmetic.

Definition (see ``docs/sla-time.md``): the calendar is *open* at an instant ``t`` when the wall
clock in the calendar's time zone shows, at ``t``, a date that is not closed (public holiday or
``closed_dates``) and a time inside one of that weekday's periods. Business time is the real
(physical) time that passes while the calendar is open. Consequences:

* ``09:00-17:00`` is 8 h on every day, DST days included (the switch happens at night);
* a period containing the spring-forward gap is shorter (``01:00-04:00`` is 2 h in Berlin on
  2026-03-29) and one containing the fall-back overlap is longer (4 h on 2026-10-25): wall-clock
  times that never happen are never open, repeated ones are open twice;
* ``"24x7"`` is exactly "every day 00:00-24:00", so it counts real elapsed time (23 h / 25 h days).

Internally every open interval is an integer number of microseconds since the Unix epoch; open
intervals are precomputed per UTC year with prefix sums, so ``add``/``between`` are a couple of
binary searches regardless of the amount.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarConfig",
    "HolidaySpec",
    "Period",
    "WeeklyHours",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_YEAR = 1900
"""First supported (UTC) year for calendar arithmetic."""
MAX_YEAR = 2999
"""Last supported (UTC) year for calendar arithmetic."""

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
_MINUTE_US = 60_000_000
_DAY_US = 86_400_000_000
_FULL_DAY = 24 * 60
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")
_SAMPLE_SECONDS = 6 * 3600  # UTC-offset sampling step when looking for DST transitions
_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})  # files in /usr/share/zoneinfo, not zones
_FAR = 1 << 62  # stands in for +-infinity in microsecond arithmetic


# --------------------------------------------------------------------------------------------
# Config model
# --------------------------------------------------------------------------------------------


def _hhmm(minutes: int) -> str:
    """Format minutes after midnight as HH:MM (1440 -> 24:00)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A wall-clock opening period within one day, in minutes after midnight: [start, end)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _parse_period(value: Any) -> Period:
    """Parse 'HH:MM-HH:MM' (end may be 24:00) into a Period; raise a pydantic error otherwise."""
    if isinstance(value, Period):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "sla_period", "expected a period string like '09:00-17:00', got {value}", {"value": repr(value)}
        )
    m = _PERIOD_RE.match(value)
    if m is None:
        raise PydanticCustomError(
            "sla_period",
            "{value} is not a period; use 'HH:MM-HH:MM', e.g. '09:00-17:00' or '13:00-24:00'",
            {"value": repr(value)},
        )
    sh, sm, eh, em = (int(g) for g in m.groups())
    if sm > 59 or em > 59 or sh > 24 or eh > 24 or (sh == 24 and sm) or (eh == 24 and em):
        raise PydanticCustomError(
            "sla_period",
            "{value} has an invalid time (use 00:00 to 23:59, or 24:00 as an end)",
            {"value": repr(value)},
        )
    start, end = sh * 60 + sm, eh * 60 + em
    if start == _FULL_DAY:
        raise PydanticCustomError(
            "sla_period", "{value} starts at 24:00; use 00:00 of the next day", {"value": repr(value)}
        )
    if end == start:
        raise PydanticCustomError(
            "sla_period", "{value} is empty (starts and ends at the same time)", {"value": repr(value)}
        )
    if end < start:
        raise PydanticCustomError(
            "sla_period",
            "{value} ends before it starts; for hours past midnight split it, e.g. '22:00-24:00' "
            "on one day and '00:00-06:00' on the next",
            {"value": repr(value)},
        )
    return Period(start, end)


PeriodField = Annotated[
    Period,
    PlainValidator(_parse_period),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$", "examples": ["09:00-17:00"]}
    ),
]


def _one_or_many(value: Any) -> Any:
    """Allow a single period string where a list is expected."""
    return (value,) if isinstance(value, str) else value


DayPeriods = Annotated[tuple[PeriodField, ...], BeforeValidator(_one_or_many)]

_FULL = (Period(0, _FULL_DAY),)


class WeeklyHours(BaseModel):
    """Opening periods per weekday; a missing weekday is closed. Accepts the string '24x7'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mon: DayPeriods = ()
    tue: DayPeriods = ()
    wed: DayPeriods = ()
    thu: DayPeriods = ()
    fri: DayPeriods = ()
    sat: DayPeriods = ()
    sun: DayPeriods = ()

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Any:
        """Expand '24x7' and reject unknown weekday keys with a helpful message."""
        if isinstance(value, str):
            if value.strip().lower() in ("24x7", "24/7"):
                return {day: ("00:00-24:00",) for day in WEEKDAYS}
            raise PydanticCustomError(
                "sla_hours",
                "hours must be '24x7' or a table of weekday periods such as mon = [\"09:00-17:00\"], got {value}",
                {"value": repr(value)},
            )
        if isinstance(value, Mapping):
            for key in value:
                if key not in WEEKDAYS:
                    raise PydanticCustomError(
                        "sla_hours",
                        "unknown weekday {key}; use mon, tue, wed, thu, fri, sat or sun",
                        {"key": repr(key)},
                    )
        return value

    @field_validator(*WEEKDAYS)
    @classmethod
    def _no_overlap(cls, periods: tuple[Period, ...]) -> tuple[Period, ...]:
        """Sort a day's periods and reject overlapping ones (touching periods are fine)."""
        ordered = tuple(sorted(periods))
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                raise PydanticCustomError(
                    "sla_hours", "periods {a} and {b} overlap", {"a": repr(str(a)), "b": repr(str(b))}
                )
        return ordered

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyHours:
        """A calendar must be open at some point of the week."""
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise PydanticCustomError(
                "sla_hours",
                "no opening hours on any day; use '24x7' or add periods such as mon = [\"09:00-17:00\"]",
            )
        return self

    @model_serializer(mode="plain")
    def _serialize(self) -> str | dict[str, list[str]]:
        """Dump as '24x7' or as {weekday: ['HH:MM-HH:MM', ...]} (closed days omitted)."""
        if self.is_24x7:
            return "24x7"
        return {day: [str(p) for p in getattr(self, day)] for day in WEEKDAYS if getattr(self, day)}

    @property
    def is_24x7(self) -> bool:
        """True when every weekday is open 00:00-24:00."""
        return all(getattr(self, day) == _FULL for day in WEEKDAYS)

    def for_weekday(self, weekday: int) -> tuple[Period, ...]:
        """Periods for ``date.weekday()`` (0 = Monday)."""
        return getattr(self, WEEKDAYS[weekday])


@lru_cache(maxsize=1)
def _tz_names() -> frozenset[str]:
    """All IANA zone names known to zoneinfo (used for suggestions only)."""
    return frozenset(available_timezones())


def _suggest(value: str, choices: list[str] | frozenset[str]) -> str:
    """'; did you mean ...?' for near misses, else ''."""
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.75)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class HolidaySpec(BaseModel):
    """Public holidays from the ``holidays`` library: ``{country = "DE", subdiv = "BY"}`` or ``"DE-BY"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str
    subdiv: str | None = None
    categories: tuple[str, ...] = ()
    """Extra holiday categories, e.g. ("public", "catholic"); empty means the library default (public)."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        """Accept 'DE' or 'DE-BY' (split at the first hyphen)."""
        if isinstance(value, str):
            country, sep, subdiv = value.strip().partition("-")
            return {"country": country, "subdiv": subdiv} if sep else {"country": country}
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        """Country must be supported by the holidays library."""
        code = value.strip().upper()
        supported = holidays_lib.list_supported_countries()
        if code not in supported:
            raise PydanticCustomError(
                "sla_holidays",
                "unknown holiday country {country}; use an ISO 3166-1 code such as 'DE', 'US' or 'GB'{hint}",
                {"country": repr(value), "hint": _suggest(code, list(supported))},
            )
        return code

    @field_validator("subdiv")
    @classmethod
    def _subdiv(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Subdivision must exist for the country (ISO 3166-2 code or a library alias such as 'Bayern')."""
        country = info.data.get("country")
        if value is None or country is None:
            return value
        subdivs = holidays_lib.list_supported_countries()[country]
        wanted = value.strip()
        canonical = {s.upper(): s for s in subdivs}.get(wanted.upper())
        if canonical is not None:
            return canonical
        if wanted:
            try:
                holidays_lib.country_holidays(country, subdiv=wanted)
                return wanted
            except NotImplementedError:
                pass
        if not subdivs:
            raise PydanticCustomError(
                "sla_holidays",
                "unknown subdivision {subdiv}: holiday country {country} has no subdivisions",
                {"subdiv": repr(value), "country": repr(country)},
            )
        raise PydanticCustomError(
            "sla_holidays",
            "unknown subdivision {subdiv} for holiday country {country}; valid: {valid}",
            {"subdiv": repr(value), "country": repr(country), "valid": ", ".join(subdivs)},
        )

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Categories must be supported for the country."""
        country = info.data.get("country")
        if not value or country is None:
            return value
        supported = holidays_lib.country_holidays(country).supported_categories
        for cat in value:
            if cat not in supported:
                raise PydanticCustomError(
                    "sla_holidays",
                    "unknown holiday category {category} for country {country}; valid: {valid}",
                    {"category": repr(cat), "country": repr(country), "valid": ", ".join(sorted(supported))},
                )
        return value

    def dates(self, year: int) -> frozenset[date]:
        """Holiday dates of one calendar year."""
        kwargs: dict[str, Any] = {"subdiv": self.subdiv, "years": year}
        if self.categories:
            kwargs["categories"] = self.categories
        return frozenset(holidays_lib.country_holidays(self.country, **kwargs).keys())


def _iso_date(value: Any) -> date:
    """Accept a date or an ISO 'YYYY-MM-DD' string (not a datetime, not a number)."""
    if isinstance(value, datetime):
        raise PydanticCustomError(
            "sla_date", "{value} is a datetime; give a date like '2026-12-24'", {"value": repr(value)}
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PydanticCustomError(
        "sla_date", "{value} is not an ISO date like '2026-12-24'", {"value": repr(value)}
    )


IsoDate = Annotated[date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]


class CalendarConfig(BaseModel):
    """Configuration of one business calendar (time zone, weekly hours, holidays, closed dates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    hours: WeeklyHours
    holidays: HolidaySpec | None = None
    closed_dates: tuple[IsoDate, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        """Time zone must be an IANA name zoneinfo knows."""
        try:
            if value in _NOT_IANA:
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise PydanticCustomError(
                "sla_timezone",
                "unknown time zone {tz}; use an IANA name such as 'Europe/Berlin' or 'America/New_York'{hint}",
                {"tz": repr(value), "hint": _suggest(value, _tz_names())},
            ) from None
        return value


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------


def _to_us(t: datetime, name: str) -> int:
    """Microseconds since the Unix epoch of an aware datetime; reject naive ones."""
    if not isinstance(t, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(t).__name__}")
    try:
        return (t - _EPOCH) // _ONE_US
    except TypeError:  # naive (no tzinfo, or a tzinfo whose utcoffset() is None)
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got naive {t.isoformat()}; "
            "use e.g. datetime.now(timezone.utc) or attach a ZoneInfo"
        ) from None


def _from_us(us: int) -> datetime:
    """Aware UTC datetime for microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def _amount_us(amount: timedelta) -> int:
    """Validate a non-negative timedelta and convert it to microseconds."""
    if not isinstance(amount, timedelta):
        raise TypeError(f"amount must be a timedelta, got {type(amount).__name__}")
    if amount < _ZERO:
        raise ValueError(f"amount must not be negative, got {amount}")
    return amount // _ONE_US


def _year_of(us: int) -> int:
    """UTC year of an instant, checked against the supported range."""
    try:
        instant = _from_us(us)
    except OverflowError:
        instant = None
    if instant is None or not MIN_YEAR <= instant.year <= MAX_YEAR:
        shown = instant.isoformat() if instant is not None else f"{us} microseconds after 1970"
        raise ValueError(f"{shown} is outside the supported years {MIN_YEAR}-{MAX_YEAR} (UTC)")
    return instant.year


def _year_start_us(year: int) -> int:
    """Microseconds since the epoch of Jan 1 00:00 UTC of ``year``."""
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_US


_END_US = _year_start_us(MAX_YEAR + 1)


@dataclass(slots=True)
class _Block:
    """Merged open intervals of one UTC year, with prefix sums of open time."""

    lo: int
    hi: int
    starts: list[int]
    ends: list[int]
    cum: list[int]  # open time before interval i (relative to the block start)
    cum_end: list[int]  # open time up to the end of interval i
    total: int

    def position(self, us: int) -> int:
        """Open time in [lo, us)."""
        i = bisect_right(self.ends, us)
        if i == len(self.ends):
            return self.total
        return self.cum[i] + max(0, us - self.starts[i])

    def instant_at(self, pos: int) -> int:
        """Earliest instant at which ``pos`` (0 < pos <= total) open time has elapsed since lo."""
        j = bisect_left(self.cum_end, pos)
        return self.starts[j] + (pos - self.cum[j])


class BusinessCalendar:
    """Business-time arithmetic for one calendar; all inputs/outputs are aware datetimes (outputs in UTC)."""

    __slots__ = ("_blocks", "_closed", "_extra_closed", "_last", "_real_time", "config", "tz")

    def __init__(self, config: CalendarConfig | Mapping[str, Any]) -> None:
        if not isinstance(config, CalendarConfig):
            config = CalendarConfig.model_validate(config)
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self._extra_closed = frozenset(config.closed_dates)
        self._real_time = config.hours.is_24x7 and config.holidays is None and not config.closed_dates
        self._blocks: dict[int, _Block] = {}
        self._closed: dict[int, frozenset[date]] = {}
        self._last: tuple[int, _Block] | None = None  # most recently located block: (year, block)

    @classmethod
    def always_open(cls, tz: str = "UTC") -> BusinessCalendar:
        """A 24x7 calendar without holidays: business time equals real elapsed time."""
        return cls(CalendarConfig.model_validate({"timezone": tz, "hours": "24x7"}))

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.config!r})"

    @property
    def is_always_open(self) -> bool:
        """True when the calendar never closes (24x7 without holidays or closed dates)."""
        return self._real_time

    # -- public arithmetic -------------------------------------------------------------------

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """Instant (UTC) at which ``amount`` of business time has elapsed after ``start``."""
        us = _to_us(start, "start")
        remaining = _amount_us(amount)
        if remaining == 0:
            return _from_us(us)
        if self._real_time:
            return self._checked(us + remaining)
        year, block = self._locate(us)
        pos = block.position(us)
        while True:
            available = block.total - pos
            if remaining <= available:
                return _from_us(block.instant_at(pos + remaining))
            remaining -= available
            year += 1
            if year > MAX_YEAR:
                raise OverflowError(f"adding {amount} to {start.isoformat()} goes beyond year {MAX_YEAR}")
            block = self._block(year)
            pos = 0

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Business time elapsed in [a, b); zero when b <= a."""
        ua, ub = _to_us(a, "a"), _to_us(b, "b")
        if ub <= ua:
            return timedelta(0)
        if self._real_time:
            return timedelta(microseconds=ub - ua)
        ya, block_a = self._locate(ua)
        yb, block_b = self._locate(ub)
        if ya == yb:
            return timedelta(microseconds=block_a.position(ub) - block_a.position(ua))
        total = block_a.total - block_a.position(ua)
        for year in range(ya + 1, yb):
            total += self._block(year).total
        total += block_b.position(ub)
        return timedelta(microseconds=total)

    def is_open(self, t: datetime) -> bool:
        """True when the calendar is open at ``t`` (periods are half-open: open at 09:00, closed at 17:00)."""
        us = _to_us(t, "t")
        if self._real_time:
            return True
        block = self._locate(us)[1]
        i = bisect_right(block.starts, us) - 1
        return i >= 0 and us < block.ends[i]

    def next_open(self, t: datetime) -> datetime:
        """``t`` (as UTC) if open, else the next opening instant."""
        us = _to_us(t, "t")
        if self._real_time:
            return _from_us(us)
        year, block = self._locate(us)
        i = bisect_right(block.ends, us)
        while i == len(block.starts):
            year += 1
            if year > MAX_YEAR:
                raise ValueError(f"calendar never opens after {t.isoformat()}")
            block, i = self._block(year), 0
        return _from_us(max(us, block.starts[i]))

    def next_close(self, t: datetime) -> datetime | None:
        """End of the open stretch containing ``t`` (or of the next one if closed); None if it never closes."""
        us = _to_us(t, "t")
        if self._real_time or self._open_forever_after(t):
            return None
        year, block = self._locate(us)
        limit = min(MAX_YEAR, year + 10)
        i = bisect_right(block.ends, us)
        while i == len(block.starts):
            year += 1
            if year > limit:
                return None
            block, i = self._block(year), 0
        end = block.ends[i]
        while end == block.hi:  # open across the UTC new year: the stretch may continue
            year += 1
            if year > limit:
                return None
            block = self._block(year)
            if not block.starts or block.starts[0] != end:
                break
            end = block.ends[0]
        return _from_us(end)

    def intervals(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """Open intervals (UTC) overlapping [a, b), clipped to it; adjacent pieces are merged."""
        ua, ub = _to_us(a, "a"), _to_us(b, "b")
        if ub <= ua:
            return []
        if self._real_time:
            return [(_from_us(ua), _from_us(ub))]
        out: list[tuple[int, int]] = []
        for year in range(_year_of(ua), _year_of(ub) + 1):
            block = self._block(year)
            for i in range(bisect_right(block.ends, ua), len(block.starts)):
                s, e = block.starts[i], block.ends[i]
                if s >= ub:
                    break
                s, e = max(s, ua), min(e, ub)
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
        return [(_from_us(s), _from_us(e)) for s, e in out]

    # -- internals ---------------------------------------------------------------------------

    def _checked(self, us: int) -> datetime:
        """Convert to datetime, enforcing the supported range."""
        if us >= _END_US:
            raise OverflowError(f"result is beyond year {MAX_YEAR}")
        return _from_us(us)

    def _open_forever_after(self, t: datetime) -> bool:
        """True for 24x7 hours without holidays once all closed dates are in the past."""
        if not self.config.hours.is_24x7 or self.config.holidays is not None:
            return False
        today = t.astimezone(self.tz).date()
        return all(d < today for d in self._extra_closed)

    def _closed_dates(self, year: int) -> frozenset[date]:
        """Closed dates (holidays + closed_dates) of one local calendar year, cached."""
        closed = self._closed.get(year)
        if closed is None:
            spec = self.config.holidays
            base = spec.dates(year) if spec is not None else frozenset()
            closed = base | {d for d in self._extra_closed if d.year == year}
            self._closed[year] = closed
        return closed

    def _locate(self, us: int) -> tuple[int, _Block]:
        """(UTC year, block) containing the instant ``us``; remembers the last hit."""
        last = self._last
        if last is not None and last[1].lo <= us < last[1].hi:
            return last
        year = _year_of(us)
        found = (year, self._block(year))
        self._last = found
        return found

    def _block(self, year: int) -> _Block:
        """Open intervals of one UTC year, built on first use."""
        block = self._blocks.get(year)
        if block is None:
            block = self._build_block(year)
            self._blocks[year] = block
        return block

    def _build_block(self, year: int) -> _Block:
        """Compute the merged open intervals intersecting UTC year ``year``."""
        lo, hi = _year_start_us(year), _year_start_us(year + 1)
        # Local dates whose instants can reach into [lo, hi): UTC offsets are within +-26 h.
        first = date(year, 1, 1) - timedelta(days=2)
        last = date(year + 1, 1, 1) + timedelta(days=1)
        segments = _offset_segments(self.tz, lo - 3 * _DAY_US, hi + 3 * _DAY_US)
        hours = self.config.hours
        raw: list[tuple[int, int]] = []
        day = first
        while day <= last:
            periods = hours.for_weekday(day.weekday())
            if periods and day not in self._closed_dates(day.year):
                midnight = (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US  # local midnight as if UTC
                for period in periods:
                    wall_start = midnight + period.start * _MINUTE_US
                    wall_end = midnight + period.end * _MINUTE_US
                    for seg_start, seg_end, offset in segments:
                        s = max(wall_start - offset, seg_start, lo)
                        e = min(wall_end - offset, seg_end, hi)
                        if s < e:
                            raw.append((s, e))
            day += timedelta(days=1)
        raw.sort()
        starts: list[int] = []
        ends: list[int] = []
        for s, e in raw:
            if ends and s <= ends[-1]:
                if e > ends[-1]:
                    ends[-1] = e
            else:
                starts.append(s)
                ends.append(e)
        cum: list[int] = []
        cum_end: list[int] = []
        total = 0
        for s, e in zip(starts, ends, strict=True):
            cum.append(total)
            total += e - s
            cum_end.append(total)
        return _Block(lo, hi, starts, ends, cum, cum_end, total)


def _offset_us(tz: ZoneInfo, second: int) -> int:
    """UTC offset of ``tz`` at a POSIX second, in microseconds."""
    offset = datetime.fromtimestamp(second, tz).utcoffset()
    assert offset is not None
    return offset // _ONE_US


def _offset_segments(tz: ZoneInfo, lo_us: int, hi_us: int) -> list[tuple[int, int, int]]:
    """Constant-UTC-offset stretches covering [lo_us, hi_us) as (start, end, offset_us).

    Offsets are sampled every 6 hours and transitions located to the second by bisection; the
    first stretch starts at -_FAR and the last ends at +_FAR so callers need no special cases.
    Assumes at most one offset change within any 6-hour window (true for all of tzdata).
    """
    lo_s, hi_s = lo_us // 1_000_000, hi_us // 1_000_000
    transitions: list[tuple[int, int]] = []
    prev_s, prev_off = lo_s, _offset_us(tz, lo_s)
    first_off = prev_off
    s = lo_s
    while s < hi_s:
        s = min(s + _SAMPLE_SECONDS, hi_s)
        off = _offset_us(tz, s)
        if off != prev_off:
            a, b = prev_s, s  # offset(a) == prev_off != offset(b)
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_us(tz, mid) == prev_off:
                    a = mid
                else:
                    b = mid
            transitions.append((b * 1_000_000, _offset_us(tz, b)))
        prev_s, prev_off = s, off
    segments: list[tuple[int, int, int]] = []
    start, offset = -_FAR, first_off
    for t_us, t_off in transitions:
        segments.append((start, t_us, offset))
        start, offset = t_us, t_off
    segments.append((start, _FAR, offset))
    return segments
