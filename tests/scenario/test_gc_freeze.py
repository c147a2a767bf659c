"""GC_FREEZE: the bot keeps start-up's objects, and during a burst the requests waiting for a work slot, out of
the garbage collector's full passes (bot/collector.py, docs/operations.md)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot.collector import CollectorGuard
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL
from bot.server import STATE_KEY
from models import Ticket, TimelineEntry
from tests.conftest import PG_URL
from tests.harness import sqlite_write_locked, start_harness, stop_harness


async def test_the_bot_freezes_what_start_up_made_and_lets_go_when_it_stops(database_url: str) -> None:
    assert gc.get_freeze_count() == 0
    h = await start_harness(database_url, settings_overrides={"gc_freeze": True})
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen  # models, config, Bolt's listeners, migrations' state …
        assert gc.isenabled()  # frozen, not switched off: what requests leave as cycles is still collected
        result = await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, "Printer on floor 3 jams")
        assert result.status == 200
        await h.settle()
        assert await Ticket.filter(text="Printer on floor 3 jams").count() == 1
    finally:
        await stop_harness(h)
    assert gc.get_freeze_count() == 0  # the stopped bot's objects can be collected again


@pytest.mark.skipif(bool(PG_URL), reason="holds SQLite's write lock to keep the one work slot busy")
async def test_a_burst_waiting_for_its_turn_is_frozen_and_collected_once_it_is_over(
    database_url: str,
) -> None:
    h = await start_harness(database_url, settings_overrides={"gc_freeze": True, "work_concurrency": 1})
    try:
        guard: CollectorGuard = h.runner.app[STATE_KEY]["collector"]
        await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
        await h.settle()
        key = f"SUP-{(await Ticket.get()).id}"
        guard.tick()
        assert not guard.in_burst  # nothing waits: nothing to do
        after_start = gc.get_freeze_count()

        holder = await sqlite_write_locked(database_url, 2.0)
        for n in range(4):  # the first takes the only slot and waits for the database; three wait for it
            answer = await h.driver.slash_command("U0L1ANNA", L1_CHANNEL, "/ticket", f"note {key} n{n}")
            assert answer.status == 200
        await asyncio.sleep(0.2)
        assert h.rt.after_ack.waiting() == 3
        guard.tick()
        assert guard.in_burst
        assert gc.get_freeze_count() > after_start  # the waiting requests are out of the full passes

        await asyncio.to_thread(holder.join, 10)
        await h.settle()
        assert h.rt.after_ack.waiting() == 0
        guard.tick()  # the burst is over: everything is collected once, what lives is frozen again
        assert not guard.in_burst
        assert gc.get_freeze_count() > 10_000
        notes = await TimelineEntry.filter(kind="note").order_by("id")
        assert [n.data["text"] for n in notes] == ["n0", "n1", "n2", "n3"]
    finally:
        await stop_harness(h)
    assert gc.get_freeze_count() == 0
