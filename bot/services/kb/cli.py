"""`python -m bot kb import|search`: the admins' knowledge-base commands (wired in bot/__main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.services.kb import importer
from bot.services.kb import store as kb

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
MAX_QUERY_BYTES = 100_000


class ProgressBar:
    """A one-line progress bar on a terminal (stderr), redrawn at most 10 times a second."""

    def __init__(self, label: str, *, stream: IO[str], enabled: bool, width: int = 30) -> None:
        self.label, self.stream, self.enabled, self.width = label, stream, enabled, width
        self._last = 0.0

    def update(self, done: int, total: int) -> None:
        """Redraw with `done` of `total` finished."""
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // total if total else self.width
        percent = 100 * done // total if total else 100
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} ({percent}%)")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `kb` command group of `python -m bot`."""
    kb_parser = sub.add_parser("kb", help="knowledge base: import articles, search from the command line")
    commands = kb_parser.add_subparsers(dest="kb_command", required=True)
    imp = commands.add_parser(
        "import",
        help="import articles from a JSONL file or a folder of Markdown files (all or nothing)",
        description="JSONL: one object per line with id, title, body and optional problem, solution, tags, "
        "component, visibility, language, owner. Markdown: *.md files with optional '---' front matter "
        "(same keys), '# Title', and optional '## Problem' / '## Solution' sections. Records are validated "
        "first, then written in one transaction; a known id gets a new version only when it changed.",
    )
    imp.add_argument("source", type=Path, help="a .jsonl file or a folder of .md files")
    imp.add_argument(
        "--visibility",
        choices=["internal", "public"],
        default="internal",
        help="for records without one (default: internal)",
    )
    imp.add_argument("--language", default="en", help="for records without one (default: en)")
    imp.add_argument("--editor", default="cli", help="recorded as the editor of the new versions")
    imp.add_argument("--strict", action="store_true", help="write nothing when any record is bad")
    imp.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    imp.add_argument(
        "--embeddings",
        action="store_true",
        help="also compute the sentence vectors of the new article versions now (kb.semantic; needs the "
        "semantic extra). Without it a bot with kb.semantic computes them in the background.",
    )
    search = commands.add_parser(
        "search",
        help="rank articles for queries read from stdin, one per line",
        description="Prints, per query, the ranked articles (import id, score, confidence label).",
    )
    search.add_argument("--limit", type=int, default=3, help="articles per query (1-100, default 3)")
    search.add_argument("--json", action="store_true", help="one JSON object per query line")
    search.add_argument("--public", action="store_true", help="only public articles (what customers see)")
    search.add_argument(
        "--semantic",
        action="store_true",
        help="hybrid ranking with sentence vectors (needs the semantic extra)",
    )


def run(args: argparse.Namespace, database_url: str, *, migrate: bool) -> int:
    """Run `kb import` or `kb search`."""
    if args.kb_command == "import":
        return asyncio.run(_with_db(database_url, migrate, run_import(args)))
    if not 1 <= args.limit <= 100:
        print("--limit must be between 1 and 100", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_with_db(database_url, migrate, run_search(args, sys.stdin.buffer, sys.stdout)))


async def _with_db(database_url: str, migrate: bool, work) -> int:  # type: ignore[no-untyped-def]
    from bot import db

    await db.init_db(database_url, migrate=migrate)
    try:
        return await work
    finally:
        await db.close_db()


def parse(args: argparse.Namespace) -> importer.ImportPlan | None:
    """Read and validate the source; None (after a message) when it can't be read at all."""
    source: Path = args.source
    if not source.exists():
        print(f"{source}: no such file or folder", file=sys.stderr)
        return None
    return importer.parse_source(source, default_visibility=args.visibility, default_language=args.language)


async def run_import(
    args: argparse.Namespace, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """`kb import`: validate everything, then write in one transaction; print a summary."""
    out, err = out or sys.stdout, err or sys.stderr
    plan = parse(args)
    if plan is None:
        return EXIT_USAGE
    if args.strict and plan.problems:
        print(f"nothing imported: {len(plan.problems)} bad record(s) (--strict)", file=out)
        for problem in plan.problems:
            print(f"  {problem}", file=out)
        return EXIT_PROBLEMS
    enabled = args.progress if args.progress is not None else err.isatty()
    bar = ProgressBar("importing", stream=err, enabled=enabled)
    summary = await importer.apply_import(
        plan, editor_id=args.editor, at=datetime.now(UTC), progress=bar.update
    )
    for line in summary.lines():
        print(line, file=out)
    if getattr(args, "embeddings", False):
        return await _embed(enabled, out=out, err=err)
    return EXIT_OK


async def _embed(progress: bool, *, out: IO[str], err: IO[str]) -> int:
    """Compute the vectors of every article version that has none (the import's new versions)."""
    from bot.services.kb import embeddings, semantic

    try:
        encoder = await asyncio.to_thread(semantic.default_encoder)
    except semantic.SemanticUnavailableError as exc:
        print(f"no vectors computed: {exc}", file=err)
        return EXIT_USAGE
    todo = await embeddings.missing_versions(model=encoder.model_id)
    bar = ProgressBar("embedding", stream=err, enabled=progress)
    started = time.perf_counter()
    done = await embeddings.embed_versions(encoder, todo, progress=bar.update)
    print(
        f"vectors: {len(done)} article version(s) embedded in {time.perf_counter() - started:.1f} s "
        f"({encoder.model_id})",
        file=out,
    )
    return EXIT_OK


def _queries(stream: IO[bytes], err: IO[str]) -> Iterable[tuple[int, str]]:
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip(b"\r\n")
        if len(line) > MAX_QUERY_BYTES:
            print(f"line {number}: skipped: longer than {MAX_QUERY_BYTES} bytes", file=err)
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            print(f"line {number}: skipped: not valid UTF-8", file=err)
            continue
        if not text.strip():
            print(f"line {number}: skipped: empty", file=err)
            continue
        yield number, text


async def run_search(
    args: argparse.Namespace, stdin: IO[bytes], out: IO[str], *, err: IO[str] | None = None
) -> int:
    """`kb search`: one query per stdin line; per query the ranked import ids and scores."""
    err = err or sys.stderr
    store = kb.KbStore()
    await store.sync()
    if getattr(args, "semantic", False):
        from bot.services.kb import semantic

        try:
            await store.use_encoder(await asyncio.to_thread(semantic.default_encoder))
        except semantic.SemanticUnavailableError as exc:
            print(f"--semantic: {exc}", file=err)
            return EXIT_USAGE
        if store.embedding_pending:
            print(f"computing the vectors of {store.embedding_pending} article version(s) first", file=err)
            await store.wait_for_vectors()
    visibility = {"public"} if args.public else None
    for number, query in _queries(stdin, err):
        vector = None
        if store.encoder is not None:
            from bot.services.kb import semantic

            vector = semantic.query_vector(store.encoder, query)
        hits = store.rank(query, limit=args.limit, visibility=visibility, query_vector=vector)
        if args.json:
            record = {
                "line": number,
                "query": query,
                "hits": [
                    {
                        "id": store.external_id(h.id),
                        "score": round(h.score, 4),
                        "confidence": h.confidence,
                        "label": h.label,
                    }
                    for h in hits
                ],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            continue
        shown = " ".join(query.split())
        out.write(f"{number}: {shown[:77] + '...' if len(shown) > 80 else shown}\n")
        if not hits:
            out.write("  (no match)\n")
        for rank, hit in enumerate(hits, start=1):
            out.write(f"  {rank}. {store.external_id(hit.id)}\t{hit.score:.4f}\t{hit.label}\n")
    return EXIT_OK
