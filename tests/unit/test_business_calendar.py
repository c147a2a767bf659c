"""Tests for CalendarConfig validation and BusinessCalendar business-time arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.services.sla import BusinessCalendar, CalendarConfig, HolidaySpec, Period

# holidays warns when asked for years it has no data for (e.g. India after 2035); that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Requested Holidays are available only:UserWarning")

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
US = timedelta(microseconds=1)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WORKDAYS, "sat", "sun")
NINE_TO_FIVE = {day: ["09:00-17:00"] for day in WORKDAYS}
LUNCH = {day: ["09:00-12:00", "13:00-17:00"] for day in WORKDAYS}


def cfg(tz: str = "Europe/Berlin", hours: Any = None, **extra: Any) -> CalendarConfig:
    """Validated CalendarConfig (default: Berlin, Mon-Fri 09:00-17:00)."""
    return CalendarConfig.model_validate(
        {"timezone": tz, "hours": NINE_TO_FIVE if hours is None else hours, **extra}
    )


def cal(tz: str = "Europe/Berlin", hours: Any = None, **extra: Any) -> BusinessCalendar:
    """BusinessCalendar for ``cfg(...)``."""
    return BusinessCalendar(cfg(tz, hours, **extra))


def b(*args: int, fold: int = 0) -> datetime:
    """Berlin wall-clock datetime."""
    return datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def ny(*args: int, fold: int = 0) -> datetime:
    """New York wall-clock datetime."""
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)  # type: ignore[misc]


def u(*args: int) -> datetime:
    """UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def assert_utc(result: datetime, expected: datetime) -> None:
    """Same instant, and the result is an aware UTC datetime."""
    assert result.tzinfo is UTC
    assert result == expected.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Concrete cases
# --------------------------------------------------------------------------------------------

OFFICE = cal()
OFFICE_BY = cal(holidays="DE-BY")
OFFICE_BE = cal(holidays={"country": "DE", "subdiv": "BE"})
LUNCH_CAL = cal(hours=LUNCH)
NY_OFFICE = cal("America/New_York", holidays="US")


class TestWeekends:
    def test_friday_afternoon_plus_two_hours_is_monday_ten(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 20, 16), 2 * H), b(2026, 3, 23, 10))

    def test_between_across_weekend(self) -> None:
        assert OFFICE.between(b(2026, 3, 20, 16), b(2026, 3, 23, 10)) == 2 * H

    def test_full_week(self) -> None:
        assert OFFICE.between(b(2026, 3, 16), b(2026, 3, 23)) == 40 * H
        assert_utc(OFFICE.add(b(2026, 3, 16, 9), 40 * H), b(2026, 3, 20, 17))

    def test_ticket_created_saturday_night(self) -> None:
        created = b(2026, 3, 21, 3)
        assert not OFFICE.is_open(created)
        assert_utc(OFFICE.add(created, H), b(2026, 3, 23, 10))
        assert OFFICE.between(created, b(2026, 3, 23, 9)) == timedelta(0)
        assert OFFICE.between(created, b(2026, 3, 23, 9, 15)) == 15 * M
        assert_utc(OFFICE.next_open(created), b(2026, 3, 23, 9))
        assert_utc(OFFICE.next_close(created), b(2026, 3, 23, 17))


class TestBoundaries:
    def test_open_at_opening_closed_at_closing(self) -> None:
        assert OFFICE.is_open(b(2026, 3, 23, 9))
        assert not OFFICE.is_open(b(2026, 3, 23, 8, 59, 59, 999999))
        assert OFFICE.is_open(b(2026, 3, 23, 16, 59, 59, 999999))
        assert not OFFICE.is_open(b(2026, 3, 23, 17))

    def test_deadline_exactly_at_closing_is_the_closing_instant(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 20, 16), H), b(2026, 3, 20, 17))
        assert_utc(OFFICE.add(b(2026, 3, 23, 9), 8 * H), b(2026, 3, 23, 17))

    def test_starting_exactly_at_closing_continues_next_opening(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 20, 17), H), b(2026, 3, 23, 10))
        assert_utc(OFFICE.add(b(2026, 3, 23, 17), 30 * M), b(2026, 3, 24, 9, 30))

    def test_starting_exactly_at_opening(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 23, 9), H), b(2026, 3, 23, 10))
        assert_utc(OFFICE.add(b(2026, 3, 23, 8, 59), H), b(2026, 3, 23, 10))

    def test_zero_amount_returns_start_even_when_closed(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 21, 3), timedelta(0)), b(2026, 3, 21, 3))
        assert_utc(OFFICE.add(b(2026, 3, 23, 10), timedelta(0)), b(2026, 3, 23, 10))

    def test_next_open_and_close_at_boundaries(self) -> None:
        assert_utc(OFFICE.next_open(b(2026, 3, 23, 9)), b(2026, 3, 23, 9))
        assert_utc(OFFICE.next_open(b(2026, 3, 23, 12)), b(2026, 3, 23, 12))
        assert_utc(OFFICE.next_open(b(2026, 3, 23, 17)), b(2026, 3, 24, 9))
        assert_utc(OFFICE.next_close(b(2026, 3, 23, 9)), b(2026, 3, 23, 17))
        assert_utc(OFFICE.next_close(b(2026, 3, 23, 16, 59)), b(2026, 3, 23, 17))
        assert_utc(OFFICE.next_close(b(2026, 3, 23, 17)), b(2026, 3, 24, 17))
        assert_utc(OFFICE.next_close(b(2026, 3, 20, 17)), b(2026, 3, 23, 17))


