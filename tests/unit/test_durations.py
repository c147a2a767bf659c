"""Tests for SLA duration parsing and formatting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.services.sla import Duration, format_duration, parse_duration

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", 15 * M),
        ("4h", 4 * H),
        ("2d", 2 * D),
        ("1h30m", H + 30 * M),
        ("1d4h", D + 4 * H),
        ("1d 4h", D + 4 * H),
        ("1d 4h 5m", D + 4 * H + 5 * M),
        ("  1D 4H  ", D + 4 * H),
        ("1 h 30 m", H + 30 * M),
        ("90m", 90 * M),
        ("30m 1h", H + 30 * M),
        ("0h30m", 30 * M),
        ("+4h", 4 * H),
        ("1day", D),
        ("2 days", 2 * D),
        ("3 hours", 3 * H),
        ("1hr", H),
        ("45 min", 45 * M),
        ("10 minutes", 10 * M),
        ("007m", 7 * M),
    ],
)
def test_parse_duration_valid(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("0m", "is zero"),
        ("0h 0m", "is zero"),
        ("-4h", "is negative"),
        ("4h -30m", "negative part"),
        ("garbage", "is not a duration"),
        ("4h!", "is not a duration"),
        ("1.5h", "decimal"),
        ("1,5h", "decimal"),
        ("30", "without a unit"),
        ("1h 30", "without a unit"),
        ("90s", "unknown unit 's'"),
        ("2w", "unknown unit 'w'"),
        ("1x", "unknown unit 'x'"),
        ("h", "is not a duration"),
        ("1h1h", "repeats the unit 'h'"),
        ("1 hour 2 hours", "repeats the unit 'h'"),
        ("1000000000d", "too large"),
        ("36501d", "too large"),
        ("\u0663h", "is not a duration"),  # Arabic-Indic digit three: only ASCII digits count
    ],
)
def test_parse_duration_invalid_says_why_and_shows_examples(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration(text)
    message = str(exc.value)
    assert reason in message
    assert "valid examples: '15m', '4h', '1h30m'" in message


@pytest.mark.parametrize("value", [None, 5, 4.0, b"4h", timedelta(hours=4)])
def test_parse_duration_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_duration(value)  # type: ignore[arg-type]


def test_parse_duration_without_days_rejects_d_with_hint() -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration("2d", allow_days=False)
    assert "'16h'" in str(exc.value)
    assert "business" in str(exc.value)
    assert parse_duration("16h", allow_days=False) == 16 * H
    assert parse_duration("49h 30m", allow_days=False) == 49 * H + 30 * M


def test_parse_duration_without_days_unknown_unit_lists_only_h_and_m() -> None:
    with pytest.raises(ValueError, match="use h or m"):
        parse_duration("3w", allow_days=False)


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(0), "0m"),
        (45 * M, "45m"),
        (H, "1h"),
        (H + 30 * M, "1h 30m"),
        (D + 4 * H, "1d 4h"),
        (D + 5 * M, "1d 5m"),
        (3 * D, "3d"),
        (D + 4 * H + 59 * M + 59.999 * timedelta(seconds=1), "1d 4h 59m"),  # seconds are dropped
        (timedelta(seconds=30), "<1m"),
        (timedelta(microseconds=1), "<1m"),
        (-timedelta(seconds=30), "-<1m"),
        (-(2 * H + 5 * M), "-2h 5m"),
        (-(D + 90 * M), "-1d 1h 30m"),
        (-timedelta(seconds=90), "-1m"),  # truncated towards zero, not floored
    ],
)
def test_format_duration(td: timedelta, expected: str) -> None:
    assert format_duration(td) == expected


@pytest.mark.parametrize(
    ("td", "expected"),
    [(D + 4 * H, "28h"), (3 * D, "72h"), (45 * M, "45m"), (-(D + 30 * M), "-24h 30m")],
)
def test_format_duration_without_days(td: timedelta, expected: str) -> None:
    assert format_duration(td, use_days=False) == expected


def test_format_duration_rejects_non_timedelta() -> None:
    with pytest.raises(TypeError, match="timedelta"):
        format_duration(3600)  # type: ignore[arg-type]


whole_minutes = st.integers(min_value=1, max_value=36_500 * 24 * 60).map(lambda n: n * M)


@given(whole_minutes)
def test_format_then_parse_round_trips(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td


@given(whole_minutes)
def test_format_then_parse_round_trips_without_days(td: timedelta) -> None:
    text = format_duration(td, use_days=False)
    assert "d" not in text
    assert parse_duration(text, allow_days=False) == td


@given(st.integers(min_value=0, max_value=99), st.integers(min_value=0, max_value=99), st.integers(0, 999))
def test_parse_components_add_up(days: int, hours: int, minutes: int) -> None:
    text = f"{days}d{hours}h{minutes}m"
    if days == hours == minutes == 0:
        with pytest.raises(ValueError, match="is zero"):
            parse_duration(text)
    else:
        assert parse_duration(text) == days * D + hours * H + minutes * M


@given(st.text(max_size=30))
def test_parse_duration_only_ever_raises_value_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError as exc:
        assert "valid examples" in str(exc)
    else:
        assert result > timedelta(0)


class _Plan(BaseModel):
    reaction: Duration
    resolution: Duration


def test_duration_field_parses_and_serializes() -> None:
    plan = _Plan(reaction="15m", resolution="1d 4h")  # type: ignore[arg-type]
    assert plan.reaction == 15 * M
    assert plan.resolution == D + 4 * H
    assert plan.model_dump_json() == '{"reaction":"15m","resolution":"1d 4h"}'
    assert _Plan.model_validate_json(plan.model_dump_json()) == plan
    assert _Plan(reaction=timedelta(minutes=5), resolution=H).reaction == 5 * M


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0m", "is zero"),
        ("-1h", "is negative"),
        ("soon", "is not a duration"),
        ("", "is empty"),
        (15, "must be a string with a unit"),
        (True, "must be a string with a unit"),
        (timedelta(0), "greater than zero"),
        (-timedelta(hours=1), "greater than zero"),
    ],
)
def test_duration_field_error_names_the_key(value: object, reason: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _Plan(reaction="15m", resolution=value)  # type: ignore[arg-type]
    errors = exc.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == ("resolution",)
    assert reason in errors[0]["msg"]
    assert not errors[0]["msg"].startswith("Value error")
