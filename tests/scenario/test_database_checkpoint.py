"""SQLite's WAL is checkpointed by the scheduler's job on a connection of its own, not inside the bot's
commits (a wave of SLA reminders paid for checkpoints in its commits). PostgreSQL has no such job."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tortoise import connections

from bot.sandbox.demo import ACME_CHANNEL
from bot.server import STATE_KEY
from models import Ticket
from tests.conftest import PG_URL
from tests.harness import Harness


def _tickets_in_database_file(path: str, tmp_path: Path) -> int:
    """Tickets in the main database file alone (what was checkpointed), read from a copy without the WAL."""
    copy = tmp_path / "without-wal.sqlite3"
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM tickets").fetchone()[0])
    finally:
        connection.close()


async def test_the_scheduler_checkpoints_sqlite_and_commits_do_not(
    bot: Harness, database_url: str, tmp_path: Path
) -> None:
    scheduler = bot.parts.web_app[STATE_KEY]["scheduler"]
    job = scheduler.scheduler.get_job("db.checkpoint")
    if PG_URL:
        assert job is None  # nothing to checkpoint on PostgreSQL
        return
    assert job is not None and job.trigger.interval.total_seconds() == 1
    scheduler.pause()  # the test runs the job itself
    _, rows = await connections.get("default").execute_query("PRAGMA wal_autocheckpoint")
    assert list(rows[0]) == [65536]  # the bot's connection checkpoints only as a backstop
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    await scheduler.checkpoint()
    before = _tickets_in_database_file(path, tmp_path)
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "The printer queue is stuck")
    await bot.settle()
    assert await Ticket.all().count() == before + 1
    # Committed, but still only in the WAL: the bot's own commits did not checkpoint it.
    assert _tickets_in_database_file(path, tmp_path) == before
    await scheduler.checkpoint()
    assert _tickets_in_database_file(path, tmp_path) == before + 1
