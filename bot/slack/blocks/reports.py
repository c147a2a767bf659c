"""Reports as Slack messages: the `/support report` answer and the digest's summary text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.services.reports import Compliance, Csat, Durations, GroupStats, Ratio, Report
from bot.services.sla.durations import format_duration
from bot.slack.text import clip, escape, plain

MAX_GROUPS = 30
NONE = "—"


def pct(value: float | None) -> str:
    """0.923 → 92%; None → —."""
    return NONE if value is None else f"{value:.0%}"


def _duration(value: timedelta | None) -> str:
    return NONE if value is None else format_duration(value, use_days=False)


def times(d: Durations) -> str:
    """Median and p90 of business-time durations."""
    if not d.count:
        return NONE
    return f"{_duration(d.median)} median · {_duration(d.p90)} p90 (n={d.count})"


def compliance(c: Compliance) -> str:
    """92% (23 of 25)."""
    total = c.met + c.breached
    return NONE if not total else f"{pct(c.rate)} ({c.met} of {total})"


def ratio(r: Ratio | None) -> str:
    """12% (3 of 25)."""
    if r is None:
        return "n/a"
    return NONE if not r.denominator else f"{pct(r.value)} ({r.numerator} of {r.denominator})"


def csat(c: Csat) -> str:
    """Average, CSAT score and response rate."""
    if not c.rated:
        return f"no ratings ({c.asked} asked)" if c.asked else NONE
    asked = f", {c.rated} of {c.asked} answered" if c.asked else f", {c.rated} ratings"
    return f"{c.average:.1f}/5 · {pct(c.score)} satisfied{asked}"


def _group_line(g: GroupStats) -> str:
    return (
        f"*{escape(g.name)}* · {g.opened} opened · {g.resolved} resolved · SLA {compliance(g.compliance)}\n"
        f"first response {times(g.first_response)}\nresolution {times(g.resolution)} · CSAT {csat(g.csat)}"
    )


def build_report_message(report: Report) -> dict[str, Any]:
    """The ephemeral answer to `/support report`."""
    o = report.overall
    period = report.period
    blocks: list[Any] = [
        HeaderBlock(text=PlainTextObject(text=plain(f"Support report · {period.label}", 150))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{period.since:%Y-%m-%d %H:%M} – {period.until:%Y-%m-%d %H:%M} UTC · "
                    "times are business time of each customer's SLA calendar"
                )
            ]
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Opened*\n{o.opened}"),
                MarkdownTextObject(text=f"*Resolved*\n{o.resolved}"),
                MarkdownTextObject(text=f"*First response*\n{times(o.first_response)}"),
                MarkdownTextObject(text=f"*Resolution*\n{times(o.resolution)}"),
                MarkdownTextObject(text=f"*SLA met in time*\n{compliance(o.compliance)}"),
                MarkdownTextObject(text=f"*CSAT*\n{csat(o.csat)}"),
            ]
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(
                    text="*SLA by priority*\n"
                    + "\n".join(f"{p}: {compliance(c)}" for p, c in report.compliance_by_priority.items())
                ),
                MarkdownTextObject(
                    text="*SLA by level*\n"
                    + "\n".join(f"{lvl}: {compliance(c)}" for lvl, c in report.compliance_by_level.items())
                ),
                MarkdownTextObject(text=f"*Escalated L1 → L2*\n{ratio(report.escalation_l1_l2)}"),
                MarkdownTextObject(text=f"*Escalated L2 → L3*\n{ratio(report.escalation_l2_l3)}"),
                MarkdownTextObject(text=f"*Handed back*\n{ratio(report.hand_back)}"),
                MarkdownTextObject(
                    text=f"*KB deflection*\n{ratio(report.kb_deflection)}\n"
                    f"suggestions helpful: {ratio(report.kb_helpfulness)}"
                ),
            ]
        ),
    ]
    if report.breakdown_by:
        blocks.append(DividerBlock())
        blocks.append(HeaderBlock(text=PlainTextObject(text=f"By {report.breakdown_by}")))
        shown = [
            g for g in report.breakdown if g.opened or g.resolved or g.compliance.met + g.compliance.breached
        ]
        for group in shown[:MAX_GROUPS]:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(_group_line(group), 3000))))
        if len(shown) > MAX_GROUPS:
            more = len(shown) - MAX_GROUPS
            blocks.append(
                ContextBlock(
                    elements=[MarkdownTextObject(text=f"…and {more} more (export: `python -m bot report`).")]
                )
            )
        if not shown:
            blocks.append(
                ContextBlock(elements=[MarkdownTextObject(text="Nothing happened in this period.")])
            )
    text = f"Support report · {period.label}: {o.opened} opened, {o.resolved} resolved"
    return {"text": text, "blocks": [b.to_dict() for b in blocks[:50]], "response_type": "ephemeral"}


def report_text(report: Report, *, title: str) -> str:
    """The digest's summary (the chart's message text, mrkdwn)."""
    o = report.overall
    lines = [
        f"*{escape(title)}* · {escape(report.period.label)}",
        f"• *{o.opened}* opened · *{o.resolved}* resolved",
        f"• SLA met in time: {compliance(o.compliance)} — "
        + ", ".join(
            f"{p} {pct(c.rate)}" for p, c in report.compliance_by_priority.items() if c.met + c.breached
        )
        + (" · " if any(c.met + c.breached for c in report.compliance_by_level.values()) else "")
        + ", ".join(
            f"{lvl} {pct(c.rate)}" for lvl, c in report.compliance_by_level.items() if c.met + c.breached
        ),
        f"• First response: {times(o.first_response)}",
        f"• Resolution: {times(o.resolution)}",
        f"• Escalated L1→L2 {ratio(report.escalation_l1_l2)} · L2→L3 {ratio(report.escalation_l2_l3)} · "
        f"handed back {ratio(report.hand_back)}",
        f"• KB deflection {ratio(report.kb_deflection)} · suggestions helpful {ratio(report.kb_helpfulness)}",
        f"• CSAT: {csat(o.csat)}",
        "_Times are business time of each customer's SLA calendar. `/support report week` for details._",
    ]
    return clip("\n".join(lines), 3900)
