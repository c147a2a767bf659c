"""APScheduler wiring: the SLA tick, the daily overview, the weekly KB review, the reports digest. Job bodies
only call flows.

Timers live in the database, not in the scheduler: one frequent tick claims whatever fell due (one indexed
range query), so a million open timers cost no memory here, a restart loses nothing, and several bot
processes share the work without sending anything twice (docs/sla.md explains the choice). Between
regular ticks the scheduler wakes exactly when the next timer falls due, so reminders are not up to a tick
interval late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import db
from bot.flows import kb as kb_flows
from bot.flows import reports as report_flows
from bot.flows import sla as sla_flows
from bot.flows.sla import TickReport
from bot.runtime import Runtime
from bot.services.sla import engine
from bot.services.sla.policy import warm_calendars

log = logging.getLogger(__name__)

TICK_JOB = "sla.tick"
OVERVIEW_JOB = "sla.overview"
KB_REVIEW_JOB = "kb.review"
KB_WARM_UP_TASK = "kb.warm_up"
DIGEST_JOB = "reports.digest"
DIGEST_RETRY_JOB = "reports.digest.retry"
CHECKPOINT_JOB = "db.checkpoint"

TickHook = Callable[[TickReport], None]


class BotScheduler:
    """The process's scheduler: start it after the database and the outbox sender, stop it before them."""

    def __init__(
        self,
        rt: Runtime,
        *,
        tick_seconds: float = 1.0,
        batch: int = 500,
        budget: float = 0.5,
        on_tick: TickHook | None = None,
    ) -> None:
        self.rt = rt
        self.tick_seconds, self.batch, self.budget = tick_seconds, batch, budget
        self.on_tick = on_tick
        self.scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._wake: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._paused = False
        self._running_jobs = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.ticks = 0
        self._checkpointer: db.WalCheckpointer | None = None

    async def start(self) -> None:
        """Add the jobs and start; the first tick runs at once (it sends what fell due while we were down)."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(
            self._count_jobs, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        sla = self.rt.config.sla
        if sla.enabled:
            warm_calendars(config=self.rt.config, at=self.rt.clock.now())
            scheduler.add_job(
                self.tick,
                "interval",
                seconds=self.tick_seconds,
                id=TICK_JOB,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),
            )
            if sla.overview.at and sla.overview.days:
                hour, minute = (int(part) for part in sla.overview.at.split(":"))
                trigger = CronTrigger(
                    day_of_week=",".join(sla.overview.days),
                    hour=hour,
                    minute=minute,
                    timezone=self.rt.config.defaults.timezone,
                )
                scheduler.add_job(
                    self.overview,
                    trigger,
                    id=OVERVIEW_JOB,
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=3600,
                )
        kb = self.rt.config.kb
        hour, minute = (int(part) for part in kb.review_time.split(":"))
        scheduler.add_job(
            kb_flows.send_review_reminders,
            CronTrigger(
                day_of_week=kb.review_day, hour=hour, minute=minute, timezone=self.rt.config.defaults.timezone
            ),
            args=[self.rt],
            id=KB_REVIEW_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        if (reports := self.rt.config.reports).digest_channel:
            trigger = CronTrigger.from_crontab(reports.digest_cron, timezone=self.rt.config.defaults.timezone)
            for job_id, func, when in (
                (DIGEST_JOB, report_flows.run_digest, trigger),
                (DIGEST_RETRY_JOB, report_flows.retry_digests, IntervalTrigger(minutes=15)),
            ):
                scheduler.add_job(
                    func, when, args=[self.rt], id=job_id, replace_existing=True, coalesce=True,
                    max_instances=1, misfire_grace_time=3600,
                )  # fmt: skip
        self._checkpointer = db.WalCheckpointer.for_current()
        if self._checkpointer is not None:  # SQLite: checkpoints off the commit path (see bot/db.py)
            scheduler.add_job(
                self.checkpoint,
                "interval",
                seconds=1,
                id=CHECKPOINT_JOB,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
        scheduler.start()
        # Build this replica's KB index now, so the first ticket's suggestions don't wait for it. A task of
        # ours, not a scheduler job: `stop` cancels it at once (a build is in-memory work with nothing to
        # commit) instead of waiting up to `grace` for it, and APScheduler would log its cancellation as a
        # failed job.
        self._spawn_task(kb_flows.warm_up(self.rt), name=KB_WARM_UP_TASK)
        self.scheduler = scheduler
        if sla.enabled and await sla_flows.overview_due(self.rt, now=self.rt.clock.now()):
            scheduler.add_job(self.overview, id=f"{OVERVIEW_JOB}.catch_up", replace_existing=True)

    async def stop(self, grace: float = 10.0) -> None:
        """No new jobs; let running ones finish (up to `grace` seconds), then shut down. APScheduler's asyncio
        executor cancels whatever still runs at shutdown, so we wait first: a tick's transaction commits or
        rolls back whole either way, but a cancelled job logs a traceback."""
        if self.scheduler is None:
            return
        self.scheduler.pause()
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        async with self._lock:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    def _count_jobs(self, event: JobEvent) -> None:
        """Jobs in flight (so `stop` can wait for them)."""
        self._running_jobs = max(0, self._running_jobs + (1 if event.code == EVENT_JOB_SUBMITTED else -1))
        if self._running_jobs:
            self._idle.clear()
        else:
            self._idle.set()

    def pause(self) -> None:
        """Stop running jobs (tests drive `sla_tick` themselves)."""
        self._paused = True
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if self.scheduler is not None:
            self.scheduler.pause()

    def resume(self) -> None:
        """Run jobs again."""
        self._paused = False
        if self.scheduler is not None:
            self.scheduler.resume()

    async def tick(self) -> None:
        """One tick (skipped while another runs in this process), then wake up for the next due timer."""
        if self._lock.locked() or self.scheduler is None or self._paused:
            return
        async with self._lock:
            report = await sla_flows.sla_tick(self.rt, batch=self.batch, budget=self.budget)
            self.ticks += 1
            if self.on_tick is not None:
                self.on_tick(report)
            await self._wake_for_next(more=report.more)

    async def _wake_for_next(self, *, more: bool) -> None:
        """Tick again exactly when the next timer falls due, if that is before the next regular tick."""
        if self.scheduler is None or not self.scheduler.running:
            return
        if more:
            delay = 0.0
        else:
            upcoming = await engine.next_fire_time()
            if upcoming is None:
                return
            delay = (upcoming - self.rt.clock.now()).total_seconds()
            if delay >= self.tick_seconds:
                return  # the regular tick comes first
        if self._wake is not None:
            self._wake.cancel()
        # A plain loop timer, not a scheduler job: a job re-adding itself would count as its own running
        # instance (max_instances) and be skipped.
        loop = asyncio.get_running_loop()
        self._wake = loop.call_later(max(0.0, delay), lambda: self._spawn(loop))

    def _spawn(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wake = None
        self._spawn_task(self.tick(), name="sla-tick")

    def _spawn_task(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `work` as a task that `stop` cancels and awaits; a failure is logged with its traceback."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_task_failure)

    async def checkpoint(self) -> None:
        """Copy SQLite's WAL into the database file, in a thread (commits never wait for it)."""
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.checkpoint)

    async def overview(self) -> None:
        """The daily overview (posted once per day across processes)."""
        posted = await sla_flows.post_daily_overview(self.rt)
        if posted:
            log.info("sla: daily overview posted to %d level channel(s)", posted)


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())
