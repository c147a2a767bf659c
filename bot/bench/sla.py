"""`python -m bot.bench sla`: many open SLA timers in the database, a share of them due at the same moment.

The bot's own scheduler (bot/scheduler.py, real clock) runs the tick; the benchmark reports how late the
reminders were recorded (from the instant each fell due to the commit of its notice in the outbox), how
long ticks took, how much the process's memory grew, and whether any reminder was lost or doubled (outbox
and timeline rows, counted in the database; Slack is not involved, the outbox sender is not started).

    python -m bot.bench sla --database sqlite --tickets 100000 --due 1000
    python -m bot.bench sla --database postgres --tickets 1000000 --due 10000 --processes 2

`worker` runs ticks in a separate process against an existing database (also used by the tests that race
two processes): `python -m bot.bench sla worker --database-url URL [--at ISO] [--start-at EPOCH]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from tortoise import Tortoise
from tortoise.models import Model

from bot import db
from bot.bench.common import (
    DEFAULT_POSTGRES_URL,
    REPO_ROOT,
    create_postgres_database,
    drop_postgres_database,
    drop_stale_postgres_databases,
    format_number,
    format_table,
    log,
    percentile,
)
from bot.clock import Clock, FrozenClock
from bot.runtime import Runtime
from bot.sandbox.demo import ACME_CHANNEL, ACME_TEAM, L1_CHANNEL, demo_support_raw
from bot.services.sla.bulk import db_value
from bot.slack.outbox import OutboxSender
from config.settings import Settings
from config.support import SupportConfig, parse_support_config
from models import Customer, OutboxMessage, OutboxStatus, Ticket, TicketCard, TicketSource, TicketStatus
from models.sla import SlaKind, SlaState, SlaTimer

CHUNK = 20_000
H = timedelta(hours=1)
BENCH_SLA: dict[str, Any] = {
    "plans": {
        "gold": {"calendar": "24x7", "P3": {"first_response": "1h", "resolution": "8h"}},
        "silver": {"calendar": "24x7"},
        "standard": {"calendar": "24x7"},
    },
    "stale_after": None,
    "alerts": {
        "thresholds": [50, 75, 90],
        "warning": ["channel", "assignee"],
        "breach": ["channel", "group"],
    },
}


# ---------------------------------------------------------------------- a runtime without Slack


def bench_config(sla: dict[str, Any] | None = None) -> SupportConfig:
    """The demo configuration with the benchmark's (or the given) `[sla]` section."""
    raw = demo_support_raw()
    raw["sla"] = {**raw.get("sla", {}), **(BENCH_SLA if sla is None else sla)}
    return parse_support_config(raw, source="bench")


def offline_runtime(database_url: str, config: SupportConfig, clock: Clock) -> Runtime:
    """A runtime whose outbox sender is never started: notices stay in the outbox (counted, not sent)."""
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    client = AsyncWebClient(token="xoxb-offline", base_url="http://127.0.0.1:9/api/")
    sender = OutboxSender(client, clock=clock)
    return Runtime(settings=settings, config=config, clock=clock, client=client, sender=sender)


# ---------------------------------------------------------------------- bulk loading


def _columns(model: type[Model]) -> list[tuple[str, str]]:
    """(field name, column) of every stored field, the primary key included."""
    return list(model._meta.fields_db_projection.items())


