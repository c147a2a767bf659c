"""GC_FREEZE: after start-up the bot moves what exists out of the garbage collector's reach, so a full
collection under load walks only what requests created since (docs/operations.md)."""

from __future__ import annotations

import gc

from bot.sandbox.demo import ACME_CHANNEL
from models import Ticket
from tests.harness import start_harness, stop_harness


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

