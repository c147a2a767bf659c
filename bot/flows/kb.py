"""Knowledge-base workflows: suggestions on tickets, feedback, sending articles to customers, deflection,
capture from resolutions, /kb search and sharing, editing, and the weekly review reminder.

Slack messages go through the outbox in the same transaction as the change; the in-memory index is synced
right after each commit (bot/services/kb/store.py explains the consistency rule).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.errors import NotFoundError, PermissionDeniedError, UsageError
from bot.flows.cards import active_card, post_in_card_thread, post_to_customer, refresh_card, stream_of
from bot.runtime import Runtime
from bot.services import escalation as escalation_service
from bot.services import tickets as ticket_service
from bot.services.kb import query_feedback_terms
from bot.services.kb import store as kb
from bot.services.permissions import Action, Actor, decide
from bot.services.sla.engine import SlaEvent, on_ticket_event
from bot.slack import outbox
from bot.slack.blocks.kb import (
    KB_CUSTOMER_HELP,
    KB_HELP,
    MODAL_TEXT_MAX,
    ArticleForm,
    ResultView,
    ReviewItem,
    SuggestionView,
    build_article_for_customer,
    build_capture_prompt,
    build_customer_offer,
    build_review_reminder,
    build_search_results,
    build_shared_article,
    build_suggestions,
    customer_text,
    snippet,
)
from bot.slack.blocks.tickets import build_notice
from bot.slack.text import clip, escape, mention, slack_date
from models import (
    DraftKind,
    KbArticle,
    KbFeedback,
    KbFeedbackKind,
    KbSuggestion,
    KbVisibility,
    OutboxMessage,
    ScheduledRun,
    Ticket,
)
from models.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 8000
SEARCH_RESULTS = 5
SEARCH_WAIT = 1.5  # seconds a /kb may wait for a first index build (inside Slack's 3 s)
REVIEW_JOB = "kb.review"
REVIEW_ITEMS_PER_DM = 10


def kb_store() -> kb.KbStore:
    """This process's KB store."""
    return kb.default_store()


def ticket_query(rt: Runtime, ticket: Ticket) -> str:
    """What a ticket is about: its text plus the escalation context gathered so far."""
    parts = [ticket.text]
    parts += [str(v) for v in (ticket.context or {}).values() if str(v or "").strip()]
    return "\n".join(parts)[:MAX_QUERY_CHARS]


def _language(rt: Runtime, ticket: Ticket) -> str:
    return ticket.customer.language or rt.config.defaults.language


def _when(now: datetime) -> str:
    return slack_date(now.timestamp(), "{time}", fallback=now.strftime("%H:%M UTC"))


def _heading(stage: str) -> str:
    if stage.startswith("escalated_"):
        return f"Knowledge base: more articles, with the {stage.removeprefix('escalated_')} context"
    return "Knowledge base: articles that may solve this"


# ---------------------------------------------------------------------------------- suggestions


async def suggest_for_ticket(rt: Runtime, ticket: Ticket, *, stage: str, now: datetime) -> int:
    """Post the best new articles for a ticket in its active card's thread (in the caller's transaction).

    Failures are logged and roll back only this step (a savepoint): a ticket never fails for its KB.
    """
    try:
        async with in_transaction():
            return await _suggest(rt, ticket, stage=stage, now=now)
    except Exception:
        log.exception("kb: suggestions for %s failed", rt.key(ticket.id), extra={"ticket": rt.key(ticket.id)})
        return 0


