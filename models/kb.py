"""Knowledge base: articles with their versions, feedback clicks and the suggestions the bot made."""

# Model docstrings become table comments: no semicolons (tortoise splits SQLite DDL on ";").

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.tickets import Ticket


class KbVisibility(StrEnum):
    """Who may see an article: the support team only, or customers too."""

    INTERNAL = "internal"
    PUBLIC = "public"


class KbFeedbackKind(StrEnum):
    """A click on a suggested article."""

    HELPED = "helped"
    NOT_RELEVANT = "not_relevant"


class KbState(Model):
    """One row: the change counter of the knowledge base, which every replica polls before a search."""

    # Every transaction that changes articles or their feedback increments `revision` (the row lock
    # serialises writers, so revisions are handed out in commit order) and stamps the changed rows with
    # it. A replica that has seen revision r loads the rows with revision > r. `epoch` is new for every
    # database: a replica pointed at another database (or a restored one) rebuilds from scratch.

    id = fields.IntField(primary_key=True)
    epoch = fields.CharField(max_length=32)
    revision = fields.BigIntField(default=0)

    class Meta:
        table = "kb_state"


class KbArticle(Model):
    """A knowledge-base article as it is now (older versions are kept in kb_article_versions)."""

    id = fields.IntField(primary_key=True)
    # The id given by an import (e.g. "faq-12"), unique, so a re-import updates instead of duplicating.
    external_id = fields.CharField(max_length=128, unique=True, null=True)
    title = fields.CharField(max_length=300)
    problem = fields.TextField(default="")
    solution = fields.TextField(default="")
    tags = fields.JSONField(default=list)
    component = fields.CharField(max_length=60, null=True)
    visibility = fields.CharEnumField(KbVisibility, max_length=10, default=KbVisibility.INTERNAL)
    language = fields.CharField(max_length=8, default="en")
    owner_id = fields.CharField(max_length=32, null=True)
    source_ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="kb_articles", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    reviewed_at = fields.DatetimeField()
    retired = fields.BooleanField(default=False)
    helped = fields.IntField(default=0)
    not_relevant = fields.IntField(default=0)
    version = fields.IntField(default=1)
    # kb_state.revision of the transaction that last changed this row (text, visibility or feedback).
    revision = fields.BigIntField(default=0, db_index=True)

    versions: fields.ReverseRelation[KbArticleVersion]
    embeddings: fields.ReverseRelation[KbEmbedding]
    feedback: fields.ReverseRelation[KbFeedback]
    term_feedback: fields.ReverseRelation[KbTermFeedback]

    class Meta:
        table = "kb_articles"


class KbArticleVersion(Model):
    """One version of an article's content, written when that version was saved (the newest is current)."""

    id = fields.BigIntField(primary_key=True)
    article: fields.ForeignKeyRelation[KbArticle] = fields.ForeignKeyField(
        "models.KbArticle", related_name="versions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    title = fields.CharField(max_length=300)
    problem = fields.TextField(default="")
    solution = fields.TextField(default="")
    tags = fields.JSONField(default=list)
    component = fields.CharField(max_length=60, null=True)
    visibility = fields.CharEnumField(KbVisibility, max_length=10)
    language = fields.CharField(max_length=8, default="en")
    editor_id = fields.CharField(max_length=32)
    at = fields.DatetimeField()
    # What made this version: created, edited, imported, captured (from a resolved ticket), retired.
    reason = fields.CharField(max_length=20, default="edited")

    class Meta:
        table = "kb_article_versions"
        unique_together = (("article", "version"),)


class KbEmbedding(Model):
    """Sentence vectors of one article version from one model (the optional semantic ranking)"""

    # Computed once per (article, version, model), when that version is first indexed or imported, and
    # never per query. Writing a version's vectors deletes the article's older versions' vectors of
    # the same model (kb_article_versions keeps their text). `vectors` holds `count` float32 vectors of
    # `dim` values, little-endian: the title's, then the title and body's (bot/services/kb/semantic.py).

    id = fields.BigIntField(primary_key=True)
    article: fields.ForeignKeyRelation[KbArticle] = fields.ForeignKeyField(
        "models.KbArticle", related_name="embeddings", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    model = fields.CharField(max_length=64)
    dim = fields.SmallIntField()
    count = fields.SmallIntField()
    vectors = fields.BinaryField()
    at = fields.DatetimeField()

    class Meta:
        table = "kb_embeddings"
        unique_together = (("article", "version", "model"),)


class KbFeedback(Model):
    """One person's verdict on a suggested article for a ticket (changing one's mind updates the row)."""

    id = fields.BigIntField(primary_key=True)
    article: fields.ForeignKeyRelation[KbArticle] = fields.ForeignKeyField(
        "models.KbArticle", related_name="feedback", on_delete=fields.CASCADE
    )
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="kb_feedback", null=True, on_delete=fields.SET_NULL
    )
    user_id = fields.CharField(max_length=32)
    kind = fields.CharEnumField(KbFeedbackKind, max_length=16)
    # The query's terms (bot.services.kb.query_feedback_terms), under which the click counts.
    terms = fields.JSONField(default=list)
    by_customer = fields.BooleanField(default=False)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "kb_feedback"
        unique_together = (("article", "ticket", "user_id"),)


class KbTermFeedback(Model):
    """Feedback of one article summed per query term: the ranking's per-query feedback counters."""

    id = fields.BigIntField(primary_key=True)
    article: fields.ForeignKeyRelation[KbArticle] = fields.ForeignKeyField(
        "models.KbArticle", related_name="term_feedback", on_delete=fields.CASCADE
    )
    term = fields.CharField(max_length=64)
    helped = fields.IntField(default=0)
    not_relevant = fields.IntField(default=0)

    class Meta:
        table = "kb_term_feedback"
        unique_together = (("article", "term"),)


class KbSuggestion(Model):
    """An article the bot suggested for a ticket: in the card thread, and maybe offered to the customer."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="kb_suggestions", on_delete=fields.CASCADE
    )
    article: fields.ForeignKeyRelation[KbArticle] = fields.ForeignKeyField(
        "models.KbArticle", related_name="suggestions", on_delete=fields.CASCADE
    )
    # created (new ticket) or escalated_L2 / escalated_L3 (new context).
    stage = fields.CharField(max_length=20)
    rank = fields.SmallIntField()
    score = fields.FloatField()
    confidence = fields.FloatField()
    label = fields.CharField(max_length=8)
    terms = fields.JSONField(default=list)
    # The card-thread message listing it (outbox row), re-rendered when someone clicks.
    outbox_id = fields.BigIntField(null=True)
    offered_to_customer = fields.BooleanField(default=False)
    sent_to_customer_at = fields.DatetimeField(null=True)
    customer_verdict = fields.CharField(max_length=16, null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "kb_suggestions"
        unique_together = (("ticket", "article", "stage"),)
