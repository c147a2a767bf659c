"""The bot as a real process dies during a burst (SIGKILL) or is stopped (SIGTERM), then starts again.

Slack's side is played by the in-process stand-in and a driver that keeps every delivery the bot did not
answer, to send it again after the restart with X-Slack-Retry-Num, as Slack does. Afterwards: every
message Slack got a 200 for is a ticket with its customer reply and L1 card, nothing is doubled (tickets
per source message, outbox ids on the messages in the workspace), the outbox is delivered and no inbound
event is left unprocessed. Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from bot.bench.common import (
    BENCH_SIGNING_SECRET,
    BENCH_TOKEN,
    LoadRun,
    RedeliveringDriver,
    ServiceProcess,
    audit_database,
    audit_workspace,
    bot_env,
    free_port,
    query_database,
    run_load,
    spawn_bot,
    write_toml,
)
from bot.bench.intake import build_bench_workspace
from bot.sandbox.demo import L1_CHANNEL, demo_support_raw
from bot.sandbox.driver import DriverResult
from bot.sandbox.standin import SlackStandIn

MESSAGES = 200
RATE = 50.0  # messages/s offered (open loop, as Slack sends): the burst lasts 4 s
GRACE = 5.0  # SHUTDOWN_GRACE_SECONDS of the bot under test
REDELIVERY_ROUNDS = 3
# OutboxSender's lease (bot/server.py keeps its default): a row claimed by a process that then died is
# retried only after it expires, which is longer than this test runs.
OUTBOX_LEASE = 60.0
OUTBOX_WORKERS = 8


@dataclass
class Scene:
    """The stand-in, the bot process (replaced on restart), the driver and what the bot needs to restart."""

    standin: SlackStandIn
    senders: list[tuple[str, str]]
    env: dict[str, str]
    workdir: Path
    driver: RedeliveringDriver
    bot: ServiceProcess
    restarts: int = 0

    async def restart(self) -> None:
        """Start the bot again on the same port and database; returns once /healthz is 200."""
        self.restarts += 1
        self.bot = await spawn_bot(self.env, workdir=self.workdir, name=f"bot-{self.restarts}")

    def sender(self, tag: str) -> Callable[[int], Awaitable[DriverResult]]:
        """send(i): customer i writes a top-level message in their shared channel."""

        async def send(i: int) -> DriverResult:
            user, channel = self.senders[i]
            return await self.driver.post_message(
                user, channel, f"{tag}-{i} printer offline", app_mention=False
            )

        return send


@pytest.fixture
async def scene(database_url: str, tmp_path: Path) -> AsyncIterator[Scene]:
    """A stand-in with one customer person per message and the bot as a subprocess (killed at the end)."""
    ws, senders = build_bench_workspace(MESSAGES)
    standin = SlackStandIn(ws, bot_token=BENCH_TOKEN)
    await standin.start("127.0.0.1", 0)
    env = bot_env(
        slack_api_url=standin.api_url,
        database_url=database_url,
        support_config=write_toml(tmp_path / "support.toml", demo_support_raw()),
        port=free_port(),
        extra={"SHUTDOWN_GRACE_SECONDS": f"{GRACE:g}", "OUTBOX_UNCERTAIN_GRACE": "2"},
    )
    bot = None
    driver = RedeliveringDriver(standin, "", BENCH_SIGNING_SECRET, timeout=10.0)
    try:
        bot = await spawn_bot(env, workdir=tmp_path, name="bot-0")
        driver.bot_events_url = f"{bot.url}/slack/events"
        s = Scene(standin=standin, senders=senders, env=env, workdir=tmp_path, driver=driver, bot=bot)
        try:
            yield s
        finally:
            await s.bot.stop(grace=GRACE + 2)
    finally:
        if bot is not None:
            await bot.stop(grace=1.0)
        await driver.close()
        await standin.stop()
    standin.assert_no_leaks()


async def burst_with(scene: Scene, tag: str, *, at: int, action: Callable[[], Awaitable[None]]) -> LoadRun:
    """Send the burst; once `at` messages went out, run `action` (kill or stop) while the burst goes on."""
    sent = asyncio.Event()
    count = 0
    send = scene.sender(tag)

    async def counted(i: int) -> DriverResult:
        nonlocal count
        count += 1
        if count >= at:
            sent.set()
        return await send(i)

    async def act() -> None:
        await asyncio.wait_for(sent.wait(), 30)
        await action()

    acting = asyncio.create_task(act())
    try:
        run = await run_load(counted, count=MESSAGES, concurrency=16, rate=RATE, limit=60)
        await asyncio.wait_for(acting, 40)
    finally:
        acting.cancel()
    return run


async def wait_until(condition: Callable[[], bool], *, limit: float) -> None:
    """Poll a condition every 10 ms; TimeoutError after `limit` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


