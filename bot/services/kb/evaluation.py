"""Offline evaluation of the KB ranking: metrics, the stackfaq benchmark loader, confidence fit, latency.

Run ``python -m bot.services.kb.evaluation --help`` for the command-line entry point.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.services.kb.ranking import ArticleDoc, ConfidenceModel, KBIndex, RankingParams

__all__ = [
    "EvalResult",
    "Query",
    "bench_latency",
    "calibration_table",
    "evaluate",
    "find_stackfaq_dir",
    "fit_confidence",
    "fit_hybrid_confidence",
    "evaluate_hybrid",
    "hit_at_k",
    "load_stackfaq",
    "missing_answer_labels",
    "precision_at_1",
    "reciprocal_rank",
    "synthetic_articles",
]


# ------------------------------------------------------------------------------------------ metrics


def precision_at_1(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """1.0 when the first ranked id is relevant, else 0.0."""
    rel = set(relevant)
    return 1.0 if ranked and ranked[0] in rel else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """1 / rank of the first relevant id (0.0 when none is ranked)."""
    rel = set(relevant)
    for i, doc_id in enumerate(ranked, start=1):
        if doc_id in rel:
            return 1.0 / i
    return 0.0


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = 3) -> float:
    """1.0 when any relevant id is among the first k, else 0.0."""
    rel = set(relevant)
    return 1.0 if any(doc_id in rel for doc_id in ranked[:k]) else 0.0


@dataclass(frozen=True, slots=True)
class Query:
    """A benchmark query with its relevant article ids."""

    qid: str
    text: str
    relevant: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Mean metrics in percent over n queries."""

    n: int
    p_at_1: float
    mrr: float
    hit_at_3: float

    def row(self) -> str:
        """Format as a markdown table fragment: P@1 | MRR | Hit@3."""
        return f"{self.p_at_1:.1f} | {self.mrr:.1f} | {self.hit_at_3:.1f}"


def evaluate(index: KBIndex, queries: Sequence[Query], *, depth: int | None = None) -> EvalResult:
    """Rank every article for each query and average P@1, MRR and Hit@3 (in percent)."""
    depth = depth or max(3, len(index))
    p1 = rr = h3 = 0.0
    for q in queries:
        ranked = [h.id for h in index.search(q.text, limit=depth)]
        p1 += precision_at_1(ranked, q.relevant)
        rr += reciprocal_rank(ranked, q.relevant)
        h3 += hit_at_k(ranked, q.relevant, 3)
    n = max(1, len(queries))
    return EvalResult(len(queries), 100 * p1 / n, 100 * rr / n, 100 * h3 / n)


# ------------------------------------------------------------------------------------------ stackfaq


def find_stackfaq_dir(start: Path | None = None) -> Path | None:
    """Locate the stackfaq benchmark: $STACKFAQ_DIR, /work/shared/datasets/stackfaq or ../shared/... of the repo."""
    candidates: list[Path] = []
    env = os.environ.get("STACKFAQ_DIR")
    if env:
        candidates.append(Path(env))
    candidates.append(Path("/work/shared/datasets/stackfaq"))
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        candidates.append(parent.parent / "shared" / "datasets" / "stackfaq")
    for c in candidates:
        if (c / "corpus.jsonl").is_file():
            return c
    return None


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_stackfaq(directory: Path | None = None) -> tuple[list[ArticleDoc], list[Query], list[Query]]:
    """Load (articles, dev queries, test queries) of the stackfaq benchmark."""
    root = directory or find_stackfaq_dir()
    if root is None:
        raise FileNotFoundError("stackfaq benchmark not found (set STACKFAQ_DIR)")
    docs = [
        ArticleDoc(id=str(r["id"]), title=str(r["title"]), body=str(r["body"]))
        for r in _read_jsonl(root / "corpus.jsonl")
    ]

    def queries(name: str) -> list[Query]:
        return [
            Query(str(r["qid"]), str(r["text"]), tuple(str(x) for x in r["relevant"]))  # type: ignore[attr-defined]
            for r in _read_jsonl(root / name)
        ]

    return docs, queries("queries-dev.jsonl"), queries("queries-test.jsonl")


# ------------------------------------------------------------------------------------------ confidence


