"""Which promises apply to a ticket: plan × priority → calendar, targets, internal targets and alerts.

Pure: reads the validated support configuration only (no database, no clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.sla.calendar import BusinessCalendar
from config.sla import ALWAYS_OPEN, AlertPolicy
from config.support import SupportConfig
from models.sla import SlaKind

CUSTOMER_KINDS: tuple[SlaKind, ...] = (SlaKind.FIRST_RESPONSE, SlaKind.NEXT_RESPONSE, SlaKind.RESOLUTION)
OLA_KINDS: dict[str, SlaKind] = {"L2": SlaKind.OLA_L2, "L3": SlaKind.OLA_L3}
KIND_LABELS: dict[str, str] = {
    SlaKind.FIRST_RESPONSE: "First response",
    SlaKind.NEXT_RESPONSE: "Next response",
    SlaKind.RESOLUTION: "Resolution",
    SlaKind.OLA_L2: "L2 pick-up",
    SlaKind.OLA_L3: "L3 pick-up",
    SlaKind.IDLE: "Activity",
}


@dataclass(frozen=True)
class TicketPolicy:
    """The promises for one plan and priority, with the calendars they are counted on."""

    plan: str
    priority: str
    calendar: str
    targets: dict[SlaKind, timedelta]
    ola_calendar: str
    ola: dict[str, timedelta]
    idle: timedelta | None
    alerts: AlertPolicy

    def target(self, kind: SlaKind) -> timedelta | None:
        """The target of a timer kind (None: nothing promised)."""
        if kind in self.targets:
            return self.targets[kind]
        if kind == SlaKind.OLA_L2:
            return self.ola.get("L2")
        if kind == SlaKind.OLA_L3:
            return self.ola.get("L3")
        if kind == SlaKind.IDLE:
            return self.idle
        return None

    def calendar_of(self, kind: SlaKind) -> str:
        """The calendar a timer kind counts on."""
        return self.ola_calendar if kind in (SlaKind.OLA_L2, SlaKind.OLA_L3) else self.calendar

    def thresholds_of(self, kind: SlaKind) -> tuple[int, ...]:
        """Warning thresholds of a timer kind (activity nudges have none)."""
        return () if kind == SlaKind.IDLE else self.alerts.thresholds


def policy_for(*, config: SupportConfig, plan: str | None, priority: str) -> TicketPolicy | None:
    """The policy for a customer plan (else the default plan) and priority; None when no SLA applies."""
    sla = config.sla
    found = sla.plan(plan, default=config.defaults.plan)
    if found is None:
        return None
    name, chosen = found
    ola_calendar = sla.ola_calendar(chosen)
    ola = {
        level: target
        for level in ("L2", "L3")
        if (target := sla.ola_target(level, priority, calendar=ola_calendar)) is not None
    }
    return TicketPolicy(
        plan=name,
        priority=priority,
        calendar=chosen.calendar,
        targets={SlaKind(k): v for k, v in sla.targets(chosen, priority).items()},
        ola_calendar=ola_calendar,
        ola=ola,
        idle=sla.stale_delta(calendar=chosen.calendar),
        alerts=sla.alerts.for_priority(priority),
    )


def calendar_named(*, config: SupportConfig, name: str) -> BusinessCalendar:
    """A configured calendar; a timer whose calendar was removed from the config counts 24x7."""
    try:
        return config.sla.calendar(name)
    except KeyError:
        return config.sla.calendar(ALWAYS_OPEN)


def warm_calendars(*, config: SupportConfig, at: datetime) -> None:
    """Build every calendar's business-time table for the year of `at` now, not in the first tick."""
    for name in {*config.sla.calendars, ALWAYS_OPEN}:
        config.sla.calendar(name).add(at, timedelta(minutes=1))
