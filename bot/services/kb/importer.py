"""Importing KB articles: JSONL files or folders of Markdown files, validated first, written in one go.

Every record is parsed and validated before anything is written; the valid ones are then written in one
transaction (all or nothing). A record whose `id` is already in the database updates that article with a
new version only when its content changed. Problems are reported with where they are (line numbers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tortoise.transactions import in_transaction

from bot.services.kb.store import ArticleInput, clean_article, next_revision, same_content, version_row
from models import KbArticle, KbArticleVersion, KbVisibility

MAX_LINE_BYTES = 1_000_000
BATCH = 500
_FRONT_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(.*)$")
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_SECTION = re.compile(r"^##\s+(problem|symptoms?|issue|solution|resolution|fix|answer)\s*#*\s*$", re.I)
_PROBLEM_WORDS = {"problem", "symptom", "symptoms", "issue"}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportRecord:
    """One valid article to import and where it came from (e.g. 'line 12', 'vpn.md')."""

    where: str
    data: ArticleInput


@dataclass(frozen=True)
class ImportProblem:
    """A record that is skipped, with the reason."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportPlan:
    """The parsed input: records to write and problems found."""

    records: list[ImportRecord] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


@dataclass
class ImportSummary:
    """What an import did."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[ImportProblem] = field(default_factory=list)
    article_ids: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human-readable summary, one line each, then the skipped records."""
        out = [
            f"imported {self.imported}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {len(self.skipped)}"
        ]
        out += [f"  skipped {problem}" for problem in self.skipped]
        return out


def _record(raw: dict[str, object], *, default_visibility: str, default_language: str) -> ArticleInput:
    if "id" not in raw or raw.get("id") in (None, ""):
        raise ValueError("id is missing")
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError("body must be text")
    solution = raw.get("solution")
    if solution in (None, ""):
        solution = body
    return clean_article(
        title=raw.get("title"),
        problem=raw.get("problem") or "",
        solution=solution or "",
        tags=raw.get("tags") or (),
        component=raw.get("component"),
        visibility=raw.get("visibility") or default_visibility,
        language=raw.get("language") or default_language,
        owner_id=raw.get("owner"),
        external_id=raw.get("id"),
    )