class TestAmounts:
    def test_one_microsecond(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 23, 9), US), b(2026, 3, 23, 9, 0, 0, 1))
        assert_utc(OFFICE.add(b(2026, 3, 20, 17), US), b(2026, 3, 23, 9, 0, 0, 1))
        assert OFFICE.between(b(2026, 3, 23, 16, 59, 59, 999999), b(2026, 3, 24, 9)) == US

    def test_seconds_across_closing(self) -> None:
        assert_utc(OFFICE.add(b(2026, 3, 23, 16, 59, 59), S), b(2026, 3, 23, 17))
        assert_utc(OFFICE.add(b(2026, 3, 23, 16, 59, 59), 2 * S), b(2026, 3, 24, 9, 0, 1))

    def test_thirty_days_of_business_time_is_ninety_business_days(self) -> None:
        # d = 24 h of counted time: 720 h / 8 h = 90 business days = exactly 18 weeks.
        assert_utc(OFFICE.add(b(2026, 1, 5, 9), 30 * D), b(2026, 5, 8, 17))
        assert OFFICE.between(b(2026, 1, 5, 9), b(2026, 5, 8, 17)) == 30 * D

    def test_thirty_days_with_bavarian_holidays(self) -> None:
        # Four weekday holidays fall inside the 18 weeks (Jan 6, Apr 3, Apr 6, May 1), so the 90th
        # business day moves from Fri May 8 to May 11, 12, 13, (Thu May 14 is Ascension), Fri May 15.
        assert_utc(OFFICE_BY.add(b(2026, 1, 5, 9), 30 * D), b(2026, 5, 15, 17))

    def test_years_of_business_time(self) -> None:
        start = b(2025, 6, 2, 9)
        end = OFFICE.add(start, 1000 * D)
        assert OFFICE.between(start, end) == 1000 * D
        assert end.astimezone(BERLIN).time().hour in range(9, 18)

    def test_between_two_calendar_years_counts_weekdays(self) -> None:
        weekdays = sum(1 for n in range(730) if (date(2025, 1, 1) + timedelta(days=n)).weekday() < 5)
        assert weekdays == 522
        assert OFFICE.between(b(2025, 1, 1), b(2027, 1, 1)) == weekdays * 8 * H

    def test_new_year_across_utc_boundary(self) -> None:
        # 2025-12-31 16:00 Berlin = 15:00 UTC; Jan 1 is a holiday, Jan 2 2026 is a Friday.
        assert_utc(OFFICE_BY.add(b(2025, 12, 31, 16), 2 * H), b(2026, 1, 2, 10))
        assert OFFICE_BY.between(b(2025, 12, 31, 16), b(2026, 1, 2, 10)) == 2 * H


class TestHolidays:
    def test_german_unity_day_on_a_friday_2025(self) -> None:
        de = cal(holidays="DE")
        assert not de.is_open(b(2025, 10, 3, 10))
        assert_utc(de.add(b(2025, 10, 2, 16), 2 * H), b(2025, 10, 6, 10))
        assert de.between(b(2025, 10, 2, 16), b(2025, 10, 6, 10)) == 2 * H

    def test_german_unity_day_on_a_saturday_2026_changes_nothing(self) -> None:
        de = cal(holidays="DE")
        assert_utc(de.add(b(2026, 10, 2, 16), 2 * H), b(2026, 10, 5, 10))

    def test_epiphany_closed_in_bavaria_open_in_berlin(self) -> None:
        assert not OFFICE_BY.is_open(b(2026, 1, 6, 10))
        assert OFFICE_BE.is_open(b(2026, 1, 6, 10))
        assert_utc(OFFICE_BY.add(b(2026, 1, 5, 16), 2 * H), b(2026, 1, 7, 10))
        assert_utc(OFFICE_BE.add(b(2026, 1, 5, 16), 2 * H), b(2026, 1, 6, 10))
        assert OFFICE_BY.between(b(2026, 1, 5), b(2026, 1, 8)) == 16 * H
        assert OFFICE_BE.between(b(2026, 1, 5), b(2026, 1, 8)) == 24 * H
        assert_utc(OFFICE_BY.next_open(b(2026, 1, 5, 18)), b(2026, 1, 7, 9))

    def test_subdivision_alias_and_catholic_category(self) -> None:
        # Assumption Day (Aug 15) is only a holiday in Catholic Bavarian municipalities.
        public = cal(hours="24x7", holidays={"country": "DE", "subdiv": "Bayern"})
        catholic = cal(
            hours="24x7", holidays={"country": "DE", "subdiv": "BY", "categories": ["public", "catholic"]}
        )
        assert public.is_open(b(2025, 8, 15, 12))
        assert not catholic.is_open(b(2025, 8, 15, 12))

    def test_us_holidays_in_new_york(self) -> None:
        # Thanksgiving is a federal holiday; the day after is not (only in some states).
        assert not NY_OFFICE.is_open(ny(2026, 11, 26, 10))
        assert NY_OFFICE.is_open(ny(2026, 11, 27, 10))
        # Independence Day 2026 is a Saturday, observed on Friday July 3.
        assert not NY_OFFICE.is_open(ny(2026, 7, 3, 10))
        assert_utc(NY_OFFICE.add(ny(2026, 7, 2, 16), 2 * H), ny(2026, 7, 6, 10))

    def test_extra_closed_date(self) -> None:
        xmas = cal(holidays="DE-BY", closed_dates=["2026-12-24"])
        assert not xmas.is_open(b(2026, 12, 24, 10))
        assert OFFICE_BY.is_open(b(2026, 12, 24, 10))
        # Dec 24 closed (extra), 25 + 26 holidays, 27 Sunday.
        assert_utc(xmas.add(b(2026, 12, 23, 16), 2 * H), b(2026, 12, 28, 10))
        assert_utc(OFFICE_BY.add(b(2026, 12, 23, 16), 2 * H), b(2026, 12, 24, 10))
        assert xmas.between(b(2026, 12, 21), b(2026, 12, 28)) == 3 * 8 * H

    def test_holiday_on_24x7_calendar_closes_whole_local_day(self) -> None:
        support = cal(hours="24x7", holidays="DE")
        assert_utc(support.next_close(b(2025, 10, 1, 12)), b(2025, 10, 3))
        assert_utc(support.next_open(b(2025, 10, 3, 12)), b(2025, 10, 4))
        assert support.between(b(2025, 10, 2), b(2025, 10, 5)) == 48 * H

    def test_next_close_of_24x7_continues_across_utc_new_year(self) -> None:
        support = cal(hours="24x7", closed_dates=["2027-01-05"])
        assert_utc(support.next_close(b(2026, 12, 30)), b(2027, 1, 5))
        assert support.next_close(b(2027, 1, 6)) is None


