"""Database wiring: tortoise config from DATABASE_URL, SQLite tuning, migrations, health."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, connections

from config.settings import DEFAULT_DATABASE_URL

log = logging.getLogger(__name__)

# WAL lets readers run beside the single writer. synchronous=NORMAL is the deliberate choice for WAL:
# a commit is durable against a process crash (the bot's failure mode) and only the last transactions
# can be lost on an OS crash or power cut; FULL fsyncs every commit and cut Bolt + SQLite throughput
# from ~2,000 to ~370 req/s here. busy_timeout lets a second process (CLI, replica) wait instead of failing.
# Checkpoints (copying the WAL back into the database file) are WalCheckpointer's job, on a connection and
# thread of its own (a scheduler job, every second): SQLite's automatic checkpoint runs inside the commit
# that crosses its threshold, and in a wave of SLA reminders that was a quarter to a third of the tick (10,000
# reminders at 2 M timers). The automatic one stays as a backstop at 65,536 pages (256 MiB with 4 KiB
# pages: processes without the scheduler, like the CLI, or a checkpointer that falls behind). A restarted
# WAL keeps 64 MiB of its file instead of shrinking to tortoise's default of 16 KiB and growing again.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "busy_timeout": "5000",
    "wal_autocheckpoint": "65536",
    "journal_size_limit": str(64 * 2**20),
}


def normalise_database_url(url: str) -> str:
    """Add the SQLite pragmas (unless given) and make sure the SQLite file's folder exists."""
    if not url.startswith("sqlite://"):
        return url.replace("postgresql://", "postgres://", 1)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in SQLITE_PRAGMAS.items():
        query.setdefault(key, value)
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The tortoise configuration for one database URL."""
    return {
        "connections": {"default": _connection(normalise_database_url(database_url))},
        "apps": {
            "models": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection(url: str) -> str | dict[str, Any]:
    """A PostgreSQL URL as it is; SQLite through our engine, whose transactions wait for the write lock."""
    if not url.startswith("sqlite://"):
        return url
    from tortoise.backends.base.config_generator import expand_db_url

    return {**expand_db_url(url), "engine": "bot.db_sqlite"}


# For tortoise's own CLI (makemigrations): `tortoise -c bot.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))


async def init_db(database_url: str, *, migrate: bool = True) -> None:
    """Open the connection and apply pending migrations."""
    config = tortoise_config(database_url)
    if migrate:
        await apply_migrations(database_url)
    await Tortoise.init(config=config)


async def apply_migrations(database_url: str) -> None:
    """Apply every pending migration (tortoise's migration engine; dialect-neutral operations)."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(database_url))
    await Tortoise.close_connections()


async def close_db() -> None:
    """Close all connections."""
    await Tortoise.close_connections()


async def database_ok(limit: float = 1.0) -> bool:
    """True when the database answers within the limit (for SQLite: when it can take a write)."""
    try:
        conn = connections.get("default")
        if conn.capabilities.dialect == "sqlite":
            path = getattr(conn, "filename", None)
            if path and path != ":memory:":
                await asyncio.wait_for(asyncio.to_thread(_sqlite_can_write, path, limit), limit + 0.5)
                GATE.mark_up()
                return True
        await asyncio.wait_for(conn.execute_query("SELECT 1"), limit)
        GATE.mark_up()
        return True
    except Exception:  # noqa: BLE001 - health probe: any failure means unhealthy
        GATE.mark_down()
        return False


def _sqlite_can_write(path: str, limit: float) -> None:
    """Take and release SQLite's write lock on a separate connection (raises when it can't)."""
    import sqlite3

    connection = sqlite3.connect(path, timeout=limit, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


class DatabaseGate:
    """Remembers that the database just failed, so requests answer at once instead of piling up.

    A failed health probe (run by /healthz, by the inbound spool, and in the background after a request met
    an error that looks like an outage) closes the gate for `hold` seconds; meanwhile listeners answer "temporarily unavailable" without touching the database and inbound
    events go straight to the spool. After that the next request tries again (and closes it again if the
    database is still down); a successful health probe opens it at once. Process-wide, like the connection.
    """

    def __init__(self, hold: float = 2.0) -> None:
        self.hold = hold
        self._down_until = 0.0
        self._probe: asyncio.Task[bool] | None = None

    def is_down(self) -> bool:
        """True while a recent failure says the database is not answering."""
        return time.monotonic() < self._down_until

    def mark_down(self) -> None:
        """The database just failed: answer without it for a moment."""
        self._down_until = time.monotonic() + self.hold

    def mark_up(self) -> None:
        """The database answered a probe."""
        self._down_until = 0.0

    def check_soon(self) -> None:
        """Probe the database in the background (one probe at a time); a failed probe closes the gate.

        An error that merely looks like an outage (a driver's OperationalError for bad input, say) thus never
        turns everyone away: only the probe decides."""
        if self._probe is not None and not self._probe.done():
            return
        try:
            self._probe = asyncio.get_running_loop().create_task(database_ok(1.0), name="database-probe")
        except RuntimeError:  # no running loop (CLI teardown): nothing to do
            self._probe = None


GATE = DatabaseGate()


def note_failure(error: BaseException) -> bool:
    """True when `error` looks like the database being unavailable; then a probe checks whether it is."""
    if is_unavailable(error):
        GATE.check_soon()
        return True
    return False


def is_unavailable(error: BaseException) -> bool:
    """True for errors that mean the database is down or locked (not for constraint violations, nor for a
    value the database refuses: those fail the same way every time, so 'try again' would be wrong)."""
    from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

    if isinstance(error, IntegrityError) or is_rejected_value(error):
        return False
    return isinstance(
        error, DBConnectionError | OperationalError | ConnectionError | OSError | TimeoutError
    ) or (type(error).__module__.startswith("asyncpg") and "Connection" in type(error).__name__)


def is_rejected_value(error: BaseException) -> bool:
    """True when the database refused a value (a number beyond the column, text it cannot store such as
    NUL on PostgreSQL), in this error or the errors it was raised from."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, OverflowError | UnicodeError) or (
            type(seen).__module__.startswith("asyncpg")
            and any(base.__name__ == "DataError" for base in type(seen).__mro__)
        ):
            return True
        seen = seen.__cause__
    return False


def db_datetime(value: datetime, *, sqlite: bool) -> Any:
    """A datetime as the driver takes it in raw SQL: on SQLite the text tortoise stores
    ('2026-03-02 08:00:00.5+00:00', so text comparison orders it), on PostgreSQL the datetime (timestamptz)."""
    return str(value.astimezone(UTC)) if sqlite else value


def dialect() -> str:
    """'sqlite' or 'postgres' for the default connection."""
    return connections.get("default").capabilities.dialect


class WalCheckpointer:
    """Copies SQLite's WAL back into the database file from a connection and thread of its own (PASSIVE:
    it never waits for, nor blocks, the bot's writes), so commits do not pay for checkpoints."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: Any = None

    @classmethod
    def for_current(cls) -> WalCheckpointer | None:
        """A checkpointer for the default connection's SQLite file (None for PostgreSQL or :memory:)."""
        conn = connections.get("default")
        path = getattr(conn, "filename", None) if conn.capabilities.dialect == "sqlite" else None
        return cls(path) if path and path != ":memory:" else None

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint (blocking: run it in a thread): (busy, WAL frames, frames checkpointed).
        A database that is locked or unreachable just skips this round (busy), the next one catches up."""
        import sqlite3

        try:
            if self._connection is None:
                self._connection = sqlite3.connect(self.path, timeout=1.0, check_same_thread=False)
            row = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        except sqlite3.OperationalError as exc:
            log.debug("WAL checkpoint skipped: %s", exc)
            return 1, -1, -1
        return int(row[0]), int(row[1]), int(row[2])

    def close(self) -> None:
        """Close its connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
