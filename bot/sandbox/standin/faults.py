"""Fault injection for the Slack stand-in (429, 5xx, stalls, Slack error codes) and call records."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["ratelimited", "http_error", "stall", "error"]
ANY_METHOD = "*"


@dataclass
class Fault:
    """One fault rule: applies to a method (or '*') for the next K calls and/or with a probability."""

    kind: FaultKind
    method: str = ANY_METHOD
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0
    error: str | None = None
    remaining: int | None = 1
    probability: float = 1.0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        """True when a 'next K calls' rule has been used up."""
        return self.remaining is not None and self.remaining <= 0

    def matches(self, method: str) -> bool:
        """True when the rule applies to this API method."""
        return not self.exhausted and self.method in (ANY_METHOD, method)


@dataclass
class CallRecord:
    """One request the stand-in received, with its parsed arguments and outcome."""

    method: str
    args: dict[str, Any]
    time: float
    http_verb: str
    wire: str
    outcome: str = "ok"
    status: int = 200
    fault: FaultKind | None = None
    response: dict[str, Any] | None = None
    duration: float = 0.0
    token_source: str | None = None

    @property
    def ok(self) -> bool:
        """True when Slack would have answered ok: true."""
        return self.outcome == "ok"


@dataclass
class FaultInjector:
    """Holds fault rules; `next_fault(method)` decides (reproducibly, seeded) what a call suffers."""

    seed: int = 0
    rules: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the random sequence used by probability rules."""
        self.seed = seed
        self.random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        """Register a fault rule (evaluated in registration order) and return it."""
        self.rules.append(fault)
        return fault

    def rate_limit(
        self,
        method: str = ANY_METHOD,
        *,
        retry_after: int = 1,
        times: int | None = None,
        probability: float | None = None,
    ) -> Fault:
        """Answer HTTP 429 + Retry-After + {"ok": false, "error": "ratelimited"}."""
        return self.add(Fault("ratelimited", method, retry_after=retry_after, **_budget(times, probability)))

    def server_error(
        self,
        method: str = ANY_METHOD,
        *,
        status: int = 500,
        times: int | None = None,
        probability: float | None = None,
    ) -> Fault:
        """Answer an HTTP 5xx (500 or 503) with an HTML body, like an upstream failure."""
        return self.add(Fault("http_error", method, status=status, **_budget(times, probability)))

    def stall(
        self,
        method: str = ANY_METHOD,
        *,
        seconds: float,
        times: int | None = None,
        probability: float | None = None,
    ) -> Fault:
        """Wait `seconds` before answering normally ("slow Slack")."""
        return self.add(Fault("stall", method, seconds=seconds, **_budget(times, probability)))

    def error(
        self,
        method: str,
        error: str,
        *,
        times: int | None = None,
        probability: float | None = None,
    ) -> Fault:
        """Answer HTTP 200 with {"ok": false, "error": error} without touching the workspace."""
        return self.add(Fault("error", method, error=error, **_budget(times, probability)))

    def clear(self, method: str | None = None) -> None:
        """Remove all rules, or those registered for one method."""
        self.rules = [r for r in self.rules if method is not None and r.method != method]

    def next_fault(self, method: str) -> Fault | None:
        """Pick the fault for this call (first matching rule that fires) and consume it."""
        for rule in self.rules:
            if not rule.matches(method):
                continue
            if rule.probability < 1.0 and self.random.random() >= rule.probability:
                continue
            rule.fired += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            return rule
        return None


def _budget(times: int | None, probability: float | None) -> dict[str, Any]:
    """'next K calls' (default 1) unless a probability is given (then unlimited unless times is set)."""
    if probability is None:
        return {"remaining": 1 if times is None else times, "probability": 1.0}
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be within [0, 1]")
    return {"remaining": times, "probability": probability}