async def _suggest(rt: Runtime, ticket: Ticket, *, stage: str, now: datetime) -> int:
    card = await active_card(ticket)
    if card is None:
        return 0
    wanted = rt.config.kb.suggestions
    shown: set[int] = set()
    if stage != "created":  # nothing was suggested before the ticket existed
        shown = set(await KbSuggestion.filter(ticket_id=ticket.id).values_list("article_id", flat=True))
    query = ticket_query(rt, ticket)
    hits = await kb_store().search(query, limit=wanted + len(shown), wait=0)
    hits = [h for h in hits if int(h.id) not in shown][:wanted]
    if not hits:
        return 0
    articles = {a.id: a for a in await KbArticle.filter(id__in=[int(h.id) for h in hits], retired=False)}
    terms = list(query_feedback_terms(query))
    rows: list[KbSuggestion] = []
    for rank, hit in enumerate((h for h in hits if int(h.id) in articles), start=1):
        rows.append(
            await KbSuggestion.create(
                ticket_id=ticket.id,
                article_id=int(hit.id),
                stage=stage,
                rank=rank,
                score=hit.score,
                confidence=hit.confidence,
                label=hit.label,
                terms=terms,
                at=now,
            )
        )
    if not rows:
        return 0
    top = rows[0]
    top_article = articles[top.article_id]
    if (
        rt.config.kb.offer_to_customer
        and stage == "created"
        and top.label == "high"
        and top_article.visibility == KbVisibility.PUBLIC
    ):
        await post_to_customer(
            rt,
            ticket,
            build_customer_offer(
                language=_language(rt, ticket),
                key=rt.key(ticket.id),
                suggestion_id=top.id,
                title=top_article.title,
                solution=top_article.solution or top_article.problem,
            ),
            now,
        )
        top.offered_to_customer = True
        await top.save(update_fields=["offered_to_customer"])
        await ticket_service.record(
            ticket, kind="kb_offered", actor_id=rt.bot_user_id or "bot", at=now, data=_ref(top, top_article)
        )
    parent = await OutboxMessage.get(id=card.outbox_id)
    message = await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=card.channel_id,
        payload=await _render_suggestions(rt, ticket, rows, stage=stage),
        thread_parent=parent,
        now=now,
    )
    await KbSuggestion.filter(id__in=[r.id for r in rows]).update(outbox_id=message.id)
    return len(rows)


def _ref(suggestion: KbSuggestion, article: KbArticle) -> dict[str, Any]:
    return {"article": article.id, "suggestion": suggestion.id, "title": article.title[:200]}


async def _render_suggestions(
    rt: Runtime, ticket: Ticket, rows: list[KbSuggestion], *, stage: str
) -> dict[str, Any]:
    articles = {a.id: a for a in await KbArticle.filter(id__in=[r.article_id for r in rows])}
    votes = await KbFeedback.filter(
        ticket_id=ticket.id, article_id__in=list(articles), by_customer=False
    ).order_by("id")
    items = []
    for row in sorted(rows, key=lambda r: r.rank):
        article = articles[row.article_id]
        mine = [v for v in votes if v.article_id == row.article_id]
        items.append(
            SuggestionView(
                suggestion_id=row.id,
                title=article.title,
                snippet=snippet(article.problem or article.solution),
                label=row.label,
                confidence=row.confidence,
                public=article.visibility == KbVisibility.PUBLIC and not article.retired,
                helped_by=tuple(v.user_id for v in mine if v.kind == KbFeedbackKind.HELPED),
                not_relevant_by=tuple(v.user_id for v in mine if v.kind == KbFeedbackKind.NOT_RELEVANT),
                sent=row.sent_to_customer_at is not None,
                offered=row.offered_to_customer,
                customer_verdict=row.customer_verdict,
            )
        )
    return build_suggestions(key=rt.key(ticket.id), heading=_heading(stage), items=items)


async def _refresh_suggestions(rt: Runtime, ticket: Ticket, suggestion: KbSuggestion, now: datetime) -> None:
    """Re-render the card-thread message that lists this suggestion (chat.update through the outbox)."""
    if suggestion.outbox_id is None:
        return
    target = await OutboxMessage.get_or_none(id=suggestion.outbox_id)
    if target is None:
        return
    rows = await KbSuggestion.filter(outbox_id=suggestion.outbox_id).order_by("rank")
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.update",
        channel_id=target.channel_id,
        payload=await _render_suggestions(rt, ticket, rows, stage=suggestion.stage),
        target=target,
        now=now,
    )


async def _load_suggestion(suggestion_id: int) -> KbSuggestion:
    suggestion = await KbSuggestion.get_or_none(id=suggestion_id).prefetch_related(
        "article", "ticket__customer"
    )
    if suggestion is None:
        raise NotFoundError("That suggestion doesn't exist anymore.")
    return suggestion


