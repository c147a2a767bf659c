"""Tickets, their customers, messages, cards and append-only timeline."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.base import TimestampedModel


class TicketStatus(StrEnum):
    """Lifecycle of a ticket."""

    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketSource(StrEnum):
    """How a ticket came in."""

    MESSAGE = "message"
    REACTION = "reaction"
    SHORTCUT = "shortcut"
    COMMAND = "command"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING)


class Customer(TimestampedModel):
    """A customer organisation (a Slack team on the other side of a shared channel)."""

    id = fields.IntField(primary_key=True)
    team_id = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=120)
    plan = fields.CharField(max_length=40, default="standard")
    language = fields.CharField(max_length=8, null=True)

    tickets: fields.ReverseRelation[Ticket]

    class Meta:
        table = "customers"


class Ticket(Model):
    """A support request, keyed PREFIX-id (e.g. SUP-42)."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField(db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="tickets", on_delete=fields.RESTRICT
    )
    channel_id = fields.CharField(max_length=32)
    # ts of the customer's message that opened the ticket: the customer thread lives under it.
    source_ts = fields.CharField(max_length=32)
    # Thread in the customer channel where the conversation happens (null until the bot's own root
    # message of a ticket opened on a customer's behalf is delivered).
    thread_ts = fields.CharField(max_length=32, null=True)
    author_id = fields.CharField(max_length=32)
    author_team_id = fields.CharField(max_length=32, null=True)
    opened_by_id = fields.CharField(max_length=32)
    source = fields.CharEnumField(TicketSource, max_length=16, default=TicketSource.MESSAGE)
    text = fields.TextField()
    permalink = fields.CharField(max_length=500, null=True)
    priority = fields.CharField(max_length=2, default="P3")
    priority_reason = fields.CharField(max_length=200, null=True)
    status = fields.CharEnumField(TicketStatus, max_length=16, default=TicketStatus.NEW, db_index=True)
    level = fields.CharField(max_length=2, default="L1", db_index=True)
    component = fields.CharField(max_length=60, null=True)
    assignee_id = fields.CharField(max_length=32, null=True)
    source_deleted = fields.BooleanField(default=False)
    last_customer_message_at = fields.DatetimeField(null=True)
    # Escalation context gathered so far, by field id (tried, impact, evidence, ...).
    context = fields.JSONField(default=dict)
    resolution = fields.TextField(null=True)
    resolution_internal = fields.TextField(null=True)
    publish_to_kb = fields.BooleanField(default=False)
    resolved_by_id = fields.CharField(max_length=32, null=True)
    resolved_level = fields.CharField(max_length=2, null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    reopen_count = fields.IntField(default=0)

    messages: fields.ReverseRelation[TicketMessage]
    timeline: fields.ReverseRelation[TimelineEntry]
    cards: fields.ReverseRelation[TicketCard]

    class Meta:
        table = "tickets"
        unique_together = (("channel_id", "source_ts"),)
        indexes = (("channel_id", "author_id", "status"), ("channel_id", "thread_ts"))


class TicketMessage(Model):
    """A message in a ticket's customer thread (customer or agent), mirrored to the internal card."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="messages", on_delete=fields.CASCADE
    )
    channel_id = fields.CharField(max_length=32)
    ts = fields.CharField(max_length=32)
    author_id = fields.CharField(max_length=32)
    author_kind = fields.CharField(max_length=16)  # customer | agent
    text = fields.TextField()
    edited = fields.BooleanField(default=False)
    deleted = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ticket_messages"
        unique_together = (("channel_id", "ts"),)


class TicketCard(Model):
    """The ticket card in an internal level channel, posted by the outbox message outbox_id."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="cards", on_delete=fields.CASCADE
    )
    level = fields.CharField(max_length=2)
    channel_id = fields.CharField(max_length=32)
    outbox_id = fields.BigIntField()
    active = fields.BooleanField(default=True)
    # Shown on the card, e.g. "Escalated to L2 by @x" once it is no longer the active card.
    note = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ticket_cards"
        # A ticket's cards are looked up by ticket (every flow that updates a card, every SLA notice).
        indexes = (("ticket_id", "active"),)


class TimelineEntry(Model):
    """Append-only record of every state change of a ticket: who, when, what."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="timeline", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    actor_id = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=40)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "ticket_timeline"
        ordering = ["at", "id"]
        indexes = (("ticket_id", "kind"), ("at", "kind"))