async def redeliver_unanswered(scene: Scene, results: list[DriverResult]) -> list[DriverResult]:
    """Send every delivery that got no 200 again (Retry-Num 1, 2, …) until answered; the final answers."""
    final = list(results)
    for retry in range(1, REDELIVERY_ROUNDS + 1):
        todo = [i for i, r in enumerate(final) if r.status != 200]
        if not todo:
            break
        answers = await asyncio.gather(*(scene.driver.redeliver(final[i], retry_num=retry) for i in todo))
        for i, answer in zip(todo, answers, strict=True):
            final[i] = answer
    return final


@dataclass
class Leftovers:
    """Outbox rows still pending: those the previous process had claimed, and the rows queued behind them."""

    claimed: set[int]
    pending: dict[int, str]
    details: list[tuple[object, ...]]

    @property
    def held_streams(self) -> set[str]:
        """Streams (tickets) whose head row the previous process had claimed: later rows wait behind it."""
        return {self.pending[row] for row in self.claimed}

    @property
    def unexplained(self) -> dict[int, str]:
        """Pending rows that are not held up by a claim of the previous process."""
        return {row: stream for row, stream in self.pending.items() if stream not in self.held_streams}


async def outbox_leftovers(database_url: str, gone_at: float) -> Leftovers:
    """Pending rows, and which of them were claimed before `gone_at` (epoch s, the old process's end)."""
    (rows,) = await query_database(
        database_url,
        "SELECT id, stream, lease_until, attempts, last_error, method, channel_id FROM outbox "
        "WHERE status = 'pending' ORDER BY id",
    )
    claimed = set()
    for row_id, _, lease_until, *_ in rows:
        if lease_until is None:
            continue
        until = lease_until if isinstance(lease_until, datetime) else datetime.fromisoformat(str(lease_until))
        if until.timestamp() - OUTBOX_LEASE < gone_at:
            claimed.add(int(row_id))
    return Leftovers(claimed, {int(r[0]): str(r[1]) for r in rows}, [tuple(r) for r in rows])


async def wait_settled(database_url: str, *, gone_at: float, limit: float = 20.0) -> Leftovers:
    """Wait until every inbound event is processed and the outbox delivered, except rows the previous
    process had claimed (held for OUTBOX_LEASE s) and the rows queued behind them; returns those."""
    deadline = time.monotonic() + limit
    while True:
        audit = await audit_database(database_url)
        left = await outbox_leftovers(database_url, gone_at)
        if (not left.unexplained and not audit.unprocessed_events) or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.25)


