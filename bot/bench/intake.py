"""`python -m bot.bench intake`: customer messages → L1 cards, the bot next to bare Bolt in the same run.

Each trial starts a fresh Slack stand-in (the demo workspace plus one extra customer person per message,
spread over the demo's two shared channels), a fresh database and one target as a subprocess, sends signed
`message` events at a fixed concurrency and reads, from the stand-in's call log, when each message's card
reached the L1 channel. Targets alternate within each repetition; figures are medians over repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import secrets
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.bench.common import (
    BENCH_SIGNING_SECRET,
    BENCH_TOKEN,
    DEFAULT_POSTGRES_URL,
    LOOPBACK,
    BenchError,
    CallWatcher,
    LoadRun,
    ServiceProcess,
    at_least_one,
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
    log,
    median,
    percentile,
    rotated,
    run_benchmark,
    run_load,
    spawn_bot,
    spawn_service,
    write_toml,
)
from bot.sandbox.demo import (
    ACME_CHANNEL,
    ACME_TEAM,
    GLOBEX_CHANNEL,
    GLOBEX_TEAM,
    L1_CHANNEL,
    build_demo_workspace,
    demo_support_raw,
)
from bot.sandbox.driver import DriverResult, SlackDriver
from bot.sandbox.standin import SlackStandIn, Workspace

Database = Literal["sqlite", "postgres"]

# Slack allows about one message per second per channel; every card goes to the one L1 channel, so the
# real pace would cap the bot at ~1 card/s and the benchmark would measure the pacer. It is lifted here.
CHANNEL_RATE = 100_000.0
CHANNEL_BURST = 100_000
PG_PREFIX = "bench_intake_"
CUSTOMER_CHANNELS = ((ACME_CHANNEL, ACME_TEAM), (GLOBEX_CHANNEL, GLOBEX_TEAM))
PROBLEMS = (
    "VPN drops every 10 minutes since this morning",
    "Cannot log in to the HR portal, the password reset mail never arrives",
    "Printer on floor 3 shows offline for everyone",
    "Outlook keeps asking for my password after the update",
    "Please give Sam read access to the finance share",
    "Invoice 4411 shows the wrong VAT rate",
    "Wi-Fi in meeting room B is down",
    "Urgent: the sales dashboard shows no data since yesterday",
)


@dataclass(frozen=True)
class Target:
    """Something the load is sent to: the bot, or a bare Bolt app in one of its two ack modes."""

    name: str
    label: str
    kind: Literal["bot", "bolt"]
    process_before_response: bool = False


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("bot", "bot", "bot"),
        Target("bolt", "bare Bolt", "bolt"),
        Target("bolt-pbr", "bare Bolt, pbr=True", "bolt", process_before_response=True),
    )
}
BASELINE = "bolt"  # same ack mode as the bot (process_before_response=False)


@dataclass(frozen=True)
class IntakeOptions:
    """What to run: messages per trial, concurrency, repetitions, database, targets."""

    messages: int = 2000
    concurrency: int = 32
    repeat: int = 3
    database: Database = "sqlite"
    postgres_url: str = DEFAULT_POSTGRES_URL
    warmup: int = 50
    rate: float | None = None
    card_timeout: float = 30.0
    targets: tuple[str, ...] = tuple(TARGETS)
    keep: Path | None = None


@dataclass
class TrialMetrics:
    """The figures of one target in one repetition."""

    target: str
    repetition: int
    sent: int
    acked: int
    non_200: int
    acks_per_s: float
    events_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    card_p50_ms: float
    card_p99_ms: float
    lost: int
    duplicated: int
    duplicated_cards: int
    duplicated_tickets: int
    tickets: int | None
    unprocessed_events: int | None
    outbox: dict[str, int] | None
    cpu_ms_per_event: float | None
    bench_cpu_ms_per_event: float
    stderr_errors: int
    leaks: int
    standin_warnings: int
    first_problems: list[str] = field(default_factory=list)

    @property
    def troubled(self) -> bool:
        """True when anything went wrong beyond slowness."""
        return bool(
            self.lost
            or self.duplicated
            or self.non_200
            or self.stderr_errors
            or self.leaks
            or self.standin_warnings
            or self.unprocessed_events
            or (self.outbox and set(self.outbox) - {"delivered"})
        )


MEDIAN_KEYS = (
    "acks_per_s",
    "events_per_s",
    "ack_p50_ms",
    "ack_p99_ms",
    "card_p50_ms",
    "card_p99_ms",
    "cpu_ms_per_event",
    "bench_cpu_ms_per_event",
)
TOTAL_KEYS = ("lost", "duplicated", "non_200", "stderr_errors", "leaks", "standin_warnings")


@dataclass
class IntakeReport:
    """All trials of a run and their per-target medians."""

    options: IntakeOptions
    trials: list[TrialMetrics]
    seconds: float = 0.0

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per target: medians of rates, latencies and CPU; totals of lost, duplicated and errors."""
        result: dict[str, dict[str, Any]] = {}
        for name in self.options.targets:
            rows = [t for t in self.trials if t.target == name]
            if not rows:
                continue
            entry: dict[str, Any] = {"label": TARGETS[name].label, "repetitions": len(rows)}
            for key in MEDIAN_KEYS:
                values = [getattr(t, key) for t in rows if getattr(t, key) is not None]
                entry[key] = median(values) if values else math.nan
            entry["events_per_s_range"] = [
                min(t.events_per_s for t in rows),
                max(t.events_per_s for t in rows),
            ]
            for key in TOTAL_KEYS:
                entry[key] = sum(getattr(t, key) for t in rows)
            result[name] = entry
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: options, per-target summary, every trial."""
        options = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.options).items()}
        return {
            "benchmark": "intake",
            "options": options,
            "outbox_channel_rate": CHANNEL_RATE,
            "seconds": round(self.seconds, 1),
            "summary": _json_safe(self.summary()),
            "trials": [_json_safe(asdict(t)) for t in self.trials],
        }

    def render(self) -> str:
        """The human-readable table, the bot/bare-Bolt ratios and the notes."""
        o = self.options
        summary = self.summary()
        headers = [
            "target",
            "acks/s",
            "events/s",
            "ack p50",
            "ack p99",
            "card p50",
            "card p99",
            "cpu/ev",
            "lost",
            "dup",
            "non-200",
        ]
        rows = [
            [
                s["label"],
                format_number(s["acks_per_s"], 0),
                format_number(s["events_per_s"], 0),
                format_number(s["ack_p50_ms"]),
                format_number(s["ack_p99_ms"]),
                format_number(s["card_p50_ms"]),
                format_number(s["card_p99_ms"]),
                format_number(s["cpu_ms_per_event"], 2),
                str(s["lost"]),
                str(s["duplicated"]),
                str(s["non_200"]),
            ]
            for s in summary.values()
        ]
        if "bot" in summary and BASELINE in summary:
            bot, base = summary["bot"], summary[BASELINE]
            ratios = [_ratio(bot[key], base[key]) for key in MEDIAN_KEYS[:-1]]
            rows.append([f"bot / {base['label']}", *ratios, "", "", ""])
        load = f"at {o.rate:g} msg/s offered (open loop, " if o.rate else "("
        lines = [
            f"intake: {o.messages} messages per trial {load}concurrency {o.concurrency}), "
            f"{o.repeat} repetition(s), database {o.database}, {self.seconds:.0f} s in all",
            "medians over repetitions; lost/dup/non-200 are totals; times in ms",
            "",
            format_table(headers, rows),
            "",
            "acks/s: HTTP 200 answers per second. events/s: cards posted / (last card - first send).",
            "ack: HTTP response time of the event delivery. card: send -> stand-in answered the card's",
            "chat.postMessage. cpu/ev: CPU ms of the target process per message (not the database server;",
            "steadier than wall-clock figures on a shared machine). When acks/s > events/s the target is",
            "saturated and card latency is queueing time, which grows with --messages; see --rate.",
            f"Slack's per-channel pace (~1 msg/s) is disabled in the bot (OUTBOX_CHANNEL_RATE={CHANNEL_RATE:g}):",
            "every card goes to the one L1 channel, so the real pace would cap any app at ~1 card/s there.",
            f"Every message comes from a different customer person ({o.messages + o.warmup} people in the two",
            "shared channels), so the 2-minute follow-up window never merges them into one ticket;",
            f"{o.warmup} warm-up messages per trial are not timed (but are checked for loss/duplicates).",
        ]
        for t in self.trials:
            if t.troubled:
                lines.append(
                    f"! {TARGETS[t.target].label}, repetition {t.repetition}: lost {t.lost}, duplicated "
                    f"{t.duplicated} (cards {t.duplicated_cards}, tickets {t.duplicated_tickets}), non-200 "
                    f"{t.non_200}, log errors {t.stderr_errors}, leaks {t.leaks}, stand-in warnings "
                    f"{t.standin_warnings}, unprocessed events {t.unprocessed_events}, outbox {t.outbox}"
                )
                lines += [f"    {line[:300]}" for line in t.first_problems]
        return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------- workspace and messages


def build_bench_workspace(people: int) -> tuple[Workspace, list[tuple[str, str]]]:
    """The demo workspace plus `people` customer users, alternating between Acme's and Globex's channels."""
    ws = build_demo_workspace()
    senders: list[tuple[str, str]] = []
    for i in range(people):
        channel, team = CUSTOMER_CHANNELS[i % len(CUSTOMER_CHANNELS)]
        user_id = f"U0BX{i:06d}"
        ws.add_user(user_id, name=f"customer{i}", real_name=f"Customer {i}", team_id=team)
        ws.join_channel(channel, user_id)
        senders.append((user_id, channel))
    return ws, senders


def message_text(marker: str, index: int) -> str:
    """A customer's message: the marker first (it survives into the card's text), then a problem."""
    return f"{marker} {PROBLEMS[index % len(PROBLEMS)]}"


# ---------------------------------------------------------------------- one trial


@dataclass
class DatabaseCounts:
    """What the bot's database says after a trial."""

    tickets: Counter[str]
    unprocessed_events: int
    outbox: dict[str, int]


