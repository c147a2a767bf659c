"""Stored article vectors (`kb_embeddings`): one row per article version and model, computed once.

A version's vectors are computed when a replica indexes that version and finds none stored (right after
the import, capture or edit that made it, in a worker thread, never inside Slack's ack), or ahead of time by
`python -m bot kb import --embeddings`. Writing them deletes the article's vectors of older versions (of the
same model). Feedback clicks and retiring do not change the version, so they never cost an embedding.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.services.kb import semantic
from bot.services.kb.ranking import ArticleDoc
from models import KbArticle, KbEmbedding

CHUNK = 500  # ids per IN (...) query
Progress = Callable[[int, int], None]


async def stored_vectors(
    versions: Mapping[int, int], *, model: str, db: BaseDBAsyncClient | None = None
) -> dict[int, np.ndarray]:
    """article id -> its stored (2, dim) vectors, for the articles whose wanted version has vectors."""
    out: dict[int, np.ndarray] = {}
    ids = sorted(versions)
    for start in range(0, len(ids), CHUNK):
        rows = (
            await KbEmbedding.filter(article_id__in=ids[start : start + CHUNK], model=model)
            .using_db(db)
            .values_list("article_id", "version", "count", "dim", "vectors")
        )
        for article_id, version, count, dim, blob in rows:
            if versions.get(article_id) == version:
                out[article_id] = semantic.unpack(bytes(blob), count=count, dim=dim)
    return out


async def missing_versions(*, model: str, db: BaseDBAsyncClient | None = None) -> dict[int, int]:
    """article id -> current version, for the non-retired articles whose current version has no vectors."""
    current = dict(await KbArticle.filter(retired=False).using_db(db).values_list("id", "version"))
    have = set(await KbEmbedding.filter(model=model).using_db(db).values_list("article_id", "version"))
    return {a: v for a, v in sorted(current.items()) if (a, v) not in have}


async def save_vectors(
    *,
    article_id: int,
    version: int,
    model: str,
    vectors: np.ndarray,
    at: datetime,
    db: BaseDBAsyncClient | None = None,
) -> bool:
    """Store a version's vectors and drop the article's older ones; False when they were already stored."""
    try:
        async with in_transaction() if db is None else _nested(db) as conn:
            await KbEmbedding.create(
                article_id=article_id,
                version=version,
                model=model,
                dim=int(vectors.shape[-1]),
                count=int(vectors.shape[0]),
                vectors=semantic.pack(vectors),
                at=at,
                using_db=conn,
            )
            await (
                KbEmbedding.filter(article_id=article_id, model=model, version__lt=version)
                .using_db(conn)
                .delete()
            )
    except IntegrityError:
        return False  # another replica (or the import) stored this version first: same model, same vectors
    return True


def _nested(db: BaseDBAsyncClient):  # type: ignore[no-untyped-def]
    return db._in_transaction()  # noqa: SLF001 - tortoise's way to open a transaction on a given client


async def embed_versions(
    encoder: semantic.Encoder,
    versions: Mapping[int, int],
    *,
    db: BaseDBAsyncClient | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    batch: int = 32,
) -> dict[int, tuple[int, np.ndarray]]:
    """Compute (in a worker thread) and store the vectors of these article versions; returns what it
    computed or found stored, id -> (version, vectors). Versions that moved on meanwhile are skipped."""
    from bot.services.kb.store import article_doc  # the ranking's view of an article (store imports us)

    todo = sorted(versions.items())
    out: dict[int, tuple[int, np.ndarray]] = {}
    for start in range(0, len(todo), batch):
        if stop is not None and stop.is_set():
            raise semantic.EmbeddingStopped
        part = dict(todo[start : start + batch])
        # Another replica may have stored some of them since the caller looked.
        for article_id, vectors in (await stored_vectors(part, model=encoder.model_id, db=db)).items():
            out[article_id] = (part.pop(article_id), vectors)
        articles = await KbArticle.filter(id__in=list(part), retired=False).using_db(db).order_by("id")
        current = [a for a in articles if a.version == part[a.id]]
        docs: Sequence[ArticleDoc] = [article_doc(a) for a in current]
        if docs:
            vectors = await asyncio.to_thread(semantic.article_vectors, encoder, docs, stop=stop)
            now = datetime.now(UTC)
            for article, vecs in zip(current, vectors, strict=True):
                saved = await save_vectors(
                    article_id=article.id,
                    version=article.version,
                    model=encoder.model_id,
                    vectors=vecs,
                    at=now,
                    db=db,
                )
                if not saved:  # another replica was first: use its row, so every replica ranks alike
                    stored = await stored_vectors(
                        {article.id: article.version}, model=encoder.model_id, db=db
                    )
                    vecs = stored.get(article.id, vecs)
                out[article.id] = (article.version, vecs)
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
    return out
