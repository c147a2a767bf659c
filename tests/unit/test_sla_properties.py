"""Properties of the SLA timer arithmetic (no database): pauses and resumes at any instants keep exactly
the business time of the running stretches, and due/warning times follow from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.sla import engine
from bot.services.sla.engine import _Change
from config.support import parse_support_config
from models import Ticket
from models.sla import SlaKind, SlaState, SlaTimer
from tests.unit.test_sla_timers import _config

CONFIG = _config()
CALENDARS = ("office", "24x7")
START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_S = 365 * 86400


def _running(calendar: str, start: datetime, target: timedelta, thresholds: list[int]) -> SlaTimer:
    return SlaTimer(
        id=1,
        ticket_id=1,
        kind=SlaKind.RESOLUTION,
        state=SlaState.RUNNING,
        cycle=1,
        plan="silver",
        priority="P1",
        calendar=calendar,
        target_us=target // timedelta(microseconds=1),
        thresholds=thresholds,
        elapsed_us=0,
        started_at=start,
        run_started_at=start,
        next_threshold=0,
    )


@settings(max_examples=200, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    start_s=st.integers(0, YEAR_S),
    target_min=st.integers(1, 60 * 60),
    gaps_s=st.lists(st.integers(1, 4 * 86400), min_size=1, max_size=8),
)
def test_pauses_keep_exactly_the_business_time_of_the_running_stretches(
    calendar: str, start_s: int, target_min: int, gaps_s: list[int]
) -> None:
    cal = CONFIG.sla.calendar(calendar)
    start = START + timedelta(seconds=start_s)
    timer = _running(calendar, start, timedelta(minutes=target_min), [50, 75, 90])
    engine.schedule(timer, cal)
    change = _Change(
        ticket=Ticket(id=1, status="open"),
        config=CONFIG,
        policy=None,
        at=start,
        actor_id="U0",
        timers={SlaKind.RESOLUTION: timer},
    )
    expected = timedelta(0)
    at, running = start, True
    for gap in gaps_s:
        nxt = at + timedelta(seconds=gap)
        if running:
            expected += cal.between(at, nxt)
        change.at = nxt
        if running:
            change.pause((SlaKind.RESOLUTION,), "waiting")
        else:
            change.resume("waiting", cause="customer replied")
        at, running = nxt, not running
    assert engine.used_time(timer, cal, at) == expected
    if running:
        assert timer.state == SlaState.RUNNING and timer.run_started_at == at
        remaining = timedelta(microseconds=timer.target_us - timer.elapsed_us)
        if remaining > timedelta(0):
            assert timer.due_at is not None
            assert cal.between(at, timer.due_at) == remaining  # due = resume + what is left, in business time
        fires = [engine.fire_time(timer, cal, i) for i in range(len(timer.thresholds) + 1)]
        assert all(f is not None for f in fires) and fires == sorted(fires)  # type: ignore[type-var]
        assert fires[-1] == timer.due_at
    else:
        assert timer.state == SlaState.PAUSED and timer.next_fire_at is None and timer.due_at is None


@settings(max_examples=300, deadline=None)
@given(
    old=st.lists(st.integers(1, 99), min_size=0, max_size=5, unique=True).map(sorted),
    new=st.lists(st.integers(1, 99), min_size=0, max_size=5, unique=True).map(sorted),
    fired=st.integers(0, 5),
    used=st.integers(0, 10_000),
    target=st.integers(1, 10_000),
)
def test_retarget_neither_repeats_a_sent_warning_at_once_nor_skips_a_crossed_one(
    old: list[int], new: list[int], fired: int, used: int, target: int
) -> None:
    fired = min(fired, len(old))
    index = engine.next_threshold_after_retarget(
        used_us=used, old_thresholds=old, fired=fired, new_thresholds=new, new_target_us=target
    )
    sent = old[fired - 1] if fired else 0
    crossed = [p for p in new if used >= target * p // 100]
    assert 0 <= index <= len(crossed)
    # no warning sent already is announced again at once (it may come again when a larger target reaches it)
    assert all(p > sent for p in new[index:] if p in crossed)
    # and no crossed warning above the last one sent is skipped: it is announced at once (collapsed)
    assert {p for p in crossed if p > sent} <= set(new[index:])


def test_a_config_without_sla_changes_nothing() -> None:
    raw = {"levels": {lvl: {"channel": f"C0{lvl}"} for lvl in ("L1", "L2", "L3")}}
    config = parse_support_config(raw, source="test")
    assert not config.sla.enabled and config.sla.plan("gold", default="standard") is None