async def _after_write(rt: Runtime) -> None:
    rt.sender.wake()
    await kb_store().sync()


async def rate_suggestion(rt: Runtime, *, suggestion_id: int, actor: Actor, helped: bool) -> str:
    """An agent's 'Helped' / 'Not relevant' on a suggested article: counted for ranking, shown on the list."""
    if not actor.is_agent:
        raise PermissionDeniedError("Only the support team can rate suggestions.")
    suggestion = await _load_suggestion(suggestion_id)
    ticket = suggestion.ticket
    now = rt.clock.now()
    kind = KbFeedbackKind.HELPED if helped else KbFeedbackKind.NOT_RELEVANT
    async with in_transaction():
        changed = await kb.record_feedback(
            article_id=suggestion.article_id,
            ticket_id=ticket.id,
            user_id=actor.user_id,
            kind=kind,
            terms=suggestion.terms or [],
            at=now,
        )
        if changed:
            await _refresh_suggestions(rt, ticket, suggestion, now)
    await _after_write(rt)
    title = escape(suggestion.article.title)
    if not changed:
        return f"You had already rated “{title}” like that."
    return f"Thanks: “{title}” counted as {'helpful' if helped else 'not relevant'} for {rt.key(ticket.id)}."


async def send_to_customer(rt: Runtime, *, suggestion_id: int, actor: Actor) -> str:
    """Send a suggested public article to the customer's thread; 3rd level's goes to 2nd level as a draft."""
    if actor.is_external:
        raise PermissionDeniedError("That's something only our support team can do.")
    suggestion = await _load_suggestion(suggestion_id)
    ticket, article = suggestion.ticket, suggestion.article
    key = rt.key(ticket.id)
    if article.visibility != KbVisibility.PUBLIC or article.retired:
        raise UsageError("Only public articles can be sent to customers; this one is internal or retired.")
    if ticket.status not in OPEN_STATUSES:
        raise UsageError(f"{key} is {ticket.status}; reopen it first.")
    if suggestion.sent_to_customer_at is not None:
        return f"“{escape(article.title)}” was already sent to the customer of {key}."
    reply = decide(actor, Action.REPLY, ticket_level=ticket.level)
    if not reply.allowed:
        if decide(actor, Action.DRAFT, ticket_level=ticket.level).allowed:
            from bot.flows import escalation

            await escalation.create_draft(
                rt,
                ticket_id=ticket.id,
                actor=actor,
                text=f"{article.title}\n\n{article.solution or article.problem}",
                kind=DraftKind.REPLY,
            )
            return f"As 3rd level, the article went to 2nd level for review before {key}'s customer sees it."
        raise PermissionDeniedError(reply.reason)
    now = rt.clock.now()
    async with in_transaction():
        updated = await KbSuggestion.filter(id=suggestion.id, sent_to_customer_at__isnull=True).update(
            sent_to_customer_at=now
        )
        if not updated:
            return f"“{escape(article.title)}” was already sent to the customer of {key}."
        await post_to_customer(
            rt,
            ticket,
            build_article_for_customer(
                language=_language(rt, ticket),
                key=key,
                title=article.title,
                solution=article.solution or article.problem,
            ),
            now,
        )
        await ticket_service.record(
            ticket, kind="kb_sent", actor_id=actor.user_id, at=now, data=_ref(suggestion, article)
        )
        await on_ticket_event(ticket, SlaEvent.AGENT_REPLY, at=now, config=rt.config)
        card = await active_card(ticket)
        if card is not None:
            await post_in_card_thread(
                rt,
                ticket,
                card,
                f"📨 {mention(actor.user_id)} sent the article “{escape(article.title)}” to the customer.",
                now,
            )
        suggestion.sent_to_customer_at = now
        await _refresh_suggestions(rt, ticket, suggestion, now)
    await _after_write(rt)
    return f"Sent “{escape(article.title)}” to the customer of {key}."