async def count_rows(database_url: str, marker: re.Pattern[str]) -> DatabaseCounts:
    """Tickets per marker, unprocessed inbound events and outbox rows per status."""
    queries = (
        "SELECT text FROM tickets",
        "SELECT count(*) FROM inbound_events WHERE processed_at IS NULL",
        "SELECT status, count(*) FROM outbox GROUP BY status",
    )
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]

        def read() -> tuple[list[Any], int, list[Any]]:
            with contextlib.closing(sqlite3.connect(path)) as conn:
                return (
                    conn.execute(queries[0]).fetchall(),
                    conn.execute(queries[1]).fetchone()[0],
                    conn.execute(queries[2]).fetchall(),
                )

        texts, unprocessed, outbox = await asyncio.to_thread(read)
    else:
        import asyncpg

        conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1), timeout=5)
        try:
            texts = await conn.fetch(queries[0])
            unprocessed = await conn.fetchval(queries[1])
            outbox = await conn.fetch(queries[2])
        finally:
            await conn.close()
    tickets: Counter[str] = Counter()
    for (text,) in texts:
        found = marker.search(text or "")
        if found:
            tickets[found.group(1)] += 1
    return DatabaseCounts(tickets, int(unprocessed), {str(status): int(n) for status, n in outbox})


async def start_target(
    target: Target, *, standin: SlackStandIn, database_url: str, workdir: Path, tag: str
) -> ServiceProcess:
    """Start the bot or a bare Bolt app as a subprocess against the stand-in; return once healthy."""
    port = free_port()
    if target.kind == "bot":
        config = write_toml(workdir / f"support-{tag}.toml", in_hours(demo_support_raw()))
        env = bot_env(
            slack_api_url=standin.api_url,
            database_url=database_url,
            support_config=config,
            port=port,
            channel_rate=CHANNEL_RATE,
            channel_burst=CHANNEL_BURST,
        )
        return await spawn_bot(env, workdir=workdir, name=f"bot-{tag}")
    env = bot_env(
        slack_api_url=standin.api_url,
        database_url=database_url,
        support_config=workdir,
        port=port,
        log_level="WARNING",
        extra={
            "BAREBOLT_CARD_CHANNEL": L1_CHANNEL,
            "BAREBOLT_PROCESS_BEFORE_RESPONSE": "1" if target.process_before_response else "0",
        },
    )
    return await spawn_service(
        f"{target.name}-{tag}",
        [sys.executable, "-m", "bot.bench.barebolt"],
        env=env,
        port=port,
        log_path=workdir / f"{target.name}-{tag}.log",
        cwd=workdir,
    )


