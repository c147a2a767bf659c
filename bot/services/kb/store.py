"""KB articles in the database and the replica's in-memory index over them (no Slack here).

Consistency rule (docs/kb.md): every transaction that changes articles or their feedback first increments
`kb_state.revision` (one row; its row lock serialises KB writers, so revisions are handed out in commit
order) and stamps the rows it changes with that revision. Before every search a replica reads that one
row by primary key: an unchanged (epoch, revision) costs nothing more; a higher revision loads only the
rows stamped after the last one it saw and applies them to the index (upsert, or remove when retired); a
different epoch (another or a restored database) rebuilds the index from all non-retired articles. The
process that made a change syncs right after its commit, so its own changes are visible at once, and
every replica sees every committed change at its next search.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.errors import NotFoundError, UsageError
from bot.services.kb import semantic
from bot.services.kb.ranking import ArticleDoc, KBIndex, RankingParams, SearchHit
from models import (
    KbArticle,
    KbArticleVersion,
    KbFeedback,
    KbFeedbackKind,
    KbState,
    KbTermFeedback,
    KbVisibility,
)

log = logging.getLogger(__name__)

STATE_ID = 1
# Changed rows applied one by one in the event loop; more than this rebuilds a new index in a thread.
MAX_INLINE_DELTA = 200
# Inside a transaction a KB of up to this many articles is (re)built inline, a bigger one in the background.
MAX_INLINE_BUILD = 500
MAX_TITLE = 300
MAX_TEXT = 40_000
MAX_TAGS = 20
MAX_TAG = 40
CONTENT_FIELDS = ("title", "problem", "solution", "tags", "component", "visibility", "language", "owner_id")


# ---------------------------------------------------------------------------------------- content


@dataclass(frozen=True)
class ArticleInput:
    """The editable content of an article (validated with `clean_article`)."""

    title: str
    problem: str = ""
    solution: str = ""
    tags: tuple[str, ...] = ()
    component: str | None = None
    visibility: KbVisibility = KbVisibility.INTERNAL
    language: str = "en"
    owner_id: str | None = None
    external_id: str | None = None

    def values(self) -> dict[str, object]:
        """Content fields as stored on KbArticle."""
        return {
            "title": self.title,
            "problem": self.problem,
            "solution": self.solution,
            "tags": list(self.tags),
            "component": self.component,
            "visibility": self.visibility,
            "language": self.language,
            "owner_id": self.owner_id,
        }


def parse_tags(raw: object) -> tuple[str, ...]:
    """Tags from a list or a comma-separated string: trimmed, lower-cased, unique, in order."""
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError("tags must be a list of strings or a comma-separated string")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ValueError("tags must be strings")
        tag = " ".join(str(item).split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise ValueError(f"tag '{tag[:20]}…' is longer than {MAX_TAG} characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tuple(out)


def clean_article(
    *,
    title: object,
    problem: object = "",
    solution: object = "",
    tags: object = (),
    component: object = None,
    visibility: object = KbVisibility.INTERNAL,
    language: object = "en",
    owner_id: object = None,
    external_id: object = None,
) -> ArticleInput:
    """Validate raw article fields; raises ValueError naming the field."""
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title is missing")
    clean_title = " ".join(title.split())
    if len(clean_title) > MAX_TITLE:
        raise ValueError(f"title is longer than {MAX_TITLE} characters")
    texts: dict[str, str] = {}
    for name, value in (("problem", problem), ("solution", solution)):
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        if len(value) > MAX_TEXT:
            raise ValueError(f"{name} is longer than {MAX_TEXT} characters")
        texts[name] = value.strip()
    if not texts["problem"] and not texts["solution"]:
        raise ValueError("the article has no text (give body, solution or problem)")
    try:
        vis = KbVisibility(str(visibility).strip().lower())
    except ValueError:
        raise ValueError(f"visibility must be internal or public, not {str(visibility)[:20]!r}") from None
    lang = str(language or "en").strip().lower()
    if not (2 <= len(lang) <= 8 and lang.replace("-", "").isalpha()):
        raise ValueError(f"language {lang[:20]!r} is not a language code like en or de")
    comp = None
    if component not in (None, ""):
        comp = str(component).strip().lower()
        if len(comp) > 60 or not comp.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"component {comp[:20]!r} must be a short name like network")
    owner = None
    if owner_id not in (None, ""):
        owner = str(owner_id).strip()
        if not (owner[:1] in ("U", "W") and owner.isalnum() and owner.isupper() and len(owner) <= 32):
            raise ValueError(f"owner {owner[:20]!r} is not a Slack user id (like U0123ABCD)")
    ext = None
    if external_id not in (None, ""):
        if isinstance(external_id, bool) or not isinstance(external_id, str | int):
            raise ValueError("id must be a string or a number")
        ext = str(external_id).strip()
        if not ext or len(ext) > 128:
            raise ValueError("id must have 1 to 128 characters")
    return ArticleInput(
        title=clean_title,
        problem=texts["problem"],
        solution=texts["solution"],
        tags=parse_tags(tags),
        component=comp,
        visibility=vis,
        language=lang,
        owner_id=owner,
        external_id=ext,
    )


def same_content(article: KbArticle, data: ArticleInput) -> bool:
    """True when saving `data` would not change the article's content."""
    return all(getattr(article, name) == value for name, value in data.values().items())


