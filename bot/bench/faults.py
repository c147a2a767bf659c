"""`python -m bot.bench faults`: a burst against the bot while Slack misbehaves and the process is killed.

One run: a fresh Slack stand-in that answers 10 % of all Web API calls with 429 (Retry-After 1 s) and
2 % with HTTP 500, a fresh database, and the bot as a subprocess. The burst, open loop at `--rate`:

1. the first `--escalations` customer messages (one person each; their tickets are the ones escalated
   later). Once their tickets exist, the context L2 needs is written into them in the database;
2. the other messages, interleaved with `/escalate SUP-N reason` from the L1 agents. Half-way through,
   the bot gets SIGKILL and is started again on the same port and database.

Deliveries that got no HTTP answer (cut off by the kill, or refused while the bot was down) are sent
again once the bot is back, as Slack does: the same event with X-Slack-Retry-Num (up to 3 times). A
slash command that got no answer is run again by its person. Then the run waits until the outbox is
drained and counts, from the stand-in's workspace and the bot's database:

- delivered: a message answered 200 that became one ticket with its reply in the customer's thread and
  its L1 card; an escalation that has its L2 card and its customer update;
- lost: a message answered 200 without that, or an escalation answered "Escalated" without that;
- duplicated: Slack messages posted twice (outbox ids in message metadata, all channels and threads),
  source messages with more than one ticket, tickets with more than one L2 card, customer update or
  "escalated" timeline entry;
- max delay: first send -> the last of the item's Slack messages answered by the stand-in;
- ack latency: HTTP response times of every 200 (first deliveries and retries).

Slack's per-channel pace (~1 message/s) is lifted (OUTBOX_CHANNEL_RATE=100000): the burst sends
thousands of cards into one L1 channel, which real pacing would spread over hours.

The SLA targets are the demo's, in hours instead of minutes (`in_hours`): the timers start, pause and stop
as in a workday, but none falls due during the run. With the demo's minute targets, in office hours, the
6,000 tickets' reminders, breaches and P1 auto-escalations keep adding messages to the outbox for as long
as the run lasts, so "drained" never comes and what is measured depends on the time of day.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.bench.common import (
    BENCH_SIGNING_SECRET,
    BENCH_TOKEN,
    CARD_KEY,
    DEFAULT_POSTGRES_URL,
    LOOPBACK,
    BenchError,
    CommandAnswers,
    DatabaseAudit,
    RedeliveringDriver,
    ServiceProcess,
    WorkspaceAudit,
    answered_posts,
    at_least_one,
    audit_database,
    audit_workspace,
    bench_workdir,
    bot_env,
    create_postgres_database,
    drop_postgres_database,
    drop_stale_databases,
    error_lines,
    format_number,
    format_table,
    free_port,
    in_hours,
    json_safe,
    log,
    percentile,
    query_database,
    run_benchmark,
    run_load,
    set_ticket_context,
    spawn_bot,
    wait_outbox_drained,
    write_toml,
)
from bot.bench.escalate import FORWARDED, L2_CONTEXT, REASON
from bot.bench.intake import build_bench_workspace, message_text
from bot.sandbox.demo import L1_AGENTS, L1_CHANNEL, L2_CHANNEL, demo_support_raw
from bot.sandbox.driver import DriverResult
from bot.sandbox.standin import METHODS, SlackStandIn

Database = Literal["sqlite", "postgres"]
Kind = Literal["message", "escalation"]

CHANNEL_RATE = 100_000.0
CHANNEL_BURST = 100_000
PG_PREFIX = "bench_faults_"
RETRY_ROUNDS = 3  # Slack retries a delivery up to 3 times
PERSON_RETRIES = 2  # a person runs a refused `/escalate` again, at most this often
ANSWER_WAIT = 10.0  # seconds a person waits for the answer to an acknowledged command
TARGET_P99_MS = 100.0
# The reply in the customer's thread that acknowledges a new ticket (English and German customers).
CUSTOMER_ACK = re.compile(r"logged it as|erfasst")


@dataclass(frozen=True)
class FaultOptions:
    """What to run: burst size and rate, fault rates, when to kill, how long to wait for the outbox."""

    messages: int = 5000
    escalations: int = 1000
    rate: float = 50.0
    concurrency: int = 64
    rate_limited: float = 0.10
    server_errors: float = 0.02
    kill_at: float = 0.5
    drain_timeout: float = 90.0
    database: Database = "sqlite"
    postgres_url: str = DEFAULT_POSTGRES_URL
    seed: int = 0
    keep: Path | None = None


@dataclass
class Item:
    """One message or escalation of the burst and every attempt to deliver it."""

    kind: Kind
    index: int
    first_sent: float = math.nan
    answers: list[tuple[float, DriverResult]] = field(default_factory=list)
    # Escalations: what the person saw after each acknowledged attempt ('' when nothing came).
    seen: list[str] = field(default_factory=list)
    seen_ms: list[float] = field(default_factory=list)

    @property
    def last(self) -> DriverResult | None:
        """The latest answer (None before the first one)."""
        return self.answers[-1][1] if self.answers else None

    @property
    def answered(self) -> bool:
        """True when some attempt got HTTP 200."""
        return any(r.status == 200 for _, r in self.answers)

    @property
    def escalated_answer(self) -> bool:
        """True when the person was told "Escalated …" after some attempt."""
        return any("Escalated " in text for text in self.seen)


@dataclass
class FaultReport:
    """The outcome of one run."""

    options: FaultOptions
    seconds: float
    figures: dict[str, Any]
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        options = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.options).items()}
        return json_safe(
            {
                "benchmark": "faults",
                "options": options,
                "outbox_channel_rate": CHANNEL_RATE,
                "seconds": round(self.seconds, 1),
                "figures": self.figures,
                "problems": self.problems,
            }
        )

    def render(self) -> str:
        """The human-readable result and the verdict against the target."""
        o, f = self.options, self.figures
        m, e = f["messages"], f["escalations"]
        headers = ["", "sent", "delivered", "lost", "doubled items", "no answer", "retries", "never 200"]
        rows = [
            [
                name,
                str(x["sent"]),
                str(x["delivered"]),
                str(x["lost"]),
                str(x["duplicated"]),
                str(x["no_answer"]),
                str(x["retried"]),
                str(x["never_200"]),
            ]
            for name, x in (("messages", m), ("escalations", e))
        ]
        ack = f["ack_ms"]
        verdict = (
            "met"
            if f["lost"] == 0 and f["duplicated"] == 0 and ack["all"]["p99"] <= TARGET_P99_MS
            else "missed"
        )
        lines = [
            f"faults: {o.messages} messages + {o.escalations} escalations at {o.rate:g}/s (open loop), "
            f"{o.rate_limited:.0%} 429 (Retry-After 1 s) + {o.server_errors:.0%} HTTP 500 on every Web API "
            f"method (not response_url), SIGKILL + restart after {o.kill_at:.0%} of the burst; database {o.database}; "
            f"{self.seconds:.0f} s in all",
            "",
            format_table(headers, rows),
            "",
            f"delivered {f['delivered']}, lost {f['lost']}, duplicated {f['duplicated']} "
            f"(Slack messages posted more than once: {f['doubled_posts']}, extra tickets for one source "
            f"message: {f['doubled_tickets']}, extra 'escalated' timeline entries: {e['doubled_timeline']})",
            f"max delay {format_number(f['delay_s']['max'])} s (p50 {format_number(f['delay_s']['p50'], 2)} s, "
            f"p99 {format_number(f['delay_s']['p99'])} s): first send -> last Slack message of the item; "
            f"slowest: {', '.join(f['slowest'][:3])}",
            f"ack ms p50/p99/max: all {_lat(ack['all'])}; messages {_lat(ack['messages'])}; "
            f"escalations {_lat(ack['escalations'])}; the escalations' answers (send -> 'Escalated …' "
            f"shown) {_lat(ack['escalation_answers'])}",
            f"kill: SIGKILL at {f['kill']['at_s']:.1f} s into the burst, healthy again after "
            f"{f['kill']['down_s']:.1f} s; {f['kill']['cut_off']} deliveries got no answer and were retried",
            f"stand-in: {f['faults'].get('ratelimited', 0)} x 429, {f['faults'].get('http_error', 0)} x 500 "
            f"of {f['api_calls']} Web API calls; outbox {f['outbox']}, unprocessed events "
            f"{f['unprocessed_events']}; "
            + (
                f"the outbox drained {format_number(f['drained_after_s'])} s after the burst"
                if not f["outbox"].get("pending") and not f["unprocessed_events"]
                else f"NOT drained {format_number(f['drained_after_s'])} s after the burst (--drain-timeout)"
            ),
            f"escalations answered without 'Escalated' (or not within {ANSWER_WAIT:g} s) at least once; the "
            f"person retried a second later while the ticket was still at L1, at most {PERSON_RETRIES} times: "
            f"{e['refused']} {e['refusals']}",
            f"OUTBOX_CHANNEL_RATE={CHANNEL_RATE:g} (Slack's ~1 msg/s per channel lifted for the burst); every "
            "message from its own customer person, so the 2-minute follow-up window merges nothing",
            "",
            f"target: 0 lost, 0 duplicated, p99 ack <= {TARGET_P99_MS:g} ms -> {verdict}",
        ]
        if self.problems:
            lines += ["", f"{len(self.problems)} problem(s), the first ones:"]
            lines += [f"  {p[:300]}" for p in self.problems[:15]]
        return "\n".join(lines)


def _lat(values: dict[str, float]) -> str:
    return "/".join(format_number(values[k]) for k in ("p50", "p99", "max"))


# ---------------------------------------------------------------------- the run


class FaultRun:
    """One run: the stand-in, the bot process (replaced after the kill), the driver and the items."""

    def __init__(self, options: FaultOptions, workdir: Path) -> None:
        if not 0 < options.escalations <= options.messages:
            raise BenchError("--escalations must be between 1 and --messages")
        self.o = options
        self.workdir = workdir
        self.tag = f"fx{secrets.token_hex(3)}"
        ws, self.senders = build_bench_workspace(options.messages)
        self.standin = SlackStandIn(ws, bot_token=BENCH_TOKEN, seed=options.seed)
        # Every Web API method: 10 % of calls 429, then 2 % of all calls 500 (the second rule sees the 90 %
        # the first let through). response_url posts are not Web API calls and get no faults.
        for method in sorted(METHODS):
            self.standin.faults.rate_limit(method, retry_after=1, probability=options.rate_limited)
        for method in sorted(METHODS):
            self.standin.faults.server_error(
                method, status=500, probability=min(1.0, options.server_errors / (1 - options.rate_limited))
            )
        self.driver = RedeliveringDriver(self.standin, "", BENCH_SIGNING_SECRET, timeout=10.0)
        self.answers = CommandAnswers(self.standin)
        self.bot: ServiceProcess | None = None
        self.env: dict[str, str] = {}
        self.database_url = ""
        self.messages = [Item("message", i) for i in range(options.messages)]
        self.escalations = [Item("escalation", i) for i in range(options.escalations)]
        self.keys: list[str] = []
        self.burst_started = math.nan
        self.kill_at = math.nan
        self.back_at = math.nan
        self.cut_off = 0

    async def start(self, stack: AsyncExitStack) -> None:
        """Stand-in, database and bot (stopped by the exit stack)."""
        await self.standin.start(LOOPBACK, 0)
        stack.push_async_callback(self.standin.stop)
        stack.push_async_callback(self.driver.close)
        await drop_stale_databases(self.o.database, self.o.postgres_url, PG_PREFIX)
        if self.o.database == "postgres":
            name = f"{PG_PREFIX}{os.getpid()}"
            self.database_url = await create_postgres_database(self.o.postgres_url, name)
            stack.push_async_callback(drop_postgres_database, self.o.postgres_url, name)
        else:
            self.database_url = f"sqlite://{self.workdir / f'faults-{self.tag}.sqlite3'}"
        self.env = bot_env(
            slack_api_url=self.standin.api_url,
            database_url=self.database_url,
            support_config=write_toml(
                self.workdir / f"support-{self.tag}.toml", in_hours(demo_support_raw())
            ),
            port=free_port(),
            channel_rate=CHANNEL_RATE,
            channel_burst=CHANNEL_BURST,
        )
        stack.push_async_callback(self._stop_bot)
        self.bot = await spawn_bot(self.env, workdir=self.workdir, name="bot-faults")
        self.driver.bot_events_url = f"{self.bot.url}/slack/events"

    async def _stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.stop()

    # ------------------------------------------------------------------ sending

    async def attempt(self, item: Item, retry: int = 0) -> DriverResult:
        """Send (or re-send) one item and record the answer."""
        if math.isnan(item.first_sent):
            item.first_sent = time.time()
        if item.kind == "message":
            previous = item.last
            if retry and previous is not None:  # Slack counts its retries of one delivery
                result = await self.driver.redeliver(previous, retry_num=len(item.answers))
            else:
                user, channel = self.senders[item.index]
                text = message_text(f"{self.tag}-{item.index}", item.index)
                result = await self.driver.post_message(user, channel, text, app_mention=False)
        else:
            agent = L1_AGENTS[item.index % len(L1_AGENTS)]
            command = f"{self.keys[item.index]} {REASON}"
            result = await self.driver.slash_command(agent, L1_CHANNEL, "/escalate", command)
        item.answers.append((time.time(), result))
        if item.kind == "escalation" and result.status == 200:
            await self._see_answer(item, result)
            if not item.escalated_answer:
                await self._retry_refused(item)
        return result

    async def _see_answer(self, item: Item, result: DriverResult) -> None:
        """Wait (at most ANSWER_WAIT s) for the answer the person sees: the ack's body, or a response_url
        post after the work when the app acks first."""
        answer = self.answers.of(result)
        for _ in range(int(ANSWER_WAIT / 0.05)):
            if answer is not None:
                break
            await asyncio.sleep(0.05)
            answer = self.answers.of(result)
        item.seen.append(answer.text if answer is not None else "")
        if answer is not None:
            item.seen_ms.append((float(answer.ts) - (item.answers[-1][0] - result.elapsed)) * 1000)

    async def _retry_refused(self, item: Item) -> None:
        """A person whose `/escalate` was not answered "Escalated" (or not at all) tries again a second later
        while the ticket is still at L1 (e.g. after "temporarily unavailable, please try again"), at most
        PERSON_RETRIES times."""
        ticket = self.keys[item.index].split("-", 1)[1]
        query = f"SELECT count(*) FROM ticket_timeline WHERE kind = 'escalated' AND ticket_id = {int(ticket)}"
        for _ in range(PERSON_RETRIES):
            await asyncio.sleep(1.0)
            (rows,) = await query_database(self.database_url, query)
            if rows[0][0]:
                return
            agent = L1_AGENTS[item.index % len(L1_AGENTS)]
            result = await self.driver.slash_command(
                agent, L1_CHANNEL, "/escalate", f"{self.keys[item.index]} {REASON}"
            )
            item.answers.append((time.time(), result))
            if result.status != 200:
                return
            await self._see_answer(item, result)
            if item.escalated_answer:
                return

    async def seed_escalation_tickets(self) -> float:
        """Send the first messages, wait for their tickets, write L2's context into them; seconds taken."""
        started = time.monotonic()
        first = self.messages[: self.o.escalations]
        await run_load(
            lambda i: self.attempt(first[i]),
            count=len(first),
            concurrency=self.o.concurrency,
            rate=self.o.rate,
            limit=60 + 3 * len(first) / self.o.rate,
        )
        if not all(item.answered for item in first):
            raise BenchError("seeding: some messages were not answered 200 (before any kill)")
        deadline = time.monotonic() + 120
        while True:
            audit = await audit_database(self.database_url)
            sources = [self._source(item) for item in first]
            if all(s in audit.tickets_by_source for s in sources):
                break
            if time.monotonic() > deadline:
                raise BenchError("seeding: tickets did not appear within 120 s")
            await asyncio.sleep(0.25)
        ids = [audit.tickets_by_source[s][0] for s in sources]
        self.keys = [f"SUP-{i}" for i in ids]
        await set_ticket_context(self.database_url, ids, L2_CONTEXT)
        return time.monotonic() - started

    def _source(self, item: Item) -> tuple[str, str]:
        result = next((r for _, r in item.answers if r.ts), None)
        return (self.senders[item.index][1], str(result.ts if result else ""))

    def burst_items(self) -> list[Item]:
        """The rest of the messages with the escalations spread evenly among them (1 in 5 by default)."""
        rest, escalations = deque(self.messages[self.o.escalations :]), deque(self.escalations)
        total, count = len(rest) + len(escalations), len(escalations)
        items: list[Item] = []
        for position in range(total):
            due = (count - len(escalations) + 1) * total / count  # the next escalation's place (1-based)
            if escalations and (position + 1 >= due or not rest):
                items.append(escalations.popleft())
            else:
                items.append(rest.popleft())
        return items

    async def burst(self) -> None:
        """Send the burst (open loop); SIGKILL and restart the bot part-way, then retry what got no answer."""
        items = self.burst_items()
        kill_after = max(1, int(len(items) * self.o.kill_at))
        started = asyncio.Event()
        sent = 0

        async def send(i: int) -> DriverResult:
            nonlocal sent
            sent += 1
            if sent >= kill_after:
                started.set()
            return await self.attempt(items[i])

        self.burst_started = time.time()
        crash = asyncio.create_task(self._kill_and_restart(started))
        try:
            await run_load(
                send,
                count=len(items),
                concurrency=self.o.concurrency,
                rate=self.o.rate,
                limit=120 + 3 * len(items) / self.o.rate,
            )
            await asyncio.wait_for(crash, 120)
        finally:
            crash.cancel()
        for retry in range(1, RETRY_ROUNDS + 1):
            await asyncio.sleep(1.0)  # the bot finishes what it acknowledged; Slack waits before retrying
            if not await self.retry_unanswered(retry):
                break

    async def _kill_and_restart(self, due: asyncio.Event) -> None:
        await asyncio.wait_for(due.wait(), 600)
        assert self.bot is not None
        self.kill_at = time.time()
        log(f"faults: SIGKILL to the bot (pid {self.bot.pid})")
        await self.bot.kill()
        self.bot = await spawn_bot(self.env, workdir=self.workdir, name="bot-faults-restarted")
        self.back_at = time.time()
        log(f"faults: the bot is back after {self.back_at - self.kill_at:.1f} s; retrying what got no answer")
        await asyncio.sleep(0.5)  # let the requests cut off by the kill finish failing
        self.cut_off = await self.retry_unanswered(1)

    async def retry_unanswered(self, retry: int) -> int:
        """Slack's retry of every delivery without a 200 (a person's retry for a command); returns how many."""
        todo = [i for i in [*self.messages, *self.escalations] if i.answers and not i.answered]
        await self._send_all(todo, retry=retry)
        return len(todo)

    async def _send_all(self, items: Sequence[Item], *, retry: int = 0) -> None:
        """Attempt each item once more, at most `concurrency` at a time."""
        if items:
            await run_load(
                lambda i: self.attempt(items[i], retry), count=len(items), concurrency=self.o.concurrency
            )

    # ------------------------------------------------------------------ counting

    async def count(self, drained_after: float) -> tuple[dict[str, Any], list[str]]:
        """Delivered, lost, duplicated, delays and ack latencies from the stand-in and the database."""
        audit = await audit_database(self.database_url)
        ws = audit_workspace(self.standin.workspace, [L1_CHANNEL, L2_CHANNEL])
        first_post = self._first_posts()
        problems: list[str] = []
        delays: dict[str, float] = {}
        m = self._count_messages(audit, ws, first_post, delays, problems)
        e = self._count_escalations(audit, ws, first_post, delays, problems)
        doubled_posts = sum(n - 1 for n in ws.doubled_outbox_ids.values())
        doubled_tickets = sum(len(ids) - 1 for ids in audit.doubled_sources.values())
        if ws.doubled_outbox_ids:
            problems.append(
                f"outbox ids posted more than once: {dict(list(ws.doubled_outbox_ids.items())[:10])}"
            )
        if audit.outbox_pending or audit.outbox.get("failed") or audit.unprocessed_events:
            problems.append(f"outbox {audit.outbox}, unprocessed inbound events {audit.unprocessed_events}")
        faults = Counter(str(c.fault) for c in self.standin.calls if c.fault)
        api_calls = sum(1 for c in self.standin.calls if c.method not in ("response_url", "upload"))
        all_ms = [
            r.elapsed * 1000
            for item in [*self.messages, *self.escalations]
            for _, r in item.answers
            if r.status == 200
        ]
        figures: dict[str, Any] = {
            "messages": m,
            "escalations": e,
            "delivered": m["delivered"] + e["delivered"],
            "lost": m["lost"] + e["lost"],
            "duplicated": doubled_posts + doubled_tickets + e["doubled_timeline"],
            "doubled_posts": doubled_posts,
            "doubled_tickets": doubled_tickets,
            "delay_s": _stats(list(delays.values())),
            "slowest": sorted(delays, key=lambda label: -delays[label])[:5],
            "ack_ms": {
                "all": _stats(all_ms),
                "messages": _stats(m.pop("ack_ms")),
                "escalations": _stats(e.pop("ack_ms")),
                "escalation_answers": _stats(e.pop("answer_ms")),
            },
            "kill": {
                "at_s": self.kill_at - self.burst_started,
                "down_s": self.back_at - self.kill_at,
                "cut_off": self.cut_off,
            },
            "faults": dict(faults),
            "api_calls": api_calls,
            "outbox": audit.outbox,
            "unprocessed_events": audit.unprocessed_events,
            "drained_after_s": drained_after,
        }
        return figures, problems

    def _first_posts(self) -> dict[tuple[str, str, str], float]:
        """When the first card per (channel, ticket) and the first reply per thread and kind were answered."""
        first: dict[tuple[str, str, str], float] = {}
        for post in answered_posts(self.standin):
            if post.thread_ts is None and (found := CARD_KEY.match(post.text)):
                key = ("card", post.channel, found.group(1))
            elif post.thread_ts is not None and CUSTOMER_ACK.search(post.text):
                key = ("ack", post.channel, post.thread_ts)
            elif post.thread_ts is not None and FORWARDED.search(post.text):
                key = ("forwarded", post.channel, post.thread_ts)
            else:
                continue
            first[key] = min(first.get(key, math.inf), post.answered_at)
        return first

    def _count_messages(
        self,
        audit: DatabaseAudit,
        ws: WorkspaceAudit,
        first_post: dict[tuple[str, str, str], float],
        delays: dict[str, float],
        problems: list[str],
    ) -> dict[str, Any]:
        delivered = lost = never = doubled = 0
        for item in self.messages:
            if not item.answered:
                never += 1
                problems.append(f"message {item.index}: no 200 after {len(item.answers)} attempts")
                continue
            channel, ts = self._source(item)
            tickets = audit.tickets_by_source.get((channel, ts), [])
            ticket = tickets[0] if tickets else None
            acks = [t for t in ws.replies_in(channel, ts) if CUSTOMER_ACK.search(t)]
            cards = ws.cards_of(L1_CHANNEL, ticket) if ticket else 0
            if ticket is None or not acks or not cards:
                lost += 1
                problems.append(
                    f"message {item.index} ({channel} {ts}): tickets {tickets}, acks {len(acks)}, L1 cards {cards}"
                )
                continue
            delivered += 1
            done = _latest(
                first_post.get(("ack", channel, ts)), first_post.get(("card", L1_CHANNEL, str(ticket)))
            )
            delays[f"message {item.index} (SUP-{ticket}, {len(item.answers)} attempt(s))"] = (
                done - item.first_sent
            )
            if len(acks) > 1 or cards > 1:
                doubled += 1
                problems.append(f"message {item.index}: {len(acks)} customer replies, {cards} L1 cards")
        return {
            "sent": len(self.messages),
            "delivered": delivered,
            "lost": lost,
            "duplicated": doubled,
            "no_answer": sum(1 for i in self.messages if any(r.status != 200 for _, r in i.answers)),
            "retried": sum(max(0, len(i.answers) - 1) for i in self.messages),
            "never_200": never,
            "ack_ms": [r.elapsed * 1000 for i in self.messages for _, r in i.answers if r.status == 200],
        }

    def _count_escalations(
        self,
        audit: DatabaseAudit,
        ws: WorkspaceAudit,
        first_post: dict[tuple[str, str, str], float],
        delays: dict[str, float],
        problems: list[str],
    ) -> dict[str, Any]:
        delivered = lost = doubled = refused = entries_doubled = 0
        reasons: Counter[str] = Counter()
        for item, key in zip(self.escalations, self.keys, strict=True):
            ticket = int(key.split("-", 1)[1])
            channel, thread_ts = audit.ticket_thread[ticket]
            entries = audit.escalations[ticket]
            cards = ws.cards_of(L2_CHANNEL, ticket)
            updates = sum(1 for t in ws.replies_in(channel, thread_ts) if FORWARDED.search(t))
            if any("Escalated " not in text for text in item.seen):
                refused += 1
                reasons[next((t for t in item.seen if "Escalated " not in t), "")[:80] or "(no answer)"] += 1
            if not item.escalated_answer:
                answer = item.seen[-1][:120] if item.seen else "no acknowledged attempt"
                if not entries:
                    problems.append(f"escalation of {key} not done: last answer {answer!r}")
                    continue
            entries_doubled += entries > 1
            if entries > 1 or cards > 1 or updates > 1:
                doubled += 1
                problems.append(f"{key}: {entries} escalated entries, {cards} L2 cards, {updates} updates")
            if not (entries and cards and updates):
                if item.escalated_answer:
                    lost += 1
                problems.append(f"{key}: {entries} escalated entries, {cards} L2 cards, {updates} updates")
                continue
            delivered += 1
            done = _latest(
                first_post.get(("card", L2_CHANNEL, str(ticket))),
                first_post.get(("forwarded", channel, str(thread_ts))),
            )
            delays[f"escalation of {key} ({len(item.answers)} attempt(s))"] = done - item.first_sent
        return {
            "sent": len(self.escalations),
            "delivered": delivered,
            "lost": lost,
            "duplicated": doubled,
            "refused": refused,
            "refusals": dict(reasons.most_common()),
            "doubled_timeline": entries_doubled,
            "no_answer": sum(1 for i in self.escalations if any(r.status != 200 for _, r in i.answers)),
            "retried": sum(max(0, len(i.answers) - 1) for i in self.escalations),
            "never_200": sum(1 for i in self.escalations if not i.answered),
            "ack_ms": [r.elapsed * 1000 for i in self.escalations for _, r in i.answers if r.status == 200],
            "answer_ms": [ms for i in self.escalations for ms in i.seen_ms],
        }


