"""Escalation views: the modals (escalate, hand back, resolve, note, L3 draft) and the draft review message."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
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
from config.support import ContextField, Route

MAX_INPUT = 2900


def _meta(**values: Any) -> str:
    return json.dumps(values, separators=(",", ":"))


def _text_input(
    block_id: str,
    label: str,
    *,
    action_id: str = ActionId.TEXT_INPUT,
    initial: str | None = None,
    multiline: bool = True,
    optional: bool = False,
    hint: str | None = None,
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=action_id,
        multiline=multiline,
        max_length=MAX_INPUT,
        initial_value=prefill(initial, MAX_INPUT) if initial else None,
        placeholder=plain(hint, 150) if hint else None,
    )
    return InputBlock(block_id=block_id, label=plain(label, 48), element=element, optional=optional)


def _modal(callback_id: str, title: str, submit: str, blocks: list[Any], meta: str) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=plain(title, 24)),
        submit=PlainTextObject(text=plain(submit, 24)),
        close=PlainTextObject(text="Cancel"),
        private_metadata=meta,
        blocks=blocks,
    ).to_dict()


def build_escalate_modal(
    *,
    ticket_id: int,
    key: str,
    from_level: str,
    to_level: str,
    summary: str,
    fields: list[ContextField],
    context: dict[str, str],
    routes: list[Route],
    component: str | None,
    reason: str = "",
) -> dict[str, Any]:
    """Escalation modal: reason, component (to L3) and the context fields the next level needs."""
    blocks: list[Any] = [
        SectionBlock(
            text=MarkdownTextObject(text=f"*{key}* · {from_level} → *{to_level}*\n{quote(summary, 500)}")
        ),
        _text_input(
            BlockId.ESCALATE_REASON,
            "Why escalate?",
            action_id=ActionId.ESCALATE_REASON,
            initial=reason,
            hint="What does the next level need to do?",
        ),
    ]
    if to_level == "L3" and routes:
        options = [Option(value=r.component, text=plain(r.label or r.component, 75)) for r in routes[:99]]
        options.append(Option(value="general", text="General (L3 channel)"))
        initial = next((o for o in options if o.value == component), None)
        blocks.append(
            InputBlock(
                block_id=BlockId.ESCALATE_COMPONENT,
                label="Component",
                element=StaticSelectElement(
                    action_id=ActionId.ESCALATE_COMPONENT,
                    options=options,
                    initial_option=initial,
                    placeholder="Which specialists?",
                ),
            )
        )
    for f in fields[:20]:
        blocks.append(
            _text_input(
                f"{BlockId.CONTEXT_PREFIX}{f.id}",
                f.label,
                action_id=ActionId.FIELD_INPUT,
                initial=context.get(f.id),
                multiline=f.multiline,
                optional=not f.required,
                hint=f.hint,
            )
        )
    return _modal(
        CallbackId.MODAL_ESCALATE,
        f"Escalate to {to_level}",
        "Escalate",
        blocks,
        _meta(ticket=ticket_id, from_level=from_level),
    )


def build_pick_ticket_modal(*, tickets: list[tuple[int, str]]) -> dict[str, Any]:
    """Escalate without a key: pick one of the tickets at your level first."""
    options = [Option(value=str(tid), text=plain(label, 75)) for tid, label in tickets[:100]]
    blocks: list[Any] = [
        InputBlock(
            block_id=BlockId.TICKET_PICK,
            label="Ticket",
            element=StaticSelectElement(
                action_id=ActionId.TICKET_PICK, options=options, placeholder="Pick a ticket"
            ),
        )
    ]
    return _modal(CallbackId.MODAL_PICK_FOR_ESCALATE, "Escalate a ticket", "Next", blocks, _meta())


def build_text_modal(
    *,
    callback_id: str,
    title: str,
    submit: str,
    label: str,
    ticket_id: int,
    key: str,
    intro: str,
    initial: str = "",
    hint: str | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """A one-field modal (hand back summary, internal note, L3 draft, draft edit)."""
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=clip(intro, 3000))),
        _text_input(BlockId.TEXT, label, initial=initial, hint=hint),
    ]
    return _modal(callback_id, title, submit, blocks, _meta(ticket=ticket_id, key=key, **meta))


def build_resolve_modal(
    *, ticket_id: int, key: str, level: str, solution: str, publish_default: bool, via_review: bool
) -> dict[str, Any]:
    """Resolution: the answer for the customer, internal notes, and 'publish to knowledge base'."""
    publish = Option(value="publish", text="Publish to the knowledge base")
    intro = f"*{key}* · resolving at {level}."
    if via_review:
        intro += " As 3rd level, your answer goes to 2nd level for review before the customer sees it."
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        _text_input(
            BlockId.RESOLVE_SOLUTION,
            "Solution (sent to the customer)",
            action_id=ActionId.RESOLVE_SOLUTION,
            initial=solution,
            hint="Plain words the customer understands",
        ),
        _text_input(
            BlockId.RESOLVE_INTERNAL,
            "Internal notes",
            action_id=ActionId.RESOLVE_INTERNAL,
            optional=True,
            hint="Root cause, changed settings, links: for the team and the KB",
        ),
        InputBlock(
            block_id=BlockId.RESOLVE_PUBLISH,
            label="Knowledge base",
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.RESOLVE_PUBLISH,
                options=[publish],
                initial_options=[publish] if publish_default else None,
            ),
        ),
    ]
    return _modal(
        CallbackId.MODAL_RESOLVE,
        f"Resolve {key}",
        "Resolve",
        blocks,
        _meta(ticket=ticket_id, key=key, level=level),
    )


def build_draft_review(
    *,
    draft_id: int,
    key: str,
    author_id: str,
    text: str,
    kind: str,
    owner_id: str | None,
    decided: str | None = None,
) -> dict[str, Any]:
    """The review message in the 2nd level channel for an L3 draft."""
    what = "a resolution" if kind == "resolution" else "a reply"
    head = f"✉️ {mention(author_id)} (3rd level) drafted {what} to the customer for *{key}*"
    if owner_id:
        head += f" · {mention(owner_id)} please review"
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=clip(head, 3000))),
        SectionBlock(text=MarkdownTextObject(text=quote(text, 2900))),
    ]
    if not decided:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Not sent yet: the customer sees this only after 2nd level approves it."
                    )
                ]
            )
        )
    if decided:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(decided, 2000))]))
    else:
        blocks.append(
            ActionsBlock(
                block_id=BlockId.DRAFT_ACTIONS,
                elements=[
                    ButtonElement(
                        text="Approve and send",
                        action_id=ActionId.DRAFT_APPROVE,
                        value=str(draft_id),
                        style="primary",
                    ),
                    ButtonElement(text="Edit", action_id=ActionId.DRAFT_EDIT, value=str(draft_id)),
                    ButtonElement(
                        text="Reject", action_id=ActionId.DRAFT_REJECT, value=str(draft_id), style="danger"
                    ),
                ],
            )
        )
    return {
        "text": clip(f"3rd level drafted {what} for {key}: {escape(text)}", 3000),
        "blocks": [b.to_dict() for b in blocks],
        "unfurl_links": False,
    }


def build_internal_line(text: str) -> dict[str, Any]:
    """A one-section internal message (card threads, DMs)."""
    body = clip(text, 3000)
    return {
        "text": body,
        "blocks": [SectionBlock(text=MarkdownTextObject(text=body)).to_dict()],
        "unfurl_links": False,
    }