def article_doc(article: KbArticle, terms: Iterable[tuple[str, int, int]] = ()) -> ArticleDoc:
    """The ranking's view of an article: body = problem + solution, the component counts as a tag."""
    body = "\n\n".join(part for part in (article.problem, article.solution) if part.strip())
    tags = tuple(article.tags or ()) + ((article.component,) if article.component else ())
    return ArticleDoc(
        id=str(article.id),
        title=article.title,
        body=body,
        tags=tags,
        language=article.language or "en",
        visibility=KbVisibility(article.visibility).value,
        helped=article.helped,
        not_relevant=article.not_relevant,
        query_feedback=tuple(sorted(terms)),
    )


# ---------------------------------------------------------------------------------------- revisions


async def _ensure_state() -> None:
    if await KbState.exists(id=STATE_ID):
        return
    try:
        async with in_transaction():  # a savepoint when called inside a transaction
            await KbState.create(id=STATE_ID, epoch=secrets.token_hex(8), revision=0)
    except IntegrityError:
        pass  # another process created it first


async def next_revision() -> int:
    """Take the next KB revision; call first inside the transaction that changes KB rows."""
    await _ensure_state()
    await KbState.filter(id=STATE_ID).update(revision=F("revision") + 1)
    state = await KbState.get(id=STATE_ID)
    return int(state.revision)


async def current_state(*, db: BaseDBAsyncClient | None = None) -> tuple[str | None, int]:
    """(epoch, revision) of the database's knowledge base; (None, 0) before the first article."""
    row = await KbState.filter(id=STATE_ID).using_db(db).values_list("epoch", "revision")
    if not row:
        return None, 0
    epoch, revision = row[0]
    return str(epoch), int(revision)


# ---------------------------------------------------------------------------------------- writes


async def get_article(article_id: int) -> KbArticle:
    """The article, or NotFoundError."""
    article = await KbArticle.get_or_none(id=article_id)
    if article is None:
        raise NotFoundError("That knowledge-base article doesn't exist anymore.")
    return article


def version_row(article: KbArticle, *, editor_id: str, at: datetime, reason: str) -> KbArticleVersion:
    """An (unsaved) snapshot of the article's current content as its version row."""
    content = {k: v for k, v in _as_input(article).values().items() if k != "owner_id"}
    return KbArticleVersion(
        article_id=article.id, version=article.version, editor_id=editor_id, at=at, reason=reason, **content
    )