def _latest(*times: float | None) -> float:
    """The last of several moments; NaN when one of them is unknown."""
    return math.nan if any(t is None for t in times) else max(t for t in times if t is not None)


def _stats(values: Sequence[float]) -> dict[str, float]:
    data = [v for v in values if not math.isnan(v)]
    return {
        "n": len(data),
        "p50": percentile(data, 50),
        "p99": percentile(data, 99),
        "max": max(data) if data else math.nan,
    }


async def run_faults(options: FaultOptions) -> FaultReport:
    """Seed, burst with a kill, retry, drain, count."""
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        workdir = bench_workdir(cleanup, options.keep, "bench-faults-")
        run = FaultRun(options, workdir)
        async with AsyncExitStack() as stack:
            await run.start(stack)
            seeded = await run.seed_escalation_tickets()
            log(
                f"faults: {options.escalations} tickets to escalate seeded in {seeded:.0f} s; the burst starts"
            )
            await run.burst()
            burst_done = time.monotonic()
            log("faults: burst sent; waiting for the outbox to drain")
            audit = await wait_outbox_drained(run.database_url, limit=options.drain_timeout)
            drained_after = time.monotonic() - burst_done
            if audit.outbox_pending or audit.unprocessed_events:
                log(f"faults: not drained after {options.drain_timeout:g} s: {audit.outbox}")
            await asyncio.sleep(1.0)  # late posts (an answer on its way) land before counting
            figures, problems = await run.count(drained_after)
            assert run.bot is not None
            await run.bot.stop()
            log_text = run.bot.log_text()
        errors = error_lines(log_text)
        figures["log_errors"] = len(errors)
        figures["leaks"] = len(run.standin.leaks)
        problems += [f"log: {line}" for line in errors[:5]]
        problems += [f"leak: {leak}" for leak in run.standin.leaks[:5]]
    return FaultReport(
        options=options, seconds=time.monotonic() - started, figures=figures, problems=problems
    )