class TestLunchBreak:
    def test_add_skips_lunch(self) -> None:
        assert_utc(LUNCH_CAL.add(b(2026, 3, 23, 11), 2 * H), b(2026, 3, 23, 14))
        assert_utc(LUNCH_CAL.add(b(2026, 3, 23, 11), H), b(2026, 3, 23, 12))
        assert_utc(LUNCH_CAL.add(b(2026, 3, 23, 12), H), b(2026, 3, 23, 14))
        assert_utc(LUNCH_CAL.add(b(2026, 3, 23, 12, 30), 30 * M), b(2026, 3, 23, 13, 30))

    def test_between_and_is_open_around_lunch(self) -> None:
        assert LUNCH_CAL.between(b(2026, 3, 23, 11, 30), b(2026, 3, 23, 13, 30)) == H
        assert LUNCH_CAL.between(b(2026, 3, 23), b(2026, 3, 24)) == 7 * H
        assert not LUNCH_CAL.is_open(b(2026, 3, 23, 12))
        assert LUNCH_CAL.is_open(b(2026, 3, 23, 13))
        assert_utc(LUNCH_CAL.next_close(b(2026, 3, 23, 10)), b(2026, 3, 23, 12))
        assert_utc(LUNCH_CAL.next_open(b(2026, 3, 23, 12, 15)), b(2026, 3, 23, 13))

    def test_intervals_of_a_day(self) -> None:
        got = LUNCH_CAL.intervals(b(2026, 3, 23), b(2026, 3, 24))
        assert got == [(b(2026, 3, 23, 9), b(2026, 3, 23, 12)), (b(2026, 3, 23, 13), b(2026, 3, 23, 17))]
        assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in got)
        assert LUNCH_CAL.intervals(b(2026, 3, 23, 10), b(2026, 3, 23, 14)) == [
            (b(2026, 3, 23, 10), b(2026, 3, 23, 12)),
            (b(2026, 3, 23, 13), b(2026, 3, 23, 14)),
        ]
        assert LUNCH_CAL.intervals(b(2026, 3, 24), b(2026, 3, 23)) == []

    def test_touching_periods_merge(self) -> None:
        split = cal(hours={"mon": ["09:00-12:00", "12:00-17:00"]})
        assert split.intervals(b(2026, 3, 23), b(2026, 3, 24)) == [(b(2026, 3, 23, 9), b(2026, 3, 23, 17))]
        assert_utc(split.next_close(b(2026, 3, 23, 10)), b(2026, 3, 23, 17))

    def test_overnight_shift_split_across_days(self) -> None:
        night = cal(hours={"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]})
        assert night.between(b(2026, 3, 23), b(2026, 3, 25)) == 8 * H
        assert_utc(night.next_close(b(2026, 3, 23, 23)), b(2026, 3, 24, 6))
        assert_utc(night.add(b(2026, 3, 23, 23), 2 * H), b(2026, 3, 24, 1))


class TestDaylightSavingBusinessHours:
    SEVEN_DAY = {day: ["09:00-17:00"] for day in ALL_DAYS}

    @pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
    def test_nine_to_five_is_eight_hours_on_dst_days_berlin(self, day: date) -> None:
        seven = cal("Europe/Berlin", hours=self.SEVEN_DAY)
        start = datetime.combine(day, datetime.min.time(), BERLIN)
        assert seven.between(start, start.replace(day=day.day + 1)) == 8 * H
        assert_utc(seven.add(start, 8 * H), start.replace(hour=17))

    @pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)])
    def test_nine_to_five_is_eight_hours_on_dst_days_new_york(self, day: date) -> None:
        seven = cal("America/New_York", hours=self.SEVEN_DAY)
        start = datetime.combine(day, datetime.min.time(), NEW_YORK)
        assert seven.between(start, start.replace(day=day.day + 1)) == 8 * H
        assert_utc(seven.add(start, H), start.replace(hour=10))

    def test_berlin_weekend_with_spring_forward(self) -> None:
        # Fri 16:00 CET = 15:00 UTC; Mon 10:00 CEST = 08:00 UTC: 65 real hours, 2 business hours.
        result = OFFICE.add(b(2026, 3, 27, 16), 2 * H)
        assert_utc(result, u(2026, 3, 30, 8))
        assert result - b(2026, 3, 27, 16) == 65 * H

    def test_berlin_weekend_with_fall_back(self) -> None:
        assert_utc(OFFICE.add(b(2026, 10, 23, 16), 2 * H), u(2026, 10, 26, 9))

    def test_new_york_weekend_with_spring_forward_and_fall_back(self) -> None:
        us_office = cal("America/New_York")
        assert_utc(us_office.add(ny(2026, 3, 6, 16), 2 * H), u(2026, 3, 9, 14))
        assert_utc(us_office.add(ny(2026, 10, 30, 16), 2 * H), u(2026, 11, 2, 15))
        assert us_office.between(ny(2026, 3, 2), ny(2026, 3, 16)) == 80 * H
        assert us_office.between(ny(2026, 10, 26), ny(2026, 11, 9)) == 80 * H

    def test_berlin_calendar_with_times_given_in_other_zones(self) -> None:
        assert_utc(OFFICE.add(ny(2026, 3, 20, 11), 2 * H), b(2026, 3, 23, 10))  # 11:00 NY = 16:00 Berlin
        assert_utc(OFFICE.add(u(2026, 3, 20, 15), 2 * H), b(2026, 3, 23, 10))


