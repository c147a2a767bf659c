"""The transactional outbox: Slack messages recorded with the state change that causes them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    """Delivery state of an outbound message."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxMessage(Model):
    """One Web API call to make, in order within its stream, exactly once."""

    id = fields.BigIntField(primary_key=True)
    # Messages of one stream (usually one ticket) are delivered strictly in id order.
    stream = fields.CharField(max_length=64, db_index=True)
    method = fields.CharField(max_length=40)
    channel_id = fields.CharField(max_length=32)
    payload = fields.JSONField()
    # chat.postMessage in a thread: the outbox message whose ts is the thread_ts.
    thread_parent_id = fields.BigIntField(null=True)
    # chat.update/reactions: the outbox message whose ts is the target.
    target_id = fields.BigIntField(null=True)
    # What to record once delivered, e.g. {"ticket_thread": 42}: the ts becomes that ticket's thread.
    on_delivered = fields.JSONField(null=True)
    # Set when an attempt ended without an answer: before resending, look for the message in Slack, and
    # resend only once the grace period has passed (Slack may still be processing the first request).
    uncertain_since = fields.DatetimeField(null=True)
    status = fields.CharEnumField(OutboxStatus, max_length=12, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    result_ts = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("status", "next_attempt_at"), ("status", "stream", "id"))
