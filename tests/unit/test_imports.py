"""Each workflow module imports on its own, in a fresh interpreter (a module-level import cycle, like cards
-> SLA flows -> cards, fails only for the module that happens to be imported first)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

FLOWS = sorted(p.stem for p in (REPO / "bot" / "flows").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", FLOWS)
def test_flow_module_imports_first(module: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", f"import bot.flows.{module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-1500:]
