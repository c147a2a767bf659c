"""Logging: readable text or one JSON object per line, never with tokens or secrets in it."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRET = re.compile(r"(xox[abprs]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_EXTRA_KEYS = ("ticket", "event_id", "request_id", "ref")


def redact(text: str) -> str:
    """Hide Slack tokens in a string."""
    return _SECRET.sub(lambda m: m.group(1)[:5] + "…redacted", text)


class RedactingFormatter(logging.Formatter):
    """Plain text lines with tokens redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Format and redact."""
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and ticket/event/request ids."""

    def format(self, record: logging.LogRecord) -> str:
        """Format as JSON and redact."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRA_KEYS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "tortoise", "aiosqlite", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
