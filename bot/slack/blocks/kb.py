"""Knowledge-base views: suggestions in the card thread, the customer offer, /kb results, the article
modal, the capture prompt and the review reminder. Pure builders: data in, Block Kit out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.text import clip, escape, mention, plain, prefill, quote

MODAL_TEXT_MAX = 3000
LABELS = {"high": "🟢 high-confidence match", "medium": "🟡 likely match", "low": "⚪ possibly related"}


def _message(text: str, blocks: list[Any]) -> dict[str, Any]:
    return {"text": clip(text, 3000), "blocks": [b.to_dict() for b in blocks[:50]], "unfurl_links": False}


def snippet(text: str, limit: int = 280) -> str:
    """The start of an article's text on one line (escaped by the caller)."""
    return clip(" ".join((text or "").split()), limit)


# ---------------------------------------------------------------------------------- card thread


@dataclass(frozen=True)
class SuggestionView:
    """One suggested article as the card thread shows it."""

    suggestion_id: int
    title: str
    snippet: str
    label: str
    confidence: float
    public: bool
    helped_by: tuple[str, ...] = ()
    not_relevant_by: tuple[str, ...] = ()
    sent: bool = False
    offered: bool = False
    customer_verdict: str | None = None


def build_suggestions(*, key: str, heading: str, items: list[SuggestionView]) -> dict[str, Any]:
    """Suggested articles in a ticket card's thread, each with Helped / Not relevant / Send to customer."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=clip(f"📚 *{heading}*", 3000)))]
    for rank, item in enumerate(items, start=1):
        badge = "public" if item.public else "🔒 internal"
        line = (
            f"*{rank}. {escape(item.title)}*\n{LABELS.get(item.label, item.label)} "
            f"({round(item.confidence * 100)} %) · {badge}\n{escape(item.snippet)}"
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(line, 3000))))
        states = []
        if item.helped_by:
            states.append("👍 helped: " + ", ".join(mention(u) for u in item.helped_by[:10]))
        if item.not_relevant_by:
            states.append("👎 not relevant: " + ", ".join(mention(u) for u in item.not_relevant_by[:10]))
        if item.offered:
            verdict = {"solved": " · the customer says it solved it", "need_help": " · not enough for them"}
            states.append("📨 offered to the customer" + verdict.get(item.customer_verdict or "", ""))
        if item.sent:
            states.append("📨 sent to the customer")
        if states:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(states), 2000))]))
        buttons = [
            ButtonElement(text="Helped", action_id=ActionId.KB_HELPED, value=str(item.suggestion_id)),
            ButtonElement(
                text="Not relevant", action_id=ActionId.KB_NOT_RELEVANT, value=str(item.suggestion_id)
            ),
        ]
        if item.public and not item.sent:
            buttons.append(
                ButtonElement(
                    text="Send to customer",
                    action_id=ActionId.KB_SEND,
                    value=str(item.suggestion_id),
                    style="primary",
                )
            )
        blocks.append(
            ActionsBlock(block_id=f"{BlockId.KB_SUGGESTION_PREFIX}{item.suggestion_id}", elements=buttons)
        )
    if items and items[0].label == "low":
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text="Only weak matches: if none fits, consider escalating.")]
            )
        )
    titles = "; ".join(escape(i.title) for i in items)
    return _message(f"{heading} for {key}: {titles}", blocks)


# ---------------------------------------------------------------------------------- customers

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "offer": "While our team looks at *{key}*, this article may already solve it:",
        "question": "Did this solve your problem?",
        "solved": "This solved it",
        "need_help": "I still need help",
        "solved_note": "✅ Great, thanks! We've closed *{key}*. Write here any time if it comes back.",
        "need_help_note": "Thanks for telling us. Our support team is on *{key}* and will answer here.",
        "article": "*Support team* ({key}): this article should help:",
    },
    "de": {
        "offer": "Während sich unser Team *{key}* ansieht: Dieser Artikel löst das Problem vielleicht schon:",
        "question": "Hat das Ihr Problem gelöst?",
        "solved": "Ja, gelöst",
        "need_help": "Ich brauche weiter Hilfe",
        "solved_note": "✅ Danke! Wir haben *{key}* geschlossen. Melden Sie sich hier, falls es wieder auftritt.",
        "need_help_note": "Danke für den Hinweis. Unser Support-Team kümmert sich um *{key}* und antwortet hier.",
        "article": "*Support-Team* ({key}): Dieser Artikel sollte helfen:",
    },
}


def customer_text(language: str, name: str, **values: str) -> str:
    """A customer-facing KB sentence in the language (English when unknown)."""
    return _TEXTS.get(language, _TEXTS["en"])[name].format(**values)


def _article_body(title: str, solution: str, limit: int = 2700) -> str:
    return f"*{escape(' '.join(title.split()))}*\n{quote(solution, limit)}"


def build_article_for_customer(*, language: str, key: str, title: str, solution: str) -> dict[str, Any]:
    """A public article sent to the customer's thread: title and solution, escaped."""
    body = f"{customer_text(language, 'article', key=key)}\n{_article_body(title, solution)}"
    return _message(body, [SectionBlock(text=MarkdownTextObject(text=clip(body, 3000)))])


