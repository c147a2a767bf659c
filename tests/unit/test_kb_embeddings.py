"""Article vectors of the semantic ranking: stored once per article version and model, reused by every
replica, recomputed only when the text changes; the hybrid rule; the config check. These tests need no
semantic extra: they use a small deterministic encoder (word hashing) in place of the MiniLM model, which
only `test_kb_semantic_model.py` loads."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.bench.common import write_toml
from bot.sandbox.demo import demo_support_raw
from bot.services.kb import embeddings, semantic
from bot.services.kb import store as kb
from bot.services.kb.ranking import ArticleDoc, KBIndex
from models import KbEmbedding, KbFeedbackKind

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


class WordHashEncoder:
    """A stand-in for the model: unit vectors of hashed lower-case words. Counts the texts it encodes."""

    model_id = "test-word-hash/1"
    dim = 64

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], *, max_tokens: int) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower())[:max_tokens]:
                out[row, int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out


async def _save(title: str, solution: str, *, article_id: int | None = None, **fields: object) -> int:
    data = kb.clean_article(title=title, solution=solution, visibility="public", **fields)
    article, _ = await kb.save_article(data=data, editor_id="U0L1ANNA", at=NOW, article_id=article_id)
    return article.id


async def _store(encoder: WordHashEncoder) -> kb.KbStore:
    store = kb.KbStore()
    await store.sync()
    await store.use_encoder(encoder)
    await store.wait_for_vectors()
    return store


async def _rows() -> list[tuple[int, int, str]]:
    return sorted(await KbEmbedding.all().values_list("article_id", "version", "model"))


async def test_vectors_are_computed_once_per_version_stored_and_reused_by_other_replicas(
    database: None,
) -> None:
    vpn = await _save("VPN drops every hour", "Update the VPN client")
    printer = await _save("Printer prints blank pages", "Replace the toner")
    encoder = WordHashEncoder()
    store = await _store(encoder)
    assert await _rows() == [(vpn, 1, encoder.model_id), (printer, 1, encoder.model_id)]
    assert store.embedded == 2 and len(encoder.texts) == 4  # title and title + body, once each
    assert store.vectors.version(str(vpn)) == 1 and store.embedding_pending == 0

    other = WordHashEncoder()  # another replica (or a restart) loads what is stored
    replica = await _store(other)
    assert replica.embedded == 0 and other.texts == []
    assert np.array_equal(replica.vectors.get(str(vpn)), store.vectors.get(str(vpn)))

    for query in ("vpn keeps dropping", "blank pages from the printer"):
        await replica.search(query)
    assert other.texts == ["vpn keeps dropping", "blank pages from the printer"]  # one vector per query
    await replica.close()
    await store.close()


async def test_an_edit_embeds_the_new_version_once_and_drops_the_old_vectors(database: None) -> None:
    vpn = await _save("VPN drops every hour", "Update the VPN client")
    encoder = WordHashEncoder()
    store = await _store(encoder)
    await _save("VPN drops every hour on Wi-Fi", "Update the VPN client", article_id=vpn)
    await store.sync()  # the writer's replica syncs right after its commit ...
    assert store.vectors.version(str(vpn)) is None and store.embedding_pending == 1
    await store.wait_for_vectors()  # ... and the background task embeds the new version
    assert await _rows() == [(vpn, 2, encoder.model_id)]
    assert store.vectors.version(str(vpn)) == 2 and store.embedded == 2

    # Feedback and an unchanged save change no text: no new vectors.
    await kb.record_feedback(
        article_id=vpn, ticket_id=None, user_id="U0L1ANNA", kind=KbFeedbackKind.HELPED, terms=["vpn"], at=NOW
    )
    await _save("VPN drops every hour on Wi-Fi", "Update the VPN client", article_id=vpn)
    await store.sync()
    await store.wait_for_vectors()
    assert store.embedded == 2 and len(encoder.texts) == 4
    await store.close()


async def test_retired_articles_leave_memory_and_unretired_ones_reuse_their_vectors(database: None) -> None:
    vpn = await _save("VPN drops every hour", "Update the VPN client")
    encoder = WordHashEncoder()
    store = await _store(encoder)
    await kb.set_retired(article_id=vpn, actor_id="U0L1ANNA", at=NOW)
    await store.sync()
    assert str(vpn) not in store.vectors and await _rows() == [(vpn, 1, encoder.model_id)]
    await kb.set_retired(article_id=vpn, actor_id="U0L1ANNA", at=NOW, retired=False)
    await store.sync()
    assert store.vectors.version(str(vpn)) == 1 and store.embedded == 1  # loaded, not recomputed
    await store.close()


async def test_missing_versions_and_save_vectors_keep_one_row_per_article_and_model(database: None) -> None:
    vpn = await _save("VPN drops", "Update the client")
    encoder = WordHashEncoder()
    assert await embeddings.missing_versions(model=encoder.model_id) == {vpn: 1}
    done = await embeddings.embed_versions(encoder, {vpn: 1})
    assert list(done) == [vpn] and await embeddings.missing_versions(model=encoder.model_id) == {}
    again = await embeddings.save_vectors(
        article_id=vpn, version=1, model=encoder.model_id, vectors=done[vpn][1], at=NOW
    )
    assert again is False  # another replica stored it first: a no-op
    assert await embeddings.missing_versions(model="another-model/1") == {vpn: 1}
    # A version that moved on while queued is skipped, not embedded with the new text under the old number.
    assert await embeddings.embed_versions(encoder, {vpn: 7}) == {}


def test_pack_and_unpack_round_trip_and_check_the_size() -> None:
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(semantic.unpack(semantic.pack(vectors), count=2, dim=3), vectors)
    with pytest.raises(ValueError, match="expected 2x4"):
        semantic.unpack(semantic.pack(vectors), count=2, dim=4)


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_hybrid_rule_mixes_cosine_and_lexical_score_and_respects_filters() -> None:
    docs = [
        ArticleDoc("a", "printer toner empty", "replace the toner cartridge"),
        ArticleDoc("b", "unfriend someone", "open their profile and choose unfriend"),
        ArticleDoc("c", "internal: unfriend policy", "only for staff", visibility="internal"),
        ArticleDoc("d", "far away topic", "nothing in common"),
    ]
    index = KBIndex(docs)
    table = semantic.VectorTable(title_weight=0.6)
    table.put("a", 1, np.stack([_unit(1, 0, 0), _unit(1, 0, 0)]))
    table.put("b", 1, np.stack([_unit(0, 1, 0), _unit(0, 1, 0)]))
    table.put("c", 1, np.stack([_unit(0, 1, 0.1), _unit(0, 1, 0.1)]))
    table.put("d", 1, np.stack([_unit(0, 0, 1), _unit(0, 0, 1)]))
    query = "who stopped being my friend"  # no word in common with any article
    assert index.search(query) == []
    q = _unit(0.1, 1, 0)
    hits = semantic.hybrid_search(index, table, q, query, limit=3, visibility={"public"})
    assert hits is not None and [h.id for h in hits] == ["b"]  # c is internal, a and d are below 0.3
    assert hits[0].score == pytest.approx(0.9 * float(q @ _unit(0, 1, 0)), abs=1e-6)

    lexical = index.search("printer toner", limit=20)
    mixed = semantic.hybrid_search(index, table, _unit(1, 0.2, 0), "printer toner", limit=3)
    assert mixed is not None and mixed[0].id == "a"
    cos_a = float(_unit(1, 0.2, 0) @ _unit(1, 0, 0))
    assert lexical[0].id == "a" and mixed[0].score == pytest.approx(0.9 * cos_a + 0.1, abs=1e-6)

    table.drop("a")  # a candidate without vectors (its new version is being embedded): rank lexically
    assert semantic.hybrid_search(index, table, q, "printer toner", limit=3) is None


async def test_store_ranks_lexically_while_a_candidate_has_no_vectors(database: None) -> None:
    await _save("VPN drops every hour", "Update the VPN client")
    store = kb.KbStore()
    await store.sync()
    encoder = WordHashEncoder()
    store.encoder = encoder  # switched on, nothing loaded or computed yet
    assert store.index is not None
    vector = semantic.query_vector(encoder, "vpn drops")
    lexical = store.index.search("vpn drops", limit=3)
    assert store.rank("vpn drops", query_vector=vector) == lexical
    await store.close()


def test_kb_semantic_without_the_extra_stops_the_bot_naming_the_key(tmp_path: Path) -> None:
    raw = demo_support_raw()
    raw["kb"] = {**raw.get("kb", {}), "semantic": True}
    config = write_toml(tmp_path / "support.toml", raw)
    # Hide the extra's runtime from this one process, whether or not it is installed here.
    code = "import sys; sys.modules['onnxruntime'] = None; from bot.__main__ import main; sys.exit(main())"
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "x",
        "SUPPORT_CONFIG": str(config),
        "DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2, result.stderr
    assert "kb.semantic" in result.stderr and "pip install '.[semantic]'" in result.stderr, result.stderr
    assert "onnxruntime" in result.stderr and "Traceback" not in result.stderr
