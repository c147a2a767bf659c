"""Finish inbound events a crash interrupted: recorded (and acknowledged) but never processed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bot.db import database_ok, note_failure
from bot.flows import intake
from bot.runtime import Runtime
from models import InboundEvent

log = logging.getLogger(__name__)


async def resume_pending(
    rt: Runtime, *, older_than: timedelta = timedelta(seconds=0), limit: int = 10000
) -> int:
    """Process recorded events without processed_at, oldest first; returns how many were resumed."""
    cutoff = rt.clock.now() - older_than
    rows = (
        await InboundEvent.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("id")
        .limit(limit)
    )
    done = 0
    for row in rows:
        try:
            await InboundEvent.filter(id=row.id).update(attempts=row.attempts + 1)
            await _process(rt, row)
            done += 1
        except Exception as exc:
            log.exception("inbox: resuming %s failed", row.event_id)
            await InboundEvent.filter(id=row.id).update(error=f"{type(exc).__name__}: {exc}"[:300])
    if done:
        log.info("inbox: resumed %d interrupted event(s)", done)
    return done


async def _process(rt: Runtime, row: InboundEvent) -> None:
    envelope = row.payload or {}
    event = envelope.get("event") or {}
    if row.kind == "message":
        await intake.process_message_event(rt, envelope=envelope, event=event, inbound_id=row.id)
    elif row.kind == "reaction_added":
        await intake.process_reaction_event(rt, envelope=envelope, event=event, inbound_id=row.id)
    else:
        await InboundEvent.filter(id=row.id).update(processed_at=rt.clock.now())


class InboundSpool:
    """Events acknowledged while the database was unavailable, kept in memory and processed once it is back.

    Slack gets its 200 at once (a 5xx storm would get the app's event subscription disabled); a crash during
    the outage loses what is spooled, which is logged. Bounded: past `limit` the oldest are dropped (and logged).
    """

    def __init__(self, rt: Runtime, *, limit: int = 10_000, interval: float = 1.0) -> None:
        self.rt, self.limit, self.interval = rt, limit, interval
        self._items: list[dict] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, envelope: dict) -> None:
        """Keep one delivery for later."""
        if len(self._items) >= self.limit:
            dropped = self._items.pop(0)
            log.error("inbox: spool full, dropping event %s", dropped.get("event_id"))
        self._items.append(envelope)
        log.warning(
            "inbox: database unavailable, spooled %s (%d waiting)", envelope.get("event_id"), len(self._items)
        )

    async def flush(self) -> int:
        """Record and process spooled events in order; stops at the first that still fails."""
        done = 0
        while self._items:
            envelope = self._items[0]
            event = envelope.get("event") or {}
            try:
                row, created = await InboundEvent.get_or_create(
                    event_id=str(envelope.get("event_id"))[:64],
                    defaults={
                        "kind": str(event.get("type")),
                        "payload": envelope,
                        "received_at": self.rt.clock.now(),
                    },
                )
                if created or row.processed_at is None:
                    await _process(self.rt, row)
            except Exception as exc:
                if not note_failure(exc):
                    log.exception("inbox: spooled event %s failed; dropped", envelope.get("event_id"))
                    self._items.pop(0)
                    continue
                return done
            self._items.pop(0)
            done += 1
        return done

    async def start(self) -> None:
        """Flush periodically in the background."""
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="inbox-spool")

    async def stop(self) -> None:
        """Stop the background flush (one last try first). A flush in progress is awaited, never cancelled:
        cancelling it inside a transaction could leave the database connection behind."""
        if self._task:
            self._stopping.set()
            await self._task
        if self._items:
            await self.flush()
        if self._items:
            log.error("inbox: %d spooled event(s) could not be processed before shutdown", len(self._items))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._items and not self._stopping.is_set() and await database_ok(0.5):
                await self.flush()
