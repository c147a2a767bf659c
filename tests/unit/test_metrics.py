"""`GET /metrics` parses with prometheus-client's own parser and has the documented families with the right
numbers; every log record written while handling a request carries its request id (JSON logs)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter, RequestContextFilter
from bot.metrics import classify, outcome
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL
from bot.server import METRICS_KEY
from tests.harness import Harness

ANNA, JO = "U0L1ANNA", "U0ACMEJO"
DOCUMENTED = {
    "support_requests": "counter",
    "support_ack_latency_seconds": "histogram",
    "support_tickets": "gauge",
    "support_sla_timers": "gauge",
    "support_outbox_depth": "gauge",
    "support_outbox_failed": "gauge",
    "support_outbox_oldest_pending_seconds": "gauge",
    "support_outbox_delivery_latency_seconds": "histogram",
}


async def scrape(h: Harness) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    async with aiohttp.ClientSession() as session, session.get(f"{h.bot_url}/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            (s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples
        } | {("__type__", ()): family.type}  # type: ignore[dict-item]
    return families


def request_id(headers: dict[str, str]) -> str:
    return {k.lower(): v for k, v in headers.items()}["x-request-id"]


def value(families: dict, family: str, sample: str, **labels: str) -> float:
    return families[family].get((sample, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_parse_and_count_requests_tickets_timers_and_the_outbox(bot: Harness) -> None:
    bot.parts.web_app[METRICS_KEY].state.cache_seconds = 0.0
    first = await scrape(bot)
    assert {name: first[name][("__type__", ())] for name in DOCUMENTED} == DOCUMENTED

    await bot.driver.post_message(JO, ACME_CHANNEL, "The printer prints blank pages")
    await bot.settle()
    await bot.command(ANNA, L1_CHANNEL, "/ticket", "list")
    families = await scrape(bot)
    assert (
        value(
            families, "support_requests", "support_requests_total", type="event", name="message", outcome="ok"
        )
        == 1
    )
    assert (
        value(
            families,
            "support_requests",
            "support_requests_total",
            type="command",
            name="/ticket",
            outcome="ok",
        )
        == 1
    )
    assert (
        value(families, "support_ack_latency_seconds", "support_ack_latency_seconds_count", type="command")
        == 1
    )
    assert (
        value(
            families,
            "support_ack_latency_seconds",
            "support_ack_latency_seconds_bucket",
            type="command",
            le="3.0",
        )
        == 1
    )
    assert value(families, "support_tickets", "support_tickets", level="L1", status="new") == 1
    # Demo SLA: first response and resolution run for the new ticket (the activity timer is not counted).
    assert value(families, "support_sla_timers", "support_sla_timers", state="running") == 2
    assert value(families, "support_sla_timers", "support_sla_timers", state="breached") == 0
    assert value(families, "support_outbox_depth", "support_outbox_depth") == 0
    # The ack, the card and the KB suggestions were delivered after the first scrape: each observed once.
    delivered = value(
        families, "support_outbox_delivery_latency_seconds", "support_outbox_delivery_latency_seconds_count"
    )
    assert delivered >= 2
    again = await scrape(bot)
    assert (
        value(
            again, "support_outbox_delivery_latency_seconds", "support_outbox_delivery_latency_seconds_count"
        )
        == delivered
    )


async def test_a_bad_signature_is_counted_as_unauthorized(bot: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{bot.bot_url}/slack/events", data=b"{}") as response:
            assert response.status == 401 and response.headers["X-Request-Id"]
    families = await scrape(bot)
    assert (
        value(
            families,
            "support_requests",
            "support_requests_total",
            type="unknown",
            name="other",
            outcome="unauthorized",
        )
        == 1
    )


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root, middleware = logging.getLogger(), logging.getLogger("bot.slack.middleware")
    level = middleware.level
    root.addHandler(handler)
    middleware.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        middleware.setLevel(level)


async def test_log_records_carry_the_request_id_and_event_id(bot: Harness, json_log: io.StringIO) -> None:
    first = await bot.driver.post_message(JO, ACME_CHANNEL, "The printer prints blank pages")
    await bot.settle()
    again = await bot.driver.redeliver(first)  # Slack's retry: logged as a duplicate
    await bot.settle()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    duplicate = [r for r in lines if r["message"].startswith("inbound: duplicate delivery")]
    assert len(duplicate) == 1
    assert duplicate[0]["request_id"] == request_id(again.headers) != request_id(first.headers)
    assert duplicate[0]["event_id"] == first.event_id


def test_request_labels_are_bounded() -> None:
    assert classify({"command": "/ticket"}) == ("command", "/ticket")
    assert classify({"command": "/somethingelse"}) == ("command", "other")
    assert classify({"type": "block_actions", "actions": [{"action_id": "card.claim"}]}) == (
        "block_actions",
        "card.claim",
    )
    assert classify({"type": "block_actions", "actions": [{"action_id": "x" * 200}]}) == (
        "block_actions",
        "other",
    )
    assert classify({"type": "event_callback", "event": {"type": "app_home_opened"}}) == (
        "event",
        "app_home_opened",
    )
    assert classify({"type": "view_submission", "view": {"callback_id": "csat.comment"}}) == (
        "view_submission",
        "csat.comment",
    )
    assert classify(None) == ("unknown", "other")
    assert [outcome(s) for s in (200, 400, 401, 404, 500, 503)] == [
        "ok",
        "bad_request",
        "unauthorized",
        "unhandled",
        "error",
        "unavailable",
    ]


def test_malformed_bodies_are_classified_without_errors() -> None:
    for body in (
        {"type": "block_actions", "actions": "nope"},
        {"type": "block_actions", "actions": [None]},
        {"type": "event_callback", "event": ["x"]},
        {"type": "view_submission", "view": "v"},
        {"type": ["list"]},
        {"command": ["/ticket"]},
        [1, 2],
    ):
        kind, name = classify(body)
        assert isinstance(kind, str) and name == "other"