async def assert_nothing_lost_or_doubled(
    scene: Scene, database_url: str, answers: list[DriverResult], *, gone_at: float
) -> None:
    """Every answered message is one ticket with its reply and card; no message or ticket twice; all done."""
    left = await wait_settled(database_url, gone_at=gone_at)
    audit = await audit_database(database_url)
    assert audit.unprocessed_events == 0, "inbound events left unprocessed"
    assert not audit.doubled_sources, f"messages that became two tickets: {audit.doubled_sources}"
    ws = audit_workspace(scene.standin.workspace, [L1_CHANNEL])
    assert not ws.doubled_outbox_ids, (
        f"Slack messages posted twice (outbox id: count): {ws.doubled_outbox_ids}"
    )
    # A row the previous process had claimed (it was sending it, or about to) keeps its lease for
    # OUTBOX_LEASE s after the restart, longer than this test runs, and the later rows of its ticket wait
    # behind it: those are left out here (at most one per outbox worker). Everything else is delivered.
    assert len(left.claimed) <= OUTBOX_WORKERS, f"{len(left.claimed)} rows held by the previous process"
    assert not left.unexplained, (
        f"pending outbox rows (id, stream, lease, attempts, error, …): {left.details}"
    )
    assert "failed" not in audit.outbox, audit.outbox
    problems = []
    for answer in answers:
        assert answer.status == 200, f"still no 200 after {REDELIVERY_ROUNDS} redeliveries: {answer.text}"
        channel = str(answer.payload["event"]["channel"])
        tickets = audit.tickets_by_source.get((channel, str(answer.ts)), [])
        if len(tickets) != 1:
            problems.append(f"{answer.event_id}: {len(tickets)} tickets")
            continue
        ticket = tickets[0]
        if f"ticket:{ticket}" in left.held_streams:
            continue
        cards, replies = ws.cards_of(L1_CHANNEL, ticket), len(ws.replies_in(channel, answer.ts))
        if cards != 1 or replies != 1:
            problems.append(f"SUP-{ticket}: {cards} L1 cards, {replies} replies to the customer")
    assert not problems, f"{len(problems)} messages not handled exactly once: {problems[:10]}"
    assert sum(len(ids) for ids in audit.tickets_by_source.values()) == len(answers)


async def test_sigkill_mid_burst_then_restart_loses_and_doubles_nothing(
    scene: Scene, database_url: str
) -> None:
    killed: list[float] = []

    async def crash_and_restart() -> None:
        # A few 429s first, so the outbox holds rows that wait for their retry when the process dies.
        scene.standin.faults.rate_limit("chat.postMessage", retry_after=1, times=8)
        await wait_until(lambda: any(c.fault == "ratelimited" for c in scene.standin.calls), limit=10)
        await scene.bot.kill()
        killed.append(time.time())
        await scene.restart()

    run = await burst_with(scene, "kill", at=MESSAGES // 2, action=crash_and_restart)
    results = [s.result for s in run.samples if s.result is not None]
    assert len(results) == MESSAGES
    assert any(r.status is None for r in results), "the kill should have cut some deliveries off"
    answers = await redeliver_unanswered(scene, results)
    await assert_nothing_lost_or_doubled(scene, database_url, answers, gone_at=killed[0])
    assert "Traceback" not in scene.bot.log_text()


async def test_sigterm_under_load_exits_cleanly_and_finishes_acknowledged_work(
    scene: Scene, database_url: str
) -> None:
    signalled: list[float] = []
    exited: list[tuple[int | None, float]] = []

    async def terminate() -> None:
        signalled.append(time.time())
        scene.bot.send_signal(signal.SIGTERM)
        code = await scene.bot.wait_exit(GRACE + 5)
        exited.append((code, time.time()))

    run = await burst_with(scene, "term", at=MESSAGES // 2, action=terminate)
    (code, gone_at) = exited[0]
    seconds = gone_at - signalled[0]
    assert code == 0 and seconds <= GRACE + 1, f"exit {code} after {seconds:.1f}s:\n{scene.bot.log_tail()}"
    assert "shutting down" in scene.bot.log_text()
    # Sent clearly after the signal (the process needs a moment to see it): refused or 503, never a 200.
    late = [s for s in run.samples if s.sent_at > signalled[0] + 0.25]
    assert late and all(s.status in (None, 503) for s in late), [(s.status, s.error) for s in late[:5]]
    assert any(s.status == 200 for s in run.samples), "nothing was acknowledged before SIGTERM"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{scene.bot.url}/healthz")

    # Acknowledged before the signal: processed by now, or by the next start at the latest.
    await scene.restart()
    results = [s.result for s in run.samples if s.result is not None]
    answers = await redeliver_unanswered(scene, results)
    await assert_nothing_lost_or_doubled(scene, database_url, answers, gone_at=gone_at)
