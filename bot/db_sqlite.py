"""Tortoise's SQLite engine, with transactions that wait for the write lock (`BEGIN IMMEDIATE`).

Tortoise opens a transaction with a plain (deferred) BEGIN. One that reads and then writes while another
connection holds the write lock (a second process, the CLI, a backup tool) then fails at once with "database
is locked": SQLite skips the busy handler when a reader asks to become a writer, because waiting could
deadlock, so busy_timeout (bot.db.SQLITE_PRAGMAS) never applies. BEGIN IMMEDIATE takes the write lock when
the transaction starts, before any read, so it waits like every other write. Within one process nothing else
changes: tortoise runs a single SQLite connection and serialises transactions on it anyway.

A BEGIN that can wait can also fail (still locked after busy_timeout) or be cancelled while it waits, and
tortoise's transaction context keeps its lock when its start fails: every later transaction would wait on it
for ever. So the start here gives the lock back, and rolls back a BEGIN that went through after all.

Used as the `engine` of SQLite connections in `bot.db.tortoise_config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except (
            sqlite3.OperationalError
        ) as exc:  # still locked after busy_timeout: the database is unavailable
            raise OperationalError(exc) from exc


class ImmediateTransactionContext(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            try:
                # Queued behind the BEGIN on the connection's thread: undoes it if it went through.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.connection._connection.rollback())
            finally:
                self._trxlock.release()
            raise
        return self.connection


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> SqliteTransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
