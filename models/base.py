# Model docstrings become table comments: no semicolons (tortoise splits SQLite DDL on ";").
"""Shared model pieces."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    """Adds created/updated timestamps (UTC)."""

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True