def build_customer_offer(
    *, language: str, key: str, suggestion_id: int, title: str, solution: str
) -> dict[str, Any]:
    """A high-confidence public article offered to the customer with 'This solved it' / 'I still need help'."""
    body = f"{customer_text(language, 'offer', key=key)}\n{_article_body(title, solution, 2500)}"
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=clip(body, 3000))),
        SectionBlock(text=MarkdownTextObject(text=f"*{customer_text(language, 'question')}*")),
        ActionsBlock(
            block_id=BlockId.KB_CUSTOMER_ACTIONS,
            elements=[
                ButtonElement(
                    text=customer_text(language, "solved"),
                    action_id=ActionId.KB_CUSTOMER_SOLVED,
                    value=str(suggestion_id),
                    style="primary",
                ),
                ButtonElement(
                    text=customer_text(language, "need_help"),
                    action_id=ActionId.KB_CUSTOMER_NEED_HELP,
                    value=str(suggestion_id),
                ),
            ],
        ),
    ]
    return _message(body, blocks)


# ---------------------------------------------------------------------------------- /kb


@dataclass(frozen=True)
class ResultView:
    """One /kb search result."""

    article_id: int
    title: str
    snippet: str
    label: str
    public: bool
    shareable: bool


def build_search_results(
    *, query: str, items: list[ResultView], show_visibility: bool, note: str | None = None
) -> dict[str, Any]:
    """The ephemeral /kb answer: the best articles, each with 'Share in channel' where allowed."""
    head = f"📚 Knowledge base: *{escape(clip(' '.join(query.split()), 120))}*"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=head))]
    for rank, item in enumerate(items, start=1):
        badge = (" · public" if item.public else " · 🔒 internal") if show_visibility else ""
        line = (
            f"*{rank}. {escape(item.title)}*\n{LABELS.get(item.label, item.label)}{badge}\n"
            f"{escape(item.snippet)}"
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(line, 3000))))
        if item.shareable:
            blocks.append(
                ActionsBlock(
                    block_id=f"{BlockId.KB_RESULT_PREFIX}{item.article_id}",
                    elements=[
                        ButtonElement(
                            text="Share in channel", action_id=ActionId.KB_SHARE, value=str(item.article_id)
                        )
                    ],
                )
            )
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000))]))
    message = _message(head, blocks)
    message["response_type"] = "ephemeral"
    return message


