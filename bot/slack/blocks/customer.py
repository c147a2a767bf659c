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