class TestDaylightSavingRealTime:
    @pytest.mark.parametrize(
        ("tz", "day", "length"),
        [
            (BERLIN, date(2026, 3, 29), 23 * H),
            (BERLIN, date(2026, 10, 25), 25 * H),
            (BERLIN, date(2026, 6, 1), 24 * H),
            (NEW_YORK, date(2026, 3, 8), 23 * H),
            (NEW_YORK, date(2026, 11, 1), 25 * H),
        ],
    )
    def test_24x7_counts_real_elapsed_time(self, tz: ZoneInfo, day: date, length: timedelta) -> None:
        start = datetime.combine(day, datetime.min.time(), tz)
        end = datetime.combine(day + D, datetime.min.time(), tz)
        always = BusinessCalendar.always_open(str(tz))
        general = cal(str(tz), hours="24x7", closed_dates=["2999-01-01"])  # no fast path
        explicit = cal(str(tz), hours={d: ["00:00-24:00"] for d in ALL_DAYS}, closed_dates=["2999-01-01"])
        for calendar in (always, general, explicit):
            assert calendar.between(start, end) == length
            assert_utc(calendar.add(start, length), end)
            assert calendar.intervals(start, end) == [(start, end)]

    def test_24x7_add_is_plain_addition_across_dst(self) -> None:
        general = cal("Europe/Berlin", hours="24x7", closed_dates=["2999-01-01"])
        assert_utc(general.add(b(2026, 3, 28, 12), 24 * H), b(2026, 3, 29, 13))
        assert_utc(general.add(b(2026, 10, 24, 12), 24 * H), b(2026, 10, 25, 11))

    def test_always_open_properties(self) -> None:
        always = BusinessCalendar.always_open("Europe/Berlin")
        assert always.is_always_open
        assert always.is_open(b(2026, 12, 25, 3))
        assert_utc(always.next_open(b(2026, 12, 25, 3)), b(2026, 12, 25, 3))
        assert always.next_close(b(2026, 12, 25, 3)) is None
        assert not cal(hours="24x7", holidays="DE").is_always_open
        assert BusinessCalendar.always_open().tz == ZoneInfo("UTC")


