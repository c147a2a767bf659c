"""App Home: an agent's tickets, their levels' queue and the tickets at risk; per-level counts for leads; a
short help text for customers (nothing internal). Always at most 100 blocks (Slack's limit for views)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.services.home import HomeTicket, LevelCounts, Section
from bot.slack.blocks.tickets import PRIORITY_BADGE
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.text import clip, escape, mention, plain, slack_date

MAX_BLOCKS = 100
MINE_ROWS = 15
QUEUE_ROWS = 15
RISK_ROWS = 10

_CUSTOMER_HELP = {
    "en": (
        "*Need help?* Write your question in your organisation's shared support channel: our support team "
        "picks it up and answers in the thread. `/ticket {prefix}-42` shows the state of one of your tickets."
    ),
    "de": (
        "*Brauchen Sie Hilfe?* Schreiben Sie Ihre Frage in den gemeinsamen Support-Kanal Ihrer Organisation: "
        "Unser Support-Team nimmt sie auf und antwortet im Thread. `/ticket {prefix}-42` zeigt den Stand "
        "eines Ihrer Tickets."
    ),
}


@dataclass(frozen=True)
class AgentHome:
    """What an agent's (or lead's) Home shows."""

    user_id: str
    levels: tuple[str, ...]
    is_lead: bool
    key_prefix: str
    mine: Section
    queue: Section
    risk: Section
    risk_horizon: str
    updated_at: datetime
    counts: list[LevelCounts] | None = None  # leads only


def _key(prefix: str, ticket_id: int) -> str:
    return f"{prefix}-{ticket_id}"


def sla_state(ticket: HomeTicket) -> str:
    """The ticket's SLA state in a few words."""
    if ticket.breached:
        return "🚨 SLA breached"
    if ticket.due_at is not None:
        fallback = ticket.due_at.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"⏰ due {slack_date(ticket.due_at.timestamp(), '{date_short_pretty} {time}', fallback=fallback)}"
        )
    if ticket.paused:
        return "⏸️ SLA paused (waiting on customer)"
    return "no SLA"


def _row(
    prefix: str,
    ticket: HomeTicket,
    *,
    block_prefix: BlockId,
    button: tuple[str, ActionId, str | None],
    show_assignee: bool,
) -> SectionBlock:
    """One ticket: key, priority, level, customer, what it is about, SLA state, and one button."""
    label, action_id, style = button
    owner = f" · {mention(ticket.assignee_id)}" if show_assignee and ticket.assignee_id else ""
    about = escape(clip(" ".join(ticket.text.split()), 90)) or "_(no text)_"
    text = (
        f"*{_key(prefix, ticket.id)}* · {PRIORITY_BADGE.get(ticket.priority, escape(ticket.priority))} · "
        f"{escape(ticket.level)} · {escape(clip(ticket.customer_name, 60))}{owner}\n{about}\n{sla_state(ticket)}"
    )
    return SectionBlock(
        block_id=f"{block_prefix}{ticket.id}",
        text=MarkdownTextObject(text=clip(text, 3000)),
        accessory=ButtonElement(text=label, action_id=action_id, value=str(ticket.id), style=style),
    )


def _list(
    blocks: list[Any],
    *,
    title: str,
    section: Section,
    prefix: str,
    block_prefix: BlockId,
    rows: int,
    button: tuple[str, ActionId, str | None],
    show_assignee: bool,
    empty: str,
    more: str,
) -> None:
    blocks.append(HeaderBlock(text=PlainTextObject(text=plain(f"{title} ({section.total})", 150))))
    if not section.tickets:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=empty)]))
        return
    for ticket in section.tickets[:rows]:
        blocks.append(
            _row(prefix, ticket, block_prefix=block_prefix, button=button, show_assignee=show_assignee)
        )
    hidden = section.total - min(rows, len(section.tickets))
    if hidden > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {hidden:,} more. {more}")]))


def _counts(counts: list[LevelCounts]) -> SectionBlock:
    fields = [
        MarkdownTextObject(
            text=(
                f"*{c.level}* · {c.open:,} open · {c.unassigned:,} unassigned · {c.waiting:,} waiting\n"
                f"🚨 {c.breached_now:,} breached · ⏰ {c.at_risk:,} at risk · {c.breaches_today:,} breaches today"
            )
        )
        for c in counts[:10]
    ]
    return SectionBlock(fields=fields)