async def customer_verdict(rt: Runtime, *, suggestion_id: int, actor: Actor, solved: bool) -> str:
    """The customer's answer to an offered article: 'This solved it' closes the ticket as deflected,
    'I still need help' counts as not relevant and tells the card thread. Returns the note for them."""
    suggestion = await _load_suggestion(suggestion_id)
    ticket, article = suggestion.ticket, suggestion.article
    decision = decide(actor, Action.CONFIRM, ticket_team_id=ticket.customer.team_id)
    if not decision.allowed or not actor.is_external:
        raise PermissionDeniedError("Only the customer can answer this.")
    key = rt.key(ticket.id)
    language = _language(rt, ticket)
    verdict = "solved" if solved else "need_help"
    note = customer_text(language, "solved_note" if solved else "need_help_note", key=key)
    if not suggestion.offered_to_customer:
        raise UsageError("This article wasn't offered to you.")
    if suggestion.customer_verdict is not None:
        return (
            note
            if suggestion.customer_verdict == verdict
            else customer_text(language, f"{suggestion.customer_verdict}_note", key=key)
        )
    now = rt.clock.now()
    solved_now = solved and ticket.status in OPEN_STATUSES
    async with in_transaction():
        updated = await KbSuggestion.filter(id=suggestion.id, customer_verdict__isnull=True).update(
            customer_verdict=verdict
        )
        if not updated:
            return note
        suggestion.customer_verdict = verdict
        card = await active_card(ticket)
        if solved_now:
            await escalation_service.resolve(
                ticket=ticket,
                key=key,
                actor_id=actor.user_id,
                solution=f"Solved with the knowledge-base article “{article.title}”.",
                internal=None,
                publish=False,
                at=now,
            )
            await on_ticket_event(ticket, SlaEvent.RESOLVED, at=now, config=rt.config)
            await escalation_service.close(ticket=ticket, key=key, actor_id=actor.user_id, at=now)
            await on_ticket_event(ticket, SlaEvent.CLOSED, at=now, config=rt.config)
            await ticket_service.record(
                ticket, kind="kb_deflected", actor_id=actor.user_id, at=now, data=_ref(suggestion, article)
            )
            if card is not None:
                card.note = (
                    f"🔒 Closed by the knowledge base: the customer confirmed an article · {_when(now)}"
                )
                await card.save(update_fields=["note"])
                await refresh_card(rt, ticket, card, now)
        elif not solved:
            await ticket_service.record(
                ticket,
                kind="kb_offer_declined",
                actor_id=actor.user_id,
                at=now,
                data=_ref(suggestion, article),
            )
        await kb.record_feedback(
            article_id=article.id,
            ticket_id=ticket.id,
            user_id=actor.user_id,
            kind=KbFeedbackKind.HELPED if solved else KbFeedbackKind.NOT_RELEVANT,
            terms=suggestion.terms or [],
            at=now,
            by_customer=True,
        )
        if card is not None:
            title = escape(article.title)
            if solved_now:
                line = f"✅ The customer says “{title}” solved it: {key} is closed (deflected by the KB)."
            elif solved:
                line = f"✅ The customer says “{title}” solved it."
            else:
                line = f"🙋 The customer says “{title}” didn't solve it: they still need help."
            await post_in_card_thread(rt, ticket, card, line, now)
        await _refresh_suggestions(rt, ticket, suggestion, now)
    await _after_write(rt)
    return note


# ---------------------------------------------------------------------------------- capture


async def offer_capture(rt: Runtime, ticket: Ticket, *, resolver_id: str, now: datetime) -> None:
    """After a resolution with 'publish to knowledge base': DM the resolver a 'Write KB article' button."""
    if not ticket.publish_to_kb or not resolver_id:
        return
    existing = await KbArticle.exists(source_ticket_id=ticket.id)
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=resolver_id,
        payload=build_capture_prompt(key=rt.key(ticket.id), ticket_id=ticket.id, existing=existing),
        now=now,
    )


def _require_agent(actor: Actor) -> None:
    if actor.is_external or not actor.is_agent:
        raise PermissionDeniedError("The knowledge base is written by the support team.")


