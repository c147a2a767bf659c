"""Time source. Everything asks a Clock, so tests and benchmarks can control time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Real UTC time."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to (tests, benchmarks)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The frozen time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to a given time."""
        self._now = when.astimezone(UTC)
