"""SQLite transactions wait for another connection's write lock (BEGIN IMMEDIATE, bot/db_sqlite.py), and a
start that fails or is cancelled leaves nothing behind."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from bot import db
from models import InboundEvent
from tests.conftest import PG_URL
from tests.harness import sqlite_write_locked

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's locking; PostgreSQL has row locks")


async def read_then_write(event_id: str) -> None:
    async with in_transaction():
        await InboundEvent.filter(event_id=event_id).exists()
        await InboundEvent.create(
            event_id=event_id, kind="message", payload={}, received_at=datetime.now(UTC)
        )


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[None]:
    """Tortoise on the test's SQLite file, closed in the same task (a fixture's teardown runs in another
    context, where tortoise would not find this connection: its thread then keeps pytest from exiting)."""
    await db.init_db(url, migrate=False)
    try:
        yield
    finally:
        await db.close_db()


@pytest.fixture
def sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite://")


async def test_a_transaction_that_reads_then_writes_waits_for_the_other_writer(sqlite_path: str) -> None:
    async with connected(f"sqlite://{sqlite_path}"):
        holder = await sqlite_write_locked(sqlite_path, 0.5)
        started = time.monotonic()
        await read_then_write("Ev1")  # a deferred BEGIN failed here at once with "database is locked"
        assert time.monotonic() - started >= 0.3
        assert await InboundEvent.filter(event_id="Ev1").count() == 1
        await asyncio.to_thread(holder.join)


async def test_a_start_still_locked_after_busy_timeout_fails_and_frees_the_next_one(sqlite_path: str) -> None:
    async with connected(f"sqlite://{sqlite_path}?busy_timeout=200"):
        holder = await sqlite_write_locked(sqlite_path, 1.0)
        with pytest.raises(OperationalError) as failed:
            await read_then_write("Ev1")
        assert db.is_unavailable(failed.value)  # answered as "temporarily unavailable", not as a bug
        await asyncio.to_thread(holder.join)
        await asyncio.wait_for(read_then_write("Ev2"), 5.0)  # the transaction lock was given back
        stored = await InboundEvent.filter(event_id__in=["Ev1", "Ev2"]).values_list("event_id", flat=True)
        assert stored == ["Ev2"]


async def test_a_start_cancelled_while_waiting_leaves_no_transaction_open(sqlite_path: str) -> None:
    async with connected(f"sqlite://{sqlite_path}"):
        holder = await sqlite_write_locked(sqlite_path, 0.5)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(read_then_write("Ev1"), 0.1)
        await asyncio.to_thread(holder.join)
        await InboundEvent.create(event_id="Ev2", kind="message", payload={}, received_at=datetime.now(UTC))
        # Committed, not stuck in a BEGIN that went through after the cancel: another connection sees it.
        other = sqlite3.connect(sqlite_path)
        try:
            assert other.execute("SELECT event_id FROM inbound_events").fetchall() == [("Ev2",)]
        finally:
            other.close()
        await asyncio.wait_for(read_then_write("Ev3"), 5.0)
