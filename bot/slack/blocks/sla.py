"""SLA messages: warnings, breach notices, nudges, the card's SLA line, `/sla` and the daily overview.

Times are `<!date^…>` tokens, so Slack shows each reader their own time zone; business time left is
formatted without days on business-hours calendars (docs/sla-time.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.services.sla.durations import format_duration
from bot.slack.text import clip, escape, mention, ping, plain, slack_date

if TYPE_CHECKING:
    from bot.services.sla.engine import TimerStatus

WHEN = "{date_short_pretty} {time}"
_duration = lru_cache(maxsize=1024)(format_duration)  # notices: the same few targets, over and over


@lru_cache(maxsize=4096)  # a wave of reminders shares a handful of due times
def when(at: datetime) -> str:
    """A date and time Slack renders in the reader's time zone (UTC text as the fallback)."""
    return slack_date(at.timestamp(), WHEN, fallback=at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _payload(text: str, *, context: str | None = None) -> dict[str, Any]:
    """A section (and a context line). Plain dicts here, not slack_sdk models: a breach wave renders
    thousands of these inside the tick's transaction, and the models' validation costs ~50 µs each."""
    body = clip(text, 3000)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(context, 2000)}]})
    return {"text": body, "blocks": blocks, "unfurl_links": False}


@dataclass(frozen=True)
class Notice:
    """What an SLA notice says (one firing of one ticket's timer)."""

    key: str
    customer_name: str
    priority: str
    label: str
    percent: int | None
    breach: bool
    nudge: bool
    target: timedelta
    deadline: datetime | None
    due_at: datetime
    late: bool
    missed: tuple[int, ...]
    use_days: bool
    pings: tuple[str, ...] = ()
    note: str | None = None
    card_link: str | None = None


def build_sla_notice(notice: Notice) -> dict[str, Any]:
    """A warning, breach notice or no-activity nudge (card thread or DM)."""
    head = f"*{escape(notice.key)}* ({escape(notice.customer_name)} · {escape(notice.priority)})"
    target = _duration(notice.target, use_days=notice.use_days)
    if notice.nudge:
        first = f"💤 {head}: no activity for {target} of business time. Update the customer or hand it on."
    elif notice.breach:
        due = f" (was due {when(notice.deadline)})" if notice.deadline else ""
        first = f"🚨 {head}: *{escape(notice.label)}* SLA *breached* — the {target} target ran out{due}."
    else:
        percent = notice.percent or 0
        left = notice.target - notice.target * percent / 100
        due = f", due {when(notice.deadline)}" if notice.deadline else ""
        first = (
            f"⏳ {head}: *{escape(notice.label)}* — {percent} % of {target} used"
            f"{due} ({_duration(left, use_days=notice.use_days)} business time left)."
        )
    pings = " ".join(ping(p) for p in dict.fromkeys(notice.pings))
    late = None
    if notice.late:
        missed = ""
        if notice.missed:
            missed = " The " + ", ".join(f"{p} %" for p in notice.missed) + " warning(s) fell due before it."
        late = f"⚠️ _Sent late: this fell due {when(notice.due_at)} while the bot was unavailable.{missed}_"
    context = f"<{notice.card_link}|Open the ticket card>" if notice.card_link else None
    return _payload(_lines(f"{pings} {first}".strip(), notice.note, late), context=context)


def build_leads_ping(*, key: str, label: str, level: str, leads: tuple[str, ...], why: str) -> dict[str, Any]:
    """A breach that could not be escalated automatically: the leads decide."""
    who = " ".join(ping(p) for p in dict.fromkeys(leads)) or "_(no leads configured)_"
    return _payload(
        f"🚨 {who} *{escape(key)}* breached its *{escape(label)}* SLA at {level} and {why}. Please decide how to "
        "go on (escalate with the missing context, reassign, or talk to the customer)."
    )


def sla_line(status: TimerStatus) -> str:
    """The card's context line for the most urgent timer (no live countdown: cards change on state changes)."""
    label = escape(status.label)
    if status.breached_at is not None and status.state.value == "running":
        return f"🚨 SLA: *{label}* breached {when(status.breached_at)}"
    if status.state.value == "paused":
        since = f" since {when(status.paused_at)}" if status.paused_at else ""
        why = "waiting on customer" if status.pause_reason == "waiting" else (status.pause_reason or "paused")
        return f"⏸️ SLA paused ({why}){since}: *{label}* has {_left(status)} left"
    warned = f" · {status.warned_percent} % used" if status.warned_percent else ""
    icon = "⚠️" if status.warned_percent else "⏱️"
    due = when(status.due_at) if status.due_at else "—"
    return f"{icon} SLA: *{label}* due {due}{warned}"