def parse_args(argv: Sequence[str] | None) -> tuple[FaultOptions, bool]:
    """Command line -> (FaultOptions, print JSON?)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench faults",
        description="A burst against the bot with 429s/500s from Slack and a SIGKILL + restart in the middle.",
    )

    def fraction(text: str) -> float:
        value = float(text)
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError("must be within [0, 1)")
        return value

    parser.add_argument("--messages", type=at_least_one, default=5000, help="customer messages (5000)")
    parser.add_argument("--escalations", type=at_least_one, default=1000, help="/escalate commands (1000)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s offered, open loop (50)")
    parser.add_argument(
        "--concurrency", type=at_least_one, default=64, help="requests in flight at most (64)"
    )
    parser.add_argument("--rate-limited", type=fraction, default=0.10, help="share of calls answered 429")
    parser.add_argument("--server-errors", type=fraction, default=0.02, help="share of calls answered 500")
    parser.add_argument("--kill-at", type=fraction, default=0.5, help="kill after this share of the burst")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=90.0,
        help="seconds to wait for the outbox after the burst (90)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server for --database postgres; a fresh database is created and dropped",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the stand-in's fault dice (0)")
    parser.add_argument("--keep", type=Path, help="keep logs, configs and SQLite files in this directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.drain_timeout <= 0 or args.escalations > args.messages:
        parser.error("--rate and --drain-timeout must be > 0, --escalations at most --messages")
    if args.rate_limited + args.server_errors >= 1:
        parser.error("--rate-limited + --server-errors must stay below 1")
    options = FaultOptions(
        messages=args.messages,
        escalations=args.escalations,
        rate=args.rate,
        concurrency=args.concurrency,
        rate_limited=args.rate_limited,
        server_errors=args.server_errors,
        kill_at=args.kill_at,
        drain_timeout=args.drain_timeout,
        database=args.database,
        postgres_url=args.postgres_url,
        seed=args.seed,
        keep=args.keep,
    )
    return options, bool(args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fault benchmark and print the result (or JSON)."""
    options, as_json = parse_args(argv)
    log(
        f"faults: {options.messages} messages + {options.escalations} escalations at {options.rate:g}/s, "
        f"database {options.database}"
    )
    return run_benchmark(lambda: run_faults(options), as_json=as_json)
