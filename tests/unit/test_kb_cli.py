"""`python -m bot kb import|search`: JSONL and Markdown imports, bad records with where they are, all or
nothing, re-imports, and the search output."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.services.kb import cli, importer
from models import KbArticle, KbArticleVersion

REPO = Path(__file__).resolve().parents[2]

GOOD = [
    {
        "id": "vpn-1",
        "title": "VPN drops every 10 minutes",
        "body": "Set the IKE lifetime to 8 hours.",
        "tags": ["vpn", "network"],
        "visibility": "public",
        "component": "network",
        "owner": "U0L3EMIL",
    },
    {
        "id": "prn-1",
        "title": "Printer shows offline",
        "problem": "Jobs stay queued",
        "solution": "Restart the print spooler service.",
    },
    {
        "id": 7,
        "title": "Passwort vergessen",
        "body": "Im Portal auf 'Passwort vergessen' klicken.",
        "language": "de",
    },
]


def jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8"
    )
    return path


def import_args(source: Path, **kw: object) -> argparse.Namespace:
    values = {
        "source": source,
        "visibility": "internal",
        "language": "en",
        "editor": "cli",
        "strict": False,
        "progress": False,
        **kw,
    }
    return argparse.Namespace(**values)


async def run_import(source: Path, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = await cli.run_import(import_args(source, **kw), out=out, err=io.StringIO())
    return code, out.getvalue()


async def test_jsonl_import_reports_bad_lines_with_numbers_and_imports_the_rest(
    database: None, tmp_path: Path
) -> None:
    source = jsonl(
        tmp_path / "kb.jsonl",
        [
            GOOD[0],
            "",
            "{not json",
            GOOD[1],
            {"id": "x", "body": "no title"},
            ["a", "list"],
            {"id": "vpn-1", "title": "Again", "body": "duplicate"},
            {"id": "v", "title": "Bad", "body": "x", "visibility": "secret"},
            GOOD[2],
        ],
    )
    code, out = await run_import(source)
    assert code == 0
    assert out.splitlines() == [
        "imported 3, updated 0, unchanged 0, skipped 5",
        "  skipped line 3: not valid JSON (Expecting property name enclosed in double quotes)",
        "  skipped line 5: title is missing",
        "  skipped line 6: not a JSON object",
        "  skipped line 7: duplicate id 'vpn-1' (first at line 1)",
        "  skipped line 8: visibility must be internal or public, not 'secret'",
    ]
    vpn = await KbArticle.get(external_id="vpn-1")
    assert (vpn.visibility, vpn.tags, vpn.component, vpn.owner_id, vpn.solution) == (
        "public",
        ["vpn", "network"],
        "network",
        "U0L3EMIL",
        "Set the IKE lifetime to 8 hours.",
    )
    printer = await KbArticle.get(external_id="prn-1")
    assert (printer.visibility, printer.problem) == ("internal", "Jobs stay queued")  # the default visibility
    assert (await KbArticle.get(external_id="7")).language == "de"


async def test_invalid_utf8_and_strict_mode_write_nothing(database: None, tmp_path: Path) -> None:
    source = tmp_path / "kb.jsonl"
    source.write_bytes(json.dumps(GOOD[0]).encode() + b"\n\xff\xfe{}\n")
    code, out = await run_import(source, strict=True)
    assert code == 1 and "nothing imported" in out and "line 2: not valid UTF-8" in out
    assert await KbArticle.all().count() == 0


async def test_an_interrupted_import_leaves_nothing_half_imported(database: None, tmp_path: Path) -> None:
    records = [
        {"id": f"a-{i}", "title": f"Article {i}", "body": f"Text {i}"} for i in range(importer.BATCH + 10)
    ]
    plan = importer.parse_source(jsonl(tmp_path / "big.jsonl", records))

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the first batch was written

    from datetime import UTC, datetime

    with pytest.raises(KeyboardInterrupt):
        await importer.apply_import(plan, editor_id="cli", at=datetime.now(UTC), progress=interrupt)
    assert await KbArticle.all().count() == 0 and await KbArticleVersion.all().count() == 0


async def test_reimport_updates_only_changed_articles_with_a_new_version(
    database: None, tmp_path: Path
) -> None:
    await run_import(jsonl(tmp_path / "a.jsonl", GOOD))
    changed = {**GOOD[1], "solution": "Restart the spooler, then clear the queue."}
    code, out = await run_import(jsonl(tmp_path / "b.jsonl", [GOOD[0], changed, GOOD[2]]))
    assert out.splitlines() == ["imported 0, updated 1, unchanged 2, skipped 0"]
    printer = await KbArticle.get(external_id="prn-1")
    versions = await KbArticleVersion.filter(article_id=printer.id).order_by("version")
    assert printer.version == 2 and [v.solution for v in versions] == [
        "Restart the print spooler service.",
        "Restart the spooler, then clear the queue.",
    ]
    assert await KbArticle.all().count() == 3


async def test_markdown_folder_import(database: None, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / "network").mkdir(parents=True)
    (folder / "network" / "vpn-drops.md").write_text(
        "---\nid: vpn-1\ntags: [vpn, ike]\nvisibility: public\n---\n# VPN drops every 10 minutes\n\n"
        "## Problem\nThe tunnel drops.\n\n## Solution\nSet the IKE lifetime to 8 hours.\n",
        encoding="utf-8",
    )
    (folder / "printer.md").write_text("# Printer shows offline\n\nRestart the spooler.\n", encoding="utf-8")
    (folder / "untitled_note.md").write_text("Just a body without a heading.\n", encoding="utf-8")
    (folder / "broken.md").write_text("---\nid: b\nthis line is not a key\n---\nbody\n", encoding="utf-8")
    (folder / "unclosed.md").write_text("---\nid: u\n", encoding="utf-8")
    code, out = await run_import(folder)
    assert out.splitlines() == [
        "imported 3, updated 0, unchanged 0, skipped 2",
        "  skipped broken.md: line 3: front matter lines look like 'key: value'",
        "  skipped unclosed.md: the front matter is not closed with '---'",
    ]
    vpn = await KbArticle.get(external_id="vpn-1")
    assert (vpn.title, vpn.problem, vpn.solution, vpn.tags, vpn.visibility) == (
        "VPN drops every 10 minutes",
        "The tunnel drops.",
        "Set the IKE lifetime to 8 hours.",
        ["vpn", "ike"],
        "public",
    )
    printer = await KbArticle.get(external_id="printer")
    assert (printer.title, printer.solution) == ("Printer shows offline", "Restart the spooler.")
    assert (await KbArticle.get(external_id="untitled_note")).title == "untitled note"


async def test_search_prints_ranked_import_ids_and_scores_and_reports_bad_lines(
    database: None, tmp_path: Path
) -> None:
    await run_import(jsonl(tmp_path / "a.jsonl", GOOD))
    stdin = io.BytesIO(b"my vpn keeps dropping\n\n\xff\xfe\nprinter offline\nzzzz qqqq\n")
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(limit=2, json=False, public=False)
    assert await cli.run_search(args, stdin, out, err=err) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "1: my vpn keeps dropping"
    rank, rest = lines[1].split(". ", 1)
    ident, score, label = rest.split("\t")
    assert (rank, ident, label) == ("  1", "vpn-1", "high") and float(score) > 0
    assert lines[lines.index("4: printer offline") + 1].startswith("  1. prn-1\t")
    assert lines[-2:] == ["5: zzzz qqqq", "  (no match)"]
    assert err.getvalue().splitlines() == ["line 2: skipped: empty", "line 3: skipped: not valid UTF-8"]
    # --json: one object per query; --public leaves out internal articles.
    out = io.StringIO()
    args = argparse.Namespace(limit=3, json=True, public=True)
    await cli.run_search(args, io.BytesIO(b"printer offline\nvpn drops\n"), out, err=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["line"] for r in records] == [1, 2]
    assert records[0]["hits"] == []  # prn-1 is internal
    assert records[1]["hits"][0]["id"] == "vpn-1" and set(records[1]["hits"][0]) == {
        "id",
        "score",
        "confidence",
        "label",
    }


def test_the_real_command_line(tmp_path: Path) -> None:
    source = jsonl(tmp_path / "kb.jsonl", [*GOOD, "oops"])
    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "LOG_LEVEL": "WARNING"}
    env.pop("SLACK_BOT_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "import", str(source)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "imported 3, updated 0, unchanged 0, skipped 1"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "search", "--limit", "1"],
        cwd=REPO,
        env=env,
        input="vpn drops\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.splitlines()[1].startswith("  1. vpn-1\t"), done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "import", str(tmp_path / "nope.jsonl")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
