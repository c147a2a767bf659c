"""Bolt middleware: hand the runtime to listeners, clean and guard what they get from the payload, and record
Events API deliveries before the ack."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from tortoise.exceptions import IntegrityError

from bot.db import GATE, is_unavailable, note_failure
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.answers import SafeRespond
from models import InboundEvent

log = logging.getLogger(__name__)

# Event types whose deliveries are recorded (dedup + resume after a crash).
RECORDED_EVENTS = frozenset({"message", "reaction_added"})
RECORD_TIMEOUT = 2.0


class RequestGuards(AsyncMiddleware):
    """Every request's preparation, in order, before any listener runs:

    1. the runtime in the context as context['rt'], and when the request arrived (time.monotonic()) as
       context['received_at']: a trigger_id's 3 seconds count from then;
    2. NUL characters removed from everything the payload carries, before anything is stored: PostgreSQL
       cannot store them (text, jsonb), and no person types one (the signature was checked on the raw body);
    3. a respond() that answers privately when the payload has no usable response_url, instead of raising
       (for listeners and the error handler);
    4. Events API deliveries recorded under their event_id before the ack (`record_inbound_event`);
    5. the request counted in flight until its answer is ready: work that has not started waits for a lull
       (`bot.slack.priority`).

    One class-based middleware rather than four decorated functions: Bolt builds the whole set of listener
    arguments (about thirty, payload parsers included) for each function middleware on every request, and
    that was a third of the time a slash command spent in Bolt before its ack.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        context = req.context
        context["rt"] = self.rt
        context["received_at"] = time.monotonic()
        strip_nul_characters(req)
        context["respond"] = SafeRespond(
            context.respond,
            context.client,
            user_id=context.user_id,
            channel_id=context.channel_id,
        )
        self.rt.requests_first.request_started()
        try:
            return await record_inbound_event(req.body, context, next)
        finally:
            self.rt.requests_first.request_finished()


# The forms a NUL character takes in a raw body: itself, JSON's escape (Events API), form-encoded (slash
# commands), and JSON's escape form-encoded (interactivity's payload=…, either case of the hex digit).
NUL_ON_THE_WIRE = ("\x00", "\\u0000", "%00", "%5Cu0000", "%5cu0000")


def strip_nul_characters(req: AsyncBoltRequest) -> None:
    """Remove NUL characters from the parsed payload (in place). An HTTP body that carries none is left alone;
    Socket Mode hands Bolt the parsed payload without its raw text, so that is always walked."""
    raw = req.raw_body
    if isinstance(req.body, dict) and (not raw or any(form in raw for form in NUL_ON_THE_WIRE)):
        cleaned = payload.without_nul(req.body)
        req.body.clear()
        req.body.update(cleaned)


async def record_inbound_event(
    body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse | None:
    """Store the delivery under its event_id; a delivery seen before is acknowledged and dropped."""
    if payload.obj(body).get("type") != "event_callback":
        await next()
        return None
    event = payload.obj(body.get("event"))
    event_id = body.get("event_id")
    if (
        payload.string(event.get("type")) not in RECORDED_EVENTS
        or not isinstance(event_id, str)
        or not event_id
    ):
        await next()
        return None
    rt: Runtime = context["rt"]
    if GATE.is_down():  # a known outage: straight to the spool instead of queueing behind the database
        rt.spool.add(body)
        return BoltResponse(status=200, body="")
    try:
        row = await asyncio.wait_for(
            InboundEvent.create(
                event_id=event_id[:64], kind=str(event.get("type")), payload=body, received_at=rt.clock.now()
            ),
            RECORD_TIMEOUT,
        )
    except IntegrityError:
        log.info("inbound: duplicate delivery of %s ignored", event_id, extra={"event_id": event_id})
        return BoltResponse(status=200, body="")
    except Exception as exc:
        if isinstance(exc, TimeoutError) or is_unavailable(exc):
            # Database slow or down: ack now, process once it is back, never 5xx to Slack.
            if not isinstance(exc, TimeoutError):  # slow is not down: a probe decides whether it is down
                note_failure(exc)
            rt.spool.add(body)
            return BoltResponse(status=200, body="")
        # Not an outage (this delivery cannot be stored as it is): handle it without the dedup record.
        log.exception("inbound: could not record %s; handling it unrecorded", event_id)
        await next()
        return None
    context["inbound_id"] = row.id
    await next()
    return None