async def run_trial(
    target: Target, options: IntakeOptions, *, repetition: int, workdir: Path
) -> TrialMetrics:
    """One target, one repetition: fresh stand-in, database and process; warm up, drive, wait, count."""
    tag = f"bx{secrets.token_hex(3)}"
    marker_re = re.compile(rf"\b{tag}-(w?\d+)\b")
    ws, senders = build_bench_workspace(options.warmup + options.messages)
    standin = SlackStandIn(ws, bot_token=BENCH_TOKEN)
    async with AsyncExitStack() as stack:
        await standin.start(LOOPBACK, 0)
        stack.push_async_callback(standin.stop)
        if options.database == "postgres":
            name = f"{PG_PREFIX}{os.getpid()}_{repetition}_{target.name.replace('-', '_')}"
            database_url = await create_postgres_database(options.postgres_url, name)
            stack.push_async_callback(drop_postgres_database, options.postgres_url, name)
        else:
            database_url = f"sqlite://{workdir / f'{target.name}-{tag}.sqlite3'}"
        service = await start_target(
            target, standin=standin, database_url=database_url, workdir=workdir, tag=tag
        )
        stack.push_async_callback(service.stop)
        driver = SlackDriver(standin, f"{service.url}/slack/events", BENCH_SIGNING_SECRET, timeout=10.0)
        stack.push_async_callback(driver.close)
        watcher = CallWatcher(standin, method="chat.postMessage", channel=L1_CHANNEL, pattern=marker_re)

        def sender(offset: int, prefix: str) -> Callable[[int], Awaitable[DriverResult]]:
            async def send(i: int) -> DriverResult:
                user, channel = senders[offset + i]
                text = message_text(f"{tag}-{prefix}{i}", offset + i)
                return await driver.post_message(user, channel, text, app_mention=False)

            return send

        warm: LoadRun | None = None
        if options.warmup:
            warm = await run_load(sender(0, "w"), count=options.warmup, concurrency=options.concurrency)
            await watcher.wait_for({f"w{s.index}" for s in warm.acked}, idle=options.card_timeout, settle=0.0)
        cpu_before, bench_before = service.cpu_seconds(), time.process_time()
        run = await run_load(
            sender(options.warmup, ""),
            count=options.messages,
            concurrency=options.concurrency,
            rate=options.rate,
            limit=max(120.0, 3 * options.messages / options.rate) if options.rate else 120.0,
        )
        expected = {str(s.index) for s in run.acked} | {f"w{s.index}" for s in (warm.acked if warm else [])}
        await watcher.wait_for(expected, idle=options.card_timeout)
        cpu_after, bench_cpu = service.cpu_seconds(), time.process_time() - bench_before
        await service.stop()
        counts = await count_rows(database_url, marker_re) if target.kind == "bot" else None
    errors = error_lines(service.log_text())
    problems = list(errors)
    problems += [f"leak: {leak}" for leak in standin.leaks]
    problems += [f"stand-in: {warning}" for warning in standin.warnings]
    metrics = measure(
        target.name,
        repetition,
        run=run,
        warm=warm,
        watcher=watcher,
        counts=counts,
        cpu_seconds=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        bench_cpu_seconds=bench_cpu,
    )
    metrics.stderr_errors = len(errors)
    metrics.leaks, metrics.standin_warnings = len(standin.leaks), len(standin.warnings)
    metrics.first_problems = problems[:5]
    return metrics


