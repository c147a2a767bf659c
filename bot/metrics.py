"""Prometheus metrics for `GET /metrics`.

Per process: inbound requests by type, name and outcome, and the ack latency (time from receiving a Slack
request to answering it), recorded around the dispatch in bot/server.py. From the database, read on scrape
by a collector (a few GROUP BY queries, cached for `cache_seconds`): tickets by level and status, open SLA
timers by state, the outbox's depth and age, and the outbox's delivery latency (enqueue → delivered, each
delivery observed once by this process). The database-backed families are the same on every replica:
scrape one, or aggregate them with max(). Metric list: docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.clock import Clock
from bot.services import home as state
from bot.slack.ids import ActionId, CallbackId, Command
from models import OutboxMessage, OutboxStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
SCAN_LIMIT = 20_000
_KNOWN_EVENTS = frozenset({"message", "reaction_added", "app_home_opened", "member_joined_channel"})
_KNOWN = frozenset(
    {*(c.value for c in Command), *(a.value for a in ActionId), *(c.value for c in CallbackId)}
)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def classify(body: Any) -> tuple[str, str]:
    """(type, name) of a Slack request for labels; names are known ids or 'other' (bounded cardinality).
    Never raises, whatever the (signed but malformed) body looks like."""
    body = _dict(body)
    kind = body.get("type")
    if body.get("command"):
        kind, name = "command", body.get("command")
    elif kind == "event_callback":
        event = _dict(body.get("event")).get("type")
        return "event", event if event in _KNOWN_EVENTS else "other"
    elif kind == "block_actions":
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        name = _dict(first).get("action_id")
    elif kind in ("view_submission", "view_closed"):
        name = _dict(body.get("view")).get("callback_id")
    elif kind in ("shortcut", "message_action"):
        name = body.get("callback_id")
    else:
        return (kind[:32] if isinstance(kind, str) and kind else "unknown"), "other"
    return str(kind), name if isinstance(name, str) and name in _KNOWN else "other"


def outcome(status: int) -> str:
    """The label for an HTTP answer to Slack."""
    if status < 300:
        return "ok"
    return {400: "bad_request", 401: "unauthorized", 404: "unhandled", 503: "unavailable"}.get(
        status, "error"
    )


class StateCollector(Collector):
    """Gauges read from the database on scrape (cached), and the outbox delivery histogram."""

    def __init__(
        self, *, clock: Clock, horizon: timedelta, delivery: Histogram, cache_seconds: float
    ) -> None:
        self.clock, self.horizon, self.delivery = clock, horizon, delivery
        self.cache_seconds = cache_seconds
        self._families: list[Metric] = []
        self._fresh_until = 0.0
        self._cursor: int | None = None
        self._observed: set[int] = set()

    async def refresh(self) -> None:
        """Query the database unless the last answer is younger than cache_seconds."""
        if time.monotonic() < self._fresh_until:
            return
        now = self.clock.now()
        tickets = GaugeMetricFamily(
            "support_tickets", "Tickets by level and status.", labels=["level", "status"]
        )
        for (level, status), count in sorted((await state.ticket_counts()).items()):
            tickets.add_metric([level, status], count)
        counts = await state.timer_counts(risky_before=now + self.horizon)
        timers = GaugeMetricFamily(
            "support_sla_timers",
            "Open SLA timers of open tickets: running, paused, at_risk (running, due within the horizon), "
            "breached (past target).",
            labels=["state"],
        )
        for name in ("running", "paused", "at_risk", "breached"):
            timers.add_metric([name], getattr(counts, name))
        depth = await OutboxMessage.filter(status=OutboxStatus.PENDING).count()
        failed = await OutboxMessage.filter(status=OutboxStatus.FAILED).count()
        oldest = (
            await OutboxMessage.filter(status=OutboxStatus.PENDING)
            .order_by("id")
            .first()
            .values("created_at")
        )
        age = max(0.0, (now - oldest["created_at"]).total_seconds()) if oldest else 0.0
        self._families = [
            tickets,
            timers,
            GaugeMetricFamily(
                "support_outbox_depth", "Outbound messages waiting to be delivered.", value=depth
            ),
            GaugeMetricFamily(
                "support_outbox_failed", "Outbound messages that failed for good.", value=failed
            ),
            GaugeMetricFamily(
                "support_outbox_oldest_pending_seconds", "Age of the oldest undelivered message.", value=age
            ),
        ]
        await self._observe_deliveries()
        self._fresh_until = time.monotonic() + self.cache_seconds

    async def _observe_deliveries(self) -> None:
        """Observe each delivery once: scan rows from the oldest one pending at the last scrape on."""
        if self._cursor is None:
            pending = (
                await OutboxMessage.filter(status=OutboxStatus.PENDING).order_by("id").first().values("id")
            )
            latest = await OutboxMessage.all().order_by("-id").first().values("id")
            self._cursor = (pending["id"] - 1) if pending else (latest["id"] if latest else 0)
            return
        rows = (
            await OutboxMessage.filter(id__gt=self._cursor)
            .order_by("id")
            .limit(SCAN_LIMIT)
            .values("id", "status", "created_at", "delivered_at")
        )
        first_pending: int | None = None
        for row in rows:
            if row["status"] == OutboxStatus.PENDING:
                first_pending = first_pending if first_pending is not None else row["id"]
            elif row["status"] == OutboxStatus.DELIVERED and row["id"] not in self._observed:
                self._observed.add(row["id"])
                delivered: datetime | None = row["delivered_at"]
                if delivered is not None:
                    self.delivery.observe(max(0.0, (delivered - row["created_at"]).total_seconds()))
        if rows:
            self._cursor = (first_pending - 1) if first_pending is not None else rows[-1]["id"]
            self._observed = {i for i in self._observed if i > self._cursor}

    def collect(self) -> Iterator[Metric]:
        """The families of the last refresh."""
        yield from self._families


class BotMetrics:
    """The metrics of one bot process, in their own registry."""

    def __init__(
        self, *, clock: Clock, horizon: timedelta = timedelta(hours=4), cache_seconds: float = 5.0
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "support_requests",
            "Slack requests (events, commands, interactions) by type, name and outcome.",
            ["type", "name", "outcome"],
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "support_ack_latency_seconds",
            "Time from receiving a Slack request to answering it (the ack).",
            ["type"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        delivery = Histogram(
            "support_outbox_delivery_latency_seconds",
            "Time from recording an outbound message to Slack accepting it.",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self._counters: dict[tuple[str, str, str], Counter] = {}
        self._latencies: dict[str, Histogram] = {}
        self.state = StateCollector(
            clock=clock, horizon=horizon, delivery=delivery, cache_seconds=cache_seconds
        )
        self.registry.register(self.state)

    def observe_request(self, body: dict[str, Any] | None, *, status: int, seconds: float) -> None:
        """Count one Slack request and its ack latency."""
        kind, name = classify(body)
        labels = (kind, name, outcome(status))
        counter = self._counters.get(labels)
        if counter is None:  # `labels()` validates and locks on every call; the children never change
            counter = self._counters[labels] = self.requests.labels(*labels)
        histogram = self._latencies.get(kind)
        if histogram is None:
            histogram = self._latencies[kind] = self.ack_latency.labels(kind)
        counter.inc()
        histogram.observe(seconds)

    async def exposition(self) -> bytes:
        """The text format for a scrape (refreshing the database-backed gauges when stale)."""
        await self.state.refresh()
        return generate_latest(self.registry)
