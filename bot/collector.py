"""Python's cyclic garbage collector and the event loop: keep its full passes short.

A full collection stops the event loop, and every ack with it, for as long as it walks the heap. Two kinds of
objects make that walk long without ever being garbage:

- what start-up made (models, migrations' state, config, caches): frozen once, after start-up;
- during a burst, the requests waiting for their turn after the ack (Bolt's request, context and clients for each, kept
  until the work is done): measured at 200 `/escalate`/s, full passes over that backlog paused the bot for
  100–560 ms. While work waits, what is alive is frozen once a second, so a full pass walks only what is
  newer. When nothing waits any more, everything is handed back to the collector and collected once (the
  cycles the burst left behind), and what is still alive is frozen again.

Freezing never frees anything early: frozen objects still die by reference counting, and what they refer to
counts as reachable. See docs/operations.md ("Answering Slack in time").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Seconds between two looks at the backlog.
INTERVAL = 1.0


class CollectorGuard:
    """Freezes the heap after start-up, and once a second while work waits for its turn (`waiting()` > 0)."""

    def __init__(self, waiting: Callable[[], int], *, interval: float = INTERVAL) -> None:
        self.waiting, self.interval = waiting, interval
        self.in_burst = False
        self._task: asyncio.Task[None] | None = None

    def after_start_up(self) -> None:
        gc.collect()
        gc.freeze()

    def tick(self) -> None:
        """One look: freeze during a burst; once the burst is over, collect what it left and freeze again."""
        if self.waiting() > 0:
            gc.freeze()
            self.in_burst = True
        elif self.in_burst:
            self.in_burst = False
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            log.info(
                "burst over: collected %d objects in %.0f ms", found, (time.perf_counter() - started) * 1000
            )

    def start(self) -> None:
        self.after_start_up()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.tick()

    async def stop(self) -> None:
        """Stop looking and hand everything back to the collector (several bots may share a process)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        gc.unfreeze()