class Loader:
    """Inserts rows fast: COPY on PostgreSQL, executemany on SQLite (values converted like tortoise does)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.sqlite = database_url.startswith("sqlite://")

    async def load(self, model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
        """Insert dicts of field values (missing fields get the model's defaults); returns the count."""
        columns = _columns(model)
        names = [n for n, _ in columns]
        table = model._meta.db_table
        total = 0
        for chunk in _chunks(rows, CHUNK):
            records = [
                tuple(db_value(model, n, row.get(n), sqlite=self.sqlite) for n in names) for row in chunk
            ]
            if self.sqlite:
                await asyncio.to_thread(self._sqlite_insert, table, [c for _, c in columns], records)
            else:
                await self._copy(table, [c for _, c in columns], records)
            total += len(records)
        return total

    def _sqlite_insert(self, table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
        path = db.normalise_database_url(self.url).removeprefix("sqlite://").split("?", 1)[0]
        with sqlite3.connect(path, timeout=30) as conn:
            marks = ", ".join("?" for _ in columns)
            cols = ", ".join(f'"{c}"' for c in columns)
            conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', records)

    async def _copy(self, table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.copy_records_to_table(table, records=records, columns=columns)
        finally:
            await conn.close()

    async def fix_sequences(self, *tables: str) -> None:
        """After explicit ids on PostgreSQL: move each id sequence past the largest id."""
        if self.sqlite:
            return
        conn = Tortoise.get_connection("default")
        for table in tables:
            await conn.execute_script(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
            )


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def populate(database_url: str, *, tickets: int, due: int, t0: datetime, seed_time: datetime) -> None:
    """N open tickets (L1 card each, delivered) with a first response and a resolution timer each; the first
    `due` first-response timers are at their 75 % warning at t0, every other timer is due days later."""
    loader = Loader(database_url)
    customer = await Customer.create(team_id=ACME_TEAM, name="Acme Corp", plan="gold")
    created = seed_time
    await loader.load(
        Ticket,
        (
            {
                "id": i,
                "created_at": created,
                "updated_at": created,
                "customer_id": customer.id,
                "channel_id": ACME_CHANNEL,
                "source_ts": f"{1_700_000_000 + i}.000100",
                "thread_ts": f"{1_700_000_000 + i}.000100",
                "author_id": "U0ACMEJO",
                "author_team_id": ACME_TEAM,
                "opened_by_id": "U0ACMEJO",
                "source": TicketSource.MESSAGE,
                "text": f"Bench ticket {i}: printer queue stuck",
                "priority": "P3",
                "status": TicketStatus.NEW,
                "level": "L1",
                "last_customer_message_at": created,
            }
            for i in range(1, tickets + 1)
        ),
    )
    await loader.load(
        OutboxMessage,
        (
            {
                "id": i,
                "stream": f"ticket:{i}",
                "method": "chat.postMessage",
                "channel_id": L1_CHANNEL,
                "payload": {"text": f"card {i}"},
                "status": OutboxStatus.DELIVERED,
                "attempts": 1,
                "next_attempt_at": created,
                "result_ts": f"{1_700_000_000 + i}.000200",
                "created_at": created,
                "delivered_at": created,
            }
            for i in range(1, tickets + 1)
        ),
    )
    await loader.load(
        TicketCard,
        (
            {
                "id": i,
                "ticket_id": i,
                "level": "L1",
                "channel_id": L1_CHANNEL,
                "outbox_id": i,
                "active": True,
                "created_at": created,
            }
            for i in range(1, tickets + 1)
        ),
    )

    def timers() -> Iterator[dict[str, Any]]:
        spread = max(1, tickets)
        for i in range(1, tickets + 1):
            if i <= due:
                run_start, fire, nxt, due_at = (
                    t0 - 45 * timedelta(minutes=1),
                    t0,
                    1,
                    t0 + 15 * timedelta(minutes=1),
                )
            else:
                fire = t0 + H + timedelta(seconds=(i * 2_592_000) // spread)  # spread over 30 days
                run_start, nxt, due_at = fire - 30 * timedelta(minutes=1), 0, fire + 30 * timedelta(minutes=1)
            common = {
                "ticket_id": i,
                "state": SlaState.RUNNING,
                "cycle": 1,
                "plan": "gold",
                "priority": "P3",
                "calendar": "24x7",
                "thresholds": [50, 75, 90],
                "elapsed_us": 0,
                "updated_at": created,
            }
            yield {
                **common,
                "id": 2 * i - 1,
                "kind": SlaKind.FIRST_RESPONSE,
                "target_us": 3600 * 10**6,
                "started_at": run_start,
                "run_started_at": run_start,
                "next_threshold": nxt,
                "next_fire_at": fire,
                "due_at": due_at,
            }
            res_start = fire - 4 * H
            yield {
                **common,
                "id": 2 * i,
                "kind": SlaKind.RESOLUTION,
                "target_us": 8 * 3600 * 10**6,
                "started_at": res_start,
                "run_started_at": res_start,
                "next_threshold": 0,
                "next_fire_at": res_start + 4 * H + H,
                "due_at": res_start + 8 * H,
            }

    await loader.load(SlaTimer, timers())
    await loader.fix_sequences("tickets", "outbox", "ticket_cards", "sla_timers")
    await Tortoise.get_connection("default").execute_script("ANALYZE")  # as autovacuum would, after a load


# ---------------------------------------------------------------------- measuring


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class SlaBenchReport:
    """Figures of one run."""

    database: str
    tickets: int
    timers: int
    due: int
    processes: int
    batch: int
    load_seconds: float = 0.0
    fired: int = 0
    recorded_notices: int = 0
    lost: int = 0
    doubled: int = 0
    lateness_p50_ms: float = 0.0
    lateness_p99_ms: float = 0.0
    lateness_max_ms: float = 0.0
    burst_seconds: float = 0.0
    tick_max_ms: float = 0.0
    tick_p50_ms: float = 0.0
    idle_tick_ms: float = 0.0
    rss_baseline_mb: float = 0.0
    rss_growth_mb: float = 0.0
    per_process: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        """A table for the terminal / docs."""
        rows = [
            ("database", self.database),
            ("open tickets / timers", f"{self.tickets:,} / {self.timers:,}"),
            ("due at the same moment", f"{self.due:,}"),
            ("processes × batch", f"{self.processes} × {self.batch}"),
            (
                "lateness p50 / p99 / max",
                f"{format_number(self.lateness_p50_ms)} / {format_number(self.lateness_p99_ms)}"
                f" / {format_number(self.lateness_max_ms)} ms",
            ),
            ("last due one recorded after", f"{format_number(self.burst_seconds, 2)} s"),
            ("tick p50 / max", f"{format_number(self.tick_p50_ms)} / {format_number(self.tick_max_ms)} ms"),
            ("empty tick (nothing due)", f"{format_number(self.idle_tick_ms, 2)} ms"),
            (
                "RSS baseline / growth",
                f"{format_number(self.rss_baseline_mb)} / {format_number(self.rss_growth_mb)} MB",
            ),
            (
                "notices recorded / lost / doubled",
                f"{self.recorded_notices:,} / {self.lost} / {self.doubled}",
            ),
            ("bulk load", f"{format_number(self.load_seconds)} s"),
        ]
        if self.per_process:
            split = " + ".join(str(p["fired"]) for p in self.per_process)
            rows.append(("reminders per process", split))
        return format_table(["", "SLA tick"], [list(r) for r in rows])


async def count_notices(due: int) -> tuple[int, int, int]:
    """(notices recorded, lost, doubled) for the due first-response warnings."""
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query(
        "SELECT ticket_id, count(*) AS n FROM ticket_timeline WHERE kind = 'sla_warning' GROUP BY ticket_id"
    )
    per_ticket = {int(r["ticket_id"]): int(r["n"]) for r in rows}
    _, posts = await conn.execute_query(
        "SELECT stream, count(*) AS n FROM outbox WHERE method = 'chat.postMessage' "
        "AND thread_parent_id IS NOT NULL GROUP BY stream"
    )
    per_stream = {str(r["stream"]): int(r["n"]) for r in posts}
    expected = range(1, due + 1)
    lost = sum(1 for i in expected if per_ticket.get(i, 0) == 0 or per_stream.get(f"ticket:{i}", 0) == 0)
    doubled = sum(max(0, n - 1) for n in per_ticket.values()) + sum(
        max(0, n - 1) for n in per_stream.values()
    )
    unexpected = sum(n for t, n in per_ticket.items() if t > due)
    return sum(per_stream.values()), lost + unexpected, doubled


async def run_in_process(
    database_url: str, config: SupportConfig, *, due: int, t0: datetime, batch: int, give_up_after: float
) -> tuple[list[float], list[float], float, float]:
    """Start the bot's scheduler (real clock) and wait until `due` reminders were recorded; returns
    (lateness seconds, tick seconds, RSS growth bytes, seconds until the last was recorded)."""
    from bot.scheduler import BotScheduler

    rt = offline_runtime(database_url, config, Clock())
    lateness: list[float] = []
    ticks: list[float] = []
    done = asyncio.Event()

    def on_tick(report: Any) -> None:
        if report.claimed:
            ticks.append(report.seconds)
        lateness.extend(report.lateness)
        if len(lateness) >= due:
            done.set()

    baseline = rss_bytes()
    peak = baseline
    scheduler = BotScheduler(rt, batch=batch, on_tick=on_tick)
    await scheduler.start()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.wait_for(done.wait(), give_up_after)
    finally:
        sampler.cancel()
        await scheduler.stop()
    finished = (datetime.now(UTC) - t0).total_seconds()
    return lateness, ticks, float(peak - baseline), finished


async def idle_tick_ms(database_url: str, config: SupportConfig, *, repeat: int = 50) -> float:
    """Median duration of a tick when nothing is due (one indexed range query)."""
    from bot.flows.sla import sla_tick

    rt = offline_runtime(database_url, config, Clock())
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        await sla_tick(rt)
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations)


async def run_benchmark(options: argparse.Namespace, tmp: Path) -> SlaBenchReport:
    """Create the database, load it, fire the due share, measure, check, clean up."""
    name = f"bench_sla_{os.getpid()}"
    if options.database == "postgres":
        await drop_stale_postgres_databases(options.database_url or DEFAULT_POSTGRES_URL, "bench_sla_")
        url = await create_postgres_database(options.database_url or DEFAULT_POSTGRES_URL, name)
    else:
        url = f"sqlite://{tmp}/{name}.sqlite3"
    config = bench_config()
    report = SlaBenchReport(
        database=options.database,
        tickets=options.tickets,
        timers=2 * options.tickets,
        due=options.due,
        processes=options.processes,
        batch=options.batch,
    )
    try:
        await db.apply_migrations(url)
        await db.init_db(url, migrate=False)
        seed = datetime.now(UTC) - timedelta(days=1)
        placeholder = datetime.now(UTC) + timedelta(days=365)  # due share parked until the measured moment
        started = time.perf_counter()
        log(
            f"loading {options.tickets:,} tickets, {2 * options.tickets:,} timers into {options.database} ..."
        )
        await populate(url, tickets=options.tickets, due=options.due, t0=placeholder, seed_time=seed)
        report.load_seconds = time.perf_counter() - started
        log(f"loaded in {report.load_seconds:.1f} s")
        report.idle_tick_ms = await idle_tick_ms(url, config)
        report.rss_baseline_mb = rss_bytes() / 2**20
        t0 = datetime.now(UTC) + timedelta(seconds=options.lead)
        await _park_due(url, due=options.due, t0=t0)
        log(f"{options.due:,} reminders fall due at {t0:%H:%M:%S.%f} UTC")
        if options.processes == 1:
            lateness, ticks, growth, _ = await run_in_process(
                url, config, due=options.due, t0=t0, batch=options.batch, give_up_after=options.timeout
            )
        else:
            lateness, ticks, growth, _, report.per_process = await _run_workers(url, options, t0)
        report.fired = len(lateness)
        report.lateness_p50_ms = percentile(lateness, 50) * 1000
        report.lateness_p99_ms = percentile(lateness, 99) * 1000
        report.lateness_max_ms = max(lateness) * 1000 if lateness else 0.0
        report.burst_seconds = max(lateness, default=0.0)
        report.tick_p50_ms = percentile(ticks, 50) * 1000 if ticks else 0.0
        report.tick_max_ms = max(ticks) * 1000 if ticks else 0.0
        report.rss_growth_mb = growth / 2**20
        report.recorded_notices, report.lost, report.doubled = await count_notices(options.due)
    finally:
        await db.close_db()
        if options.database == "postgres" and not options.keep:
            await drop_postgres_database(options.database_url or DEFAULT_POSTGRES_URL, name)
    return report


async def _park_due(url: str, *, due: int, t0: datetime) -> None:
    """Move the due share to t0 (their 75 % warning falls due then)."""
    run_start = t0 - 45 * timedelta(minutes=1)
    await SlaTimer.filter(kind=SlaKind.FIRST_RESPONSE, ticket_id__lte=due).update(
        next_fire_at=t0, run_started_at=run_start, started_at=run_start, due_at=t0 + 15 * timedelta(minutes=1)
    )


async def _run_workers(
    url: str, options: argparse.Namespace, t0: datetime
) -> tuple[list[float], list[float], float, float, list[dict[str, Any]]]:
    """Several bot processes (each with its own scheduler) on the same database."""
    args = [
        "--database-url",
        url,
        "--batch",
        str(options.batch),
        "--until",
        str(options.due),
        "--timeout",
        str(options.timeout),
        "--sla-json",
        json.dumps(BENCH_SLA),
    ]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.bench", "sla", "worker", *args, cwd=REPO_ROOT, stdout=subprocess.PIPE
        )
        for _ in range(options.processes)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    lateness = [v for r in results for v in r["lateness"]]
    ticks = [v for r in results for v in r["ticks"]]
    burst = (datetime.now(UTC) - t0).total_seconds()
    summary = [
        {"pid": r["pid"], "fired": r["fired"], "rss_growth_mb": r["rss_growth"] / 2**20} for r in results
    ]
    return lateness, ticks, max(r["rss_growth"] for r in results), burst, summary


# ---------------------------------------------------------------------- worker (a second bot process)


async def run_worker(options: argparse.Namespace) -> dict[str, Any]:
    """Tick against an existing database: with --at on a frozen clock until nothing is due, else with the
    bot's scheduler on the real clock until the database holds --until warnings."""
    from bot.flows.sla import sla_tick
    from bot.scheduler import BotScheduler

    sla = json.loads(options.sla_json) if options.sla_json else None
    config = bench_config(sla)
    await db.init_db(options.database_url, migrate=False)
    try:
        if options.start_at:
            await asyncio.sleep(max(0.0, options.start_at - time.time()))
        if options.at:
            clock = FrozenClock(datetime.fromisoformat(options.at))
            rt = offline_runtime(options.database_url, config, clock)
            fired = claimed = 0
            while True:
                report = await sla_tick(rt, batch=options.batch)
                fired, claimed = fired + report.fired, claimed + report.claimed
                if not report.claimed:
                    break
            return {"pid": os.getpid(), "fired": fired, "claimed": claimed}
        rt = offline_runtime(options.database_url, config, Clock())
        lateness: list[float] = []
        ticks: list[float] = []

        def on_tick(report: Any) -> None:
            lateness.extend(report.lateness)
            if report.claimed:
                ticks.append(report.seconds)

        baseline = peak = rss_bytes()
        scheduler = BotScheduler(rt, batch=options.batch, on_tick=on_tick)
        await scheduler.start()
        deadline = time.monotonic() + options.timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            peak = max(peak, rss_bytes())
            from models import TimelineEntry

            if await TimelineEntry.filter(kind="sla_warning").count() >= options.until:
                break
        await scheduler.stop()
        return {
            "pid": os.getpid(),
            "fired": len(lateness),
            "lateness": lateness,
            "ticks": ticks,
            "rss_growth": peak - baseline,
        }
    finally:
        await db.close_db()


# ---------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options of the benchmark and of the worker."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench sla", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL server (default {DEFAULT_POSTGRES_URL})")
    parser.add_argument("--tickets", type=int, default=100_000, help="open tickets, two timers each (100000)")
    parser.add_argument("--due", type=int, default=1000, help="reminders due at the same moment (1000)")
    parser.add_argument("--batch", type=int, default=500, help="timers claimed per transaction (500)")
    parser.add_argument("--processes", type=int, default=1, help="bot processes ticking (1)")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from setup to the due moment (3)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds (600)")
    parser.add_argument("--keep", help="keep the SQLite file (or the PostgreSQL database) in this directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def parse_worker_args(argv: Sequence[str]) -> argparse.Namespace:
    """Options of `worker`."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench sla worker")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--at", help="frozen clock time (ISO); tick until nothing is due")
    parser.add_argument("--start-at", type=float, help="wall-clock epoch to start at (lines up processes)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--until", type=int, default=0, help="real clock: stop when this many warnings exist")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--sla-json", help="the [sla] section to use, as JSON (default: the benchmark's)")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or `worker`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "worker":
        result = asyncio.run(run_worker(parse_worker_args(args[1:])))
        print(json.dumps(result))
        return 0
    options = parse_args(args)
    if options.due > options.tickets:
        print("--due must not exceed --tickets", file=sys.stderr)
        return 2
    tmp = Path(options.keep or tempfile.mkdtemp(prefix="bench-sla-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        report = asyncio.run(run_benchmark(options, tmp))
    finally:
        if not options.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(asdict(report), indent=2) if options.json else report.render())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"peak RSS of the benchmark process (loading included): {peak:.0f} MB")
    return 0 if report.lost == 0 and report.doubled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
