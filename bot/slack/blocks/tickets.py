"""Internal ticket views: the card in the level channels, its thread notes, the ephemeral ticket view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.ids import ActionId, BlockId
from bot.slack.text import clip, escape, mention, ping, plain, quote, slack_date

PRIORITY_BADGE = {"P1": "🔴 P1", "P2": "🟠 P2", "P3": "🔵 P3", "P4": "⚪ P4"}
STATUS_LABEL = {
    "new": "🆕 New",
    "open": "🛠️ Open",
    "waiting": "⏳ Waiting on customer",
    "resolved": "✅ Resolved",
    "closed": "🔒 Closed",
}


@dataclass(frozen=True)
class CardData:
    """Everything a ticket card shows; built from the ticket by the flow."""

    ticket_id: int
    key: str
    customer_name: str
    author_id: str
    text: str
    priority: str
    status: str
    level: str
    created_ts: float
    permalink: str | None = None
    assignee_id: str | None = None
    priority_reason: str | None = None
    component: str | None = None
    source_deleted: bool = False
    pings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    active: bool = True
    # (label, value) pairs of escalation context, shown on L2/L3 cards.
    context: tuple[tuple[str, str], ...] = ()
    # Why it was escalated (escalation reason), and a line about the card's state (escalated away …).
    reason: str | None = None
    state_note: str | None = None
    buttons: tuple[str, ...] = (ActionId.CARD_CLAIM, ActionId.CARD_ESCALATE)
    sla_line: str | None = None


BUTTON_LABELS: dict[str, tuple[str, str | None]] = {
    ActionId.CARD_CLAIM: ("Claim", "primary"),
    ActionId.CARD_ESCALATE: ("Escalate", None),
    ActionId.CARD_HANDBACK: ("Hand back", None),
    ActionId.CARD_RESOLVE: ("Resolve", None),
    ActionId.CARD_WAIT: ("Waiting on customer", None),
    ActionId.CARD_NOTE: ("Add note", None),
    ActionId.CARD_DRAFT: ("Draft reply to customer", None),
}


def build_ticket_card(card: CardData) -> dict[str, Any]:
    """The ticket card posted into a level channel (chat.postMessage / chat.update payload)."""
    header = plain(f"{card.key} · {card.customer_name}", 150)
    priority = PRIORITY_BADGE.get(card.priority, card.priority)
    if card.priority_reason:
        priority += f" ({escape(card.priority_reason)})"
    blocks: list[Any] = [HeaderBlock(text=PlainTextObject(text=header, emoji=True))]
    if card.state_note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(card.state_note, 3000))))
    if card.pings and card.active:
        targets = " ".join(ping(p) for p in card.pings)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"🎫 Ticket for *{card.level}*: {targets}")))
    body = quote(card.text, 2900) if card.text.strip() else "_(no text)_"
    blocks.append(SectionBlock(text=MarkdownTextObject(text=body)))
    fields = [
        MarkdownTextObject(text=f"*Customer*\n{escape(card.customer_name)}"),
        MarkdownTextObject(text=f"*Reported by*\n{mention(card.author_id)}"),
        MarkdownTextObject(text=f"*Priority*\n{priority}"),
        MarkdownTextObject(text=f"*Status*\n{STATUS_LABEL.get(card.status, card.status)}"),
        MarkdownTextObject(
            text=f"*Level*\n{card.level}" + (f" · {escape(card.component)}" if card.component else "")
        ),
        MarkdownTextObject(
            text=f"*Assignee*\n{mention(card.assignee_id) if card.assignee_id else '_unassigned_'}"
        ),
    ]
    blocks.append(SectionBlock(fields=fields))
    if card.reason:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(f"*Escalation reason*\n{quote(card.reason, 2800)}", 3000))
            )
        )
    for label, value in card.context[:8]:
        if value.strip():
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(text=clip(f"*{escape(label)}*\n{quote(value, 2800)}", 3000))
                )
            )
    context = [f"Opened {slack_date(card.created_ts, fallback='recently')}"]
    if card.permalink:
        context.append(f"<{card.permalink}|original message>")
    if card.source_deleted:
        context.append("⚠️ the customer deleted the original message")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(context))]))
    if card.sla_line:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(card.sla_line, 2000))]))
    for note in card.notes[-3:]:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000))]))
    buttons = [b for b in card.buttons if b in BUTTON_LABELS] if card.active else []
    if buttons:
        blocks.append(DividerBlock())
        elements = []
        for action_id in buttons:
            label, style = BUTTON_LABELS[action_id]
            elements.append(
                ButtonElement(text=label, action_id=action_id, value=str(card.ticket_id), style=style)
            )
        blocks.append(ActionsBlock(block_id=BlockId.CARD_ACTIONS, elements=elements))
    fallback = f"{card.key} ({card.priority}, {card.level}) from {card.customer_name}: {clip(card.text, 200)}"
    return {"text": escape(fallback), "blocks": [b.to_dict() for b in blocks[:50]], "unfurl_links": False}


def build_thread_mirror(
    *, author_id: str, author_kind: str, text: str, permalink: str | None, change: str = "reply"
) -> dict[str, Any]:
    """A customer-thread message mirrored into the card's internal thread."""
    who = f"{mention(author_id)} ({'customer' if author_kind == 'customer' else 'agent'})"
    verb = {
        "reply": "wrote in the customer thread",
        "followup": "added (follow-up message)",
        "edited": "edited a message",
        "deleted": "deleted a message",
        "source_edited": "edited the original request",
        "source_deleted": "deleted the original request",
    }.get(change, "wrote")
    icon = {"edited": "✏️", "source_edited": "✏️", "deleted": "🗑️", "source_deleted": "🗑️"}.get(change, "💬")
    first = f"{icon} {who} {verb}" + (f" · <{permalink}|open>" if permalink else "")
    body = first if change in ("deleted", "source_deleted") else f"{first}\n{quote(text, 2800)}"
    return {
        "text": clip(body, 3000),
        "blocks": [SectionBlock(text=MarkdownTextObject(text=clip(body, 3000))).to_dict()],
    }


def build_ticket_ephemeral(card: CardData, timeline: list[str]) -> dict[str, Any]:
    """`/ticket KEY` for an agent: the card without buttons, plus the latest timeline entries."""
    message = build_ticket_card(CardData(**{**card.__dict__, "active": False, "pings": ()}))
    if timeline:
        lines = "\n".join(f"• {line}" for line in timeline[-8:])
        message["blocks"].append(
            SectionBlock(text=MarkdownTextObject(text=clip(f"*Timeline*\n{lines}", 3000))).to_dict()
        )
    message["response_type"] = "ephemeral"
    return message


def build_notice(text: str) -> dict[str, Any]:
    """A short ephemeral answer (usage, refusal, error) as text plus one section."""
    return {
        "text": clip(text, 3000),
        "blocks": [SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))).to_dict()],
        "response_type": "ephemeral",
    }