def _acked(run: LoadRun | None, prefix: str) -> Iterator[tuple[str, float]]:
    for sample in run.acked if run else []:
        yield f"{prefix}{sample.index}", sample.sent_at


def measure(
    target: str,
    repetition: int,
    *,
    run: LoadRun,
    warm: LoadRun | None,
    watcher: CallWatcher,
    counts: DatabaseCounts | None,
    cpu_seconds: float | None,
    bench_cpu_seconds: float,
) -> TrialMetrics:
    """Turn a trial's samples, the cards seen and the database counts into its figures."""
    acked = run.acked
    card_ms: list[float] = []
    last_card = run.started_at
    for marker, sent_at in _acked(run, ""):
        seen = watcher.first(marker)
        if seen is not None:
            card_ms.append((seen - sent_at) * 1000)
            last_card = max(last_card, seen)
    lost = sum(1 for marker, _ in [*_acked(run, ""), *_acked(warm, "w")] if watcher.first(marker) is None)
    dup_cards = {m for m, times in watcher.seen.items() if len(times) > 1}
    dup_tickets = {m for m, n in counts.tickets.items() if n > 1} if counts else set()
    acks_done = [s.sent_at + s.ack_seconds for s in acked]
    samples = len(run.samples) + (len(warm.samples) if warm else 0)
    return TrialMetrics(
        target=target,
        repetition=repetition,
        sent=len(run.samples),
        acked=len(acked),
        non_200=samples - len(acked) - (len(warm.acked) if warm else 0),
        acks_per_s=len(acked) / (max(acks_done) - run.started_at) if acks_done else 0.0,
        events_per_s=len(card_ms) / (last_card - run.started_at) if card_ms else 0.0,
        ack_p50_ms=percentile((s.ack_seconds * 1000 for s in acked), 50),
        ack_p99_ms=percentile((s.ack_seconds * 1000 for s in acked), 99),
        card_p50_ms=percentile(card_ms, 50),
        card_p99_ms=percentile(card_ms, 99),
        lost=lost,
        duplicated=len(dup_cards | dup_tickets),
        duplicated_cards=len(dup_cards),
        duplicated_tickets=len(dup_tickets),
        tickets=sum(counts.tickets.values()) if counts else None,
        unprocessed_events=counts.unprocessed_events if counts else None,
        outbox=counts.outbox if counts else None,
        cpu_ms_per_event=cpu_seconds * 1000 / len(run.samples)
        if cpu_seconds is not None and run.samples
        else None,
        bench_cpu_ms_per_event=bench_cpu_seconds * 1000 / max(1, len(run.samples)),
        stderr_errors=0,
        leaks=0,
        standin_warnings=0,
    )


