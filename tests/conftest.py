"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL with TEST_DATABASE_URL) and a
running bot + Slack stand-in over real HTTP. The stand-in's leak guard is asserted after every test."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot import db
from tests.harness import Harness, serving, start_harness

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def _admin_url(url: str) -> str:
    parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
    return urlunsplit(parts._replace(path="/postgres"))


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _pg_exec(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_admin_url(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """With TEST_DATABASE_URL: a migrated template database; each test clones it (fast, isolated)."""
    if not PG_URL:
        yield None
        return
    name = f"bot_tpl_{os.getpid()}"
    asyncio.run(_pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    from bot import db

    asyncio.run(db.apply_migrations(_with_db(PG_URL, name)))
    yield name
    asyncio.run(_pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating from scratch takes about a second)."""
    from bot import db

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(db.apply_migrations(f"sqlite://{path}"))
    return path


@pytest.fixture
async def database_url(tmp_path: Path, pg_template: str | None, sqlite_template: Path) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    if pg_template is None:
        target = tmp_path / "bot.sqlite3"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite://{target}"
        return
    name = f"bot_t_{uuid.uuid4().hex[:12]}"
    await _pg_exec(PG_URL, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield _with_db(PG_URL, name)
    finally:
        from tortoise import Tortoise

        await Tortoise.close_connections()
        await _pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[None]:
    """Tortoise connected to a fresh, migrated database, without a bot (unit tests of services and stores)."""
    await db.init_db(database_url)
    try:
        yield
    finally:
        await db.close_db()


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[Harness]:
    """The bot serving the demo workspace through the stand-in; fails the test if anything leaked."""
    async with serving(await start_harness(database_url)) as h:
        yield h


def pytest_unconfigure(config: pytest.Config) -> None:
    """A test that leaves a non-daemon thread running (a database connection tortoise never closed: aiosqlite
    runs one thread per connection) would keep the interpreter waiting for it for ever after the summary. Name
    the threads and end the run as failed instead of hanging until CI's limit."""
    import sys
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if not left:
        return
    names = ", ".join(t.name for t in left)
    sys.stderr.write(f"\nERROR: tests left {len(left)} non-daemon thread(s) running: {names}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)