class TestPeriodsContainingTheTransition:
    """Open iff the wall clock shows an open time: skipped wall time never counts, repeated time counts twice."""

    NIGHT = cal(hours={"sun": ["01:00-04:00"]})
    GAP = cal(hours={"sun": ["02:30-02:45"]})
    NY_NIGHT = cal("America/New_York", hours={"sun": ["01:00-02:00", "02:00-03:00"]})

    def test_spring_forward_period_is_shorter(self) -> None:
        assert self.NIGHT.between(b(2026, 3, 29), b(2026, 3, 30)) == 2 * H
        assert self.NIGHT.intervals(b(2026, 3, 29), b(2026, 3, 30)) == [
            (u(2026, 3, 29, 0), u(2026, 3, 29, 2))
        ]
        # 01:30 CET + 1 h of real time = 03:30 CEST.
        assert_utc(self.NIGHT.add(b(2026, 3, 29, 1, 30), H), b(2026, 3, 29, 3, 30))
        assert self.NIGHT.is_open(b(2026, 3, 29, 3, 0))

    def test_fall_back_period_is_longer(self) -> None:
        assert self.NIGHT.between(b(2026, 10, 25), b(2026, 10, 26)) == 4 * H
        assert self.NIGHT.between(b(2026, 10, 18), b(2026, 10, 19)) == 3 * H
        # 02:30 CEST (first pass) + 1 h = 02:30 CET (second pass).
        result = self.NIGHT.add(b(2026, 10, 25, 2, 30, fold=0), H)
        assert_utc(result, u(2026, 10, 25, 1, 30))
        assert result.astimezone(BERLIN).fold == 1

    def test_period_inside_the_gap_never_opens_that_day(self) -> None:
        assert self.GAP.between(b(2026, 3, 28), b(2026, 3, 30)) == timedelta(0)
        assert_utc(self.GAP.next_open(b(2026, 3, 29)), b(2026, 4, 5, 2, 30))
        assert_utc(self.GAP.add(b(2026, 3, 28), 15 * M), b(2026, 4, 5, 2, 45))

    def test_period_inside_the_overlap_opens_twice(self) -> None:
        assert self.GAP.between(b(2026, 10, 25), b(2026, 10, 26)) == 30 * M
        assert self.GAP.intervals(b(2026, 10, 25), b(2026, 10, 26)) == [
            (u(2026, 10, 25, 0, 30), u(2026, 10, 25, 0, 45)),
            (u(2026, 10, 25, 1, 30), u(2026, 10, 25, 1, 45)),
        ]
        assert_utc(self.GAP.next_close(b(2026, 10, 25, 2, 40, fold=0)), b(2026, 10, 25, 2, 45, fold=0))
        assert_utc(self.GAP.next_open(b(2026, 10, 25, 2, 50, fold=0)), b(2026, 10, 25, 2, 30, fold=1))
        assert_utc(self.GAP.add(b(2026, 10, 25, 2, 40, fold=0), 10 * M), b(2026, 10, 25, 2, 35, fold=1))

    def test_new_york_repeated_and_skipped_hours(self) -> None:
        # 01:00-03:00 split at 02:00: the split does not change anything.
        assert self.NY_NIGHT.between(ny(2026, 3, 8), ny(2026, 3, 9)) == H  # 02:00-03:00 does not exist
        assert self.NY_NIGHT.between(ny(2026, 11, 1), ny(2026, 11, 2)) == 3 * H  # 01:00-02:00 twice
        assert self.NY_NIGHT.intervals(ny(2026, 11, 1), ny(2026, 11, 2)) == [
            (u(2026, 11, 1, 5), u(2026, 11, 1, 8))
        ]

    def test_transition_at_midnight_santiago(self) -> None:
        # Chile springs forward at 24:00 -> 01:00 (2026-09-06 local), so that day has no 00:00-01:00.
        santiago = ZoneInfo("America/Santiago")
        night = cal("America/Santiago", hours={d: ["00:00-02:00"] for d in ALL_DAYS})
        day_start = datetime(2026, 9, 6, 1, tzinfo=santiago)
        assert night.between(day_start - 2 * H, day_start + 3 * H) == H
        assert (
            night.between(
                datetime(2026, 9, 5, 12, tzinfo=santiago), datetime(2026, 9, 7, 12, tzinfo=santiago)
            )
            == 3 * H
        )

    def test_half_hour_dst_lord_howe(self) -> None:
        # Lord Howe Island moves its clocks by 30 minutes (02:00 -> 02:30 on 2026-10-04).
        lh = ZoneInfo("Australia/Lord_Howe")
        night = cal("Australia/Lord_Howe", hours={"sun": ["01:00-04:00"]})
        day = datetime(2026, 10, 4, tzinfo=lh)
        assert night.between(day, day + D) == 2 * H + 30 * M
        assert night.between(day + 7 * D, day + 8 * D) == 3 * H