def _fit_logistic(
    xs: list[tuple[float, ...]], ys: list[int], *, l2: float = 1e-3, iters: int = 3000
) -> list[float]:
    """Deterministic batch gradient descent for logistic regression; returns [intercept, *weights]."""
    dim = len(xs[0]) + 1
    w = [0.0] * dim
    n = len(xs)
    lr = 0.5
    for _ in range(iters):
        grad = [0.0] * dim
        for x, y in zip(xs, ys, strict=True):
            z = w[0] + sum(wi * xi for wi, xi in zip(w[1:], x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            err = p - y
            grad[0] += err
            for j, xj in enumerate(x, start=1):
                grad[j] += err * xj
        for j in range(dim):
            reg = l2 * w[j] if j else 0.0
            w[j] -= lr * (grad[j] / n + reg)
    return w


def fit_confidence(
    index: KBIndex,
    queries: Sequence[Query],
    *,
    high_precision: float = 0.9,
    max_missing_high: float = 0.1,
    low_precision: float = 0.5,
) -> ConfidenceModel:
    """Fit P(hit is right) on the top-3 hits of the queries, then choose the label cut-offs on top-1 hits.

    "high": the lowest cut-off at which (a) top-1 hits at or above it are right >= high_precision of the
    time and (b) when the right article is removed from the KB (each query re-run without it) at most
    max_missing_high of the queries still get a "high" top hit. "low": the highest cut-off below which top-1
    hits are right <= low_precision of the time. "medium" is in between. The index is restored afterwards.
    """
    xs: list[tuple[float, ...]] = []
    ys: list[int] = []
    for q in queries:
        for doc_id, feats in index.hit_features(q.text, limit=3):
            xs.append(feats)
            ys.append(1 if doc_id in q.relevant else 0)
    if not xs:
        return ConfidenceModel()
    w = _fit_logistic(xs, ys)
    model = ConfidenceModel(
        intercept=round(w[0], 3),
        w_norm_score=round(w[1], 3),
        w_rel_to_best=round(w[2], 3),
        w_gap_next=round(w[3], 3),
        w_coverage=round(w[4], 3),
    )
    top1: list[tuple[float, int]] = []
    missing: list[float] = []
    for q in queries:
        feats = index.hit_features(q.text, limit=1)
        if feats:
            top1.append((model.probability(*feats[0][1]), 1 if feats[0][0] in q.relevant else 0))
        removed = [d for d in (index.get(r) for r in q.relevant) if d is not None]
        for d in removed:
            index.remove(d.id)
        try:
            feats = index.hit_features(q.text, limit=1)
        finally:
            for d in removed:
                index.upsert(d)
        missing.append(model.probability(*feats[0][1]) if feats else 0.0)
    high, medium = _cut_offs(top1, missing, high_precision, max_missing_high, low_precision)
    return ConfidenceModel(
        intercept=model.intercept,
        w_norm_score=model.w_norm_score,
        w_rel_to_best=model.w_rel_to_best,
        w_gap_next=model.w_gap_next,
        w_coverage=model.w_coverage,
        high=high,
        medium=medium,
    )


def missing_answer_labels(index: KBIndex, queries: Sequence[Query]) -> dict[str, int]:
    """Label of the top hit when the relevant articles are removed (the KB has no answer)."""
    out = {"high": 0, "medium": 0, "low": 0, "none": 0}
    for q in queries:
        removed = [d for d in (index.get(r) for r in q.relevant) if d is not None]
        for d in removed:
            index.remove(d.id)
        try:
            hits = index.search(q.text, limit=1)
        finally:
            for d in removed:
                index.upsert(d)
        out[hits[0].label if hits else "none"] += 1
    return out


def calibration_table(index: KBIndex, queries: Sequence[Query]) -> dict[str, tuple[int, float]]:
    """Per label of the top hit: (count, percent of those top hits that are right)."""
    buckets: dict[str, list[int]] = {"high": [0, 0], "medium": [0, 0], "low": [0, 0], "none": [0, 0]}
    for q in queries:
        hits = index.search(q.text, limit=1)
        key = hits[0].label if hits else "none"
        buckets[key][0] += 1
        buckets[key][1] += 1 if hits and hits[0].id in q.relevant else 0
    return {k: (n, 100.0 * c / n if n else 0.0) for k, (n, c) in buckets.items()}


# ------------------------------------------------------------------------------------------ hybrid


def _hybrid_ranked(
    index: KBIndex, table: Any, qvec: Any, text: str, *, limit: int, params: Any
) -> list[tuple[float, str, tuple[float, float, float, float]]]:
    from bot.services.kb import semantic

    ranked = semantic.hybrid_candidates(index, table, qvec, text, limit=limit, params=params)
    if ranked is None:
        raise ValueError("an article has no vectors: compute them all before evaluating")
    return ranked


def evaluate_hybrid(
    index: KBIndex, table: Any, queries: Sequence[Query], qvecs: Sequence[Any], *, params: Any = None
) -> EvalResult:
    """P@1, MRR and Hit@3 of the hybrid ranking (semantic extra); `qvecs` are the queries' vectors."""
    from bot.services.kb import semantic

    params = params or semantic.DEFAULT_HYBRID
    p1 = rr = h3 = 0.0
    for q, v in zip(queries, qvecs, strict=True):
        ranked = [d for _, d, _ in _hybrid_ranked(index, table, v, q.text, limit=len(index), params=params)]
        p1 += precision_at_1(ranked, q.relevant)
        rr += reciprocal_rank(ranked, q.relevant)
        h3 += hit_at_k(ranked, q.relevant, 3)
    n = max(1, len(queries))
    return EvalResult(len(queries), 100 * p1 / n, 100 * rr / n, 100 * h3 / n)


def _without(index: KBIndex, table: Any, ids: Sequence[str]):  # type: ignore[no-untyped-def]
    """Context manager: the articles removed from the index and the vector table, then restored."""
    import contextlib

    @contextlib.contextmanager
    def scope():  # type: ignore[no-untyped-def]
        removed = [(d, table.version(d.id), table.get(d.id)) for d in (index.get(i) for i in ids) if d]
        for d, _, _ in removed:
            index.remove(d.id)
            table.drop(d.id)
        try:
            yield
        finally:
            for d, version, vecs in removed:
                index.upsert(d)
                if vecs is not None:
                    table.put(d.id, version, vecs)

    return scope()


def fit_hybrid_confidence(
    index: KBIndex,
    table: Any,
    queries: Sequence[Query],
    qvecs: Sequence[Any],
    *,
    params: Any = None,
    high_precision: float = 0.9,
    max_missing_high: float = 0.1,
    low_precision: float = 0.5,
) -> Any:
    """Fit the hybrid ranking's confidence model like `fit_confidence` (same label rules) on the queries."""
    from bot.services.kb import semantic

    params = params or semantic.DEFAULT_HYBRID
    xs: list[tuple[float, ...]] = []
    ys: list[int] = []
    for q, v in zip(queries, qvecs, strict=True):
        for _, doc_id, feats in _hybrid_ranked(index, table, v, q.text, limit=3, params=params):
            xs.append(feats)
            ys.append(1 if doc_id in q.relevant else 0)
    w = [round(x, 3) for x in _fit_logistic(xs, ys)]
    model = semantic.HybridConfidence(w[0], w[1], w[2], w[3], w[4])
    top1: list[tuple[float, int]] = []
    missing: list[float] = []
    for q, v in zip(queries, qvecs, strict=True):
        ranked = _hybrid_ranked(index, table, v, q.text, limit=1, params=params)
        if ranked:
            top1.append((model.probability(*ranked[0][2]), 1 if ranked[0][1] in q.relevant else 0))
        with _without(index, table, q.relevant):
            ranked = _hybrid_ranked(index, table, v, q.text, limit=1, params=params)
        missing.append(model.probability(*ranked[0][2]) if ranked else 0.0)
    high, medium = _cut_offs(top1, missing, high_precision, max_missing_high, low_precision)
    return semantic.HybridConfidence(w[0], w[1], w[2], w[3], w[4], high=high, medium=medium)


def _cut_offs(
    top1: list[tuple[float, int]],
    missing: list[float],
    high_precision: float,
    max_missing_high: float,
    low_precision: float,
) -> tuple[float, float]:
    """(high, medium) label cut-offs by the rules of `fit_confidence`."""
    top1 = sorted(top1, reverse=True)
    missing = sorted(missing)
    high = 1.0
    correct = 0
    for i, (p, y) in enumerate(top1, start=1):
        correct += y
        if i < len(top1) and top1[i][0] == p:
            continue  # only cut between distinct values
        missing_share = (len(missing) - bisect.bisect_left(missing, p)) / max(1, len(missing))
        if correct / i >= high_precision and missing_share <= max_missing_high:
            high = p
    medium = high
    correct = 0
    ascending = top1[::-1]
    for i, (p, y) in enumerate(ascending):
        if p > high:
            break
        if i and ascending[i - 1][0] < p and correct / i <= low_precision:
            medium = p  # the top-1 hits strictly below p are right at most low_precision of the time
        correct += y
    return round(high, 3), round(min(high, medium), 3)


def hybrid_labels(
    index: KBIndex, table: Any, queries: Sequence[Query], qvecs: Sequence[Any], *, confidence: Any = None
) -> tuple[dict[str, tuple[int, float]], dict[str, int]]:
    """(label of the top hit -> (count, % right), label of the top hit with the answer removed -> count)."""
    from bot.services.kb import semantic

    confidence = confidence or semantic.DEFAULT_HYBRID_CONFIDENCE
    buckets: dict[str, list[int]] = {"high": [0, 0], "medium": [0, 0], "low": [0, 0], "none": [0, 0]}
    missing = {"high": 0, "medium": 0, "low": 0, "none": 0}
    for q, v in zip(queries, qvecs, strict=True):
        hits = semantic.hybrid_search(index, table, v, q.text, limit=1, confidence=confidence) or []
        key = hits[0].label if hits else "none"
        buckets[key][0] += 1
        buckets[key][1] += 1 if hits and hits[0].id in q.relevant else 0
        with _without(index, table, q.relevant):
            hits = semantic.hybrid_search(index, table, v, q.text, limit=1, confidence=confidence) or []
        missing[hits[0].label if hits else "none"] += 1
    return {k: (n, 100.0 * c / n if n else 0.0) for k, (n, c) in buckets.items()}, missing


# ------------------------------------------------------------------------------------------ latency


def synthetic_articles(n: int, *, seed: int = 7, base: Sequence[ArticleDoc] = ()) -> list[ArticleDoc]:
    """Deterministic filler articles (every 10th internal) drawn Zipf-like from the vocabulary of `base`."""
    rng = random.Random(seed)
    vocab: list[str] = []
    if base:
        counts: dict[str, int] = {}
        for d in base:
            for w in (d.title + " " + d.body).lower().split():
                w = w.strip(".,;:!?()[]\"'<>*")
                if w.isalpha() and 2 < len(w) < 16:
                    counts[w] = counts.get(w, 0) + 1
        vocab = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(vocab) < 500:
        syll = ["ka", "lo", "mi", "ne", "ra", "tu", "se", "vo", "di", "pa", "ge", "bu", "zo", "fi", "he"]
        vocab += ["".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(5000)]
    # Zipf weights 1/rank^1.05 over the vocabulary, with a long synthetic tail for rare words.
    tail = [f"x{i}q" for i in range(20000)]
    words = vocab + tail
    weights = [1.0 / (r + 1) ** 1.05 for r in range(len(words))]
    cum: list[float] = []
    total = 0.0
    for wt in weights:
        total += wt
        cum.append(total)
    out: list[ArticleDoc] = []
    for i in range(n):
        body_len = int(min(1800, max(20, rng.lognormvariate(5.6, 0.7))))
        title = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(4, 12)))
        body = " ".join(rng.choices(words, cum_weights=cum, k=body_len))
        visibility = "internal" if i % 10 == 0 else "public"
        out.append(ArticleDoc(id=f"syn-{i:06d}", title=title.capitalize(), body=body, visibility=visibility))
    return out