async def _write_version(article: KbArticle, *, editor_id: str, at: datetime, reason: str) -> None:
    await version_row(article, editor_id=editor_id, at=at, reason=reason).save()


def _as_input(article: KbArticle) -> ArticleInput:
    return ArticleInput(
        title=article.title,
        problem=article.problem,
        solution=article.solution,
        tags=tuple(article.tags or ()),
        component=article.component,
        visibility=KbVisibility(article.visibility),
        language=article.language,
        owner_id=article.owner_id,
        external_id=article.external_id,
    )


async def save_article(
    *,
    data: ArticleInput,
    editor_id: str,
    at: datetime,
    article_id: int | None = None,
    source_ticket_id: int | None = None,
    reason: str | None = None,
) -> tuple[KbArticle, bool]:
    """Create an article or save a new version of one (the old version stays); returns (article, changed)."""
    async with in_transaction():
        revision = await next_revision()
        if article_id is None:
            article = await KbArticle.create(
                external_id=data.external_id,
                source_ticket_id=source_ticket_id,
                created_at=at,
                updated_at=at,
                reviewed_at=at,
                version=1,
                revision=revision,
                **data.values(),
            )
            await _write_version(article, editor_id=editor_id, at=at, reason=reason or "created")
            return article, True
        article = await KbArticle.get_or_none(id=article_id).select_for_update()
        if article is None:
            raise NotFoundError("That knowledge-base article doesn't exist anymore.")
        if same_content(article, data):
            return article, False
        for name, value in data.values().items():
            setattr(article, name, value)
        article.version += 1
        article.updated_at = at
        article.reviewed_at = at  # an edit is a review
        article.revision = revision
        await article.save()
        await _write_version(article, editor_id=editor_id, at=at, reason=reason or "edited")
        return article, True


async def set_retired(*, article_id: int, actor_id: str, at: datetime, retired: bool = True) -> KbArticle:
    """Retire an article (no longer suggested or found) or bring it back."""
    async with in_transaction():
        revision = await next_revision()
        article = await get_article(article_id)
        if article.retired == retired:
            return article
        article.retired = retired
        article.updated_at = at
        article.revision = revision
        await article.save(update_fields=["retired", "updated_at", "revision"])
    return article


async def mark_reviewed(*, article_id: int, actor_id: str, at: datetime) -> KbArticle:
    """The owner confirmed the article is still right."""
    article = await get_article(article_id)
    if article.retired:
        raise UsageError("That article is retired.")
    article.reviewed_at = at
    await article.save(update_fields=["reviewed_at"])
    return article


async def record_feedback(
    *,
    article_id: int,
    ticket_id: int | None,
    user_id: str,
    kind: KbFeedbackKind,
    terms: Sequence[str],
    at: datetime,
    by_customer: bool = False,
) -> bool:
    """Count a click (helped / not relevant), per article and per query term; False when nothing changed.

    One person has one verdict per article and ticket: clicking the other button moves their vote.
    """
    async with in_transaction():
        revision = await next_revision()
        article = await get_article(article_id)
        existing = (
            await KbFeedback.get_or_none(article_id=article_id, ticket_id=ticket_id, user_id=user_id)
            if ticket_id is not None
            else None
        )
        if existing is not None and existing.kind == kind:
            return False
        deltas: dict[str, int] = {KbFeedbackKind.HELPED: 0, KbFeedbackKind.NOT_RELEVANT: 0}
        deltas[kind] += 1
        if existing is not None:
            deltas[existing.kind] -= 1
            await _count_terms(article_id, existing.terms or [], existing.kind, -1)
            existing.kind, existing.terms, existing.at = kind, list(terms), at
            existing.by_customer = by_customer
            await existing.save()
        else:
            await KbFeedback.create(
                article_id=article_id,
                ticket_id=ticket_id,
                user_id=user_id,
                kind=kind,
                terms=list(terms),
                at=at,
                by_customer=by_customer,
            )
        await _count_terms(article_id, terms, kind, +1)
        await KbArticle.filter(id=article.id).update(
            helped=F("helped") + deltas[KbFeedbackKind.HELPED],
            not_relevant=F("not_relevant") + deltas[KbFeedbackKind.NOT_RELEVANT],
            revision=revision,
        )
    return True