class TestInputChecks:
    @pytest.mark.parametrize(
        "call",
        [
            lambda c: c.add(datetime(2026, 3, 23, 10), H),
            lambda c: c.between(datetime(2026, 3, 23, 10), b(2026, 3, 24)),
            lambda c: c.between(b(2026, 3, 23), datetime(2026, 3, 24)),
            lambda c: c.is_open(datetime(2026, 3, 23, 10)),
            lambda c: c.next_open(datetime(2026, 3, 23, 10)),
            lambda c: c.next_close(datetime(2026, 3, 23, 10)),
            lambda c: c.intervals(datetime(2026, 3, 23, 10), b(2026, 3, 24)),
        ],
    )
    @pytest.mark.parametrize("calendar", [OFFICE, BusinessCalendar.always_open("Europe/Berlin")])
    def test_naive_datetimes_are_rejected(self, call: Any, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            call(calendar)

    def test_negative_amount_rejected(self) -> None:
        with pytest.raises(ValueError, match="must not be negative"):
            OFFICE.add(b(2026, 3, 23, 10), -M)

    def test_non_timedelta_amount_rejected(self) -> None:
        with pytest.raises(TypeError, match="timedelta"):
            OFFICE.add(b(2026, 3, 23, 10), 3600)  # type: ignore[arg-type]

    def test_non_datetime_rejected(self) -> None:
        with pytest.raises(TypeError, match="datetime"):
            OFFICE.is_open(date(2026, 3, 23))  # type: ignore[arg-type]

    def test_between_reversed_is_zero(self) -> None:
        assert OFFICE.between(b(2026, 3, 24, 12), b(2026, 3, 23, 12)) == timedelta(0)
        assert OFFICE.between(b(2026, 3, 23, 12), b(2026, 3, 23, 12)) == timedelta(0)

    def test_outside_supported_years(self) -> None:
        with pytest.raises(ValueError, match="supported years"):
            OFFICE.is_open(u(1850, 1, 1))
        with pytest.raises(OverflowError):
            OFFICE.add(u(2998, 6, 1), 365 * D)
        with pytest.raises(OverflowError):
            BusinessCalendar.always_open().add(u(2999, 12, 1), 60 * D)


# --------------------------------------------------------------------------------------------
# Config validation
# --------------------------------------------------------------------------------------------


def errors_for(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """(loc, msg) pairs of the validation errors for ``data``."""
    with pytest.raises(ValidationError) as exc:
        CalendarConfig.model_validate(data)
    return [(tuple(e["loc"]), e["msg"]) for e in exc.value.errors()]


def base(**overrides: Any) -> dict[str, Any]:
    """A valid config dict with overrides."""
    return {"timezone": "Europe/Berlin", "hours": NINE_TO_FIVE, **overrides}


@pytest.mark.parametrize(
    ("data", "loc", "fragment"),
    [
        (base(timezone="Europe/Berln"), ("timezone",), "unknown time zone 'Europe/Berln'"),
        (base(timezone="Mars/Olympus"), ("timezone",), "IANA name"),
        (base(timezone=""), ("timezone",), "unknown time zone ''"),
        (base(timezone="../etc/passwd"), ("timezone",), "unknown time zone"),
        (base(timezone="localtime"), ("timezone",), "unknown time zone 'localtime'"),
        (base(holidays="XX"), ("holidays", "country"), "unknown holiday country 'XX'"),
        (base(holidays={"country": "Germany"}), ("holidays", "country"), "unknown holiday country 'Germany'"),
        (base(holidays="DE-XX"), ("holidays", "subdiv"), "unknown subdivision 'XX' for holiday country 'DE'"),
        (base(holidays={"country": "DE", "subdiv": "ZZ"}), ("holidays", "subdiv"), "valid: BB, BE"),
        (base(holidays="DE-"), ("holidays", "subdiv"), "unknown subdivision ''"),
        (base(holidays="IS-XX"), ("holidays", "subdiv"), "has no subdivisions"),
        (
            base(holidays={"country": "DE", "categories": ["pagan"]}),
            ("holidays", "categories"),
            "unknown holiday category",
        ),
        (base(holidays={"country": "DE", "region": "BY"}), ("holidays", "region"), "Extra inputs"),
        (
            base(hours={"mon": ["09:00-12:00", "13:00-12:00"]}),
            ("hours", "mon", 1),
            "'13:00-12:00' ends before it starts",
        ),
        (base(hours={"mon": ["22:00-06:00"]}), ("hours", "mon", 0), "split it"),
        (base(hours={"tue": ["9-17"]}), ("hours", "tue", 0), "'9-17' is not a period"),
        (base(hours={"wed": ["09:00-17:60"]}), ("hours", "wed", 0), "invalid time"),
        (base(hours={"wed": ["09:00-25:00"]}), ("hours", "wed", 0), "invalid time"),
        (base(hours={"wed": ["09:00-24:30"]}), ("hours", "wed", 0), "invalid time"),
        (base(hours={"thu": ["24:00-24:00"]}), ("hours", "thu", 0), "starts at 24:00"),
        (base(hours={"fri": ["09:00-09:00"]}), ("hours", "fri", 0), "is empty"),
        (base(hours={"fri": [900]}), ("hours", "fri", 0), "expected a period string"),
        (
            base(hours={"mon": ["09:00-12:00", "11:00-13:00"]}),
            ("hours", "mon"),
            "'09:00-12:00' and '11:00-13:00' overlap",
        ),
        (base(hours={"mon": ["13:00-17:00", "09:00-13:30"]}), ("hours", "mon"), "overlap"),
        (base(hours={"monday": ["09:00-17:00"]}), ("hours",), "unknown weekday 'monday'"),
        (base(hours={}), ("hours",), "no opening hours on any day"),
        (base(hours={"sat": []}), ("hours",), "no opening hours on any day"),
        (base(hours="24/5"), ("hours",), "hours must be '24x7'"),
        (
            base(closed_dates=["2026-12-24", "2026-13-01"]),
            ("closed_dates", 1),
            "'2026-13-01' is not an ISO date",
        ),
        (base(closed_dates=[20261224]), ("closed_dates", 0), "is not an ISO date"),
        (base(closed_dates=[datetime(2026, 12, 24)]), ("closed_dates", 0), "is a datetime"),
        (base(weekends="closed"), ("weekends",), "Extra inputs"),
    ],
)
def test_config_errors_name_the_key(data: dict[str, Any], loc: tuple[Any, ...], fragment: str) -> None:
    errors = errors_for(data)
    assert len(errors) == 1, errors
    assert errors[0][0] == loc
    assert fragment in errors[0][1]
    assert not errors[0][1].startswith("Value error")


def test_missing_required_keys() -> None:
    locs = {loc for loc, _ in errors_for({})}
    assert locs == {("timezone",), ("hours",)}


def test_timezone_suggestion() -> None:
    [(_, msg)] = errors_for(base(timezone="Europe/Berln"))
    assert "did you mean 'Europe/Berlin'" in msg


def test_error_path_as_the_bot_would_print_it() -> None:
    class Settings(BaseModel):
        calendars: dict[str, CalendarConfig]

    def dotted(loc: tuple[Any, ...]) -> str:
        out = ""
        for part in loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out

    with pytest.raises(ValidationError) as exc:
        Settings.model_validate(
            {"calendars": {"office": base(hours={"mon": ["09:00-12:00", "13:00-12:00"]})}}
        )
    [err] = exc.value.errors()
    assert f"{dotted(err['loc'])}: {err['msg']}".startswith(
        "calendars.office.hours.mon[1]: '13:00-12:00' ends before it starts"
    )


def test_valid_config_normalisation_and_round_trip() -> None:
    config = cfg(
        hours={"mon": ["13:00-17:00", " 9:00 - 12:00 "], "fri": "09:00-15:00"},
        holidays={"country": "de", "subdiv": "by"},
        closed_dates=["2026-12-24", date(2026, 12, 31)],
    )
    assert config.hours.mon == (Period(540, 720), Period(780, 1020))
    assert config.hours.fri == (Period(540, 900),)
    assert config.hours.sun == ()
    assert config.holidays == HolidaySpec(country="DE", subdiv="BY")
    assert config.closed_dates == (date(2026, 12, 24), date(2026, 12, 31))
    dumped = config.model_dump(mode="json")
    assert dumped["hours"] == {"mon": ["09:00-12:00", "13:00-17:00"], "fri": ["09:00-15:00"]}
    assert CalendarConfig.model_validate(dumped) == config


def test_24x7_normalisation() -> None:
    config = cfg(hours="24x7")
    assert config.hours.is_24x7
    assert config.model_dump()["hours"] == "24x7"
    assert cfg(hours={d: ["00:00-24:00"] for d in ALL_DAYS}).hours.is_24x7
    assert not cfg(hours={d: ["00:00-24:00"] for d in WORKDAYS}).hours.is_24x7


def test_holiday_string_forms() -> None:
    assert cfg(holidays="DE-BY").holidays == HolidaySpec(country="DE", subdiv="BY")
    assert cfg(holidays="US").holidays == HolidaySpec(country="US")
    assert cfg(holidays="DE-Baden-Württemberg").holidays == HolidaySpec(
        country="DE", subdiv="Baden-Württemberg"
    )


def test_json_schema_is_generated() -> None:
    schema = CalendarConfig.model_json_schema()
    assert set(schema["properties"]) == {"timezone", "hours", "holidays", "closed_dates"}


def test_calendar_accepts_a_plain_mapping() -> None:
    calendar = BusinessCalendar({"timezone": "Europe/Berlin", "hours": NINE_TO_FIVE, "holidays": "DE-BY"})
    assert calendar.config == OFFICE_BY.config
    with pytest.raises(ValidationError):
        BusinessCalendar({"timezone": "Europe/Berlin", "hours": {}})


def test_config_is_frozen() -> None:
    config = cfg()
    with pytest.raises(ValidationError):
        config.timezone = "UTC"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Property-based invariants
# --------------------------------------------------------------------------------------------

PROPERTY_CALENDARS = [
    OFFICE_BY,
    LUNCH_CAL,
    NY_OFFICE,
    cal(
        "Europe/Berlin",
        hours={"sun": ["01:00-04:00"], "wed": ["02:30-02:45", "23:00-24:00"], "thu": "00:00-01:00"},
    ),
    cal("Europe/Berlin", hours="24x7", holidays="DE", closed_dates=["2030-07-01"]),
    cal("America/New_York", hours={d: ["00:30-02:30", "09:00-17:00"] for d in ALL_DAYS}),
    cal("America/Santiago", hours={d: ["00:00-02:00", "23:00-24:00"] for d in ALL_DAYS}),
    cal("Australia/Lord_Howe", hours={d: ["01:00-03:00"] for d in ALL_DAYS}, holidays="AU-NSW"),
    cal("Asia/Kolkata", hours={d: ["09:30-18:00"] for d in WORKDAYS}, holidays="IN"),
    BusinessCalendar.always_open("America/New_York"),
]
ZONES = [
    UTC,
    BERLIN,
    NEW_YORK,
    ZoneInfo("America/Santiago"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kolkata"),
]

calendars = st.sampled_from(PROPERTY_CALENDARS)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.sampled_from(ZONES)
)
amounts = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=12)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=200)),
)
# Instants close to DST transitions of the zones above.
TRANSITION_DAYS = [
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 3, 8, 5, tzinfo=UTC),
    datetime(2026, 11, 1, 5, tzinfo=UTC),
    datetime(2026, 9, 6, 4, tzinfo=UTC),
    datetime(2026, 4, 5, 3, tzinfo=UTC),
    datetime(2026, 10, 3, 15, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
]
near_transitions = st.builds(
    lambda base_, minutes: base_ + minutes * M,
    st.sampled_from(TRANSITION_DAYS),
    st.integers(min_value=-36 * 60, max_value=36 * 60),
)
any_instant = st.one_of(instants, near_transitions)
PROPS = settings(deadline=None, max_examples=150)


