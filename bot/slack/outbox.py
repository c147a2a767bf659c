"""Durable outbound messages: recorded with the state change (transactional outbox), sent exactly once.

The sender delivers pending rows in id order per stream (one ticket = one stream, so a thread keeps its
order), paces each channel with a token bucket (Slack allows about one message per second per channel),
retries 429 after Retry-After and 5xx/timeouts with jittered exponential backoff, and gives up only on
permanent errors — and, after MAX_UNKNOWN_ERROR_ATTEMPTS, on Slack errors it does not know (so one message Slack
keeps refusing cannot hold up its ticket's stream for good). After an attempt that got no answer it looks for the message in Slack (by the outbox id in
the message metadata) before sending again, so a timeout never doubles a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tortoise import connections
from tortoise.expressions import F, Q

from bot.clock import Clock
from bot.db import db_datetime
from bot.slack.ids import OUTBOX_EVENT_TYPE
from bot.slack.payload import api_error
from bot.slack.priority import RequestsFirst
from models import OutboxMessage, OutboxStatus, Ticket

log = logging.getLogger(__name__)

# Errors that will not get better by trying again.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "cant_update_message",
        "message_not_found",
        "edit_window_closed",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "too_many_attachments",
        "already_reacted",
        "invalid_name",
        "no_reaction",
        "invalid_thread_ts",
        "thread_not_found",
    }
)
# An `ok: false` error outside PERMANENT_ERRORS (and not a rate limit) is retried this many attempts in all,
# then treated as permanent: the stream is ordered, so a message retried for ever would block its ticket.
MAX_UNKNOWN_ERROR_ATTEMPTS = 5
JSON_METHODS = ("chat.", "views.")
MAX_BACKOFF = 300.0
# Pages of history searched for a message that may have been posted already (200 messages each).
FIND_PAGES = 50
# Tries per page of that search when Slack answers 429/5xx or not at all.
LOOKUP_TRIES = 3


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True)
class _Head:
    """The oldest pending row of a stream, as dispatch_due needs it."""

    id: int
    stream: str
    channel_id: str
    lease_until: datetime | None


async def _due_heads(
    now: datetime, *, limit: int, busy_channels: list[str], busy_streams: list[str]
) -> list[_Head]:
    """Pending rows that head their stream (no older pending row in it), due and not leased, oldest first.

    Plain SQL: "no older pending row in the stream" is a NOT EXISTS probe on the (status, stream, id) index,
    so the cost follows the rows returned, not the backlog (a GROUP BY over every pending row per pass
    slowed PostgreSQL to a crawl under a burst)."""
    conn = connections.get("default")
    sqlite = conn.capabilities.dialect == "sqlite"
    params: list[Any] = []

    def mark(value: Any) -> str:
        params.append(value)
        return "?" if sqlite else f"${len(params)}"

    at = db_datetime(now, sqlite=sqlite)
    pending = mark(OutboxStatus.PENDING.value)
    due, unleased = mark(at), mark(at)
    where = [f'o."status" = {pending}', f'o."next_attempt_at" <= {due}']
    where.append(f'(o."lease_until" IS NULL OR o."lease_until" <= {unleased})')
    if busy_channels:
        where.append(f'o."channel_id" NOT IN ({", ".join(mark(c) for c in busy_channels)})')
    if busy_streams:
        where.append(f'o."stream" NOT IN ({", ".join(mark(s) for s in busy_streams)})')
    older = mark(OutboxStatus.PENDING.value)
    where.append(
        f'NOT EXISTS (SELECT 1 FROM "outbox" p WHERE p."status" = {older} AND p."stream" = o."stream" '
        'AND p."id" < o."id")'
    )
    sql = (
        f'SELECT o."id", o."stream", o."channel_id", o."lease_until" FROM "outbox" o WHERE {" AND ".join(where)} '
        f'ORDER BY o."id" LIMIT {int(limit)}'
    )
    _, rows = await conn.execute_query(sql, params)
    lease_field = OutboxMessage._meta.fields_map["lease_until"]
    return [
        _Head(
            int(row["id"]),
            row["stream"],
            row["channel_id"],
            lease_field.to_python_value(row["lease_until"]) if row["lease_until"] is not None else None,
        )
        for row in rows
    ]


class ChannelPacer:
    """A token bucket per channel: `rate` messages per second with bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, _Bucket] = {}

    def wait_time(self, channel: str) -> float:
        """Seconds until the channel may take another message (0 when it may now)."""
        bucket = self._refill(channel)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def busy_channels(self) -> list[str]:
        """Channels that may not take a message now. Buckets that refilled completely are forgotten (a new
        one starts full), so this stays as short as the set of channels recently written to."""
        busy = []
        for channel in list(self._buckets):
            bucket = self._refill(channel)
            if bucket.tokens >= self.burst:
                del self._buckets[channel]
            elif bucket.tokens < 1:
                busy.append(channel)
        return busy

    def take(self, channel: str) -> None:
        """Spend one token."""
        self._refill(channel).tokens -= 1

    def _refill(self, channel: str) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.setdefault(channel, _Bucket(float(self.burst), now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        return bucket


async def enqueue(
    *,
    stream: str,
    method: str,
    channel_id: str,
    payload: dict[str, Any],
    now: datetime,
    thread_parent: OutboxMessage | None = None,
    target: OutboxMessage | None = None,
    thread_ts: str | None = None,
    on_delivered: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Record one Web API call; call it inside the transaction of the change that causes it."""
    body = {**payload, "channel": channel_id}
    if thread_ts:
        body["thread_ts"] = thread_ts
    return await OutboxMessage.create(
        stream=stream,
        method=method,
        channel_id=channel_id,
        payload=body,
        thread_parent_id=thread_parent.id if thread_parent else None,
        target_id=target.id if target else None,
        on_delivered=on_delivered,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


class _LookupFailed(Exception):
    """Slack could not be asked (429, 5xx, no answer) whether a message was posted already."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g}s")
        self.retry_after = retry_after


FailureHook = Callable[[OutboxMessage, str], Awaitable[None]]


class OutboxSender:
    """Delivers pending outbox rows; several processes may run one each (rows are leased)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        rate: float = 1.0,
        burst: int = 4,
        workers: int = 8,
        poll_interval: float = 0.5,
        lease_seconds: float = 60.0,
        batch: int = 64,
        uncertain_grace: float = 45.0,
        on_permanent_failure: FailureHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client, self.clock = client, clock
        # Set by the Runtime: each pass waits for a lull in incoming Slack requests (bounded), acks first.
        self.requests_first: RequestsFirst | None = None
        self.pacer = ChannelPacer(rate, burst)
        self.poll_interval, self.lease = poll_interval, timedelta(seconds=lease_seconds)
        self.batch = batch
        self.uncertain_grace = timedelta(seconds=uncertain_grace)
        self.on_permanent_failure = on_permanent_failure
        self.workers = workers
        self._slots = asyncio.Semaphore(workers)
        self._wake = asyncio.Event()
        self._streams_in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._rng = rng or random.Random()
        self.delivered = 0

    def wake(self) -> None:
        """Look for new rows now (called after a transaction that enqueued something commits)."""
        self._wake.set()

    async def start(self) -> None:
        """Run the delivery loop in the background (resumes whatever is pending from before)."""
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming rows and let in-flight deliveries finish for at most `grace` seconds."""
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            # Let the loop finish its current pass (a claim cancelled half-way would strand the row until its
            # lease runs out); it sees _stopping and ends.
            _, pending = await asyncio.wait({self._loop_task}, timeout=grace)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def drain(self, limit: float = 30.0) -> None:
        """Deliver until nothing is due (tests and CLI); raises TimeoutError if it takes too long."""
        deadline = time.monotonic() + limit
        while True:
            started = await self.dispatch_due()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=max(0.01, deadline - time.monotonic()))
            elif not started:
                due = await OutboxMessage.filter(
                    status=OutboxStatus.PENDING, next_attempt_at__lte=self.clock.now()
                ).exists()
                if not due:
                    return
                await asyncio.sleep(0.02)
            if time.monotonic() > deadline:
                raise TimeoutError("outbox did not drain in time")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the pass: a wake during it means another pass at once
            try:
                if self.requests_first is not None:
                    await self.requests_first.wait()
                await self.dispatch_due()
            except Exception:
                log.exception("outbox: dispatch failed; retrying shortly")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def dispatch_due(self) -> int:
        """Claim the head row of each stream that is due and start delivering it; returns how many.

        The database picks the heads (the oldest pending row of each stream) that are due, not leased, not in
        a channel that has used up its pace, and not in flight here, oldest first: a backlog in one channel
        or stream never hides the others, and a pass reads only as many rows as there are free workers.
        """
        now = self.clock.now()
        free = self.workers - len(self._tasks)
        if free <= 0 or self._stopping:
            return 0  # every worker is busy: the pass after the next delivery picks up from here
        rows = await _due_heads(
            now,
            limit=min(self.batch, free),
            busy_channels=self.pacer.busy_channels(),
            busy_streams=list(self._streams_in_flight),
        )
        heads = {row.stream: row for row in rows}
        started = 0
        for stream, row in heads.items():
            if self._stopping or stream in self._streams_in_flight:
                continue
            if self.pacer.wait_time(row.channel_id) > 0:
                continue
            claimed = (
                await OutboxMessage.filter(id=row.id, status=OutboxStatus.PENDING)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
                .update(lease_until=now + self.lease, attempts=F("attempts") + 1)
            )
            if not claimed:
                continue
            if row.lease_until is not None:
                # The previous claim ran out without an outcome: that sender died (or hung) mid-delivery and
                # Slack may have the message. Look for it before sending again, as after a timeout.
                await OutboxMessage.filter(
                    id=row.id, method="chat.postMessage", uncertain_since__isnull=True
                ).update(uncertain_since=row.lease_until - self.lease)
            self.pacer.take(row.channel_id)
            self._streams_in_flight.add(stream)
            task = asyncio.create_task(self._deliver(row.id, stream))
            self._tasks.add(task)
            task.add_done_callback(self._delivery_done)
            started += 1
        return started

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a worker is free: look for more

    async def _deliver(self, row_id: int, stream: str) -> None:
        try:
            async with self._slots:
                row = await OutboxMessage.get(id=row_id)
                await self._attempt(row)
        except Exception:
            log.exception("outbox: unexpected error delivering %s; will retry", row_id)
            await OutboxMessage.filter(id=row_id).update(
                lease_until=None, next_attempt_at=self.clock.now() + timedelta(seconds=5)
            )
        finally:
            self._streams_in_flight.discard(stream)
            self._wake.set()

    async def _attempt(self, row: OutboxMessage) -> None:
        args = dict(row.payload)
        for ref_id, key in ((row.thread_parent_id, "thread_ts"), (row.target_id, "ts")):
            if ref_id is None:
                continue
            ref = await OutboxMessage.get_or_none(id=ref_id)
            if ref is None or ref.status == OutboxStatus.FAILED:
                await self._fail(row, f"depends on message {ref_id}, which was not delivered")
                return
            if ref.status != OutboxStatus.DELIVERED:
                await self._retry(row, 0.2, "waiting for an earlier message", count=False)
                return
            args[key] = ref.result_ts
        if row.method == "chat.postMessage":
            args["metadata"] = {"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": str(row.id)}}
            if row.uncertain_since is not None:
                try:
                    found = await self._find_sent(row, args)
                except _LookupFailed as exc:  # could not look: never guess "not sent"
                    reason = "could not check whether it was sent (Slack busy)"
                    await self._retry(row, exc.retry_after, reason, count=False)
                    return
                if found:
                    await self._succeed(row, found)
                    return
                if self.clock.now() - row.uncertain_since < self.uncertain_grace:
                    await self._retry(row, 1.0, "no answer yet: checking again before resending", count=False)
                    return
        attempt_started = self.clock.now()
        try:
            if row.method.startswith(JSON_METHODS):
                response = await self.client.api_call(row.method, json=args)
            else:
                response = await self.client.api_call(row.method, params=args)
        except SlackApiError as exc:
            await self._handle_error(row, exc)
            return
        except (TimeoutError, aiohttp.ClientError) as exc:
            if row.method == "chat.postMessage" and row.uncertain_since is None:
                # From the start of this attempt: Slack may have posted it any time since.
                await OutboxMessage.filter(id=row.id).update(uncertain_since=attempt_started)
            await self._retry(row, self._backoff(row.attempts), f"no answer: {type(exc).__name__}")
            return
        await self._succeed(row, response.get("ts") or (response.get("message") or {}).get("ts"))

    async def _handle_error(self, row: OutboxMessage, exc: SlackApiError) -> None:
        status = exc.response.status_code
        error = api_error(exc)
        if status == 429 or error in ("ratelimited", "rate_limited"):
            retry_after = float(
                exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
            )
            await self._retry(
                row, retry_after + self._rng.uniform(0, 0.25), f"rate limited ({retry_after:g}s)"
            )
        elif error == "not_in_channel" and not row.payload.get("_joined"):
            await self._join_and_retry(row)
        elif error in PERMANENT_ERRORS:
            await self._fail(row, error)
        elif status < 500 and row.attempts >= MAX_UNKNOWN_ERROR_ATTEMPTS:
            await self._fail(row, f"{error} (not a known Slack error; gave up after {row.attempts} attempts)")
        else:
            await self._retry(row, self._backoff(row.attempts), error)

    async def _join_and_retry(self, row: OutboxMessage) -> None:
        try:
            await self.client.api_call("conversations.join", params={"channel": row.channel_id})
        except SlackApiError as exc:
            await self._fail(row, f"not_in_channel (join failed: {api_error(exc)})")
            return
        row.payload = {**row.payload, "_joined": True}
        await row.save(update_fields=["payload"])
        await self._retry(row, 0.0, "joined the channel", count=False)

    async def _find_sent(self, row: OutboxMessage, args: dict[str, Any]) -> str | None:
        """Look for a message this row may already have posted (an attempt got no answer, or its sender died
        holding the lease). The message cannot be older than that first uncertain attempt, so history is read
        from just before it up to now, page by page (in a busy channel the newest page alone would miss it and
        the message would be doubled). A page Slack refuses (429, 5xx, no answer) is asked again a few times;
        if it still fails, `_LookupFailed` says "not known", never "not sent"."""
        since = row.uncertain_since or row.created_at
        query: dict[str, Any] = {
            "channel": row.channel_id,
            "include_all_metadata": True,
            "limit": 200,
            "oldest": f"{(since - timedelta(seconds=5)).timestamp():.6f}",
        }
        method = "conversations.history"
        if args.get("thread_ts"):
            method, query["ts"] = "conversations.replies", args["thread_ts"]
        for _ in range(FIND_PAGES):
            response = await self._lookup_page(row, method, query)
            if response is None:
                return None
            for message in response.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("outbox_id") == str(row.id):
                    return message.get("ts")
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            query["cursor"] = cursor
        log.warning("outbox: message %s not found in %d pages; sending it", row.id, FIND_PAGES)
        return None

    async def _lookup_page(self, row: OutboxMessage, method: str, query: dict[str, Any]) -> Any:
        """One page of history; None when Slack won't let us look at all (sending is then the only way on)."""
        wait = 1.0
        for _ in range(LOOKUP_TRIES):
            try:
                return await self.client.api_call(method, http_verb="GET", params=query)
            except SlackApiError as exc:
                status = exc.response.status_code
                if status != 429 and status < 500 and api_error(exc) != "ratelimited":
                    log.warning("outbox: cannot look for message %s (%s)", row.id, api_error(exc))
                    return None
                headers = exc.response.headers or {}
                wait = float(headers.get("Retry-After", headers.get("retry-after", 1)) or 1)
            except (TimeoutError, aiohttp.ClientError):
                wait = 1.0
            await asyncio.sleep(min(wait, 5.0))
        raise _LookupFailed(wait)

    async def _succeed(self, row: OutboxMessage, ts: str | None) -> None:
        now = self.clock.now()
        await OutboxMessage.filter(id=row.id).update(
            status=OutboxStatus.DELIVERED, result_ts=ts, delivered_at=now, lease_until=None, last_error=None
        )
        hook = row.on_delivered or {}
        if ts and hook.get("ticket_thread"):
            await Ticket.filter(id=hook["ticket_thread"], thread_ts__isnull=True).update(
                thread_ts=ts, source_ts=ts
            )
        self.delivered += 1

    async def _retry(self, row: OutboxMessage, delay: float, reason: str, *, count: bool = True) -> None:
        update: dict[str, Any] = {
            "next_attempt_at": self.clock.now() + timedelta(seconds=delay),
            "lease_until": None,
            "last_error": reason[:300],
        }
        if not count:
            update["attempts"] = F("attempts") - 1
        await OutboxMessage.filter(id=row.id).update(**update)
        if count:
            log.info("outbox: message %s retry in %.1fs: %s", row.id, delay, reason)

    async def _fail(self, row: OutboxMessage, reason: str) -> None:
        log.warning("outbox: message %s to %s failed for good: %s", row.id, row.channel_id, reason)
        await OutboxMessage.filter(id=row.id).update(
            status=OutboxStatus.FAILED, last_error=reason[:300], lease_until=None
        )
        if self.on_permanent_failure:
            try:
                await self.on_permanent_failure(row, reason)
            except Exception:
                log.exception("outbox: failure hook raised for message %s", row.id)

    def _backoff(self, attempts: int) -> float:
        ceiling = min(MAX_BACKOFF, 0.5 * 2 ** max(0, attempts - 1))
        return self._rng.uniform(ceiling / 2, ceiling)