async def _count_terms(article_id: int, terms: Iterable[str], kind: KbFeedbackKind, step: int) -> None:
    column = "helped" if kind == KbFeedbackKind.HELPED else "not_relevant"
    for term in sorted(set(terms)):
        term = term[:64]
        updated = await KbTermFeedback.filter(article_id=article_id, term=term).update(
            **{column: F(column) + step}
        )
        if not updated and step > 0:
            await KbTermFeedback.create(article_id=article_id, term=term, **{column: step})


async def not_relevant_since(article_ids: Sequence[int], since: dict[int, datetime]) -> dict[int, int]:
    """'Not relevant' clicks per article after its `since` time (its last review)."""
    rows = await KbFeedback.filter(
        article_id__in=list(article_ids), kind=KbFeedbackKind.NOT_RELEVANT
    ).values_list("article_id", "at")
    counts: dict[int, int] = {}
    for article_id, at in rows:
        if at > since[article_id]:
            counts[article_id] = counts.get(article_id, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------- the index


@dataclass
class KbStore:
    """One replica's KBIndex over the non-retired articles, kept current by `sync` (see module doc)."""

    params: RankingParams | None = None
    inline_build_limit: int = MAX_INLINE_BUILD
    index: KBIndex | None = None
    epoch: str | None = None
    revision: int = 0
    external_ids: dict[str, str | None] = field(default_factory=dict)
    loads: int = 0
    # The semantic ranking (kb.semantic): the encoder once loaded, and the vectors of the indexed versions.
    encoder: semantic.Encoder | None = None
    hybrid: semantic.HybridParams = semantic.DEFAULT_HYBRID
    vectors: semantic.VectorTable = field(default_factory=semantic.VectorTable)
    embedded: int = 0  # article versions this store computed vectors for (not found stored)
    _versions: dict[str, int] = field(default_factory=dict, repr=False)
    _missing: dict[int, int] = field(default_factory=dict, repr=False)
    _embedding: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _seen_epoch: str | None = field(default=None, repr=False)
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    _loading: asyncio.Task[None] | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        """True once an index for the current database is built."""
        return self.index is not None

    @property
    def semantic(self) -> bool:
        """True when searches are re-ranked with sentence vectors (an encoder is set)."""
        return self.encoder is not None

    @property
    def embedding_pending(self) -> int:
        """Indexed article versions whose vectors are still being computed."""
        return len(self._missing)

    def external_id(self, doc_id: str) -> str:
        """The import id of an indexed article (its database id when it has none)."""
        return self.external_ids.get(doc_id) or doc_id

    def _bind_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._lock is None:  # a new event loop (tests, CLI): start afresh
            self._loop, self._lock, self._loading, self._embedding = loop, asyncio.Lock(), None, None
            self._stop = threading.Event()
        return self._lock

    async def use_encoder(self, encoder: semantic.Encoder | None) -> None:
        """Switch the semantic ranking on (with this encoder) or off (None).

        On: the stored vectors of every indexed article version are loaded, and the missing ones are
        computed by a background task; until an article has its vectors, queries that would rank it fall
        back to the lexical ranking.
        """
        self._bind_loop()
        if encoder is None or (self.encoder is not None and encoder.model_id != self.encoder.model_id):
            await self._cancel_embedding()
            self.vectors.clear()
            self._missing.clear()
        self.encoder = encoder
        if encoder is not None and self._versions:
            await self._attach_vectors(connections.get("default"), dict(self._versions))

    async def wait_for_vectors(self) -> None:
        """Wait until every indexed article version has its vectors (CLI and benchmark; the bot never waits)."""
        while self._embedding is not None and not self._embedding.done():
            await asyncio.shield(self._embedding)

    async def close(self) -> None:
        """Stop this store's background work (index refresh, embedding) before the database closes.

        Worker threads stop at their next article (index build) or batch (embedding); nothing is left half
        written: a version's vectors are one row.
        """
        if self._loop is not asyncio.get_running_loop():
            return
        self._stop.set()
        tasks = [t for t in (self._loading, self._embedding) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loading = self._embedding = None
        self._stop = threading.Event()

    async def _cancel_embedding(self) -> None:
        task, self._embedding = self._embedding, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sync(self, *, wait: float | None = None) -> bool:
        """Bring the index up to the database's revision; False when it is not current after `wait` s.

        Inside a transaction (a flow suggesting articles) it never waits: small changes are applied
        inline, a small KB is rebuilt inline, and anything bigger is rebuilt by a background task on the
        base connection while searches answer from the index as it was.
        """
        lock = self._bind_loop()
        conn = connections.get("default")
        epoch, revision = await current_state(db=conn)
        self._seen_epoch = epoch
        if self.index is not None and epoch == self.epoch and revision == self.revision:
            return True
        if isinstance(conn, TransactionalDBClient):
            if lock.locked():
                return False
            async with lock:
                if await self._apply_changes(conn, epoch, revision):
                    return True
                if await KbArticle.filter(retired=False).using_db(conn).count() <= self.inline_build_limit:
                    await self._rebuild(conn)
                    return True
            self._start_refresh(_base_connection(conn))
            return False
        task = self._start_refresh(conn)
        try:
            if wait is None:
                await asyncio.shield(task)
            else:
                await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            return False
        return True

    def _start_refresh(self, db: BaseDBAsyncClient) -> asyncio.Task[None]:
        if self._loading is None or self._loading.done():
            self._loading = asyncio.create_task(self._refresh(db), name="kb-index-refresh")
            self._loading.add_done_callback(_log_failure)
        return self._loading

    async def _refresh(self, db: BaseDBAsyncClient) -> None:
        assert self._lock is not None
        async with self._lock:
            epoch, revision = await current_state(db=db)
            if not await self._apply_changes(db, epoch, revision):
                try:
                    await self._rebuild(db)
                except _BuildStopped:
                    log.info("kb: index build stopped (shutting down)")

    async def _apply_changes(self, db: BaseDBAsyncClient, epoch: str | None, revision: int) -> bool:
        """Apply the rows changed since the last revision seen; False when a rebuild is needed instead."""
        if self.index is None or epoch != self.epoch:
            return False
        if revision == self.revision:
            return True
        changed = await KbArticle.filter(revision__gt=self.revision).using_db(db).order_by("id")
        if len(changed) > MAX_INLINE_DELTA:
            return False
        terms = await _terms_of([a.id for a in changed if not a.retired], db=db)
        for article in changed:
            key = str(article.id)
            if article.retired:
                self.index.remove(key)
                self.external_ids.pop(key, None)
                self._versions.pop(key, None)
                self.vectors.drop(key)
            else:
                self.index.upsert(article_doc(article, terms.get(article.id, ())))
                self.external_ids[key] = article.external_id
                self._versions[key] = article.version
        self.revision = revision
        if self.encoder is not None:
            await self._attach_vectors(db, {str(a.id): a.version for a in changed if not a.retired})
        return True

    async def _rebuild(self, db: BaseDBAsyncClient) -> None:
        """Build a new index from all non-retired articles (state read first: later changes come next)."""
        epoch, revision = await current_state(db=db)
        articles = await KbArticle.filter(retired=False).using_db(db).order_by("id")
        terms = await _terms_of([a.id for a in articles], db=db)
        docs = [article_doc(a, terms.get(a.id, ())) for a in articles]
        # Building is pure CPU (roughly 1 ms per article): a thread keeps the event loop answering.
        index = await asyncio.to_thread(_build_index, docs, self.params, self._stop)
        self.index = index
        self.external_ids = {str(a.id): a.external_id for a in articles}
        if epoch != self.epoch:  # another database: nothing held belongs to it
            self.vectors.clear()
            self._missing.clear()
        self._versions = {str(a.id): a.version for a in articles}
        for doc_id in self.vectors.ids():
            if doc_id not in self._versions:
                self.vectors.drop(doc_id)
        self.epoch, self.revision = epoch, revision
        self.loads += 1
        log.info("kb: index built with %d articles (revision %d)", len(index), revision)
        if self.encoder is not None:
            await self._attach_vectors(db, dict(self._versions))

    async def _attach_vectors(self, db: BaseDBAsyncClient, versions: dict[str, int]) -> None:
        """Load the stored vectors of these article versions; queue the missing ones for embedding."""
        assert self.encoder is not None
        need = {int(k): v for k, v in versions.items() if self.vectors.version(k) != v}
        if not need:
            return
        for key in need:
            self.vectors.drop(str(key))  # old version's vectors: the text changed
        from bot.services.kb import embeddings

        stored = await embeddings.stored_vectors(need, model=self.encoder.model_id, db=db)
        for article_id, vecs in stored.items():
            self.vectors.put(str(article_id), need[article_id], vecs)
        missing = {a: v for a, v in need.items() if a not in stored}
        if missing:
            self._missing.update(missing)
            self._start_embedding(_base_connection(db))

    def _start_embedding(self, db: BaseDBAsyncClient) -> None:
        if self._embedding is None or self._embedding.done():
            self._embedding = asyncio.create_task(self._embed_missing(db), name="kb-embed")
            self._embedding.add_done_callback(_log_embedding_failure)

    async def _embed_missing(self, db: BaseDBAsyncClient) -> None:
        """Compute the queued versions' vectors in a worker thread, store and hold them (one batch at a time)."""
        from bot.services.kb import embeddings

        while self._missing and self.encoder is not None:
            encoder, stop = self.encoder, self._stop
            batch = dict(sorted(self._missing.items())[:32])
            try:
                done = await embeddings.embed_versions(encoder, batch, db=db, stop=stop)
            except semantic.EmbeddingStopped:
                return
            for article_id, (version, vecs) in done.items():
                key = str(article_id)
                if self._versions.get(key) == version and encoder is self.encoder:
                    self.vectors.put(key, version, vecs)
            self.embedded += len(done)
            for article_id, version in batch.items():
                if self._missing.get(article_id) == version:
                    del self._missing[article_id]  # done, or moved on / retired meanwhile
        if not self._missing:
            log.info("kb: vectors of %d article versions held", len(self.vectors))

    async def search(
        self,
        query: str,
        *,
        limit: int = 3,
        visibility: str | Iterable[str] | None = None,
        language: str | Iterable[str] | None = None,
        wait: float | None = None,
    ) -> list[SearchHit]:
        """Sync, then rank; [] while no index of this database is built yet.

        With the semantic ranking on, the query's vector is computed in a worker thread (a few ms) while
        the revision check runs, so the event loop keeps acknowledging other requests meanwhile.
        """
        pending: asyncio.Future[Any] | None = None
        job: semantic.QueryVector | None = None
        if self.encoder is not None and len(self.vectors) and isinstance(query, str) and query.strip():
            try:
                job = semantic.QueryVector(self.encoder, query)
                pending = asyncio.ensure_future(asyncio.to_thread(job.compute))
            except Exception:  # the lexical ranking still answers; a failure here is a bug to fix
                log.exception("kb: query vector failed for a query of %d chars", len(query))
        try:
            await self.sync(wait=wait)
        except BaseException:
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            raise
        lexical = None
        if pending is not None and self.index is not None:
            # Rank lexically here while the worker thread computes the vector (two cores, no GIL wait:
            # onnxruntime releases it).
            lexical = semantic.lexical_candidates(
                self.index, query, limit=limit, visibility=visibility, language=language, params=self.hybrid
            )
        vector = None
        if pending is not None and job is not None:
            try:
                vector = job.finish(await pending)
            except Exception:  # the lexical ranking still answers; a failure here is a bug to fix
                log.exception("kb: query vector failed for a query of %d chars", len(query))
        if self.index is None or self.epoch != self._seen_epoch:
            return []
        return self.rank(
            query, limit=limit, visibility=visibility, language=language, query_vector=vector, lexical=lexical
        )

    def rank(
        self,
        query: str,
        *,
        limit: int = 3,
        visibility: str | Iterable[str] | None = None,
        language: str | Iterable[str] | None = None,
        query_vector: object | None = None,
        lexical: Sequence[SearchHit] | None = None,
    ) -> list[SearchHit]:
        """Rank from memory: hybrid when a query vector is given and the candidates have vectors, else
        lexical. `lexical`: `semantic.lexical_candidates` of this query and filters, if already computed."""
        if self.index is None:
            return []
        if query_vector is not None:
            try:
                hits = semantic.hybrid_search(
                    self.index,
                    self.vectors,
                    query_vector,  # type: ignore[arg-type]
                    query,
                    limit=limit,
                    visibility=visibility,
                    language=language,
                    params=self.hybrid,
                    lexical=lexical,
                )
            except Exception:  # never take the Slack handler down; logged and tested for
                log.exception("kb: hybrid ranking failed for a query of %d chars", len(query))
                hits = None
            if hits is not None:
                return hits
        if lexical is not None:
            return list(lexical[:limit])  # MaxScore is exact: the first `limit` of a deeper search
        return self.index.search(query, limit=limit, visibility=visibility, language=language)


def _base_connection(conn: BaseDBAsyncClient) -> BaseDBAsyncClient:
    """The connection a transaction wraps (a background task must not use a transaction)."""
    while isinstance(conn, TransactionalDBClient) and getattr(conn, "_parent", None) is not None:
        conn = conn._parent  # noqa: SLF001 - tortoise keeps the wrapped client there
    return conn


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kb: index refresh failed", exc_info=task.exception())


def _log_embedding_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kb: computing article vectors failed", exc_info=task.exception())


class _BuildStopped(Exception):  # noqa: N818 - a signal, not an error
    """The store closed while its index was being built."""


def _build_index(docs: Sequence[ArticleDoc], params: RankingParams | None, stop: threading.Event) -> KBIndex:
    """A new KBIndex (in a worker thread); stops early when the store closes."""

    def until_stopped() -> Iterable[ArticleDoc]:
        for doc in docs:
            if stop.is_set():
                raise _BuildStopped
            yield doc

    return KBIndex(until_stopped(), params=params)


async def _terms_of(
    article_ids: Sequence[int], *, db: BaseDBAsyncClient | None = None
) -> dict[int, list[tuple[str, int, int]]]:
    out: dict[int, list[tuple[str, int, int]]] = {}
    ids = list(article_ids)
    for start in range(0, len(ids), 500):
        rows = (
            await KbTermFeedback.filter(article_id__in=ids[start : start + 500])
            .using_db(db)
            .values_list("article_id", "term", "helped", "not_relevant")
        )
        for article_id, term, helped, not_relevant in rows:
            if helped or not_relevant:
                out.setdefault(article_id, []).append((term, max(0, helped), max(0, not_relevant)))
    return out


_STORE: KbStore | None = None


def default_store() -> KbStore:
    """This process's store (one index per replica; it follows whichever database tortoise is using)."""
    global _STORE
    if _STORE is None:
        _STORE = KbStore()
    return _STORE
