"""Knowledge-base retrieval: deterministic in-memory BM25F index over KB articles (no Slack, no database).

Build a ``KBIndex`` from ``ArticleDoc``s, keep it current with ``upsert``/``remove``/``update_feedback``
and call ``search(query, limit=3, visibility={"public"})``. Method, tuning and figures: docs/kb-ranking.md.
"""

from __future__ import annotations

from bot.services.kb.ranking import (
    DEFAULT_CONFIDENCE,
    DEFAULT_PARAMS,
    ArticleDoc,
    ConfidenceModel,
    KBIndex,
    RankingParams,
    SearchHit,
    feedback_multiplier,
    query_feedback_terms,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_PARAMS",
    "ArticleDoc",
    "ConfidenceModel",
    "KBIndex",
    "RankingParams",
    "SearchHit",
    "feedback_multiplier",
    "query_feedback_terms",
]
