"""CSAT messages: the 1-5 survey and its thanks (customer-safe: key and neutral text only), the comment
form, and the internal notes for the level channel."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.ids import CSAT_RATINGS, ActionId, BlockId, CallbackId
from bot.slack.text import clip, escape, mention, ping, quote

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "question": "How happy are you with how we handled *{key}*? One click is enough.",
        "scale": "1 = very unhappy · 5 = very happy",
        "thanks": "Thanks for rating *{key}*: {stars} ({rating}/5).",
        "thanks_comment": "Thanks, we've got your comment on *{key}*.",
        "add_comment": "Add a comment",
        "modal_title": "Your feedback",
        "modal_submit": "Send",
        "modal_label": "What should we know?",
        "modal_hint": "Optional. Our support team reads every comment.",
    },
    "de": {
        "question": "Wie zufrieden sind Sie mit der Bearbeitung von *{key}*? Ein Klick genügt.",
        "scale": "1 = sehr unzufrieden · 5 = sehr zufrieden",
        "thanks": "Danke für Ihre Bewertung von *{key}*: {stars} ({rating}/5).",
        "thanks_comment": "Danke, wir haben Ihren Kommentar zu *{key}* erhalten.",
        "add_comment": "Kommentar hinzufügen",
        "modal_title": "Ihr Feedback",
        "modal_submit": "Senden",
        "modal_label": "Was sollten wir wissen?",
        "modal_hint": "Freiwillig. Unser Support-Team liest jeden Kommentar.",
    },
}


def _text(language: str, name: str, **values: Any) -> str:
    return _TEXTS.get(language, _TEXTS["en"])[name].format(**values)


def stars(rating: int) -> str:
    """★★★☆☆ for 3."""
    return "★" * rating + "☆" * (5 - rating)


def build_csat_survey(*, language: str, key: str, survey_id: int) -> dict[str, Any]:
    """The survey in the customer's thread: five rating buttons."""
    question = _text(language, "question", key=key)
    buttons = [
        ButtonElement(text=str(rating), action_id=action_id, value=str(survey_id))
        for rating, action_id in sorted(CSAT_RATINGS.items())
    ]
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=question)),
        ActionsBlock(block_id=BlockId.CSAT_ACTIONS, elements=buttons),
        ContextBlock(elements=[MarkdownTextObject(text=_text(language, "scale"))]),
    ]
    return {"text": question, "blocks": [b.to_dict() for b in blocks], "unfurl_links": False}


def build_csat_thanks(
    *, language: str, key: str, survey_id: int, rating: int, commented: bool
) -> dict[str, Any]:
    """The survey message once rated: the rating, and a button for an optional comment."""
    line = _text(language, "thanks", key=key, stars=stars(rating), rating=rating)
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=line))]
    if commented:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_text(language, "thanks_comment", key=key))])
        )
    else:
        blocks.append(
            ActionsBlock(
                block_id=BlockId.CSAT_ACTIONS,
                elements=[
                    ButtonElement(
                        text=_text(language, "add_comment"),
                        action_id=ActionId.CSAT_COMMENT,
                        value=str(survey_id),
                    )
                ],
            )
        )
    return {"text": line, "blocks": [b.to_dict() for b in blocks]}


def build_csat_comment_modal(*, language: str, survey_id: int) -> dict[str, Any]:
    """The comment form (opened from the thanks message)."""
    view = View(
        type="modal",
        callback_id=CallbackId.MODAL_CSAT_COMMENT,
        title=PlainTextObject(text=_text(language, "modal_title")),
        submit=PlainTextObject(text=_text(language, "modal_submit")),
        private_metadata=json.dumps({"survey": survey_id}),
        blocks=[
            InputBlock(
                block_id=BlockId.CSAT_COMMENT,
                label=_text(language, "modal_label"),
                hint=_text(language, "modal_hint"),
                element=PlainTextInputElement(
                    action_id=ActionId.CSAT_COMMENT_TEXT, multiline=True, max_length=2000
                ),
            )
        ],
    )
    return view.to_dict()


def build_low_rating_ping(
    *, key: str, customer_name: str, rating: int, level: str, leads: tuple[str, ...]
) -> dict[str, Any]:
    """Internal: a customer rated a resolution 1 or 2; the level's leads are asked to follow up."""
    who = " ".join(ping(lead) for lead in leads) or "Leads"
    line = (
        f"⚠️ {who}: *{escape(key)}* ({escape(customer_name)}, resolved at {level}) got a low satisfaction "
        f"rating: {stars(rating)} ({rating}/5). Please follow up with the customer."
    )
    return {
        "text": clip(line, 3000),
        "blocks": [SectionBlock(text=MarkdownTextObject(text=clip(line, 3000))).to_dict()],
    }


def build_comment_note(*, key: str, rating: int | None, author_id: str, comment: str) -> dict[str, Any]:
    """Internal: the customer's comment on their rating, in the ticket card's thread."""
    rated = f" ({stars(rating)} {rating}/5)" if rating else ""
    body = (
        f"💬 Satisfaction comment on *{escape(key)}*{rated} by {mention(author_id)}:\n{quote(comment, 2600)}"
    )
    return {
        "text": clip(body, 3000),
        "blocks": [SectionBlock(text=MarkdownTextObject(text=clip(body, 3000))).to_dict()],
    }
