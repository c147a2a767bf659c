"""Inbound event log: deduplicates Slack retries and lets a restart finish what a crash interrupted."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class InboundEvent(Model):
    """An Events API delivery, recorded before it is acknowledged."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=60)
    payload = fields.JSONField()
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)
    error = fields.CharField(max_length=300, null=True)

    class Meta:
        table = "inbound_events"