def sla_summary_line(statuses: list[TimerStatus]) -> str | None:
    """The card's SLA line once nothing is running any more (resolved or closed)."""
    customer = [s for s in statuses if s.kind.value in ("first_response", "next_response", "resolution")]
    if not customer:
        return None
    missed = [s.label for s in customer if s.breached]
    if missed:
        return f"🚨 SLA missed: {escape(', '.join(dict.fromkeys(missed)))}"
    if any(s.state.value == "met" for s in customer):
        return "✅ SLA met"
    return None


def _left(status: TimerStatus) -> str:
    return format_duration(status.remaining, use_days=status.always_open)


def _row(status: TimerStatus, *, now: datetime) -> str:
    target = format_duration(status.target, use_days=status.always_open)
    used = format_duration(status.used, use_days=status.always_open)
    name = f"*{escape(status.label)}*" + (
        f" (#{status.cycle})" if status.kind.value == "next_response" else ""
    )
    state = status.state.value
    if state == "met":
        verdict = "✅ met" if not status.breached else "⚠️ met late"
        return f"{name} — {verdict} {when(status.met_at) if status.met_at else ''} · {used} of {target}"
    if state == "stopped":
        reason = escape(status.stop_reason or "stopped")
        return f"{name} — ⏹️ no longer applies ({reason}) · {used} of {target} used"
    if state == "paused":
        since = f" since {when(status.paused_at)}" if status.paused_at else ""
        why = "waiting on customer" if status.pause_reason == "waiting" else escape(status.pause_reason or "")
        return f"{name} — ⏸️ paused ({why}){since} · {_left(status)} of {target} left"
    if status.breached:
        over = format_duration(-status.remaining, use_days=status.always_open)
        breached = when(status.breached_at) if status.breached_at else when(status.due_at or now)
        return f"{name} — 🚨 *breached* {breached} · over by {over} (target {target})"
    due = when(status.due_at) if status.due_at else "—"
    warned = f" · {status.warned_percent} % warning sent" if status.warned_percent else ""
    return f"{name} — ⏱️ due {due} · {_left(status)} of {target} left{warned}"


def build_sla_view(
    *,
    key: str,
    customer_name: str,
    plan: str | None,
    priority: str,
    calendars: list[str],
    statuses: list[TimerStatus],
    now: datetime,
) -> dict[str, Any]:
    """`/sla KEY` for an agent: every timer with due time, business time left, paused and breached."""
    blocks: list[Any] = [HeaderBlock(text=PlainTextObject(text=plain(f"SLA · {key} · {customer_name}", 150)))]
    if not statuses:
        text = "No SLA applies to this ticket" + (f" (plan {escape(plan)}, {priority})." if plan else ".")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    else:
        rows = "\n".join(f"• {_row(s, now=now)}" for s in statuses)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(rows, 3000))))
    counted = ", ".join(escape(c) for c in calendars) or "—"
    blocks.append(DividerBlock())
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Plan *{escape(plan or 'none')}* · {escape(priority)} · business time on calendar "
                    f"{counted} · times in your time zone · as of {when(now)}"
                )
            ]
        )
    )
    fallback = f"SLA of {key}: " + "; ".join(f"{s.label} {s.state.value}" for s in statuses)
    return {
        "text": clip(fallback, 3000),
        "blocks": [b.to_dict() for b in blocks],
        "response_type": "ephemeral",
    }


@dataclass(frozen=True)
class RiskRow:
    """One ticket in the daily overview."""

    key: str
    customer_name: str
    priority: str
    assignee_id: str | None
    status: TimerStatus


def build_sla_overview(*, level: str, rows: list[RiskRow], now: datetime, limit: int = 25) -> dict[str, Any]:
    """The daily overview of tickets at risk at one level, most urgent first."""
    lines = []
    for row in rows[:limit]:
        owner = mention(row.assignee_id) if row.assignee_id else "_unassigned_"
        lines.append(
            f"• *{escape(row.key)}* · {escape(row.priority)} · {escape(row.customer_name)} · {owner}\n"
            f"   {_row(row.status, now=now)}"
        )
    more = f"\n_…and {len(rows) - limit} more._" if len(rows) > limit else ""
    breached = sum(1 for r in rows if r.status.breached)
    head = f"📋 *SLA overview for {level}*: {len(rows)} ticket(s) at risk, {breached} breached"
    return _payload(clip(head + "\n" + "\n".join(lines) + more, 3000))
