"""Requests first: work after an ack waits for a lull in incoming requests, for a bounded time.

Slack waits on acks (3 s; the person who ran a command watches it), while nobody is hurt by an L2 card that
arrives a few hundred milliseconds later. Acks and the work after them share one event loop, and in a burst
every unit of work (an escalation is ~30 ms of CPU: database, cards, outbox) delays the acks queued behind
it. So while requests keep coming in, work that has not started yet (after-ack units waiting for a work
slot, the outbox sender's next pass) waits until `gap` seconds pass with no request in flight, but never
longer than `max_wait` seconds from the start of the busy spell. Past that the spell counts as sustained
load and work and acks share the loop as they would without this (the work is never starved). Work that has
started runs to its end: it may hold a database transaction.

One timer looks for the lull while work waits; at a lull the waiters go on one per `gap`, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RequestsFirst:
    """Counts requests in flight and tells work when it may start (see the module docstring)."""

    def __init__(self, *, gap: float, max_wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.gap, self.max_wait = gap, max_wait
        self._clock = clock
        self.in_flight = 0
        self._last_request = -float("inf")
        self._busy_since: float | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.waits = 0  # how often work had to wait

    @property
    def enabled(self) -> bool:
        return self.max_wait > 0

    def request_started(self) -> None:
        """An inbound Slack request arrived (call `request_finished` when its answer is ready)."""
        now = self._clock()
        self.in_flight += 1
        self._last_request = now
        if self._busy_since is None:
            self._busy_since = now

    def request_finished(self) -> None:
        self.in_flight -= 1
        self._last_request = self._clock()

    def delay(self) -> float:
        """0 when work may start now, else the seconds after which it is worth looking again."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        quiet_for = now - self._last_request
        if self.in_flight <= 0 and quiet_for >= self.gap:
            self._busy_since = None  # a lull: the next request starts a new spell
            return 0.0
        busy_since = self._busy_since if self._busy_since is not None else now
        overdue_in = busy_since + self.max_wait - now
        if overdue_in <= 0:
            return 0.0  # sustained load: no more waiting until the next lull
        lull_in = self.gap - quiet_for if self.in_flight <= 0 else self.gap
        return min(max(lull_in, 0.0), overdue_in)

    async def wait(self) -> None:
        """Return once work may start: at once, at the next lull, or when the busy spell is `max_wait` old."""
        delay = self.delay()
        if delay <= 0 and not self._waiters:
            return
        self.waits += 1
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._arm(max(delay, 0.0))
        await waiter

    def _arm(self, delay: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._look)

    def _look(self) -> None:
        """One look: at a lull (or past the bound) one waiter goes on, the next one a gap later. Work that
        waited starts one unit at a time, not all at once: the acks that arrive meanwhile queue behind one
        unit's first step, not behind sixteen and an outbox pass."""
        self._timer = None
        while self._waiters and self._waiters[0].done():  # cancelled while waiting
            self._waiters.popleft()
        if not self._waiters:
            return
        delay = self.delay()
        if delay <= 0:
            self._waiters.popleft().set_result(None)
            delay = self.gap
        if self._waiters:
            self._arm(delay)
