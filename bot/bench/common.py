"""Shared benchmark helpers: subprocesses, health, load generation, call watching, statistics, tables.

Benchmarks drive a real `python -m bot` subprocess (and baselines) through the Slack stand-in over real,
signed HTTP on 127.0.0.1. Subprocesses die with the benchmark: they are stopped in `finally` blocks, get
SIGKILL from the kernel if the benchmark process dies (Linux PDEATHSIG), and are killed at interpreter exit.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import gc
import json
import math
import os
import re
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.sandbox.driver import DriverResult, SlackDriver
from bot.sandbox.standin import CallRecord, Ephemeral, SlackStandIn, Workspace
from bot.sandbox.standin.workspace import JsonDict
from bot.slack.budget import QUEUED, SLOW

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_TOKEN = "xoxb-bench-0000-standin"
BENCH_SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

_LIVE_PIDS: set[int] = set()


class BenchError(RuntimeError):
    """A benchmark could not run (a process did not start, a database could not be made)."""


# ---------------------------------------------------------------------- statistics


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    data = sorted(values)
    if not data:
        return math.nan
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    """The median of the non-NaN values; NaN when there are none."""
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


# ---------------------------------------------------------------------- formatting


def format_number(value: float | int | None, digits: int = 1) -> str:
    """A table cell: '-' for missing/NaN, ints as is, floats with `digits` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.{digits}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned, a rule under the header."""
    columns = len(headers)
    for row in rows:
        if len(row) != columns:
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {columns}")
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def log(message: str) -> None:
    """Progress output (stderr, so stdout stays clean for --json)."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- TOML (tomllib cannot write)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping of str/int/float/bool, lists and nested mappings as TOML."""
    lines: list[str] = []
    _emit_table(lines, data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def in_hours(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The support config with every SLA duration 60 times as long: "5m" becomes "5h", "4h" "240h".

    The sandbox's demo config counts in minutes so that its warnings show within minutes; in a benchmark run
    of a few minutes that fires reminders and breaches (and P1 auto-escalations) for thousands of seeded
    tickets, work that has nothing to do with what is measured. In hours the same policies start, stop and
    pause the same timers (their cost counts), but none falls due during the run, as in a real workday."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and (match := re.fullmatch(r"(\d+)([mhd])", value)):
            number, unit = int(match[1]), match[2]
            return f"{number}h" if unit == "m" else f"{number * 60}{unit}"
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        return value

    data = dict(raw)
    if "sla" in data:
        data["sla"] = convert(data["sla"])
    return data


def write_toml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write a mapping as a TOML file and return its path."""
    path.write_text(dumps_toml(data), encoding="utf-8")
    return path


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit_table(lines: list[str], table: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, Mapping) or _is_table_array(v)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested.items():
        path = ".".join(_toml_key(part) for part in (*prefix, key))
        if isinstance(value, Mapping):
            lines += ["", f"[{path}]"]
            _emit_table(lines, value, (*prefix, key))
        else:
            for item in value:
                lines += ["", f"[[{path}]]"]
                _emit_table(lines, item, (*prefix, key))


def _toml_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"TOML keys are strings, got {key!r}")
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes are a subset of TOML's basic-string escapes; DEL must be escaped in TOML too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")


# ---------------------------------------------------------------------- ports and processes


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL this child when the benchmark process dies (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_LIVE_PIDS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        _LIVE_PIDS.discard(pid)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process used so far (Linux /proc), None where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass
class ServiceProcess:
    """A server subprocess of a benchmark: its process, base URL and combined stdout/stderr log file."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        """CPU seconds the process used so far."""
        return process_cpu_seconds(self.pid)

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def send_signal(self, sig: int) -> None:
        """Send a signal to the process (nothing happens when it is gone already)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)

    async def kill(self) -> int | None:
        """SIGKILL, like a crash or the OOM killer: no cleanup runs in the process; returns the exit code."""
        self.send_signal(signal.SIGKILL)
        try:
            await self.process.wait()
        finally:
            if self.process.returncode is not None:
                _LIVE_PIDS.discard(self.process.pid)
        return self.process.returncode

    async def wait_exit(self, limit: float) -> int | None:
        """Wait up to `limit` seconds for the process to exit; its exit code, or None if it still runs."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), limit)
        if self.process.returncode is not None:
            _LIVE_PIDS.discard(self.process.pid)
        return self.process.returncode

    async def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit code."""
        proc = self.process
        try:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), grace)
                except TimeoutError:
                    log(f"{self.name}: did not stop within {grace:g}s; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        except BaseException:  # cancelled (second Ctrl-C): make sure it is gone, then re-raise
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        finally:
            if proc.returncode is not None:
                _LIVE_PIDS.discard(proc.pid)
        return proc.returncode


async def spawn_service(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    port: int,
    log_path: Path,
    cwd: Path,
    health_path: str = "/healthz",
    start_timeout: float = 30.0,
) -> ServiceProcess:
    """Start a server subprocess on 127.0.0.1:port and return once GET health_path answers 200."""
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=str(cwd),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only the benchmark, which stops its children itself
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    _LIVE_PIDS.add(process.pid)
    service = ServiceProcess(name=name, process=process, url=f"http://{LOOPBACK}:{port}", log_path=log_path)
    try:
        await wait_healthy(service, health_path=health_path, limit=start_timeout)
    except BaseException:
        await service.stop(grace=2.0)
        raise
    return service


async def wait_healthy(
    service: ServiceProcess, *, health_path: str = "/healthz", limit: float = 30.0
) -> None:
    """Poll GET health_path until it answers 200; BenchError if the process exits or `limit` s pass."""
    deadline = time.monotonic() + limit
    last = "no answer yet"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as session:
        while time.monotonic() < deadline:
            if service.process.returncode is not None:
                raise BenchError(
                    f"{service.name} exited with code {service.process.returncode} before it was healthy:\n"
                    f"{service.log_tail()}"
                )
            try:
                async with session.get(service.url + health_path) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}: {(await response.text())[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.1)
    raise BenchError(f"{service.name} was not healthy within {limit:g}s ({last}):\n{service.log_tail()}")


def bot_env(
    *,
    slack_api_url: str,
    database_url: str,
    support_config: Path,
    port: int,
    channel_rate: float = 100_000.0,
    channel_burst: int = 100_000,
    log_level: str = "INFO",
    token: str = BENCH_TOKEN,
    signing_secret: str = BENCH_SIGNING_SECRET,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a `python -m bot` subprocess serving the stand-in on 127.0.0.1:port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OUTBOX_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        SLACK_BOT_TOKEN=token,
        SLACK_SIGNING_SECRET=signing_secret,
        SLACK_APP_TOKEN="",  # never Socket Mode, whatever a .env says
        SLACK_API_URL=slack_api_url,
        DATABASE_URL=database_url,
        SUPPORT_CONFIG=str(support_config),
        HOST=LOOPBACK,
        PORT=str(port),
        OUTBOX_CHANNEL_RATE=f"{channel_rate:g}",
        OUTBOX_CHANNEL_BURST=str(channel_burst),
        LOG_LEVEL=log_level,
        LOG_FORMAT="text",
        MIGRATE_ON_START="true",
        SHUTDOWN_GRACE_SECONDS="5",
    )
    env.update(extra or {})
    return env


async def spawn_bot(env: Mapping[str, str], *, workdir: Path, name: str = "bot") -> ServiceProcess:
    """Start `python -m bot` (cwd = workdir, so no stray .env applies) and wait until /healthz is 200."""
    port = int(env["PORT"])
    return await spawn_service(
        name,
        [sys.executable, "-m", "bot"],
        env=env,
        port=port,
        log_path=workdir / f"{name}.log",
        cwd=workdir,
    )


_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback")


def error_lines(text: str) -> list[str]:
    """Lines of a log that report an error or start a traceback."""
    return [line for line in text.splitlines() if _ERROR_LINE.search(line)]


# ---------------------------------------------------------------------- databases


def admin_url(url: str) -> str:
    """The same server's `postgres` maintenance database."""
    parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
    return urlunsplit(parts._replace(path="/postgres"))


def database_url_for(url: str, name: str) -> str:
    """The URL of database `name` on the server of `url` (postgres:// scheme, as the bot expects)."""
    parts = urlsplit(url.replace("postgresql://", "postgres://", 1))
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_postgres_database(server_url: str, name: str) -> str:
    """Create a fresh PostgreSQL database (dropping a leftover of the same name); return its URL."""
    import asyncpg

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name {name!r}")
    try:
        conn = await asyncpg.connect(admin_url(server_url), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot reach PostgreSQL at {admin_url(server_url)}: {exc}") from exc
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_for(server_url, name)


async def drop_stale_postgres_databases(server_url: str, prefix: str) -> list[str]:
    """Drop databases named `<prefix><pid>_…` whose benchmark process is gone (left by a killed run)."""
    import asyncpg

    conn = await asyncpg.connect(admin_url(server_url), timeout=5)
    dropped: list[str] = []
    try:
        names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%")
        for (name,) in names:
            pid = name.removeprefix(prefix).split("_", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
    finally:
        await conn.close()
    return dropped


async def drop_postgres_database(server_url: str, name: str) -> None:
    """Drop a benchmark database (connections to it are terminated)."""
    import asyncpg

    conn = await asyncpg.connect(admin_url(server_url), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# ---------------------------------------------------------------------- load generation


@dataclass
class Sample:
    """One request of a load run: when it was sent, how it was answered and how long that took."""

    index: int
    sent_at: float  # wall clock (time.time()), comparable with the stand-in's call log
    status: int | None = None
    ack_seconds: float = math.nan
    error: str | None = None
    result: DriverResult | None = None

    @property
    def ok(self) -> bool:
        """True for an HTTP 200 answer."""
        return self.status == 200


@dataclass
class LoadRun:
    """What a load run produced: one Sample per request, plus its start and end times."""

    samples: list[Sample]
    started_at: float
    finished_at: float

    @property
    def acked(self) -> list[Sample]:
        """Requests answered with HTTP 200."""
        return [s for s in self.samples if s.ok]


@contextlib.contextmanager
def quiet_collector() -> Iterator[None]:
    """No cyclic garbage collection in this (the measuring) process for the block: what exists is frozen,
    what the block leaves as cycles is collected after it. Reference counting frees everything else."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


async def run_load(
    send: Callable[[int], Awaitable[DriverResult]],
    *,
    count: int,
    concurrency: int,
    rate: float | None = None,
    limit: float = 120.0,
) -> LoadRun:
    """Call `send(i)` for i in range(count) with at most `concurrency` in flight, for at most `limit` s.

    Without `rate` the loop is closed (the next request starts when one is answered); with `rate` request
    i is due at start + i/rate (open loop, still capped by `concurrency`). The ack time is the driver's
    HTTP response time (DriverResult.elapsed); network errors become samples with status None.

    The benchmark's own process (driver and stand-in) runs without its cyclic garbage collector while the
    load runs (`quiet_collector`): a full collection over the stand-in's call log paused it for up to 0.8 s
    (measured at 200 /escalate/s), and every response that arrived meanwhile was timed as the target's.
    """
    if count < 0 or concurrency < 1 or (rate is not None and rate <= 0):
        raise ValueError("count must be >= 0, concurrency >= 1 and rate > 0")
    gate = asyncio.Semaphore(concurrency)
    samples = [Sample(index=i, sent_at=math.nan) for i in range(count)]
    origin = time.monotonic()

    async def one(sample: Sample) -> None:
        if rate is not None:
            await asyncio.sleep(max(0.0, origin + sample.index / rate - time.monotonic()))
        async with gate:
            sample.sent_at = time.time()
            try:
                result = await send(sample.index)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                sample.error = f"{type(exc).__name__}: {exc}"
                return
            sample.result = result
            sample.status, sample.ack_seconds = result.status, result.elapsed
            if result.status is None:  # a RedeliveringDriver's "no answer" (the body is kept for a retry)
                sample.error = result.text or "no answer"

    started = time.time()
    with quiet_collector():
        tasks = [asyncio.ensure_future(one(s)) for s in samples]
        try:
            done, pending = await asyncio.wait(tasks, timeout=limit) if tasks else (set(), set())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error  # a bug in `send`, not a load result
    for sample in samples:
        if sample.status is None and sample.error is None:
            sample.error = "not answered within the run's timeout" if pending else "not sent"
    return LoadRun(samples=samples, started_at=started, finished_at=time.time())


# ---------------------------------------------------------------------- deliveries that got no answer


class RedeliveringDriver(SlackDriver):
    """A SlackDriver that answers "no answer" instead of raising when the connection fails.

    The result keeps the signed body and the event id, so `redeliver(result, retry_num=…)` can send the
    same delivery again, as Slack does when an app did not answer (crash, restart, network).
    """

    async def _post(self, body: bytes, headers: dict[str, str], *, payload: JsonDict) -> DriverResult:
        started = time.monotonic()
        try:
            return await super()._post(body, headers, payload=payload)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            return DriverResult(None, error, None, {}, body, headers, payload, time.monotonic() - started)


# ---------------------------------------------------------------------- watching the stand-in


@dataclass
class CallWatcher:
    """Collects, per marker, when the stand-in answered an ok Web API call whose `text` carries it.

    It reads the stand-in's call log incrementally (no hook into the server); a call's time is when the
    stand-in answered it (arrival + handling time), on the same wall clock as `Sample.sent_at`.
    """

    standin: SlackStandIn
    method: str
    channel: str
    pattern: re.Pattern[str]
    seen: dict[str, list[float]] = field(default_factory=dict)
    _next: int = 0
    _open: list[CallRecord] = field(default_factory=list)

    def poll(self) -> int:
        """Take in calls answered since the last poll; returns how many matched."""
        calls = self.standin.calls
        self._open.extend(calls[self._next :])
        self._next = len(calls)
        matched, still_open = 0, []
        for record in self._open:
            if record.response is None:  # not answered yet
                still_open.append(record)
                continue
            if record.method != self.method or not record.ok or record.args.get("channel") != self.channel:
                continue
            found = self.pattern.search(str(record.args.get("text") or ""))
            if found:
                self.seen.setdefault(found.group(1), []).append(record.time + record.duration)
                matched += 1
        self._open = still_open
        return matched

    def first(self, marker: str) -> float | None:
        """When the first matching call for a marker was answered."""
        times = self.seen.get(marker)
        return min(times) if times else None

    async def wait_for(
        self,
        markers: Iterable[str],
        *,
        idle: float,
        limit: float = 600.0,
        settle: float = 0.5,
        interval: float = 0.05,
    ) -> set[str]:
        """Wait until every marker was seen, giving up after `idle` s without any new match (or `limit` s in
        all); then wait `settle` s more to catch duplicates. Returns the markers never seen."""
        wanted = set(markers)
        started = last_match = time.monotonic()
        while True:
            if self.poll():
                last_match = time.monotonic()
            now = time.monotonic()
            missing = wanted - self.seen.keys()
            if not missing or now - last_match >= idle or now - started >= limit:
                break
            await asyncio.sleep(interval)
        if settle > 0:
            await asyncio.sleep(settle)
            self.poll()
        return wanted - self.seen.keys()


# ---------------------------------------------------------------------- reading and seeding the bot's database


def _sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite://").split("?", 1)[0]


def _asyncpg_url(database_url: str) -> str:
    return database_url.replace("postgres://", "postgresql://", 1)


async def query_database(database_url: str, *queries: str) -> list[list[tuple[Any, ...]]]:
    """Run read-only SQL without parameters (the same text on SQLite and PostgreSQL); rows per query."""
    if database_url.startswith("sqlite://"):
        path = _sqlite_path(database_url)

        def read() -> list[list[tuple[Any, ...]]]:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                return [[tuple(row) for row in conn.execute(query).fetchall()] for query in queries]

        return await asyncio.to_thread(read)
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(database_url), timeout=5)
    try:
        return [[tuple(row) for row in await conn.fetch(query)] for query in queries]
    finally:
        await conn.close()


async def set_ticket_context(database_url: str, ticket_ids: Iterable[int], context: Mapping[str, str]) -> int:
    """Write escalation context straight into tickets (no command sets it without escalating); returns rows."""
    ids = sorted(set(ticket_ids))
    value = json.dumps(dict(context), separators=(",", ":"))
    if database_url.startswith("sqlite://"):
        path = _sqlite_path(database_url)

        def write() -> int:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn, conn:
                cursor = conn.executemany(
                    "UPDATE tickets SET context = ? WHERE id = ?", [(value, i) for i in ids]
                )
                return int(cursor.rowcount)

        return await asyncio.to_thread(write)
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(database_url), timeout=5)
    try:
        status = await conn.execute(
            "UPDATE tickets SET context = $1::jsonb WHERE id = ANY($2::int[])", value, ids
        )
    finally:
        await conn.close()
    return int(status.rsplit(" ", 1)[-1])


@dataclass
class DatabaseAudit:
    """What the bot's database holds after a run: tickets by source message, escalations, leftovers."""

    tickets_by_source: dict[tuple[str, str], list[int]]
    ticket_text: dict[int, str]
    ticket_level: dict[int, str]
    ticket_thread: dict[int, tuple[str, str | None]]
    escalations: Counter[int]
    unprocessed_events: int
    outbox: dict[str, int]

    @property
    def doubled_sources(self) -> dict[tuple[str, str], list[int]]:
        """Source messages (channel, ts) that became more than one ticket."""
        return {source: ids for source, ids in self.tickets_by_source.items() if len(ids) > 1}

    @property
    def outbox_pending(self) -> int:
        """Outbox rows not delivered yet."""
        return self.outbox.get("pending", 0)


async def audit_database(database_url: str) -> DatabaseAudit:
    """Tickets per source message, 'escalated' timeline entries per ticket, unprocessed events, outbox."""
    tickets, escalated, unprocessed, outbox = await query_database(
        database_url,
        "SELECT id, channel_id, source_ts, thread_ts, level, text FROM tickets",
        "SELECT ticket_id, count(*) FROM ticket_timeline WHERE kind = 'escalated' GROUP BY ticket_id",
        "SELECT count(*) FROM inbound_events WHERE processed_at IS NULL",
        "SELECT status, count(*) FROM outbox GROUP BY status",
    )
    by_source: dict[tuple[str, str], list[int]] = {}
    text: dict[int, str] = {}
    level: dict[int, str] = {}
    thread: dict[int, tuple[str, str | None]] = {}
    for ticket_id, channel, source_ts, thread_ts, ticket_level, ticket_text in tickets:
        by_source.setdefault((str(channel), str(source_ts)), []).append(int(ticket_id))
        text[int(ticket_id)], level[int(ticket_id)] = str(ticket_text or ""), str(ticket_level)
        thread[int(ticket_id)] = (str(channel), thread_ts)
    return DatabaseAudit(
        tickets_by_source=by_source,
        ticket_text=text,
        ticket_level=level,
        ticket_thread=thread,
        escalations=Counter({int(t): int(n) for t, n in escalated}),
        unprocessed_events=int(unprocessed[0][0]),
        outbox={str(status): int(n) for status, n in outbox},
    )


async def wait_outbox_drained(database_url: str, *, limit: float, interval: float = 0.5) -> DatabaseAudit:
    """Poll the database until no outbox row is pending and every inbound event is processed (or `limit` s)."""
    deadline = time.monotonic() + limit
    while True:
        audit = await audit_database(database_url)
        if (not audit.outbox_pending and not audit.unprocessed_events) or time.monotonic() >= deadline:
            return audit
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------- auditing the stand-in's workspace

# A card's fallback text starts with its key: "SUP-42 (P3, L1) from Acme Corp: …".
CARD_KEY = re.compile(r"^[A-Z][A-Z0-9]*-(\d+) \(")


@dataclass
class WorkspaceAudit:
    """The bot's messages in the stand-in workspace: outbox ids, cards per ticket, replies per thread."""

    outbox_ids: Counter[str]
    cards: dict[str, Counter[int]]
    thread_replies: dict[tuple[str, str], list[str]]

    @property
    def doubled_outbox_ids(self) -> dict[str, int]:
        """Outbox ids that appear on more than one message (a message posted twice)."""
        return {outbox_id: n for outbox_id, n in self.outbox_ids.items() if n > 1}

    def cards_of(self, channel: str, ticket_id: int) -> int:
        """How many cards of a ticket the channel shows."""
        return self.cards.get(channel, Counter())[ticket_id]

    def replies_in(self, channel: str, thread_ts: str | None) -> list[str]:
        """Texts of the bot's replies in a thread."""
        return self.thread_replies.get((channel, thread_ts or ""), [])


def audit_workspace(ws: Workspace, card_channels: Iterable[str]) -> WorkspaceAudit:
    """Scan every channel and thread for the bot's (not deleted) messages."""
    wanted = set(card_channels)
    outbox_ids: Counter[str] = Counter()
    cards: dict[str, Counter[int]] = {channel: Counter() for channel in wanted}
    replies: dict[tuple[str, str], list[str]] = {}
    for channel, messages in ws.messages.items():
        for message in messages:
            if message.deleted or not message.is_from_bot:
                continue
            outbox_id = ((message.metadata or {}).get("event_payload") or {}).get("outbox_id")
            if outbox_id is not None:
                outbox_ids[str(outbox_id)] += 1
            if message.is_reply:
                replies.setdefault((channel, str(message.thread_ts)), []).append(message.text)
            elif channel in wanted and (found := CARD_KEY.match(message.text or "")):
                cards[channel][int(found.group(1))] += 1
    return WorkspaceAudit(outbox_ids=outbox_ids, cards=cards, thread_replies=replies)


@dataclass(frozen=True)
class Post:
    """One chat.postMessage the stand-in answered ok: when, where and what."""

    answered_at: float
    channel: str
    thread_ts: str | None
    text: str


def answered_posts(standin: SlackStandIn) -> list[Post]:
    """Every ok chat.postMessage in the stand-in's call log, in arrival order (wall-clock times)."""
    return [
        Post(
            answered_at=record.time + record.duration,
            channel=str(record.args.get("channel") or ""),
            thread_ts=str(record.args["thread_ts"]) if record.args.get("thread_ts") else None,
            text=str(record.args.get("text") or ""),
        )
        for record in list(standin.calls)
        if record.method == "chat.postMessage" and record.ok and record.response is not None
    ]


# ---------------------------------------------------------------------- small shared pieces of reports


def format_ratio(a: float | None, b: float | None) -> str:
    """'a/b' as '0.42x'; '-' when either is missing or b is 0."""
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def json_safe(value: Any) -> Any:
    """NaN/inf become None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def cancel_on_sigterm() -> None:
    """Let SIGTERM cancel the running task, like Ctrl-C: `finally` blocks then stop the subprocesses."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def run_benchmark(run: Callable[[], Awaitable[Any]], *, as_json: bool) -> int:
    """A benchmark's `main`: run it (SIGTERM unwinds like Ctrl-C), print its report (`render()` or JSON).
    Exit code 1 when it failed (BenchError), 130 when interrupted."""

    async def cancellable() -> Any:
        cancel_on_sigterm()
        return await run()

    try:
        report = asyncio.run(cancellable())
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("benchmark interrupted; its processes were stopped", file=sys.stderr)
        return 130
    print(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    return 0


def at_least_one(text: str) -> int:
    """argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def bench_workdir(cleanup: contextlib.ExitStack, keep: Path | None, prefix: str) -> Path:
    """Where a run writes its logs, configs and SQLite files: `--keep DIR`, else a temporary folder."""
    if keep is not None:
        workdir = keep.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir
    return Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))


def rotated(targets: Sequence[str], repetition: int) -> list[str]:
    """The targets in the order of one repetition: rotated by one per repetition, to spread drift."""
    order = list(targets)
    shift = (repetition - 1) % len(order)
    return order[shift:] + order[:shift]


async def drop_stale_databases(database: str, postgres_url: str, prefix: str) -> None:
    """PostgreSQL: drop (and say so) the databases an interrupted run of this benchmark left behind."""
    if database == "postgres":
        for name in await drop_stale_postgres_databases(postgres_url, prefix):
            log(f"dropped {name}, left behind by an interrupted run")


# ---------------------------------------------------------------------- what a person sees after a command


# The bot's interim answers past Slack's budget: the real answer follows (bot.slack.budget).
INTERIM = frozenset({SLOW, QUEUED})


class CommandAnswers:
    """What the person who ran a slash command saw as its answer, found in the stand-in's workspace.

    The answer is the latest ephemeral posted through the command's response_url: the ack's body (the
    driver applies it) or a later post to the response_url (an app that acks first and answers after the
    work), not counting the bot's interim "taking longer than usual" or "waiting its turn". The index of ephemerals is built incrementally, so looking up thousands of answers stays cheap.
    """

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin
        self._by_ts: dict[str, Ephemeral] = {}
        self._indexed = 0

    def of(self, result: DriverResult | None) -> Ephemeral | None:
        """The answer shown for this command, or None (not answered yet, or not at all)."""
        if result is None or not result.response_url:
            return None
        record = self.standin.response_url_record(result.response_url)
        if record is None or record.last_ephemeral_ts is None:
            return None
        ephemerals = self.standin.workspace.ephemerals
        if record.last_ephemeral_ts not in self._by_ts and self._indexed < len(ephemerals):
            for ephemeral in ephemerals[self._indexed :]:
                self._by_ts[ephemeral.ts] = ephemeral
            self._indexed = len(ephemerals)
        answer = self._by_ts.get(record.last_ephemeral_ts)
        # "Taking longer than usual" / "waiting its turn, I'll tell you…" is not the answer yet (bot.slack.budget).
        return None if answer is not None and answer.text in INTERIM else answer

    def text(self, result: DriverResult | None) -> str:
        """The answer's text ('' when there is none)."""
        answer = self.of(result)
        return answer.text if answer is not None else ""

    def answered_at(self, result: DriverResult | None) -> float:
        """When the answer was shown (epoch s, from its ts), NaN when there is none."""
        answer = self.of(result)
        return float(answer.ts) if answer is not None else math.nan

    async def wait(self, results: Iterable[DriverResult], *, idle: float, limit: float = 600.0) -> int:
        """Wait until every acknowledged command has an answer, giving up after `idle` s without a new one
        (or `limit` s in all); returns how many are still without one."""
        waiting = [r for r in results if r.status == 200]
        started = last_progress = time.monotonic()
        while True:
            before = len(waiting)
            waiting = [r for r in waiting if self.of(r) is None]
            now = time.monotonic()
            if len(waiting) < before:
                last_progress = now
            if not waiting or now - last_progress >= idle or now - started >= limit:
                return len(waiting)
            await asyncio.sleep(0.05)