def utc(t: datetime) -> datetime:
    """Same instant in UTC (avoids PEP 495 inter-zone comparison quirks for fold/gap times)."""
    return t.astimezone(UTC)


@PROPS
@given(calendars, any_instant, amounts)
def test_round_trip(calendar: BusinessCalendar, t: datetime, d: timedelta) -> None:
    assert calendar.between(t, calendar.add(t, d)) == d


@PROPS
@given(calendars, any_instant, amounts, amounts)
def test_add_is_monotonic_in_amount(
    calendar: BusinessCalendar, t: datetime, d1: timedelta, d2: timedelta
) -> None:
    d1, d2 = sorted((d1, d2))
    assert calendar.add(t, d1) <= calendar.add(t, d2)
    if d1 < d2:
        assert calendar.add(t, d1) < calendar.add(t, d2)


@PROPS
@given(calendars, any_instant, any_instant, amounts)
def test_add_is_monotonic_in_start(
    calendar: BusinessCalendar, t1: datetime, t2: datetime, d: timedelta
) -> None:
    t1, t2 = sorted((t1, t2), key=utc)
    assert calendar.add(t1, d) <= calendar.add(t2, d)


@PROPS
@given(calendars, any_instant, amounts, amounts)
def test_add_is_additive(calendar: BusinessCalendar, t: datetime, a: timedelta, d: timedelta) -> None:
    assert calendar.add(calendar.add(t, a), d) == calendar.add(t, a + d)


