"""Reports over real HTTP: `/support report` for agents (not customers), and the scheduled digest: a summary
with a PNG chart uploaded through files.getUploadURLExternal + files.completeUploadExternal, once per period,
surviving 429s and outages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FrozenClock
from bot.flows import reports as report_flows
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL, LOUNGE_CHANNEL, build_demo_workspace
from bot.sandbox.standin import SlackStandIn
from bot.server import STATE_KEY
from models.sla import ScheduledRun
from tests.harness import TOKEN, Harness, serving, start_harness

ANNA, JO, KIM = "U0L1ANNA", "U0ACMEJO", "U0ACMEKIM"
T0 = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)  # a Thursday
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def bot(database_url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    standin = SlackStandIn(build_demo_workspace(clock=lambda: clock.now().timestamp()), bot_token=TOKEN)
    await standin.start()
    async with serving(
        await start_harness(
            database_url,
            clock=clock,
            standin=standin,
            config_overrides={"reports": {"digest_channel": LOUNGE_CHANNEL, "digest_cron": "0 9 * * mon"}},
        )
    ) as h:
        yield h


class Sleeps:
    """Records the waits of the upload's retries instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def some_activity(h: Harness, clock: FrozenClock) -> None:
    """Two tickets on Thursday 10:00; an agent answers the first after five minutes."""
    sent = await h.driver.post_message(JO, ACME_CHANNEL, "The printer prints blank pages")
    await h.driver.post_message(KIM, ACME_CHANNEL, "Mail bounces since this morning")
    await h.settle()
    clock.advance(timedelta(minutes=5))
    await h.driver.post_message(ANNA, ACME_CHANNEL, "On it, restarting the spooler", thread_ts=sent.ts)
    await h.settle()
    clock.advance(timedelta(minutes=1))


def digest_messages(h: Harness) -> list:
    return [m for m in h.ws.channel_messages(LOUNGE_CHANNEL) if m.file_ids]


async def test_support_report_for_agents_and_not_for_customers(bot: Harness, clock: FrozenClock) -> None:
    await some_activity(bot, clock)
    answer = await bot.command(ANNA, L1_CHANNEL, "/support", "report week level")
    assert "Support report · Last 7 days" in answer.text
    assert "*Opened*\n2" in answer.text and "*Resolved*\n0" in answer.text
    assert "5m median · 5m p90 (n=1)" in answer.text  # the first response, on the gold 24x7 calendar
    assert "By level" in answer.text and "*L1* · 2 opened" in answer.text
    assert answer.status == 200 and answer.elapsed < 3.0

    refused = await bot.command(JO, ACME_CHANNEL, "/support", "report")
    assert "only our support team" in refused.text and "Opened" not in refused.text
    usage = await bot.command(ANNA, L1_CHANNEL, "/support", "report yearly")
    assert "don't know `yearly`" in usage.text
    echoed = await bot.command(ANNA, L1_CHANNEL, "/support", "report <!everyone>")
    assert "&lt;!everyone&gt;" in echoed.text  # user input is never echoed as a live mention


async def test_the_digest_is_uploaded_with_its_chart_once_despite_rate_limits(
    bot: Harness, clock: FrozenClock
) -> None:
    await some_activity(bot, clock)
    scheduler = bot.parts.web_app[STATE_KEY]["scheduler"]
    assert scheduler.scheduler.get_job("reports.digest") is not None
    clock.set(datetime(2026, 11, 9, 8, 0, tzinfo=UTC))  # Monday 09:00 in Berlin: last week's digest
    bot.standin.faults.rate_limit("files.getUploadURLExternal", retry_after=3)
    bot.standin.faults.rate_limit("files.completeUploadExternal", retry_after=2)
    sleeps = Sleeps()
    assert await report_flows.post_digest(bot.rt, sleep=sleeps) is True
    assert sleeps.delays == [3.0, 2.0]  # each 429 waited out as Slack asked, then retried

    messages = digest_messages(bot)
    assert len(messages) == 1
    message = messages[0]
    assert "Support digest" in message.text and "2026-11-02 – 2026-11-08" in message.text
    assert "*2* opened · *0* resolved" in message.text
    stored = bot.ws.files[message.file_ids[0]]
    assert stored.content.startswith(PNG) and len(stored.content) > 10_000
    assert stored.alt_txt and "new tickets per day" in stored.alt_txt
    assert stored.shares == [(LOUNGE_CHANNEL, message.ts)]

    # Once per period, whichever process (or retry) runs it again.
    assert await report_flows.post_digest(bot.rt, sleep=sleeps) is False
    assert await report_flows.retry_digests(bot.rt) == 0
    assert len(digest_messages(bot)) == 1


async def test_a_digest_that_could_not_be_uploaded_is_retried_later(bot: Harness, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 9, 8, 0, tzinfo=UTC))
    bot.standin.faults.server_error(
        "files.getUploadURLExternal", status=503, times=report_flows.UPLOAD_ATTEMPTS
    )
    sleeps = Sleeps()
    with pytest.raises(report_flows.DigestUploadError):
        await report_flows.post_digest(bot.rt, sleep=sleeps)
    assert len(sleeps.delays) == report_flows.UPLOAD_ATTEMPTS - 1 and digest_messages(bot) == []
    assert await ScheduledRun.exists(job=report_flows.DIGEST_JOB)  # claimed, not done

    assert await report_flows.retry_digests(bot.rt) == 0  # too early: the claim may still be in progress
    clock.advance(report_flows.RETRY_AFTER + timedelta(minutes=1))
    assert await report_flows.retry_digests(bot.rt) == 1
    assert len(digest_messages(bot)) == 1
    assert "2026-11-02 – 2026-11-08" in digest_messages(bot)[0].text
