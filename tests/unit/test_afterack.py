"""The after-ack queue: order, concurrency, the waiting notice, shutdown, context variables, failures."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any

import pytest

from bot.slack.afterack import AfterAck
from bot.slack.priority import RequestsFirst

TAG: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="none")


class Recorder:
    """Units that record when they start and end, and wait for their release."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.releases: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[Any]] = []

    def spawn(self, work: Any, *, name: str | None = None, context: Any = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name, context=context)
        self.tasks.append(task)
        return task

    def release(self, name: str) -> asyncio.Event:
        return self.releases.setdefault(name, asyncio.Event())

    async def unit(self, name: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.events.append(f"start {name} tag={TAG.get()}")
        try:
            await self.release(name).wait()
        finally:
            self.running -= 1
            self.events.append(f"end {name}")

    async def refused(self, name: str) -> None:
        self.events.append(f"refused {name}")

    def waiting(self, name: str) -> None:
        self.events.append(f"waiting {name}")

    async def settle(self) -> None:
        while pending := [t for t in self.tasks if not t.done()]:
            await asyncio.wait(pending)


def queue(rec: Recorder, *, concurrency: int = 2, notice_after: float = 10.0) -> AfterAck:
    return AfterAck(
        concurrency=concurrency,
        requests_first=RequestsFirst(gap=0.001, max_wait=0),  # no waiting for lulls here
        spawn=rec.spawn,
        notice_after=notice_after,
    )


async def test_units_start_in_arrival_order_and_never_more_than_the_concurrency_at_once() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=2)
    for name in "abcde":
        after.submit(rec.unit, name)
    await asyncio.sleep(0.01)
    assert [e for e in rec.events if e.startswith("start")] == ["start a tag=none", "start b tag=none"]
    assert after.waiting() == 3
    for name in "abcde":
        rec.release(name).set()
        await asyncio.sleep(0.01)
    await rec.settle()
    assert [e.split()[1] for e in rec.events if e.startswith("start")] == list("abcde")
    assert rec.most_at_once == 2
    assert after.waiting() == 0 and after.workers == 0  # no idle worker left behind


async def test_a_unit_waiting_past_the_notice_time_hears_it_once_and_a_started_one_never() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1, notice_after=0.05)
    after.submit(rec.unit, "first", on_wait=rec.waiting)
    after.submit(rec.unit, "second", on_wait=rec.waiting)
    await asyncio.sleep(0.15)
    assert [e for e in rec.events if e.startswith("waiting")] == ["waiting second"]
    rec.release("first").set()
    rec.release("second").set()
    await rec.settle()
    assert rec.events.count("waiting second") == 1
    assert rec.events[-1] == "end second"


async def test_shutdown_refuses_what_waits_and_lets_what_runs_finish() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1)
    after.submit(rec.unit, "runs", refuse=rec.refused)
    after.submit(rec.unit, "waits", refuse=rec.refused)
    await asyncio.sleep(0.01)
    after.stop()
    after.submit(rec.unit, "late", refuse=rec.refused)  # arrives during shutdown
    rec.release("runs").set()
    await rec.settle()
    assert rec.events == ["start runs tag=none", "refused waits", "refused late", "end runs"]
    assert after.waiting() == 0


async def test_a_unit_runs_with_the_context_variables_of_the_request_that_queued_it() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1)

    def submit_as(tag: str) -> None:
        TAG.set(tag)
        after.submit(rec.unit, tag)

    for tag in ("req-1", "req-2"):
        contextvars.copy_context().run(submit_as, tag)
        rec.release(tag).set()
    await rec.settle()
    assert [e for e in rec.events if e.startswith("start")] == [
        "start req-1 tag=req-1",
        "start req-2 tag=req-2",
    ]


async def test_a_failing_unit_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1)

    async def fails(name: str) -> None:
        raise RuntimeError(f"{name} broke")

    after.submit(fails, "bad")
    after.submit(rec.unit, "good")
    rec.release("good").set()
    with caplog.at_level(logging.ERROR, logger="bot.slack.afterack"):
        await rec.settle()
    assert "end good" in rec.events
    assert any("bad broke" in (r.exc_text or str(r.exc_info)) for r in caplog.records), caplog.records


async def test_work_waits_for_a_lull_in_requests_before_it_starts() -> None:
    rec = Recorder()
    lull = RequestsFirst(gap=0.05, max_wait=5.0)
    after = AfterAck(concurrency=4, requests_first=lull, spawn=rec.spawn, notice_after=10.0)
    lull.request_started()
    after.submit(rec.unit, "a")
    await asyncio.sleep(0.1)
    assert rec.events == []  # a request is still in flight
    lull.request_finished()
    rec.release("a").set()
    await asyncio.sleep(0.15)
    assert rec.events == ["start a tag=none", "end a"]
    await rec.settle()


async def test_the_waiting_notice_counts_from_when_the_request_arrived() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1, notice_after=0.3)
    after.submit(rec.unit, "first")
    after.submit(rec.unit, "second", on_wait=rec.waiting, since=time.monotonic() - 0.25)
    after.submit(rec.unit, "third", on_wait=rec.waiting)
    await asyncio.sleep(0.1)
    assert [e for e in rec.events if e.startswith("waiting")] == ["waiting second"]
    for name in ("first", "second", "third"):
        rec.release(name).set()
    await rec.settle()


async def test_a_unit_still_running_at_the_notice_time_hears_it_is_slow_and_a_finished_one_nothing() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1, notice_after=0.05)

    def slow(name: str) -> None:
        rec.events.append(f"slow {name}")

    after.submit(rec.unit, "quick", on_wait=rec.waiting, on_slow=slow)
    after.submit(rec.unit, "long", on_wait=rec.waiting, on_slow=slow)
    after.submit(rec.unit, "queued", on_wait=rec.waiting, on_slow=slow)
    await asyncio.sleep(0.01)
    rec.release("quick").set()
    await asyncio.sleep(0.15)
    assert sorted(e for e in rec.events if e.startswith(("slow", "waiting"))) == [
        "slow long",
        "waiting queued",
    ]
    rec.release("long").set()
    rec.release("queued").set()
    await rec.settle()
    assert [e for e in rec.events if e.startswith(("slow", "waiting"))] == ["slow long", "waiting queued"]


async def test_shutdown_keeps_the_slow_notice_of_what_runs() -> None:
    rec = Recorder()
    after = queue(rec, concurrency=1, notice_after=0.05)

    def slow(name: str) -> None:
        rec.events.append(f"slow {name}")

    after.submit(rec.unit, "runs", on_slow=slow, refuse=rec.refused)
    after.submit(rec.unit, "waits", on_wait=rec.waiting, refuse=rec.refused)
    await asyncio.sleep(0.01)
    after.stop()
    await asyncio.sleep(0.1)
    rec.release("runs").set()
    await rec.settle()
    assert rec.events == ["start runs tag=none", "refused waits", "slow runs", "end runs"]
