"""Work after an ack: in arrival order, `concurrency` units at a time, each started at a lull in requests.

A slash command or an Events API delivery is acked first; its work (database, cards, outbox) waits here for
its turn. A waiting unit is one small entry (the function, its arguments and the request's context
variables), not a task: the ack only appends it, and a burst of thousands waiting keeps the heap (and so
the garbage collector's passes, which stop every ack) small. When a unit's turn comes, a worker starts it in
a task of its own, under the context variables of the request it came from (its log lines keep their
request id), and waits for it before it takes the next.

A worker takes the next unit only when `RequestsFirst` says so (a lull in requests, bounded), and there are
never more workers than `concurrency`. One timer for the whole queue watches each unit's `notice_after`
seconds (Slack's budget, counted from its request's arrival): a unit still waiting then gets its `on_wait`
called once with its arguments (the command's "waiting its turn"), one still running its `on_slow` ("taking
longer than usual"); one that has finished, neither. When shutdown begins (`stop`) units that have not
started are not started any more: their `refuse` is run instead (the command's "not done, please run it
again"); what runs finishes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from bot.slack.priority import RequestsFirst

log = logging.getLogger(__name__)

Work = Callable[..., Coroutine[Any, Any, Any]]
Spawn = Callable[..., "asyncio.Task[Any]"]


class Unit:
    """One piece of work after an ack, waiting for its turn."""

    __slots__ = ("work", "args", "context", "refuse", "on_wait", "on_slow", "due", "task")

    def __init__(
        self,
        work: Work,
        args: tuple[Any, ...],
        context: contextvars.Context,
        refuse: Work | None,
        on_wait: Callable[..., None] | None,
        on_slow: Callable[..., None] | None,
        due: float,
    ) -> None:
        self.work, self.args, self.context = work, args, context
        self.refuse, self.on_wait, self.on_slow, self.due = refuse, on_wait, on_slow, due
        self.task: asyncio.Task[Any] | None = None  # set when its turn comes


class AfterAck:
    """The queue of work after acks and its workers (see the module docstring)."""

    def __init__(
        self,
        *,
        concurrency: int,
        requests_first: RequestsFirst,
        spawn: Spawn,
        notice_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency, self.requests_first, self.spawn = concurrency, requests_first, spawn
        self.notice_after, self._clock = notice_after, clock
        self._queue: deque[Unit] = deque()
        self._unnoticed: deque[Unit] = deque()  # units with a notice to give, oldest first
        self._timer: asyncio.TimerHandle | None = None
        self.workers = 0
        self.stopping = False

    def waiting(self) -> int:
        """Units acked and waiting for their turn (a burst beyond what the workers work off at once)."""
        return len(self._queue)

    def submit(
        self,
        work: Work,
        *args: Any,
        refuse: Work | None = None,
        on_wait: Callable[..., None] | None = None,
        on_slow: Callable[..., None] | None = None,
        since: float | None = None,
    ) -> None:
        """Queue `work(*args)`; `refuse(*args)` runs instead when shutdown comes first. `notice_after` seconds
        from `since` (when its request arrived; default now) `on_wait(*args)` is called if it has not started,
        `on_slow(*args)` if it is still running. Never blocks."""
        due = (self._clock() if since is None else since) + self.notice_after
        unit = Unit(work, args, contextvars.copy_context(), refuse, on_wait, on_slow, due)
        if self.stopping:
            self._refuse(unit)
            return
        self._queue.append(unit)
        if on_wait is not None or on_slow is not None:
            self._unnoticed.append(unit)
            if self._timer is None:
                self._arm()
        if self.workers < self.concurrency:
            self.workers += 1
            self.spawn(self._worker(), name="after-ack worker")

    def stop(self) -> None:
        """Shutdown begins: nothing waiting is started any more; each is refused (units already running
        finish). Workers waiting for a lull see it when they wake and end."""
        self.stopping = True
        while self._queue:
            self._refuse(self._queue.popleft())
        # What runs may still need its slow notice; what waited was refused instead.
        self._unnoticed = deque(u for u in self._unnoticed if u.task is not None)
        if not self._unnoticed and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _worker(self) -> None:
        try:
            while self._queue and not self.stopping:
                await self.requests_first.wait()
                if self.stopping or not self._queue:
                    break
                unit = self._queue.popleft()
                unit.task = task = self.spawn(unit.work(*unit.args), name="after ack", context=unit.context)
                # Waiting does not cancel the unit if the worker is cancelled: it may hold a transaction.
                await asyncio.wait({task})
                if not task.cancelled() and task.exception() is not None:
                    log.error("work after an ack failed", exc_info=task.exception())
        finally:
            self.workers -= 1

    def _refuse(self, unit: Unit) -> None:
        if unit.refuse is not None:
            self.spawn(unit.refuse(*unit.args), name="refused after ack")

    def _arm(self) -> None:
        delay = max(0.0, self._unnoticed[0].due - self._clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._look)

    def _look(self) -> None:
        """Give every unit whose notice is due the one that fits (waiting or running); wait for the next."""
        self._timer = None
        now = self._clock()
        while self._unnoticed and (_finished(self._unnoticed[0]) or self._unnoticed[0].due <= now):
            unit = self._unnoticed.popleft()
            if _finished(unit):
                continue
            notice = unit.on_wait if unit.task is None else unit.on_slow
            if notice is not None:
                try:
                    notice(*unit.args)
                except Exception:
                    log.exception("could not tell a request that it waits or is slow")
        if self._unnoticed:
            self._arm()


def _finished(unit: Unit) -> bool:
    return unit.task is not None and unit.task.done()
