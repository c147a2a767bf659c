"""Customer satisfaction: one survey per confirmed resolution that was sampled, with its rating."""

# Model docstrings become table comments: no semicolons (tortoise splits SQLite DDL on ";").

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.tickets import Customer, Ticket


class CsatSurvey(Model):
    """A 1-5 rating asked from a customer user after they confirmed a resolution, and their answer."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="csat_surveys", on_delete=fields.CASCADE
    )
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="csat_surveys", on_delete=fields.CASCADE
    )
    # The customer user who was asked (the cooldown counts per user), and their Slack team.
    user_id = fields.CharField(max_length=32)
    team_id = fields.CharField(max_length=32, null=True)
    # The level that resolved the ticket and its priority then (reports group by them).
    level = fields.CharField(max_length=2)
    priority = fields.CharField(max_length=2)
    asked_at = fields.DatetimeField(db_index=True)
    rating = fields.SmallIntField(null=True)
    rated_by = fields.CharField(max_length=32, null=True)
    rated_at = fields.DatetimeField(null=True, db_index=True)
    comment = fields.TextField(null=True)
    commented_at = fields.DatetimeField(null=True)
    leads_pinged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "csat_surveys"
        indexes = (("user_id", "asked_at"),)
