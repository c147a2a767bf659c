"""Logging: readable text or one JSON object per line, never with tokens or secrets in it."""

from __future__ import annotations

import json
import logging
import random
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

_SECRET = re.compile(r"(xox[abprs]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_EXTRA_KEYS = ("ticket", "event_id", "request_id", "ref")

# The inbound request (and Slack event) being handled; set by bot/server.py around each dispatch. Tasks
# started while handling it (Bolt runs listeners in tasks) inherit them, so their records carry them too.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
EVENT_ID: ContextVar[str | None] = ContextVar("event_id", default=None)


def new_request_id() -> str:
    """A short random id for one inbound request (it tells log lines apart, it guards nothing: no need for
    the `secrets` module's system call on every request)."""
    return f"{random.getrandbits(64):016x}"


class RequestContextFilter(logging.Filter):
    """Adds the current request id (and Slack event id) to every record that has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops it."""
        for key, var in (("request_id", REQUEST_ID), ("event_id", EVENT_ID)):
            value = var.get()
            if value and not hasattr(record, key):
                setattr(record, key, value)
        return True


def redact(text: str) -> str:
    """Hide Slack tokens in a string."""
    return _SECRET.sub(lambda m: m.group(1)[:5] + "…redacted", text)


class RedactingFormatter(logging.Formatter):
    """Plain text lines with tokens redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Format and redact (with the request id at the end, when there is one)."""
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return redact(f"{line} [request {request_id}]" if request_id else line)


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
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "tortoise", "aiosqlite", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
