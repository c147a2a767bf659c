"""RequestsFirst's rule on a clock we move by hand, and its waiters on the real event loop."""

from __future__ import annotations

import asyncio
import time

from bot.slack.priority import RequestsFirst


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quiet_door_lets_work_start_and_turned_off_never_waits() -> None:
    clock = Clock()
    gate = RequestsFirst(gap=0.002, max_wait=1.0, clock=clock)
    assert gate.delay() == 0
    off = RequestsFirst(gap=0.002, max_wait=0.0, clock=clock)
    off.request_started()
    assert off.delay() == 0


def test_work_waits_while_requests_are_in_flight_or_just_answered() -> None:
    clock = Clock()  # binary fractions of a second throughout: exact arithmetic
    gate = RequestsFirst(gap=0.25, max_wait=8.0, clock=clock)
    gate.request_started()
    assert gate.delay() == 0.25  # in flight: look again after a gap
    clock.now += 0.125
    gate.request_finished()
    clock.now += 0.125
    assert gate.delay() == 0.125  # answered 0.125 s ago: the rest of the gap
    clock.now += 0.125
    assert gate.delay() == 0  # a lull


def test_a_busy_spell_holds_work_back_at_most_max_wait_and_a_lull_starts_a_new_one() -> None:
    clock = Clock()
    gate = RequestsFirst(gap=0.25, max_wait=8.0, clock=clock)
    for _ in range(63):  # a request every 0.125 s for 7.875 s
        gate.request_started()
        clock.now += 0.125
        gate.request_finished()
        assert gate.delay() > 0
    gate.request_started()
    clock.now += 0.125
    assert gate.delay() == 0  # the spell is 8 s old: sustained load, work goes on
    gate.request_finished()
    clock.now += 0.25
    assert gate.delay() == 0  # a lull ends the spell ...
    gate.request_started()
    assert gate.delay() == 0.25  # ... and the next request starts a new one with the full bound


async def test_waiters_park_until_the_lull_and_go_on_one_per_gap_in_order() -> None:
    gate = RequestsFirst(gap=0.02, max_wait=5.0)
    gate.request_started()
    went: list[tuple[int, float]] = []

    async def work(i: int) -> None:
        await gate.wait()
        went.append((i, time.monotonic()))

    waiters = [asyncio.create_task(work(i)) for i in range(5)]
    await asyncio.sleep(0.1)
    assert not went  # a request is still in flight
    gate.request_finished()
    finished = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*waiters), 2.0)
    assert [i for i, _ in went] == [0, 1, 2, 3, 4]  # in the order they came
    assert went[0][1] - finished >= 0.015  # not before the gap has passed
    assert went[-1][1] - went[0][1] >= 4 * 0.015  # one per gap, not all at once
    assert gate.waits == 5


async def test_waiters_go_on_when_the_spell_outlasts_max_wait() -> None:
    gate = RequestsFirst(gap=0.02, max_wait=0.2)
    gate.request_started()  # never finished: a request stuck in flight
    started = time.monotonic()
    await asyncio.wait_for(gate.wait(), 2.0)
    assert 0.15 <= time.monotonic() - started < 1.5
