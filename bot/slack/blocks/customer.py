"""Messages customers see. Customer-safe by construction: they take only public fields."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "ack": "Thanks, we've got your request and logged it as *{key}*. Our support team will answer "
        "you here in this thread. Reply here to add details or screenshots.",
        "ack_context": "Ticket {key} · please keep the conversation in this thread",
        "opened_for_you": "Our support team opened ticket *{key}* for you:",
        "status": "*{key}* · {status}",
        "help": "To get help, just write your question in this channel: our support team picks it up "
        "and answers in the thread. `/ticket {prefix}-42` shows the state of one of your tickets.",
        "not_for_customers": "That's something only our support team can do. If you need help, just write "
        "your question in this channel and we'll answer in the thread.",
    },
    "de": {
        "ack": "Danke, wir haben Ihre Anfrage erhalten und als *{key}* erfasst. Unser Support-Team "
        "antwortet Ihnen hier im Thread. Antworten Sie hier, um Details oder Screenshots zu ergänzen.",
        "ack_context": "Ticket {key} · bitte bleiben Sie in diesem Thread",
        "opened_for_you": "Unser Support-Team hat für Sie das Ticket *{key}* eröffnet:",
        "status": "*{key}* · {status}",
        "help": "Schreiben Sie Ihre Frage einfach in diesen Kanal: Unser Support-Team nimmt sie auf und "
        "antwortet im Thread. `/ticket {prefix}-42` zeigt den Stand eines Ihrer Tickets.",
        "not_for_customers": "Das kann nur unser Support-Team tun. Wenn Sie Hilfe brauchen, schreiben Sie "
        "Ihre Frage einfach in diesen Kanal, wir antworten im Thread.",
    },
}

_STATUS: dict[str, dict[str, str]] = {
    "en": {
        "new": "received, waiting for our team",
        "open": "our team is working on it",
        "waiting": "waiting for your answer",
        "resolved": "resolved",
        "closed": "closed",
    },
    "de": {
        "new": "eingegangen, wartet auf unser Team",
        "open": "unser Team arbeitet daran",
        "waiting": "wartet auf Ihre Antwort",
        "resolved": "gelöst",
        "closed": "geschlossen",
    },
}


def text(language: str, name: str, **values: str) -> str:
    """A customer-facing sentence in the language (English when unknown)."""
    table = _TEXTS.get(language, _TEXTS["en"])
    return table[name].format(**values)


def status_label(language: str, status: str) -> str:
    """The customer-facing name of a ticket status."""
    return _STATUS.get(language, _STATUS["en"]).get(status, status)


def build_customer_ack(*, key: str, language: str) -> dict[str, Any]:
    """The reply in the customer's thread when a ticket is opened."""
    body = text(language, "ack", key=key)
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=body)),
        ContextBlock(elements=[MarkdownTextObject(text=text(language, "ack_context", key=key))]),
    ]
    return {"text": body, "blocks": [b.to_dict() for b in blocks]}


def build_customer_ticket_view(*, key: str, status: str, language: str, opened: str) -> dict[str, Any]:
    """What a customer sees for `/ticket KEY`: key and status, nothing internal."""
    line = text(language, "status", key=key, status=status_label(language, status))
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=line)),
        ContextBlock(elements=[MarkdownTextObject(text=opened)]),
    ]
    return {"text": line, "blocks": [b.to_dict() for b in blocks], "response_type": "ephemeral"}


_UPDATES: dict[str, dict[str, str]] = {
    "en": {
        "forwarded": "Your request *{key}* has been forwarded to our specialists. We'll keep you posted here.",
        "resolved": "✅ *{key}*: we believe this is solved.",
        "question": "Did this solve it?",
        "yes": "Yes, it's solved",
        "no": "No, still a problem",
        "closed": "Great, thanks for confirming! We've closed *{key}*. Write here any time if it comes back.",
        "reopened": "Thanks for telling us. We've reopened *{key}* and are back on it.",
        "reply": "*Support team* ({key}):",
    },
    "de": {
        "forwarded": "Ihre Anfrage *{key}* wurde an unsere Spezialisten weitergeleitet. Wir melden uns hier.",
        "resolved": "✅ *{key}*: Wir gehen davon aus, dass das Problem gelöst ist.",
        "question": "Hat das geholfen?",
        "yes": "Ja, gelöst",
        "no": "Nein, besteht weiter",
        "closed": "Danke für die Bestätigung! Wir haben *{key}* geschlossen. Melden Sie sich hier, falls es wieder auftritt.",
        "reopened": "Danke für den Hinweis. Wir haben *{key}* wieder geöffnet und kümmern uns darum.",
        "reply": "*Support-Team* ({key}):",
    },
}


def update_text(language: str, name: str, **values: str) -> str:
    """A customer-facing status update in the language (English when unknown)."""
    return _UPDATES.get(language, _UPDATES["en"])[name].format(**values)


def build_customer_update(*, language: str, name: str, key: str) -> dict[str, Any]:
    """A neutral status update in the customer's thread (no internal details, no names)."""
    body = update_text(language, name, key=key)
    return {"text": body, "blocks": [SectionBlock(text=MarkdownTextObject(text=body)).to_dict()]}


def build_customer_reply(*, language: str, key: str, text: str) -> dict[str, Any]:
    """A message of the support team to the customer, posted by the bot."""
    from bot.slack.text import quote

    body = f"{update_text(language, 'reply', key=key)}\n{quote(text, 2800)}"
    return {
        "text": body,
        "blocks": [SectionBlock(text=MarkdownTextObject(text=body)).to_dict()],
        "unfurl_links": False,
    }


def build_resolution_message(*, language: str, key: str, ticket_id: int, solution: str) -> dict[str, Any]:
    """The resolution in the customer's thread with 'Did this solve it?' buttons."""
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement

    from bot.slack.ids import ActionId, BlockId
    from bot.slack.text import quote

    head = update_text(language, "resolved", key=key)
    body = f"{head}\n{quote(solution, 2700)}"
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=body)),
        SectionBlock(text=MarkdownTextObject(text=f"*{update_text(language, 'question', key=key)}*")),
        ActionsBlock(
            block_id=BlockId.CUSTOMER_ACTIONS,
            elements=[
                ButtonElement(
                    text=update_text(language, "yes", key=key),
                    action_id=ActionId.CUSTOMER_CONFIRM,
                    value=str(ticket_id),
                    style="primary",
                ),
                ButtonElement(
                    text=update_text(language, "no", key=key),
                    action_id=ActionId.CUSTOMER_REJECT,
                    value=str(ticket_id),
                ),
            ],
        ),
    ]
    return {"text": body, "blocks": [b.to_dict() for b in blocks], "unfurl_links": False}


def strip_actions(message: dict[str, Any], note: str) -> dict[str, Any]:
    """The same message without its buttons, with a short note of what was chosen."""
    shown = message.get("blocks")
    blocks = (
        [b for b in shown if isinstance(b, dict) and b.get("type") != "actions"]
        if isinstance(shown, list)
        else []
    )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]).to_dict())
    text = message.get("text")
    return {"text": text if isinstance(text, str) and text else note, "blocks": blocks}
