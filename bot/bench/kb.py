"""`python -m bot.bench kb`: the knowledge base end to end, from `kb import` to a search as the bot makes it.

The stackfaq corpus is imported through the same code as `python -m bot kb import` (into a temporary SQLite
database unless --database-url is given), the replica's index is built from the database (KbStore.sync),
and the dev and test queries are ranked against all articles: P@1, MRR and Hit@3 by the import ids. For
latency the KB is padded with deterministic synthetic articles (bot.services.kb.evaluation, every 10th
internal), imported through the same path, and the dev queries are timed as the bot sends them (limit 3,
public articles only): `store.search` includes the one-row revision check against the database,
`index.search` is the in-memory ranking alone. p50/p95 are medians over --runs passes after a warm-up pass.

With the semantic extra installed the same is measured a second time with the hybrid ranking (kb.semantic):
the articles' vectors are computed by `kb import --embeddings` (and stored), a fresh store loads them, and
`store.search` then also includes the query's vector (computed in a worker thread, as in the bot); the
in-memory figure is query vector + ranking. A last table shows what both rankings do with a few German
questions against the English articles.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import db
from bot.services.kb import cli as kb_cli
from bot.services.kb import store as kb
from bot.services.kb.evaluation import (
    Query,
    find_stackfaq_dir,
    hit_at_k,
    load_stackfaq,
    precision_at_1,
    reciprocal_rank,
    synthetic_articles,
)
from config.support import missing_semantic_modules

# A few questions written in German for articles of the (English) stackfaq corpus (not from the dataset).
GERMAN_QUERIES = (
    ("Wie kann ich Text auf GitHub durchstreichen?", "faq-0"),
    ("Wie lösche ich mein Facebook-Konto?", "faq-1"),
    ("Kann ich meine Daten aus Trello exportieren, um sie zu sichern?", "faq-15"),
    ("Wie trenne ich Unterhaltungen in Gmail?", "faq-20"),
    ("Wie sichere ich alle meine Tweets?", "faq-25"),
    ("Wie lösche ich alle E-Mails in meinem Gmail-Konto?", "faq-50"),
    ("Wie erstelle ich einen Google-Maps-Link zu einem bestimmten Ort?", "faq-60"),
    ("Wie entferne ich den Dropbox-Zugriff von einem Computer, den ich nicht mehr habe?", "faq-75"),
    ("Wie finde ich in Gmail die älteste Nachricht von einer Person?", "faq-80"),
    ("Kann ich in Gmail eine E-Mail zeitgesteuert später senden?", "faq-95"),
    ("Wie exportiere ich meine Google-Chatverläufe?", "faq-105"),
    ("Wie messe ich eine Entfernung in Google Maps?", "faq-120"),
)


def _import_args(source: Path, visibility: str, embeddings: bool) -> argparse.Namespace:
    return argparse.Namespace(
        source=source,
        visibility=visibility,
        language="en",
        editor="bench",
        strict=True,
        progress=False,
        embeddings=embeddings,
    )


async def import_file(
    source: Path, *, visibility: str = "public", embeddings: bool = False
) -> tuple[str, float, float]:
    """Run `kb import` (with --embeddings: and compute vectors); returns (summary, seconds, vector seconds)."""
    out = io.StringIO()
    started = time.perf_counter()
    code = await kb_cli.run_import(_import_args(source, visibility, embeddings), out=out, err=io.StringIO())
    if code != 0:
        raise RuntimeError(f"kb import of {source} failed:\n{out.getvalue()}")
    lines = out.getvalue().splitlines()
    vector_s = 0.0
    for line in lines:
        if line.startswith("vectors:"):
            vector_s = float(line.split(" in ")[1].split(" s")[0])
    return lines[0], time.perf_counter() - started - vector_s, vector_s


def _vector(store: kb.KbStore, text: str) -> Any:
    from bot.services.kb import semantic

    return semantic.query_vector(store.encoder, text) if store.encoder is not None else None


async def quality(store: kb.KbStore, queries: Sequence[Query]) -> dict[str, float]:
    """P@1, MRR and Hit@3 in percent, every article ranked (hybrid: every candidate), by import id."""
    assert store.index is not None
    depth = max(3, len(store.index))
    p1 = rr = h3 = 0.0
    for q in queries:
        hits = store.rank(q.text, limit=depth, query_vector=_vector(store, q.text))
        ranked = [store.external_id(h.id) for h in hits]
        p1 += precision_at_1(ranked, q.relevant)
        rr += reciprocal_rank(ranked, q.relevant)
        h3 += hit_at_k(ranked, q.relevant, 3)
    n = max(1, len(queries))
    return {"queries": len(queries), "p_at_1": 100 * p1 / n, "mrr": 100 * rr / n, "hit_at_3": 100 * h3 / n}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def latency(store: kb.KbStore, texts: Sequence[str], *, runs: int) -> dict[str, float]:
    """p50/p95 in ms of store.search (with the revision check) and of the in-memory ranking alone
    (hybrid: query vector + ranking)."""
    vis = frozenset({"public"})
    assert store.index is not None
    for text in texts:  # warm the per-term caches, as a long-running replica is
        await store.search(text, limit=3, visibility=vis)
    result: dict[str, float] = {}
    for name in ("store", "index"):
        p50s, p95s = [], []
        for _ in range(runs):
            times = []
            for text in texts:
                started = time.perf_counter()
                if name == "store":
                    await store.search(text, limit=3, visibility=vis)
                else:
                    store.rank(text, limit=3, visibility=vis, query_vector=_vector(store, text))
                times.append((time.perf_counter() - started) * 1000)
            p50s.append(statistics.median(times))
            p95s.append(_p95(times))
        result[f"{name}_p50_ms"] = statistics.median(p50s)
        result[f"{name}_p95_ms"] = statistics.median(p95s)
    return result


async def _store(*, semantic: bool) -> kb.KbStore:
    """A fresh store built from the database (semantic: with the encoder and every article's vectors)."""
    store = kb.KbStore()
    await store.sync()
    if semantic:
        from bot.services.kb import semantic as sem

        await store.use_encoder(await asyncio.to_thread(sem.default_encoder))
        await store.wait_for_vectors()
        assert store.embedded == 0, "the import computed every article's vectors"
    return store


async def german(store: kb.KbStore) -> list[dict[str, Any]]:
    """Rank of the intended article for each German question (None: not among the candidates)."""
    out = []
    for text, wanted in GERMAN_QUERIES:
        hits = store.rank(text, limit=30, query_vector=_vector(store, text))
        ranked = [store.external_id(h.id) for h in hits]
        top = hits[0] if hits else None
        out.append(
            {
                "query": text,
                "article": wanted,
                "rank": ranked.index(wanted) + 1 if wanted in ranked else None,
                "top_label": top.label if top else None,
            }
        )
    return out


async def run(options: argparse.Namespace) -> dict[str, Any]:
    """Import, evaluate and time; returns the figures."""
    root = Path(options.stackfaq) if options.stackfaq else find_stackfaq_dir()
    if root is None:
        raise SystemExit("stackfaq not found: pass --stackfaq DIR (it has corpus.jsonl)")
    docs, dev, test = load_stackfaq(root)
    tmp = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    url = options.database_url or f"sqlite://{tmp}/kb.sqlite3"
    semantic = options.semantic if options.semantic is not None else not missing_semantic_modules()
    modes = ["lexical"] + (["semantic"] if semantic else [])
    await db.init_db(url)
    figures: dict[str, Any] = {"database": url.split(":", 1)[0], "modes": {m: {"sizes": {}} for m in modes}}
    if semantic:
        from bot.services.kb import semantic as sem

        figures["semantic"] = sem.describe()
    try:
        summary, seconds, vector_s = await import_file(root / "corpus.jsonl", embeddings=semantic)
        figures["import_corpus"] = {"summary": summary, "seconds": seconds, "vectors_s": vector_s}
        for mode in modes:
            store = await _store(semantic=mode == "semantic")
            figures["modes"][mode]["dev"] = await quality(store, dev)
            figures["modes"][mode]["test"] = await quality(store, test)
            figures["modes"][mode]["german"] = await german(store)
        texts = [q.text for q in dev]
        have = len(docs)
        for size in sorted(options.sizes):
            if size > have:
                pad = tmp / f"pad-{size}.jsonl"
                with pad.open("w", encoding="utf-8") as fh:
                    for doc in synthetic_articles(size - len(docs), base=docs)[have - len(docs) :]:
                        record = {
                            "id": doc.id,
                            "title": doc.title,
                            "body": doc.body,
                            "visibility": doc.visibility,
                        }
                        fh.write(json.dumps(record) + "\n")
                summary, seconds, vector_s = await import_file(pad, visibility="public", embeddings=semantic)
                have = size
            else:
                imported = figures["import_corpus"]
                summary, seconds, vector_s = imported["summary"], imported["seconds"], imported["vectors_s"]
            for mode in modes:
                started = time.perf_counter()
                fresh = await _store(semantic=mode == "semantic")
                build = time.perf_counter() - started
                assert fresh.index is not None
                figures["modes"][mode]["sizes"][str(size)] = {
                    "articles": len(fresh.index),
                    "import": summary,
                    "import_s": seconds,
                    "vectors_s": vector_s if mode == "semantic" else 0.0,
                    "build_s": build,
                    **await latency(fresh, texts, runs=options.runs),
                }
                await fresh.close()
    finally:
        await db.close_db()
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as markdown tables."""
    modes = figures["modes"]
    lines = []
    if "semantic" in figures:
        info = figures["semantic"]
        lines += [f"semantic: {info['model']} from {info['package']}, {info['runtime']}", ""]
    lines += ["| ranking | split | queries | P@1 | MRR | Hit@3 |", "|---|---|---|---|---|---|"]
    for mode, m in modes.items():
        for split in ("dev", "test"):
            f = m[split]
            lines.append(
                f"| {mode} | {split} | {f['queries']} | {f['p_at_1']:.1f} | {f['mrr']:.1f} | {f['hit_at_3']:.1f} |"
            )
    lines += [
        "",
        "| ranking | articles | import (kb import) | vectors (once) | index build | store.search p50 / p95 "
        "| in memory p50 / p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, m in modes.items():
        for size, f in m["sizes"].items():
            imported = f"{f['import_s']:.2f} s" if f["import_s"] < 1 else f"{f['import_s']:.1f} s"
            vectors = f"{f['vectors_s']:.1f} s" if mode == "semantic" else "–"
            lines.append(
                f"| {mode} | {int(size):,} | {imported} | {vectors} | {f['build_s']:.1f} s "
                f"| {f['store_p50_ms']:.2f} / {f['store_p95_ms']:.2f} ms"
                f" | {f['index_p50_ms']:.2f} / {f['index_p95_ms']:.2f} ms |"
            )
    lines += ["", "German questions against the English articles (rank of the intended article):", ""]
    names = list(modes)
    lines += ["| question | article | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    rows = zip(*(modes[n]["german"] for n in names), strict=True)
    for parts in rows:
        cells = [f"{p['rank'] or '–'} ({p['top_label'] or 'no hit'} top)" for p in parts]
        lines.append(f"| {parts[0]['query']} | {parts[0]['article']} | " + " | ".join(cells) + " |")
    for n in names:
        ranks = [p["rank"] for p in modes[n]["german"]]
        first = sum(1 for r in ranks if r == 1)
        top3 = sum(1 for r in ranks if r is not None and r <= 3)
        lines.append(f"{n}: first {first}/{len(ranks)}, top 3 {top3}/{len(ranks)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the KB benchmark and print the tables (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench kb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[125, 10_000], help="KB sizes to time")
    parser.add_argument("--runs", type=int, default=5, help="timed passes over the dev queries")
    parser.add_argument(
        "--stackfaq", help="folder with corpus.jsonl and the queries (default: ../shared/...)"
    )
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--semantic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure the hybrid ranking (default: when the semantic extra is installed)",
    )
    options = parser.parse_args(argv)
    figures = asyncio.run(run(options))
    print(json.dumps(figures, indent=2) if options.json else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