def _too_long(article: KbArticle) -> bool:
    return max(len(article.problem), len(article.solution)) > MODAL_TEXT_MAX


def _form_of(article: KbArticle, *, intro: str | None = None) -> ArticleForm:
    return ArticleForm(
        title=article.title,
        problem=article.problem,
        solution=article.solution,
        tags=", ".join(article.tags or []),
        component=article.component,
        visibility=KbVisibility(article.visibility).value,
        article_id=article.id,
        intro=intro,
    )


async def capture_form(rt: Runtime, *, ticket_id: int, actor: Actor) -> ArticleForm:
    """The article modal prefilled from a resolved ticket (or its existing article, to update it)."""
    _require_agent(actor)
    ticket = await escalation_service.load(ticket_id, rt.key(ticket_id))
    key = rt.key(ticket.id)
    existing = await KbArticle.filter(source_ticket_id=ticket.id, retired=False).order_by("-id").first()
    if existing is not None:
        if _too_long(existing):
            raise UsageError(_TOO_LONG)
        return _form_of(
            existing, intro=f"Updating the article written from *{key}* (the old version is kept)."
        )
    labels = {
        f.id: f.label for level in ("L2", "L3") for f in escalation_service.context_fields(rt.config, level)
    }
    problem = [ticket.text.strip()]
    for field_id, value in (ticket.context or {}).items():
        if str(value or "").strip():
            problem.append(f"{labels.get(field_id, field_id)}: {str(value).strip()}")
    solution = (ticket.resolution or "").strip()
    if (ticket.resolution_internal or "").strip():
        solution += f"\n\nInternal notes:\n{ticket.resolution_internal.strip()}"
    title = clip(" ".join(ticket.text.split()), 120)
    return ArticleForm(
        title=title,
        problem=clip("\n".join(problem), MODAL_TEXT_MAX),
        solution=clip(solution, MODAL_TEXT_MAX),
        component=ticket.component,
        visibility="internal" if (ticket.resolution_internal or "").strip() else "public",
        ticket_id=ticket.id,
        intro=(
            f"From *{key}* ({escape(ticket.customer.name)}). Make the title what people would search for; "
            "a public article may be sent to customers, so keep customer details out of it."
        ),
    )


_TOO_LONG = (
    "This article is longer than a Slack form can hold; update it with `python -m bot kb import` instead."
)


async def edit_form(rt: Runtime, *, article_id: int, actor: Actor) -> ArticleForm:
    """The article modal prefilled with an article, to edit it (a new version; the old one is kept)."""
    _require_agent(actor)
    article = await kb.get_article(article_id)
    if _too_long(article):
        raise UsageError(_TOO_LONG)
    return _form_of(article, intro=f"Version {article.version} · the old version is kept when you save.")


def new_form(rt: Runtime, *, actor: Actor) -> ArticleForm:
    """An empty article modal (`/kb add`)."""
    _require_agent(actor)
    return ArticleForm(intro="A new knowledge-base article. Internal articles are never shown to customers.")


@dataclass(frozen=True)
class ArticleFields:
    """What the article modal submitted."""

    title: str
    problem: str
    solution: str
    tags: str
    component: str | None
    visibility: str


async def save_from_form(
    rt: Runtime, *, actor: Actor, fields: ArticleFields, article_id: int | None, ticket_id: int | None
) -> KbArticle:
    """Create (owner: the author) or edit an article from the modal; raises UsageError for bad fields."""
    _require_agent(actor)
    owner: str | None = actor.user_id
    language = rt.config.defaults.language
    if article_id is not None:
        current = await kb.get_article(article_id)
        owner, language = current.owner_id, current.language
    elif ticket_id is not None:
        ticket = await Ticket.get_or_none(id=ticket_id).prefetch_related("customer")
        if ticket is None:
            raise UsageError("That ticket doesn't exist anymore.")
        language = _language(rt, ticket)
    try:
        data = kb.clean_article(
            title=fields.title,
            problem=fields.problem,
            solution=fields.solution,
            tags=fields.tags,
            component=fields.component,
            visibility=fields.visibility,
            language=language,
            owner_id=owner,
        )
    except ValueError as exc:
        raise UsageError(str(exc).capitalize() + ".") from None
    if not data.solution:
        raise UsageError("Write the solution.")
    now = rt.clock.now()
    article, _ = await kb.save_article(
        data=data,
        editor_id=actor.user_id,
        at=now,
        article_id=article_id,
        source_ticket_id=ticket_id if article_id is None else None,
        reason="edited" if article_id else ("captured" if ticket_id else "created"),
    )
    await kb_store().sync()
    return article