# ---------------------------------------------------------------------- the run


async def run_intake(options: IntakeOptions) -> IntakeReport:
    """Every repetition runs every target once (order rotated per repetition to spread drift)."""
    for name in options.targets:
        if name not in TARGETS:
            raise BenchError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    started = time.monotonic()
    await drop_stale_databases(options.database, options.postgres_url, PG_PREFIX)
    trials: list[TrialMetrics] = []
    with contextlib.ExitStack() as cleanup:
        workdir = bench_workdir(cleanup, options.keep, "bench-intake-")
        for rep in range(1, options.repeat + 1):
            for name in rotated(options.targets, rep):
                m = await run_trial(TARGETS[name], options, repetition=rep, workdir=workdir)
                trials.append(m)
                log(
                    f"  rep {rep}/{options.repeat} {TARGETS[name].label:<20} {m.acks_per_s:5.0f} acks/s "
                    f"{m.events_per_s:5.0f} ev/s  ack p50/p99 {m.ack_p50_ms:5.0f}/{m.ack_p99_ms:5.0f} ms  "
                    f"card p50/p99 {m.card_p50_ms:6.0f}/{m.card_p99_ms:6.0f} ms  "
                    f"cpu {m.cpu_ms_per_event or math.nan:.2f} (bench {m.bench_cpu_ms_per_event:.2f}) ms/ev  "
                    f"lost {m.lost} dup {m.duplicated}"
                )
    return IntakeReport(options=options, trials=trials, seconds=time.monotonic() - started)


def parse_args(argv: Sequence[str] | None) -> tuple[IntakeOptions, bool]:
    """Command line → (IntakeOptions, print JSON?)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench intake",
        description="Customer messages -> L1 cards through the real bot, next to bare Bolt in the same run.",
    )

    parser.add_argument("--messages", type=at_least_one, default=2000, help="timed messages per trial (2000)")
    parser.add_argument(
        "--concurrency", type=at_least_one, default=32, help="requests in flight at most (32)"
    )
    parser.add_argument(
        "--repeat", type=at_least_one, default=3, help="repetitions; medians are reported (3)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server for --database postgres; a fresh database is created and dropped per trial",
    )
    parser.add_argument("--rate", type=float, help="offered messages/s (open loop); default: closed loop")
    parser.add_argument("--warmup", type=int, default=50, help="untimed messages before each trial (50)")
    parser.add_argument(
        "--card-timeout",
        type=float,
        default=30.0,
        help="a message is lost when no new card came for this many seconds (30)",
    )
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated: {', '.join(TARGETS)}")
    parser.add_argument("--keep", type=Path, help="keep logs, configs and SQLite files in this directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args(argv)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        parser.error(f"--targets: unknown {unknown}; choose from {', '.join(TARGETS)}")
    if args.warmup < 0 or args.card_timeout <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--warmup must be >= 0, --card-timeout and --rate > 0")
    options = IntakeOptions(
        messages=args.messages,
        concurrency=args.concurrency,
        repeat=args.repeat,
        database=args.database,
        postgres_url=args.postgres_url,
        warmup=args.warmup,
        rate=args.rate,
        card_timeout=args.card_timeout,
        targets=targets,
        keep=args.keep,
    )
    return options, bool(args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the intake benchmark and print the table (or JSON)."""
    options, as_json = parse_args(argv)
    log(
        f"intake: {options.messages} messages x {len(options.targets)} targets x {options.repeat} "
        f"repetition(s), concurrency {options.concurrency}, database {options.database}"
    )
    return run_benchmark(lambda: run_intake(options), as_json=as_json)
