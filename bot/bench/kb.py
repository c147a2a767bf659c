"""`python -m bot.bench kb`: the knowledge base end to end, from `kb import` to a search as the bot makes it.

The stackfaq corpus is imported through the same code as `python -m bot kb import` (into a temporary SQLite
database unless --database-url is given), the replica's index is built from the database (KbStore.sync),
and the dev and test queries are ranked against all articles: P@1, MRR and Hit@3 by the import ids. For
latency the KB is padded with deterministic synthetic articles (bot.services.kb.evaluation, every 10th
internal), imported through the same path, and the dev queries are timed as the bot sends them (limit 3,
public articles only): `store.search` includes the one-row revision check against the database,
`index.search` is the in-memory ranking alone. p50/p95 are medians over --runs passes after a warm-up pass.
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


def _import_args(source: Path, visibility: str) -> argparse.Namespace:
    return argparse.Namespace(
        source=source, visibility=visibility, language="en", editor="bench", strict=True, progress=False
    )


async def import_file(source: Path, *, visibility: str = "public") -> tuple[str, float]:
    """Run `kb import` on a file; returns (its summary, seconds)."""
    out = io.StringIO()
    started = time.perf_counter()
    code = await kb_cli.run_import(_import_args(source, visibility), out=out, err=io.StringIO())
    if code != 0:
        raise RuntimeError(f"kb import of {source} failed:\n{out.getvalue()}")
    return out.getvalue().splitlines()[0], time.perf_counter() - started


async def quality(store: kb.KbStore, queries: Sequence[Query]) -> dict[str, float]:
    """P@1, MRR and Hit@3 in percent, every article ranked, by import id."""
    assert store.index is not None
    depth = max(3, len(store.index))
    p1 = rr = h3 = 0.0
    for q in queries:
        ranked = [store.external_id(h.id) for h in store.index.search(q.text, limit=depth)]
        p1 += precision_at_1(ranked, q.relevant)
        rr += reciprocal_rank(ranked, q.relevant)
        h3 += hit_at_k(ranked, q.relevant, 3)
    n = max(1, len(queries))
    return {"queries": len(queries), "p_at_1": 100 * p1 / n, "mrr": 100 * rr / n, "hit_at_3": 100 * h3 / n}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def latency(store: kb.KbStore, texts: Sequence[str], *, runs: int) -> dict[str, float]:
    """p50/p95 in ms of store.search (with the revision check) and of index.search alone."""
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
                    store.index.search(text, limit=3, visibility=vis)
                times.append((time.perf_counter() - started) * 1000)
            p50s.append(statistics.median(times))
            p95s.append(_p95(times))
        result[f"{name}_p50_ms"] = statistics.median(p50s)
        result[f"{name}_p95_ms"] = statistics.median(p95s)
    return result


async def run(options: argparse.Namespace) -> dict[str, Any]:
    """Import, evaluate and time; returns the figures."""
    root = Path(options.stackfaq) if options.stackfaq else find_stackfaq_dir()
    if root is None:
        raise SystemExit("stackfaq not found: pass --stackfaq DIR (it has corpus.jsonl)")
    docs, dev, test = load_stackfaq(root)
    tmp = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    url = options.database_url or f"sqlite://{tmp}/kb.sqlite3"
    await db.init_db(url)
    figures: dict[str, Any] = {"database": url.split(":", 1)[0], "sizes": {}}
    try:
        summary, seconds = await import_file(root / "corpus.jsonl")
        figures["import_corpus"] = {"summary": summary, "seconds": seconds}
        store = kb.KbStore()
        await store.sync()
        figures["dev"] = await quality(store, dev)
        figures["test"] = await quality(store, test)
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
                summary, seconds = await import_file(pad, visibility="public")
                have = size
            else:
                summary, seconds = figures["import_corpus"]["summary"], figures["import_corpus"]["seconds"]
            fresh = kb.KbStore()
            started = time.perf_counter()
            await fresh.sync()
            build = time.perf_counter() - started
            assert fresh.index is not None
            figures["sizes"][str(size)] = {
                "articles": len(fresh.index),
                "import": summary,
                "import_s": seconds,
                "build_s": build,
                **await latency(fresh, texts, runs=options.runs),
            }
    finally:
        await db.close_db()
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as markdown tables."""
    lines = ["| split | queries | P@1 | MRR | Hit@3 |", "|---|---|---|---|---|"]
    for split in ("dev", "test"):
        f = figures[split]
        lines.append(
            f"| {split} | {f['queries']} | {f['p_at_1']:.1f} | {f['mrr']:.1f} | {f['hit_at_3']:.1f} |"
        )
    lines += [
        "",
        "| articles | import (kb import) | index build | store.search p50 / p95 | index.search p50 / p95 |",
        "|---|---|---|---|---|",
    ]
    for size, f in figures["sizes"].items():
        imported = f"{f['import_s']:.2f} s" if f["import_s"] < 1 else f"{f['import_s']:.1f} s"
        lines.append(
            f"| {int(size):,} | {imported} | {f['build_s']:.1f} s | {f['store_p50_ms']:.2f} / {f['store_p95_ms']:.2f} ms"
            f" | {f['index_p50_ms']:.2f} / {f['index_p95_ms']:.2f} ms |"
        )
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
    options = parser.parse_args(argv)
    figures = asyncio.run(run(options))
    print(json.dumps(figures, indent=2) if options.json else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