def build_shared_article(
    *, title: str, problem: str, solution: str, shared_by: str | None, internal: bool
) -> dict[str, Any]:
    """An article shared into a channel from /kb (in customer channels: public articles, no names)."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=f"📚 *{escape(title)}*"))]
    if problem.strip():
        blocks.append(SectionBlock(text=MarkdownTextObject(text=quote(problem, 1200))))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=quote(solution or "_(no solution text)_", 2800))))
    context = []
    if internal:
        context.append("🔒 internal article")
    if shared_by:
        context.append(f"shared by {mention(shared_by)}")
    if context:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(context))]))
    message = _message(f"{escape(title)}: {escape(snippet(solution, 500))}", blocks)
    message.update(response_type="in_channel", replace_original=False)
    return message


# ---------------------------------------------------------------------------------- capture


def build_capture_prompt(*, key: str, ticket_id: int, existing: bool) -> dict[str, Any]:
    """DM to the resolver: write (or update) the KB article for a ticket resolved with 'publish'."""
    verb = "Update the KB article" if existing else "Write KB article"
    text = (
        f"📚 You resolved *{key}* with *publish to knowledge base*. "
        f"{'Its article exists already; update it' if existing else 'Turn it into an article'} "
        "while it's fresh: the form comes prefilled from the ticket."
    )
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(
            block_id=BlockId.KB_WRITE_ACTIONS,
            elements=[
                ButtonElement(text=verb, action_id=ActionId.KB_WRITE, value=str(ticket_id), style="primary")
            ],
        ),
    ]
    return _message(text, blocks)


@dataclass(frozen=True)
class ArticleForm:
    """What the article modal shows (prefilled from a ticket or an article)."""

    title: str = ""
    problem: str = ""
    solution: str = ""
    tags: str = ""
    component: str | None = None
    visibility: str = "internal"
    article_id: int | None = None
    ticket_id: int | None = None
    intro: str | None = None


def _input(
    block_id: str, action_id: str, label: str, initial: str, *, multiline: bool, optional: bool, hint: str
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=action_id,
        multiline=multiline,
        max_length=MODAL_TEXT_MAX if multiline else 300,
        initial_value=prefill(initial, MODAL_TEXT_MAX if multiline else 300) if initial else None,
        placeholder=plain(hint, 150),
    )
    return InputBlock(block_id=block_id, label=label, element=element, optional=optional)


def build_article_modal(form: ArticleForm, *, components: list[tuple[str, str]]) -> dict[str, Any]:
    """The KB article modal: title, problem, solution, tags, component, visibility."""
    blocks: list[Any] = []
    if form.intro:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(form.intro, 3000))))
    blocks += [
        _input(
            BlockId.KB_TITLE,
            ActionId.KB_TITLE,
            "Title",
            form.title,
            multiline=False,
            optional=False,
            hint="What people search for, e.g. 'VPN drops every 10 minutes'",
        ),
        _input(
            BlockId.KB_PROBLEM,
            ActionId.KB_PROBLEM,
            "Problem",
            form.problem,
            multiline=True,
            optional=True,
            hint="Symptoms in the customer's words, error messages",
        ),
        _input(
            BlockId.KB_SOLUTION,
            ActionId.KB_SOLUTION,
            "Solution",
            form.solution,
            multiline=True,
            optional=False,
            hint="The steps that fix it",
        ),
        _input(
            BlockId.KB_TAGS,
            ActionId.KB_TAGS,
            "Tags (comma-separated)",
            form.tags,
            multiline=False,
            optional=True,
            hint="vpn, windows",
        ),
    ]
    if components:
        options = [Option(value=value, text=plain(label, 75)) for value, label in components[:99]]
        initial = next((o for o in options if o.value == form.component), None)
        blocks.append(
            InputBlock(
                block_id=BlockId.KB_COMPONENT,
                label="Component",
                optional=True,
                element=StaticSelectElement(
                    action_id=ActionId.KB_COMPONENT,
                    options=options,
                    initial_option=initial,
                    placeholder="Which area?",
                ),
            )
        )
    visibility = [
        Option(value="internal", text="Internal: the support team only"),
        Option(value="public", text="Public: may be sent to customers"),
    ]
    blocks.append(
        InputBlock(
            block_id=BlockId.KB_VISIBILITY,
            label="Visibility",
            element=StaticSelectElement(
                action_id=ActionId.KB_VISIBILITY,
                options=visibility,
                initial_option=visibility[1] if form.visibility == "public" else visibility[0],
            ),
        )
    )
    meta = json.dumps({"article": form.article_id, "ticket": form.ticket_id}, separators=(",", ":"))
    return View(
        type="modal",
        callback_id=CallbackId.MODAL_KB_ARTICLE,
        title=PlainTextObject(text="Edit KB article" if form.article_id else "New KB article"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=meta,
        blocks=blocks,
    ).to_dict()


# ---------------------------------------------------------------------------------- review


@dataclass(frozen=True)
class ReviewItem:
    """An article due for review and why."""

    article_id: int
    title: str
    reason: str


def build_review_reminder(*, items: list[ReviewItem], more: int = 0) -> dict[str, Any]:
    """The weekly DM to an article owner: Confirm / Edit / Retire per article."""
    count = len(items) + more
    head = f"📚 *{count} knowledge-base article{'s' if count != 1 else ''} need{'s' if count == 1 else ''} a look*"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=head))]
    for item in items:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=clip(f"*{escape(item.title)}*\n{item.reason}", 3000)))
        )
        value = str(item.article_id)
        blocks.append(
            ActionsBlock(
                block_id=f"{BlockId.KB_REVIEW_PREFIX}{item.article_id}",
                elements=[
                    ButtonElement(
                        text="Still correct",
                        action_id=ActionId.KB_REVIEW_CONFIRM,
                        value=value,
                        style="primary",
                    ),
                    ButtonElement(text="Edit", action_id=ActionId.KB_REVIEW_EDIT, value=value),
                    ButtonElement(
                        text="Retire", action_id=ActionId.KB_REVIEW_RETIRE, value=value, style="danger"
                    ),
                ],
            )
        )
    if more:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more next time.")]))
    titles = "; ".join(escape(i.title) for i in items)
    return _message(f"{count} KB articles need a look: {titles}", blocks)


def mark_review_item(message: dict[str, Any], *, article_id: int, note: str) -> dict[str, Any]:
    """The reminder with one article's buttons replaced by what was done."""
    target = f"{BlockId.KB_REVIEW_PREFIX}{article_id}"
    blocks = []
    shown = message.get("blocks")
    for block in shown if isinstance(shown, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("block_id") == target:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000))]).to_dict())
        else:
            blocks.append(block)
    text = message.get("text")
    return {"text": text if isinstance(text, str) and text else note, "blocks": blocks}


KB_HELP = (
    "*/kb* — the knowledge base\n"
    "• `/kb <question>` finds the best articles (only you see them); *Share in channel* posts one here\n"
    "• `/kb add` writes a new article\n"
    "Articles are also suggested on every new ticket, and resolving with *publish to knowledge base* "
    "offers to turn the solution into an article."
)
KB_CUSTOMER_HELP = "`/kb <question>` searches our public help articles (only you see the results)."
