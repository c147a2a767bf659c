"""SLA timers of tickets, and once-per-period runs of scheduled jobs (see docs/sla.md)."""

# Model docstrings become table comments: no semicolons (tortoise splits SQLite DDL on ";").

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.tickets import Ticket


class SlaKind(StrEnum):
    """What a timer measures."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"
    OLA_L2 = "ola_L2"
    OLA_L3 = "ola_L3"
    IDLE = "idle"


class SlaState(StrEnum):
    """Where a timer is: counting, paused (waiting on customer), met, or stopped without being met."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    STOPPED = "stopped"


class SlaTimer(Model):
    """One SLA (or internal) timer of a ticket, counted in business time of the named calendar."""

    # Business time used at t: elapsed_us (finished runs) + between(run_started_at, t) while running.
    # next_fire_at (indexed) is when the next warning threshold or the breach falls due: the scheduler's
    # tick is one range query on it. A row is claimed and advanced in one transaction, so a restart or a
    # second bot process never sends a reminder twice.

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="sla_timers", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(SlaKind, max_length=20)
    state = fields.CharEnumField(SlaState, max_length=10, default=SlaState.RUNNING)
    # Counts restarts of the same kind: next response after each customer reply, OLA per escalation.
    cycle = fields.IntField(default=1)
    # Level of an internal (OLA) timer.
    level = fields.CharField(max_length=2, null=True)
    plan = fields.CharField(max_length=40)
    priority = fields.CharField(max_length=2)
    calendar = fields.CharField(max_length=40)
    target_us = fields.BigIntField()
    thresholds = fields.JSONField(default=list)
    elapsed_us = fields.BigIntField(default=0)
    started_at = fields.DatetimeField()
    run_started_at = fields.DatetimeField(null=True)
    paused_at = fields.DatetimeField(null=True)
    pause_reason = fields.CharField(max_length=40, null=True)
    due_at = fields.DatetimeField(null=True)
    # Index into thresholds of the next warning. len(thresholds) means the breach is next, more means done.
    next_threshold = fields.SmallIntField(default=0)
    next_fire_at = fields.DatetimeField(null=True, db_index=True)
    breached_at = fields.DatetimeField(null=True)
    met_at = fields.DatetimeField(null=True)
    stopped_at = fields.DatetimeField(null=True)
    stop_reason = fields.CharField(max_length=40, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sla_timers"
        unique_together = (("ticket", "kind"),)


class SlaWork(StrEnum):
    """Follow-up work the tick does after recording reminders."""

    CARD = "card"  # re-render the ticket's card: a timer changed state
    ESCALATE = "escalate"  # a breach whose policy auto-escalates (or pings the leads)


class SlaPending(Model):
    """Follow-up work queued with the timer change that causes it (small: rows are deleted when done)."""

    # A table of its own, not flags on sla_timers: finding the few pending rows among millions of timers
    # must not depend on the query planner's statistics (SQLite scans the table for a rare boolean).
    id = fields.BigIntField(primary_key=True)
    work = fields.CharEnumField(SlaWork, max_length=10)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="sla_pending", on_delete=fields.CASCADE
    )
    timer_id = fields.BigIntField(null=True)
    # ESCALATE: the level the breach happened at (nothing is done if the ticket moved on meanwhile).
    level = fields.CharField(max_length=2, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "sla_pending"


class ScheduledRun(Model):
    """A scheduled job that ran for a period (e.g. the daily overview of a day). Unique, so one process runs it."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=60)
    period = fields.CharField(max_length=40)
    at = fields.DatetimeField()

    class Meta:
        table = "scheduled_runs"
        unique_together = (("job", "period"),)
