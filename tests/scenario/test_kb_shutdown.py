"""Stopping the bot while the KB index is still being built at start is quick and quiet: the warm-up is
cancelled (not waited for up to the scheduler's grace), its worker thread stops, nothing is logged as an
error and no task is left behind."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest

from bot import db
from bot.bench.kb import import_file
from bot.services.kb.evaluation import synthetic_articles
from tests.harness import start_harness, stop_harness


@pytest.mark.parametrize("pause", [0.0, 0.05])
async def test_stopping_right_after_start_logs_nothing_and_leaves_no_task(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, pause: float
) -> None:
    source = tmp_path / "articles.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for doc in synthetic_articles(3000):
            fh.write(json.dumps({"id": doc.id, "title": doc.title, "body": doc.body}) + "\n")
    await db.init_db(database_url)
    try:
        await import_file(source)
    finally:
        await db.close_db()
    caplog.set_level(logging.INFO)
    bot = await start_harness(database_url)
    await asyncio.sleep(pause)
    started = time.perf_counter()
    await stop_harness(bot)
    stopped = time.perf_counter() - started
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kb")]
    print(f"stop took {stopped:.2f} s")
    assert stopped < 1.5  # the scheduler no longer waits (up to 10 s) for the warm-up's build