@PROPS
@given(calendars, any_instant, any_instant, any_instant)
def test_between_is_additive(calendar: BusinessCalendar, a: datetime, m: datetime, c: datetime) -> None:
    a, m, c = sorted((a, m, c), key=utc)
    assert calendar.between(a, m) + calendar.between(m, c) == calendar.between(a, c)
    assert calendar.between(a, c) <= utc(c) - utc(a)


@PROPS
@given(
    any_instant, amounts, st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
)
def test_24x7_is_plain_utc_addition(t: datetime, d: timedelta, tz: str) -> None:
    for calendar in (BusinessCalendar.always_open(tz), _general_24x7(tz)):
        result = calendar.add(t, d)
        assert result.tzinfo is UTC
        assert result == utc(t) + d
        assert calendar.between(t, result) == d
        assert calendar.is_open(t)


@lru_cache
def _general_24x7(tz: str) -> BusinessCalendar:
    """A 24x7 calendar that does not take the real-time fast path."""
    return cal(tz, hours="24x7", closed_dates=["2999-01-01"])


@PROPS
@given(calendars, any_instant, amounts)
def test_add_result_is_after_start_and_ends_in_open_time(
    calendar: BusinessCalendar, t: datetime, d: timedelta
) -> None:
    result = calendar.add(t, d)
    assert result.tzinfo is UTC
    assert result >= utc(t)
    if d > timedelta(0):
        assert result > calendar.next_open(t)
        assert calendar.is_open(result - US)


@PROPS
@given(calendars, any_instant)
def test_next_open_and_next_close(calendar: BusinessCalendar, t: datetime) -> None:
    opening = calendar.next_open(t)
    assert opening >= utc(t)
    assert calendar.is_open(opening)
    assert calendar.between(t, opening) == timedelta(0)
    assert (opening == utc(t)) == calendar.is_open(t)
    closing = calendar.next_close(t)
    if closing is None:
        assert calendar.is_always_open
        return
    assert closing > opening
    assert not calendar.is_open(closing)
    assert calendar.between(opening, closing) == closing - opening


# --- reference model: the definition, evaluated naively on the wall clock ------------------


@cache
def _reference_closed(config: CalendarConfig, year: int) -> frozenset[date]:
    """Closed dates straight from the holidays library and the config."""
    closed = set(config.closed_dates)
    spec = config.holidays
    if spec is not None:
        kwargs: dict[str, Any] = {"subdiv": spec.subdiv, "years": year}
        if spec.categories:
            kwargs["categories"] = spec.categories
        closed |= set(holidays.country_holidays(spec.country, **kwargs))
    return frozenset(closed)


def reference_is_open(calendar: BusinessCalendar, t: datetime) -> bool:
    """Open iff the local wall clock shows an open time on a non-closed date."""
    local = t.astimezone(calendar.tz)
    if local.date() in _reference_closed(calendar.config, local.year):
        return False
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    return any(p.start <= minute < p.end for p in calendar.config.hours.for_weekday(local.weekday()))


@PROPS
@given(calendars, any_instant)
def test_is_open_matches_wall_clock_definition(calendar: BusinessCalendar, t: datetime) -> None:
    assert calendar.is_open(t) == reference_is_open(calendar, t)


@settings(deadline=None, max_examples=60)
@given(calendars, near_transitions, st.integers(min_value=0, max_value=36 * 60))
def test_between_matches_minute_by_minute_reference(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    # All zones used here change offset on whole minutes and all periods are whole minutes, so the
    # open state is constant within each UTC minute.
    start = start.replace(second=0, microsecond=0)
    expected = sum(reference_is_open(calendar, start + i * M) for i in range(minutes)) * M
    assert calendar.between(start, start + minutes * M) == expected


@settings(deadline=None, max_examples=60)
@given(calendars, near_transitions, st.integers(min_value=1, max_value=4 * 60))
def test_add_matches_minute_by_minute_reference(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    start = start.replace(second=0, microsecond=0)
    counted, t = 0, start
    while counted < minutes:
        if reference_is_open(calendar, t):
            counted += 1
        t += M
        assume(t - start < 8 * D)  # calendars with few hours a week: keep the walk bounded
    assert calendar.add(start, minutes * M) == t
