"""The `[sla]` section of the support configuration: calendars, plans, internal targets and alerts.

Field validators catch malformed values with their key (`sla.plans.gold.P1.resolution: duration '-4h' is
negative ...`); the checks that need the rest of the configuration (a plan naming a calendar, days on a
business-hours calendar, customers' plans) are in `SlaSettings.problems`, which the support config runs.
Semantics: docs/sla.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from bot.services.sla.calendar import WEEKDAYS, BusinessCalendar, CalendarConfig
from bot.services.sla.durations import parse_duration

if TYPE_CHECKING:
    from config.support import SupportConfig

# Same literals as config.support (which imports this module, so they cannot come from there).
SlaPriority = Literal["P1", "P2", "P3", "P4"]
SlaLevel = Literal["L1", "L2", "L3"]
TargetName = Literal["first_response", "next_response", "resolution"]
WarningAction = Literal["channel", "assignee", "group", "leads"]
BreachAction = Literal["channel", "assignee", "group", "leads", "escalate"]

TARGET_NAMES: tuple[TargetName, ...] = ("first_response", "next_response", "resolution")
ALWAYS_OPEN = "24x7"
"""Calendar name that is always available: open around the clock, no holidays (UTC)."""
DEFAULT_THRESHOLDS = (50, 75, 90)
DEFAULT_WARNING: tuple[WarningAction, ...] = ("channel", "assignee")
DEFAULT_BREACH: tuple[BreachAction, ...] = ("channel", "assignee", "group")

_PING_ID = re.compile(r"^(U|W|S)[A-Z0-9]{2,}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration_text(value: str | None) -> str | None:
    """Check the shape of a duration (days are checked against the calendar later)."""
    if value is not None:
        parse_duration(value)
    return value


class PriorityTargets(_Strict):
    """The promises of one plan for one priority; a target left out is not promised."""

    first_response: str | None = None
    next_response: str | None = None
    resolution: str | None = None

    _check = field_validator(*TARGET_NAMES)(classmethod(lambda cls, v: _duration_text(v)))


class Plan(_Strict):
    """A customer plan (gold, silver ...): its calendar and its targets per priority."""

    calendar: str = ALWAYS_OPEN
    P1: PriorityTargets | None = None
    P2: PriorityTargets | None = None
    P3: PriorityTargets | None = None
    P4: PriorityTargets | None = None

    def for_priority(self, priority: str) -> PriorityTargets | None:
        """The targets for a priority (None: nothing promised)."""
        return getattr(self, priority, None) if priority in ("P1", "P2", "P3", "P4") else None


class Ola(_Strict):
    """Internal targets: from the escalation to a level until someone at that level claims the ticket."""

    calendar: str | None = None
    L2: dict[SlaPriority, str] = Field(default_factory=dict)
    L3: dict[SlaPriority, str] = Field(default_factory=dict)

    _check = field_validator("L2", "L3")(
        classmethod(lambda cls, v: {k: _duration_text(d) for k, d in v.items()})
    )


def _thresholds(value: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if value is None:
        return value
    if len(value) > 6:
        raise ValueError("at most 6 warning thresholds")
    if any(not 1 <= p <= 99 for p in value):
        raise ValueError("thresholds are percentages from 1 to 99 (the breach itself is 100)")
    if list(value) != sorted(set(value)):
        raise ValueError("thresholds must be increasing, each at most once, e.g. [50, 75, 90]")
    return value


class AlertRule(_Strict):
    """Warning thresholds and what happens at a warning and at a breach (unset: the defaults)."""

    thresholds: tuple[int, ...] | None = None
    warning: tuple[WarningAction, ...] | None = None
    breach: tuple[BreachAction, ...] | None = None

    _check = field_validator("thresholds")(classmethod(lambda cls, v: _thresholds(v)))


@dataclass(frozen=True)
class AlertPolicy:
    """The alert rule in force for one priority."""

    thresholds: tuple[int, ...]
    warning: tuple[WarningAction, ...]
    breach: tuple[BreachAction, ...]


class Alerts(AlertRule):
    """Defaults for every priority, with optional overrides per priority ([sla.alerts.P1] ...)."""

    P1: AlertRule | None = None
    P2: AlertRule | None = None
    P3: AlertRule | None = None
    P4: AlertRule | None = None

    def for_priority(self, priority: str) -> AlertPolicy:
        """Thresholds and actions for a priority."""
        override: AlertRule | None = (
            getattr(self, priority, None) if priority in ("P1", "P2", "P3", "P4") else None
        )

        def pick(name: str, default: Any) -> Any:
            for rule in (override, self):
                value = getattr(rule, name, None) if rule is not None else None
                if value is not None:
                    return value
            return default

        return AlertPolicy(
            thresholds=pick("thresholds", DEFAULT_THRESHOLDS),
            warning=pick("warning", DEFAULT_WARNING),
            breach=pick("breach", DEFAULT_BREACH),
        )


class Overview(_Strict):
    """The daily 'at risk' overview posted to each level channel."""

    at: str = "08:30"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    horizon: str = "4h"

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if value and not _HHMM.match(value):
            raise ValueError(
                f"'{value}' is not a time of day like '08:30' (or \"\" to turn the overview off)"
            )
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in value if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday '{unknown[0]}'; use mon, tue, wed, thu, fri, sat or sun")
        return value

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def horizon_delta(self) -> timedelta:
        """The horizon as a (wall-clock) timedelta."""
        return parse_duration(self.horizon)


def _pings(values: list[str]) -> list[str]:
    for value in values:
        if not _PING_ID.match(value):
            raise ValueError(f"'{value}' is neither a user id (U…/W…) nor a user group id (S…)")
    return values


class SlaSettings(_Strict):
    """The whole `[sla]` section. Without plans the SLA engine is off."""

    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    plans: dict[str, Plan] = Field(default_factory=dict)
    ola: Ola = Field(default_factory=Ola)
    alerts: Alerts = Field(default_factory=Alerts)
    leads: dict[SlaLevel, list[str]] = Field(default_factory=dict)
    stale_after: str | None = None
    overview: Overview = Field(default_factory=Overview)

    _built: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)

    @field_validator("calendars")
    @classmethod
    def _names(cls, value: dict[str, CalendarConfig]) -> dict[str, CalendarConfig]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", name):
                raise ValueError(
                    f"calendar name '{name}' may use letters, digits, '_', '-' and '.' (at most 40)"
                )
        return value

    @field_validator("leads")
    @classmethod
    def _leads(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for ids in value.values():
            _pings(ids)
        return value

    @field_validator("stale_after")
    @classmethod
    def _stale(cls, value: str | None) -> str | None:
        return _duration_text(value)

    @model_validator(mode="after")
    def _plan_names(self) -> SlaSettings:
        for name in self.plans:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", name):
                raise ValueError(
                    f"plans: plan name '{name}' may use letters, digits, '_', '-' and '.' (at most 40)"
                )
        return self

    @property
    def enabled(self) -> bool:
        """True when at least one plan is configured."""
        return bool(self.plans)

    # -- lookups -----------------------------------------------------------------------------

    def has_calendar(self, name: str) -> bool:
        """True for configured calendars and the built-in '24x7'."""
        return name in self.calendars or name == ALWAYS_OPEN

    def calendar(self, name: str) -> BusinessCalendar:
        """The business calendar of that name, built once and shared (KeyError when unknown)."""
        built = self._built.get(name)
        if built is None:
            if name in self.calendars:
                built = BusinessCalendar(self.calendars[name])
            elif name == ALWAYS_OPEN:
                built = BusinessCalendar.always_open()
            else:
                raise KeyError(name)
            self._built[name] = built
        return built

    def is_24x7(self, name: str) -> bool:
        """True when the calendar counts around the clock (days in durations are unambiguous)."""
        return (
            name == ALWAYS_OPEN
            and name not in self.calendars
            or (name in self.calendars and self.calendars[name].hours.is_24x7)
        )

    def plan(self, name: str | None, *, default: str) -> tuple[str, Plan] | None:
        """The plan of that name, else the default plan, else None (no SLA)."""
        for candidate in (name, default):
            if candidate and candidate in self.plans:
                return candidate, self.plans[candidate]
        return None

    def targets(self, plan: Plan, priority: str) -> dict[str, timedelta]:
        """Target durations by name (first_response, next_response, resolution) for a priority."""
        promised = plan.for_priority(priority)
        if promised is None:
            return {}
        days = self.is_24x7(plan.calendar)
        return {
            name: parse_duration(text, allow_days=days)
            for name in TARGET_NAMES
            if (text := getattr(promised, name)) is not None
        }

    def ola_calendar(self, plan: Plan) -> str:
        """The calendar internal targets count on: [sla.ola] calendar, else the plan's."""
        return self.ola.calendar or plan.calendar

    def ola_target(self, level: str, priority: str, *, calendar: str) -> timedelta | None:
        """The pick-up target for a level and priority (None: no internal target)."""
        table: dict[str, str] = getattr(self.ola, level) if level in ("L2", "L3") else {}
        text = table.get(priority)
        return parse_duration(text, allow_days=self.is_24x7(calendar)) if text else None

    def stale_delta(self, *, calendar: str) -> timedelta | None:
        """Business time without activity after which a ticket gets a nudge (None: never)."""
        if not self.stale_after:
            return None
        return parse_duration(self.stale_after, allow_days=self.is_24x7(calendar))

    # -- cross-checks ------------------------------------------------------------------------

    def problems(self, config: SupportConfig) -> list[str]:
        """Everything that needs the rest of the configuration to check, as 'dotted.key: problem'."""
        out: list[str] = []
        known = sorted({*self.calendars, ALWAYS_OPEN})
        for name, plan in self.plans.items():
            key = f"sla.plans.{name}"
            if not self.has_calendar(plan.calendar):
                out.append(f"{key}.calendar: unknown calendar '{plan.calendar}'; defined: {', '.join(known)}")
                continue
            for priority in ("P1", "P2", "P3", "P4"):
                promised = plan.for_priority(priority)
                for target in TARGET_NAMES:
                    text = getattr(promised, target) if promised else None
                    out += self._days_problem(f"{key}.{priority}.{target}", text, plan.calendar)
        ola_calendars = (
            [self.ola.calendar] if self.ola.calendar else [p.calendar for p in self.plans.values()]
        )
        if self.ola.calendar and not self.has_calendar(self.ola.calendar):
            out.append(
                f"sla.ola.calendar: unknown calendar '{self.ola.calendar}'; defined: {', '.join(known)}"
            )
        else:
            for level in ("L2", "L3"):
                for priority, text in getattr(self.ola, level).items():
                    for calendar in ola_calendars:
                        out += self._days_problem(f"sla.ola.{level}.{priority}", text, calendar)
        for calendar in {p.calendar for p in self.plans.values()} & set(known):
            out += self._days_problem("sla.stale_after", self.stale_after, calendar)
        if self.plans:
            defined = ", ".join(sorted(self.plans))
            for index, customer in enumerate(config.customers):
                if customer.plan not in self.plans:
                    out.append(
                        f"customers[{index}].plan: no SLA plan '{customer.plan}'; add [sla.plans.{customer.plan}] "
                        f"or use one of: {defined}"
                    )
            if config.defaults.plan not in self.plans:
                out.append(
                    f"defaults.plan: no SLA plan '{config.defaults.plan}'; add [sla.plans.{config.defaults.plan}] "
                    f"or use one of: {defined}"
                )
        return list(dict.fromkeys(out))

    def _days_problem(self, key: str, text: str | None, calendar: str) -> list[str]:
        if text is None or self.is_24x7(calendar):
            return []
        try:
            parse_duration(text, allow_days=False)
        except ValueError as exc:
            return [f"{key}: {exc} (calendar '{calendar}' is not 24x7)"]
        return []