def build_agent_home(home: AgentHome) -> dict[str, Any]:
    """The Home tab of an agent or lead."""
    levels = ", ".join(home.levels) or "all levels"
    when = slack_date(home.updated_at.timestamp(), "{date_short_pretty} {time}", fallback="just now")
    blocks: list[Any] = [
        HeaderBlock(text=PlainTextObject(text="Support at a glance")),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Your levels: *{escape(levels)}*{' · lead' if home.is_lead else ''} · updated {when}"
            ),
            accessory=ButtonElement(text="Refresh", action_id=ActionId.HOME_REFRESH, value="refresh"),
        ),
    ]
    if home.counts is not None:
        blocks.append(HeaderBlock(text=PlainTextObject(text="Levels now")))
        blocks.append(_counts(home.counts))
        blocks.append(DividerBlock())
    prefix = home.key_prefix
    _list(
        blocks,
        title="My tickets",
        section=home.mine,
        prefix=prefix,
        block_prefix=BlockId.HOME_MINE_PREFIX,
        rows=MINE_ROWS,
        button=("Open", ActionId.HOME_OPEN, None),
        show_assignee=False,
        empty="Nothing assigned to you. Claim one from the queue below.",
        more="`/ticket list mine` lists them.",
    )
    blocks.append(DividerBlock())
    _list(
        blocks,
        title=f"Unassigned at {levels}",
        section=home.queue,
        prefix=prefix,
        block_prefix=BlockId.HOME_QUEUE_PREFIX,
        rows=QUEUE_ROWS,
        button=("Claim", ActionId.HOME_CLAIM, "primary"),
        show_assignee=False,
        empty="The queue is empty. 🎉",
        more="`/ticket list level` lists them.",
    )
    blocks.append(DividerBlock())
    _list(
        blocks,
        title="At risk",
        section=home.risk,
        prefix=prefix,
        block_prefix=BlockId.HOME_RISK_PREFIX,
        rows=RISK_ROWS,
        button=("Open", ActionId.HOME_OPEN, None),
        show_assignee=True,
        empty=f"No ticket at {escape(levels)} is breached or due within {escape(home.risk_horizon)}.",
        more=f"Breached or due within {escape(home.risk_horizon)}; the daily overview lists them all.",
    )
    return _view(blocks)


def build_customer_home(*, language: str, key_prefix: str) -> dict[str, Any]:
    """The Home tab for a customer: how to get help, nothing internal."""
    text = _CUSTOMER_HELP.get(language, _CUSTOMER_HELP["en"]).format(prefix=key_prefix)
    return _view(
        [HeaderBlock(text=PlainTextObject(text="Support")), SectionBlock(text=MarkdownTextObject(text=text))]
    )


def build_outsider_home(*, key_prefix: str) -> dict[str, Any]:
    """The Home tab for an internal person who is in no support level channel."""
    text = (
        "This Home shows your support tickets, your level's queue and what is at risk, once you are a member "
        "of a support level channel (ask a lead to add you). Until then `/ticket "
        f"{key_prefix}-42` shows a ticket and `/kb <question>` searches the knowledge base."
    )
    return _view(
        [HeaderBlock(text=PlainTextObject(text="Support")), SectionBlock(text=MarkdownTextObject(text=text))]
    )


def build_ticket_modal(*, key: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A ticket opened from Home, in a modal (the blocks of `/ticket KEY`)."""
    view = View(
        type="modal",
        callback_id=CallbackId.MODAL_HOME_TICKET,
        title=PlainTextObject(text=plain(key, 24)),
        close=PlainTextObject(text="Close"),
        blocks=blocks[:MAX_BLOCKS],
    )
    return view.to_dict()


def build_notice_modal(text: str) -> dict[str, Any]:
    """A short answer to a click on Home (which has no thread or channel to answer in)."""
    view = View(
        type="modal",
        callback_id=CallbackId.MODAL_HOME_TICKET,
        title=PlainTextObject(text="Support"),
        close=PlainTextObject(text="OK"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))],
    )
    return view.to_dict()


def _view(blocks: list[Any]) -> dict[str, Any]:
    rendered = [b.to_dict() if hasattr(b, "to_dict") else b for b in blocks]
    if len(rendered) > MAX_BLOCKS:  # the sections' row limits keep it far below; never let Slack refuse it
        rendered = rendered[: MAX_BLOCKS - 1] + [
            ContextBlock(elements=[MarkdownTextObject(text="…more in `/ticket list`.")]).to_dict()
        ]
    return {"type": "home", "blocks": rendered}


__all__ = [
    "MAX_BLOCKS",
    "AgentHome",
    "build_agent_home",
    "build_customer_home",
    "build_notice_modal",
    "build_outsider_home",
    "build_ticket_modal",
    "sla_state",
]
