"""`python -m bot.bench sla` through the benchmark dispatcher: a tiny run on SQLite records every due
reminder once (the full-size runs are in docs/sla.md; this only checks the command and its counting)."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.bench.__main__ import BENCHMARKS, usage
from tests.conftest import REPO


def test_sla_is_a_registered_benchmark() -> None:
    assert BENCHMARKS["sla"][0] == "bot.bench.sla"
    assert "sla" in usage()


def test_a_tiny_sla_run_through_the_dispatcher_loses_and_doubles_nothing() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.bench",
            "sla",
            "--tickets",
            "60",
            "--due",
            "25",
            "--lead",
            "1.5",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout[run.stdout.index("{") :])
    assert (figures["database"], figures["tickets"], figures["due"]) == ("sqlite", 60, 25)
    assert (figures["fired"], figures["recorded_notices"], figures["lost"], figures["doubled"]) == (
        25,
        25,
        0,
        0,
    )
