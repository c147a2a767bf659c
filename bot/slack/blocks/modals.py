"""Modals."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
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
from bot.slack.text import clip, escape, prefill

PRIORITY_OPTIONS = [
    ("P1", "P1 · critical, service down"),
    ("P2", "P2 · high, major impact"),
    ("P3", "P3 · normal"),
    ("P4", "P4 · low, question"),
]


def build_create_ticket_modal(
    *, channel_id: str, message_ts: str, text: str, permalink: str | None, priority: str
) -> dict[str, Any]:
    """The 'Create support ticket' modal, prefilled from the message."""
    options = [Option(value=value, text=label) for value, label in PRIORITY_OPTIONS]
    initial = next((o for o in options if o.value == priority), options[2])
    blocks: list[Any] = [
        InputBlock(
            block_id=BlockId.TICKET_TEXT,
            label="Problem",
            element=PlainTextInputElement(
                action_id=ActionId.TICKET_TEXT,
                multiline=True,
                initial_value=prefill(text, 3000),
                max_length=3000,
            ),
        ),
        InputBlock(
            block_id=BlockId.TICKET_PRIORITY,
            label="Priority",
            element=StaticSelectElement(
                action_id=ActionId.TICKET_PRIORITY, options=options, initial_option=initial
            ),
        ),
    ]
    if permalink:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"From <{permalink}|this message>")]))
    view = View(
        type="modal",
        callback_id=CallbackId.MODAL_CREATE_TICKET,
        title=PlainTextObject(text="Create support ticket"),
        submit=PlainTextObject(text="Create ticket"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"channel": channel_id, "ts": message_ts}),
        blocks=blocks,
    )
    return view.to_dict()


def escape_preview(text: str) -> str:
    """Escaped text for previews in modals."""
    return escape(clip(text, 500))


def build_status_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells how a submission went (shown when the work outlasted Slack's 3 s)."""
    view = View(
        type="modal",
        title=PlainTextObject(text=clip(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))],
    )
    return view.to_dict()


WORKING_TEXT = (
    "One moment: getting the form ready takes longer than usual. It appears here by itself; "
    "nothing has been changed."
)


def build_working_modal() -> dict[str, Any]:
    """The 'Working…' modal opened with a trigger while its form is still being prepared (then replaced)."""
    view = View(
        type="modal",
        title=PlainTextObject(text="Working…"),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=WORKING_TEXT))],
    )
    return view.to_dict()