# ---------------------------------------------------------------------------------- /kb


def _kb_audience(rt: Runtime, actor: Actor, channel_id: str) -> tuple[set[str] | None, bool]:
    """(visibility filter, may share internal articles here) for a person in a channel."""
    if actor.is_external or not actor.is_agent:
        return {KbVisibility.PUBLIC.value}, False
    return None, rt.config.is_internal_channel(channel_id)


async def search_for_person(rt: Runtime, *, actor: Actor, channel_id: str, query: str) -> dict[str, Any]:
    """The ephemeral answer to `/kb <query>`: results or a clear message, never an error."""
    raw = (query or "").strip()
    if not raw or raw.lower() == "help":
        return build_notice(KB_CUSTOMER_HELP if actor.is_external or not actor.is_agent else KB_HELP)
    note = None
    if len(raw) > MAX_QUERY_CHARS:
        note = f"Your question was long: I searched its first {MAX_QUERY_CHARS:,} characters."
        raw = raw[:MAX_QUERY_CHARS]
    visibility, share_internal = _kb_audience(rt, actor, channel_id)
    store = kb_store()
    hits = await store.search(raw, limit=SEARCH_RESULTS, visibility=visibility, wait=SEARCH_WAIT)
    if not hits and not store.ready:
        return build_notice("The knowledge base is still loading. Please try again in a few seconds.")
    articles = {a.id: a for a in await KbArticle.filter(id__in=[int(h.id) for h in hits], retired=False)}
    items = []
    for hit in hits:
        article = articles.get(int(hit.id))
        if article is None:
            continue
        public = article.visibility == KbVisibility.PUBLIC
        if visibility is not None and not public:
            continue  # belt and braces: the index filtered already
        items.append(
            ResultView(
                article_id=article.id,
                title=article.title,
                snippet=snippet(article.problem or article.solution),
                label=hit.label,
                public=public,
                shareable=public or share_internal,
            )
        )
    if not items:
        shown = escape(clip(" ".join(raw.split()), 80))
        tip = " Try other words." if actor.is_external else " Try other words, or `/kb add` to write one."
        return build_notice(f"No knowledge-base article matches *{shown}*.{tip}")
    return build_search_results(query=raw, items=items, show_visibility=visibility is None, note=note)


async def share_article(rt: Runtime, *, actor: Actor, channel_id: str, article_id: int) -> dict[str, Any]:
    """The in-channel message for 'Share in channel' (internal articles only in support channels)."""
    article = await kb.get_article(article_id)
    if article.retired:
        raise UsageError("That article was retired.")
    _, share_internal = _kb_audience(rt, actor, channel_id)
    internal = article.visibility != KbVisibility.PUBLIC
    if internal and not share_internal:
        raise PermissionDeniedError(
            "Internal articles can only be shared in the support team's channels, never with customers."
        )
    return build_shared_article(
        title=article.title,
        problem=article.problem,
        solution=article.solution,
        shared_by=actor.user_id if share_internal else None,
        internal=internal,
    )


# ---------------------------------------------------------------------------------- review


def _may_review(rt: Runtime, actor: Actor, article: KbArticle) -> None:
    if actor.is_external or not (actor.user_id == article.owner_id or actor.is_lead):
        raise PermissionDeniedError("Only the article's owner or a lead can do that.")


