"""Drafts of 3rd level for the customer, which 2nd level approves before the bot posts them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.tickets import Ticket


class DraftStatus(StrEnum):
    """Review state of a draft."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class DraftKind(StrEnum):
    """A plain reply, or the resolution of the ticket."""

    REPLY = "reply"
    RESOLUTION = "resolution"


class RelayDraft(Model):
    """A message an L3 specialist wants to send to the customer, waiting for 2nd level review."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="drafts", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(DraftKind, max_length=12, default=DraftKind.REPLY)
    author_id = fields.CharField(max_length=32)
    text = fields.TextField()
    internal_notes = fields.TextField(null=True)
    publish_to_kb = fields.BooleanField(default=False)
    status = fields.CharEnumField(DraftStatus, max_length=12, default=DraftStatus.PENDING)
    reviewer_id = fields.CharField(max_length=32, null=True)
    review_note = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    reviewed_at = fields.DatetimeField(null=True)
    # The review message in the L2 channel (outbox row), updated in place once decided.
    review_outbox_id = fields.BigIntField(null=True)

    class Meta:
        table = "relay_drafts"
