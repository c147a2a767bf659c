"""Forms open within the trigger's 3 seconds even when preparing them waits on the database: a 'Working…'
modal first, then the form (or why there is none) in its place. When the database is well, one views.open."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL, L2_CHANNEL
from models import Ticket
from tests.conftest import PG_URL
from tests.harness import Harness, sqlite_write_locked
from tests.scenario.test_escalation import L2_CONTEXT, ctx_values

ANNA, CARL = "U0L1ANNA", "U0L2CARL"
HOLD = 4.0  # shorter than SQLite's busy_timeout (5 s): the waiting write goes through afterwards


async def _slow_database(bot: Harness, database_url: str, key: str) -> threading.Thread:
    """Another connection holds SQLite's write lock, and the bot starts a write (an internal note) that waits
    for it: tortoise's one SQLite connection is busy, so every query of the bot queues behind that write —
    what a slow or locked database looks like to the bot."""
    holder = await sqlite_write_locked(database_url, HOLD)
    await bot.driver.slash_command(ANNA, L1_CHANNEL, "/ticket", f"note {key} written while slow")
    await asyncio.sleep(0.3)  # the note's INSERT is waiting for the lock now
    return holder


async def _open_view_within(bot: Harness, user: str, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if views := bot.ws.open_views(user):
            return views[-1]
        await asyncio.sleep(0.02)
    return None


@pytest.mark.skipif(bool(PG_URL), reason="holds SQLite's write lock")
async def test_slow_database_opens_working_modal_in_time_then_the_form(
    bot: Harness, database_url: str
) -> None:
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
    await bot.settle()
    key = f"SUP-{(await Ticket.get()).id}"
    await bot.command(CARL, L2_CHANNEL, "/ticket", "list")  # Carl's team and channels are known (cached)
    holder = await _slow_database(bot, database_url, key)

    escalate, missing = await asyncio.gather(
        bot.driver.slash_command(ANNA, L1_CHANNEL, "/escalate", key),
        bot.driver.slash_command(CARL, L2_CHANNEL, "/resolve", "SUP-999"),
    )
    assert escalate.status == 200 and missing.status == 200
    working = await _open_view_within(bot, ANNA, 3.0)
    refusal = await _open_view_within(bot, CARL, 3.0)
    assert working is not None and refusal is not None, "no modal within the trigger's 3 s"
    for view in (working, refusal):
        assert view.view["title"]["text"] == "Working…"
    assert bot.standin.triggers[escalate.trigger_id].used and bot.standin.triggers[missing.trigger_id].used
    assert holder.is_alive()  # all of that while the database was still held

    await asyncio.to_thread(holder.join, HOLD + 5)
    await bot.settle()
    form = bot.ws.view(working.id)
    assert form.is_open and form.callback_id == "ticket.escalate", form.view  # the same modal, now the form
    shown = " ".join(bot.ws.visible_strings(bot.ws.view(refusal.id)))
    assert "I couldn't find ticket SUP-999" in shown, shown
    opened = [c for c in bot.standin.calls_to("views.open") if c.ok]
    assert len(opened) == 2 and all(c.args["view"]["title"]["text"] == "Working…" for c in opened)
    # The form fills in as usual afterwards.
    values = {"escalate_reason": {"escalate.reason": "Needs log analysis"}, **ctx_values(L2_CONTEXT)}
    result = await bot.driver.submit_view(ANNA, working.id, values)
    await bot.settle()
    assert result.status == 200 and not result.view_errors, result.text
    assert (await Ticket.get()).level == "L2"


@pytest.mark.skipif(bool(PG_URL), reason="holds SQLite's write lock")
async def test_slow_card_button_opens_working_modal_in_time(bot: Harness, database_url: str) -> None:
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
    await bot.settle()
    key = f"SUP-{(await Ticket.get()).id}"
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    holder = await _slow_database(bot, database_url, key)
    result = await bot.driver.click(ANNA, "card.resolve", message=card)
    assert result.status == 200 and result.elapsed < 3.0
    working = await _open_view_within(bot, ANNA, 3.0)
    assert working is not None and working.view["title"]["text"] == "Working…"
    await asyncio.to_thread(holder.join, HOLD + 5)
    await bot.settle()
    assert bot.ws.view(working.id).callback_id == "ticket.resolve"


async def test_quick_forms_open_with_one_views_open(bot: Harness) -> None:
    """The database is well: the form itself opens at once, no Working modal, no views.update."""
    await bot.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
    await bot.settle()
    key = f"SUP-{(await Ticket.get()).id}"
    await bot.command(ANNA, L1_CHANNEL, "/escalate", key)
    await bot.driver.click(ANNA, "card.note", message=bot.ws.channel_messages(L1_CHANNEL)[0])
    await bot.settle()
    opened = [c.args["view"].get("callback_id") for c in bot.standin.calls_to("views.open")]
    assert opened == ["ticket.escalate", "ticket.note"]
    assert not bot.standin.calls_to("views.update")


@pytest.mark.skipif(bool(PG_URL), reason="holds SQLite's write lock")
async def test_direct_escalation_that_waited_past_the_trigger_still_says_escalated(database_url: str) -> None:
    """`/escalate KEY reason` with the context there needs no form. When it waited for its turn longer than
    the trigger lives, the Working modal cannot open any more: the person still hears it was escalated."""
    from tests.harness import start_harness, stop_harness

    h = await start_harness(database_url, settings_overrides={"work_concurrency": 1})
    try:
        await h.driver.post_message("U0ACMEJO", ACME_CHANNEL, "VPN drops every ten minutes")
        await h.settle()
        ticket = await Ticket.get()
        key = f"SUP-{ticket.id}"
        ticket.context = dict(L2_CONTEXT)
        await ticket.save(update_fields=["context"])
        holder = await _slow_database(h, database_url, key)  # the note holds the only work slot
        command = await h.driver.slash_command(ANNA, L1_CHANNEL, "/escalate", f"{key} needs log analysis")
        assert command.status == 200
        await asyncio.to_thread(holder.join, HOLD + 5)
        await h.settle()
        await ticket.refresh_from_db()
        assert ticket.level == "L2"
        answers = [e.text for e in h.ws.ephemerals_for(ANNA)]
        assert any(f"Escalated {key} to L2." in a for a in answers), answers
        assert not any("no longer lets me open the form" in a for a in answers), answers
    finally:
        await stop_harness(h)