async def review_action(rt: Runtime, *, article_id: int, actor: Actor, retire: bool) -> str:
    """'Still correct' (reviewed now) or 'Retire' (no longer suggested or found) from the reminder."""
    article = await kb.get_article(article_id)
    _may_review(rt, actor, article)
    now = rt.clock.now()
    if retire:
        await kb.set_retired(article_id=article.id, actor_id=actor.user_id, at=now)
        await kb_store().sync()
        return f"🗄️ Retired by {mention(actor.user_id)}"
    await kb.mark_reviewed(article_id=article.id, actor_id=actor.user_id, at=now)
    return f"✅ Confirmed as still correct by {mention(actor.user_id)}"


async def review_edit_form(rt: Runtime, *, article_id: int, actor: Actor) -> ArticleForm:
    """The edit modal from the reminder's Edit button (owner or lead)."""
    article = await kb.get_article(article_id)
    _may_review(rt, actor, article)
    return await edit_form(rt, article_id=article_id, actor=actor)


async def articles_due_for_review(rt: Runtime, *, now: datetime) -> list[tuple[KbArticle, str]]:
    """Articles not reviewed for review_after_days, or with enough 'not relevant' clicks since their review."""
    settings = rt.config.kb
    cutoff = now - timedelta(days=settings.review_after_days)
    due: dict[int, tuple[KbArticle, str]] = {}
    for article in await KbArticle.filter(retired=False, reviewed_at__lt=cutoff).order_by("id"):
        days = (now - article.reviewed_at).days
        due[article.id] = (article, f"Not reviewed for {days} days (since {article.reviewed_at:%Y-%m-%d}).")
    suspects = await KbArticle.filter(retired=False, not_relevant__gte=settings.not_relevant_threshold)
    counts = await kb.not_relevant_since([a.id for a in suspects], {a.id: a.reviewed_at for a in suspects})
    for article in suspects:
        clicks = counts.get(article.id, 0)
        if clicks >= settings.not_relevant_threshold:
            reason = f"Marked “not relevant” {clicks} times since its last review."
            if article.id in due:
                reason = f"{due[article.id][1]} {reason}"
            due[article.id] = (article, reason)
    return [due[k] for k in sorted(due)]


async def send_review_reminders(rt: Runtime) -> int:
    """The weekly job: one DM per owner listing their articles due for review; returns the DMs sent.

    It runs once per ISO week across all replicas (a ScheduledRun row claims the week). Articles without
    an owner go to the leads.
    """
    now = rt.clock.now()
    year, week, _ = now.isocalendar()
    try:
        await ScheduledRun.create(job=REVIEW_JOB, period=f"{year}-W{week:02d}", at=now)
    except IntegrityError:
        log.info("kb: review reminders for %s-W%02d were already sent", year, week)
        return 0
    by_owner: dict[str, list[ReviewItem]] = {}
    for article, reason in await articles_due_for_review(rt, now=now):
        owners = [article.owner_id] if article.owner_id else list(rt.config.leads)
        for owner in owners:
            by_owner.setdefault(owner, []).append(ReviewItem(article.id, article.title, escape(reason)))
    async with in_transaction():
        for owner, items in sorted(by_owner.items()):
            await outbox.enqueue(
                stream=f"kb:review:{owner}",
                method="chat.postMessage",
                channel_id=owner,
                payload=build_review_reminder(
                    items=items[:REVIEW_ITEMS_PER_DM], more=max(0, len(items) - REVIEW_ITEMS_PER_DM)
                ),
                now=now,
            )
    rt.sender.wake()
    log.info("kb: review reminders sent to %d people", len(by_owner))
    return len(by_owner)


async def warm_up(rt: Runtime) -> None:
    """Build this replica's index from the database (at start, so the first ticket doesn't wait for it);
    with kb.semantic, then load the model and the stored article vectors (computing missing ones)."""
    store = kb_store()
    await store.sync()
    if not rt.config.kb.semantic:
        await store.use_encoder(None)
        return
    from bot.services.kb import semantic

    encoder = await asyncio.to_thread(semantic.default_encoder)
    await store.use_encoder(encoder)
    log.info("kb: semantic ranking on (%s)", encoder.model_id)


async def stop(rt: Runtime) -> None:
    """Stop the KB's background work (index build, article vectors) before the database closes."""
    await kb_store().close()