def parse_jsonl(
    lines: Iterable[bytes | str],
    *,
    default_visibility: str = KbVisibility.INTERNAL,
    default_language: str = "en",
) -> ImportPlan:
    """Parse JSONL (one article object per line); blank lines are ignored, bad ones reported."""
    plan = ImportPlan()
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        if isinstance(line, bytes):
            if len(line) > MAX_LINE_BYTES:
                plan.problems.append(ImportProblem(where, f"longer than {MAX_LINE_BYTES} bytes"))
                continue
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                plan.problems.append(ImportProblem(where, "not valid UTF-8"))
                continue
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            plan.problems.append(ImportProblem(where, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(raw, dict):
            plan.problems.append(ImportProblem(where, "not a JSON object"))
            continue
        _add(plan, seen, where, number, raw, default_visibility, default_language)
    return plan


def _add(
    plan: ImportPlan,
    seen: dict[str, int],
    where: str,
    index: int,
    raw: dict[str, object],
    default_visibility: str,
    default_language: str,
) -> None:
    try:
        data = _record(raw, default_visibility=default_visibility, default_language=default_language)
    except ValueError as exc:
        plan.problems.append(ImportProblem(where, str(exc)))
        return
    assert data.external_id is not None
    if data.external_id in seen:
        first = plan.records[seen[data.external_id]].where
        plan.problems.append(ImportProblem(where, f"duplicate id {data.external_id!r} (first at {first})"))
        return
    seen[data.external_id] = len(plan.records)
    plan.records.append(ImportRecord(where, data))


def parse_front_matter(text: str) -> tuple[dict[str, object], str, int]:
    """Split `---` front matter (flat `key: value`, lists as `[a, b]`) from Markdown; (meta, body, body line)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 1
    meta: dict[str, object] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() in ("---", "..."):
            return meta, "\n".join(lines[number:]), number + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FRONT_KEY.match(line)
        if not match:
            raise ValueError(f"line {number}: front matter lines look like 'key: value'")
        key, value = match.group(1).lower(), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value.startswith("[") and value.endswith("]"):
            meta[key] = [v.strip().strip("\"'") for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key] = value
    raise ValueError("the front matter is not closed with '---'")


def markdown_article(text: str, *, fallback_id: str) -> dict[str, object]:
    """An article record from a Markdown file: front matter, '# Title', optional '## Problem'/'## Solution'."""
    meta, body, _ = parse_front_matter(text)
    raw: dict[str, object] = {"id": fallback_id, **meta}
    lines = body.strip("\n").split("\n")
    if "title" not in raw:
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            match = _H1.match(line)
            if match:
                raw["title"] = match.group(1)
                lines = lines[i + 1 :]
            break
    sections: dict[str, list[str]] = {"problem": [], "solution": []}
    preamble: list[str] = []
    current: list[str] | None = None
    for line in lines:
        heading = _SECTION.match(line)
        if heading:
            word = heading.group(1).lower()
            current = sections["problem" if word in _PROBLEM_WORDS else "solution"]
            continue
        (current if current is not None else preamble).append(line)
    if sections["problem"] or sections["solution"]:
        problem = "\n".join(preamble + sections["problem"]).strip()
        raw.setdefault("problem", problem)
        raw.setdefault("solution", "\n".join(sections["solution"]).strip())
    else:
        raw.setdefault("body", "\n".join(preamble).strip())
    return raw


def parse_markdown_dir(
    folder: Path,
    *,
    default_visibility: str = KbVisibility.INTERNAL,
    default_language: str = "en",
) -> ImportPlan:
    """Parse every *.md file under a folder (sorted by path); the id defaults to the relative path."""
    plan = ImportPlan()
    seen: dict[str, int] = {}
    files = sorted(p for p in folder.rglob("*.md") if p.is_file())
    for number, path in enumerate(files, start=1):
        relative = path.relative_to(folder).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            plan.problems.append(ImportProblem(relative, "not valid UTF-8"))
            continue
        try:
            raw = markdown_article(text.replace("\r\n", "\n"), fallback_id=relative.removesuffix(".md"))
        except ValueError as exc:
            plan.problems.append(ImportProblem(relative, str(exc)))
            continue
        if "title" not in raw:
            raw["title"] = path.stem.replace("-", " ").replace("_", " ")
        _add(plan, seen, relative, number, raw, default_visibility, default_language)
    return plan


def parse_source(
    path: Path, *, default_visibility: str = KbVisibility.INTERNAL, default_language: str = "en"
) -> ImportPlan:
    """A JSONL file or a folder of Markdown files."""
    if path.is_dir():
        return parse_markdown_dir(
            path, default_visibility=default_visibility, default_language=default_language
        )
    with path.open("rb") as fh:
        return parse_jsonl(
            _lines(fh), default_visibility=default_visibility, default_language=default_language
        )


def _lines(fh: Iterable[bytes]) -> Iterator[bytes]:
    for line in fh:
        yield line.rstrip(b"\r\n")


async def apply_import(
    plan: ImportPlan, *, editor_id: str, at: datetime, progress: Progress | None = None
) -> ImportSummary:
    """Write the plan's records in one transaction: new ids create articles, changed ones get a new version."""
    summary = ImportSummary(skipped=list(plan.problems))
    total = len(plan.records)
    done = 0
    async with in_transaction():
        revision = await next_revision()
        for start in range(0, total, BATCH):
            chunk = plan.records[start : start + BATCH]
            ids = [r.data.external_id for r in chunk]
            existing = {a.external_id: a for a in await KbArticle.filter(external_id__in=ids)}
            new: list[KbArticle] = []
            for record in chunk:
                data = record.data
                article = existing.get(data.external_id)
                if article is None:
                    new.append(
                        KbArticle(
                            external_id=data.external_id,
                            created_at=at,
                            updated_at=at,
                            reviewed_at=at,
                            version=1,
                            revision=revision,
                            **data.values(),
                        )
                    )
                elif same_content(article, data):
                    summary.unchanged += 1
                    summary.article_ids[str(data.external_id)] = article.id
                else:
                    for name, value in data.values().items():
                        setattr(article, name, value)
                    article.version += 1
                    article.updated_at = at
                    article.revision = revision
                    await article.save()
                    await version_row(article, editor_id=editor_id, at=at, reason="imported").save()
                    summary.updated += 1
                    summary.article_ids[str(data.external_id)] = article.id
            if new:
                await KbArticle.bulk_create(new, batch_size=BATCH)
                created = await KbArticle.filter(external_id__in=[a.external_id for a in new])
                await KbArticleVersion.bulk_create(
                    [version_row(a, editor_id=editor_id, at=at, reason="imported") for a in created],
                    batch_size=BATCH,
                )
                for article in created:
                    summary.article_ids[str(article.external_id)] = article.id
                summary.imported += len(new)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return summary
