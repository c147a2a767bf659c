"""The sandbox always runs on its own SQLite database, so its tests belong to the SQLite suite.

Under TEST_DATABASE_URL (the PostgreSQL suite) they are skipped: tortoise caches each model's SQL for the
first dialect it meets in a process, so an in-process SQLite sandbox would break the PostgreSQL tests after it.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("TEST_DATABASE_URL"):
    pytestmark = pytest.mark.skip(
        reason="the sandbox runs on SQLite; it is tested in the SQLite suite (make test)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests in the PostgreSQL suite (see the module docstring)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="the sandbox runs on SQLite; it is tested in the SQLite suite (make test)")
    for item in items:
        if "tests/sandbox/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)
