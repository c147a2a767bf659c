"""Finish inbound events a crash interrupted: recorded (and acknowledged) but never processed."""

from __future__ import annotations

import logging
from datetime import timedelta

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
        envelope = row.payload or {}
        event = envelope.get("event") or {}
        try:
            await InboundEvent.filter(id=row.id).update(attempts=row.attempts + 1)
            if row.kind == "message":
                await intake.process_message_event(rt, envelope=envelope, event=event, inbound_id=row.id)
            elif row.kind == "reaction_added":
                await intake.process_reaction_event(rt, envelope=envelope, event=event, inbound_id=row.id)
            else:
                await InboundEvent.filter(id=row.id).update(processed_at=rt.clock.now())
            done += 1
        except Exception as exc:
            log.exception("inbox: resuming %s failed", row.event_id)
            await InboundEvent.filter(id=row.id).update(error=f"{type(exc).__name__}: {exc}"[:300])
    if done:
        log.info("inbox: resumed %d interrupted event(s)", done)
    return done