def bench_latency(
    n_articles: int,
    *,
    runs: int = 5,
    params: RankingParams | None = None,
    queries: Sequence[str] | None = None,
) -> dict[str, float]:
    """Search latency in ms (p50, p95: median over `runs` passes) with the KB padded to n_articles.

    Every search is made as the bot makes it for a customer: limit=3, visibility={"public"}.
    """
    root = find_stackfaq_dir()
    base: list[ArticleDoc] = []
    qtexts: list[str] = list(queries or [])
    if root is not None:
        docs, dev, _ = load_stackfaq(root)
        base = docs[:n_articles]
        if not qtexts:
            qtexts = [q.text for q in dev]
    if not qtexts:
        qtexts = ["how do I reset my password", "printer does not print", "vpn keeps disconnecting"]
    filler = synthetic_articles(max(0, n_articles - len(base)), base=base)
    t0 = time.perf_counter()
    index = KBIndex([*base, *filler], params=params)
    build_s = time.perf_counter() - t0
    vis = frozenset({"public"})
    for q in qtexts:  # warm the per-term caches once, as a long-running replica would be
        index.search(q, limit=3, visibility=vis)
    p50s: list[float] = []
    p95s: list[float] = []
    for _ in range(runs):
        lat: list[float] = []
        for q in qtexts:
            t = time.perf_counter()
            index.search(q, limit=3, visibility=vis)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50s.append(statistics.median(lat))
        p95s.append(lat[min(len(lat) - 1, math.ceil(0.95 * len(lat)) - 1)])
    cold: list[float] = []
    for q in qtexts[:50]:  # first search after a write: caches dropped
        index._invalidate()  # noqa: SLF001 - measuring the cold path on purpose
        t = time.perf_counter()
        index.search(q, limit=3, visibility=vis)
        cold.append((time.perf_counter() - t) * 1000)
    return {
        "articles": float(len(index)),
        "queries": float(len(qtexts)),
        "build_s": build_s,
        "p50_ms": statistics.median(p50s),
        "p95_ms": statistics.median(p95s),
        "cold_p50_ms": statistics.median(cold) if cold else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: evaluate on stackfaq, fit the confidence model on dev, and/or time searches."""
    ap = argparse.ArgumentParser(description="KB ranking evaluation on stackfaq and latency benchmark")
    ap.add_argument("--split", choices=["dev", "test", "both", "none"], default="dev")
    ap.add_argument(
        "--fit-confidence", action="store_true", help="fit the ConfidenceModel on dev and print it"
    )
    ap.add_argument("--bench", type=int, nargs="*", default=[], help="article counts to time, e.g. 125 10000")
    ap.add_argument("--runs", type=int, default=5, help="timing passes over the queries (median is reported)")
    ap.add_argument(
        "--semantic",
        action="store_true",
        help="evaluate (and with --fit-confidence fit) the hybrid ranking instead (needs the semantic extra)",
    )
    args = ap.parse_args(argv)
    if args.semantic:
        return _main_semantic(args)
    if args.split != "none" or args.fit_confidence:
        docs, dev, test = load_stackfaq()
        index = KBIndex(docs)
        if args.fit_confidence:
            index.confidence = fit_confidence(index, dev)
            print(index.confidence)
        names = {"dev": ["dev"], "test": ["test"], "both": ["dev", "test"], "none": []}[args.split]
        for name in names:
            qs = dev if name == "dev" else test
            r = evaluate(index, qs)
            print(f"{name}: n={r.n} P@1 {r.p_at_1:.1f} MRR {r.mrr:.1f} Hit@3 {r.hit_at_3:.1f}")
            for label, (n, pct) in calibration_table(index, qs).items():
                if n:
                    print(f"  top hit labelled {label}: {n} queries, {pct:.1f}% right")
            missing = missing_answer_labels(index, qs)
            print(f"  answer removed from KB, top-hit labels: {missing}")
    for n in args.bench:
        res = bench_latency(n, runs=args.runs)
        print(
            f"bench n={int(res['articles'])}: p50 {res['p50_ms']:.2f} ms, p95 {res['p95_ms']:.2f} ms "
            f"(first search after a write p50 {res['cold_p50_ms']:.2f} ms, build {res['build_s']:.1f} s, "
            f"{int(res['queries'])} queries x {args.runs} runs)"
        )
    return 0


def _main_semantic(args: argparse.Namespace) -> int:
    from bot.services.kb import semantic

    docs, dev, test = load_stackfaq()
    index = KBIndex(docs)
    encoder = semantic.default_encoder()
    table = semantic.VectorTable(title_weight=semantic.DEFAULT_HYBRID.title_weight)
    for doc, vecs in zip(docs, semantic.article_vectors(encoder, docs), strict=True):
        table.put(doc.id, 1, vecs)
    confidence = semantic.DEFAULT_HYBRID_CONFIDENCE
    dev_vecs = [semantic.query_vector(encoder, q.text) for q in dev]
    if args.fit_confidence:
        confidence = fit_hybrid_confidence(index, table, dev, dev_vecs)
        print(confidence)
    names = {"dev": ["dev"], "test": ["test"], "both": ["dev", "test"], "none": []}[args.split]
    for name in names:
        qs = dev if name == "dev" else test
        vecs = dev_vecs if name == "dev" else [semantic.query_vector(encoder, q.text) for q in qs]
        r = evaluate_hybrid(index, table, qs, vecs)
        print(f"{name} (hybrid): n={r.n} P@1 {r.p_at_1:.1f} MRR {r.mrr:.1f} Hit@3 {r.hit_at_3:.1f}")
        calibration, missing = hybrid_labels(index, table, qs, vecs, confidence=confidence)
        for label, (n, pct) in calibration.items():
            if n:
                print(f"  top hit labelled {label}: {n} queries, {pct:.1f}% right")
        print(f"  answer removed from KB, top-hit labels: {missing}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
