"""Fault injection: 429 + Retry-After, 5xx, stalls, Slack error codes, seeded probabilities."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.standin import FaultInjector, SlackStandIn

from .conftest import STANDIN_TOKEN


async def test_rate_limited_answer_has_retry_after(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    standin.faults.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await standin_client.chat_postMessage(channel="C0SUPPORT", text="x")
    response = err.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.data == {"ok": False, "error": "ratelimited"}
    assert standin.workspace.channel_messages("C0SUPPORT") == []
    second = await standin_client.chat_postMessage(channel="C0SUPPORT", text="x")
    assert second["ok"] is True  # only the next call was limited


async def test_rate_limit_retry_handler_recovers(standin: SlackStandIn) -> None:
    client = AsyncWebClient(
        token=STANDIN_TOKEN,
        base_url=standin.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    standin.faults.rate_limit("chat.postMessage", retry_after=0, times=2)
    resp = await client.chat_postMessage(channel="C0SUPPORT", text="eventually")
    assert resp["ok"] is True
    outcomes = [c.outcome for c in standin.calls_to("chat.postMessage")]
    assert outcomes == ["ratelimited", "ratelimited", "ok"]
    assert len(standin.workspace.channel_messages("C0SUPPORT")) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(standin: SlackStandIn, standin_client: AsyncWebClient, status: int) -> None:
    standin.faults.server_error("conversations.info", status=status)
    with pytest.raises(SlackApiError) as err:
        await standin_client.conversations_info(channel="C0SUPPORT")
    assert err.value.response.status_code == status
    assert standin.calls_to("conversations.info")[0].outcome == f"http_{status}"
    retrying = AsyncWebClient(
        token=STANDIN_TOKEN,
        base_url=standin.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.01))
        ],
    )
    standin.faults.server_error("conversations.info", status=status)
    assert (await retrying.conversations_info(channel="C0SUPPORT"))["ok"] is True


async def test_stall_then_normal_answer(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    standin.faults.stall("users.info", seconds=0.3)
    started = time.monotonic()
    resp = await standin_client.users_info(user="U0ALICE")
    assert resp["ok"] is True
    assert time.monotonic() - started >= 0.3
    assert standin.calls_to("users.info")[0].fault == "stall"


async def test_stall_longer_than_client_timeout(standin: SlackStandIn) -> None:
    impatient = AsyncWebClient(token=STANDIN_TOKEN, base_url=standin.api_url, timeout=0.2)
    standin.faults.stall("chat.postMessage", seconds=0.6)
    with pytest.raises(asyncio.TimeoutError):
        await impatient.chat_postMessage(channel="C0SUPPORT", text="slow")
    await asyncio.sleep(0.5)
    # Slack finished the work even though the client gave up: the message exists (duplicate risk on retry).
    assert [m.text for m in standin.workspace.channel_messages("C0SUPPORT")] == ["slow"]


async def test_injected_slack_error_code(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    standin.faults.error("chat.postMessage", "fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await standin_client.chat_postMessage(channel="C0SUPPORT", text="x")
        assert err.value.response["error"] == "fatal_error"
    assert (await standin_client.chat_postMessage(channel="C0SUPPORT", text="x"))["ok"] is True
    assert len(standin.workspace.channel_messages("C0SUPPORT")) == 1


async def test_wildcard_fault_applies_to_every_method(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    standin.faults.error("*", "service_unavailable", times=2)
    for call in (standin_client.auth_test(), standin_client.users_info(user="U0ALICE")):
        with pytest.raises(SlackApiError):
            await call
    assert [c.outcome for c in standin.calls] == ["service_unavailable", "service_unavailable"]


def _outcomes(seed: int, n: int) -> list[str]:
    faults = FaultInjector(seed=seed)
    faults.rate_limit("chat.postMessage", probability=0.10)
    faults.server_error("chat.postMessage", probability=0.02)
    return [(f.kind if (f := faults.next_fault("chat.postMessage")) else "ok") for _ in range(n)]


def test_probability_faults_are_reproducible_with_a_seed() -> None:
    first, again, other = _outcomes(42, 2000), _outcomes(42, 2000), _outcomes(7, 2000)
    assert first == again
    assert first != other
    assert 150 < first.count("ratelimited") < 250
    assert 15 < first.count("http_error") < 60


async def test_probability_faults_over_http(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    standin.faults.reseed(3)
    standin.faults.rate_limit("chat.postMessage", probability=0.3, retry_after=1)
    outcomes = []
    for i in range(30):
        try:
            await standin_client.chat_postMessage(channel="C0SUPPORT", text=str(i))
            outcomes.append("ok")
        except SlackApiError as err:
            outcomes.append(err.response["error"])
    expected = _expected_http(3, 30)
    assert outcomes == expected
    assert len(standin.workspace.channel_messages("C0SUPPORT")) == expected.count("ok")


def _expected_http(seed: int, n: int) -> list[str]:
    faults = FaultInjector(seed=seed)
    faults.rate_limit("chat.postMessage", probability=0.3)
    return ["ratelimited" if faults.next_fault("chat.postMessage") else "ok" for _ in range(n)]


def test_clear_removes_rules() -> None:
    faults = FaultInjector()
    faults.rate_limit("a")
    faults.rate_limit("b")
    faults.clear("a")
    assert faults.next_fault("a") is None and faults.next_fault("b") is not None
    faults.rate_limit("c")
    faults.clear()
    assert faults.rules == []
