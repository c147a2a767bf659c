"""Reports: `/support report`, the scheduled digest (summary + chart uploaded to a channel) and exports.

The digest does not go through the outbox. An outbox row is one JSON Web API call; a chart is a three-step
upload (files.getUploadURLExternal, the PNG bytes to the URL Slack hands out, files.completeUploadExternal)
whose bytes would have to live in the database, and a digest can be rebuilt from the database at any time.
So the job claims its period (a `ScheduledRun` row, unique: one process posts it), renders, and uploads
directly, retrying 429s after Retry-After and 5xx/timeouts with backoff. A period that could not be posted
(Slack down for longer, or the process died) stays claimed but not done; `retry_digests` (every 15 minutes)
takes over claims older than RETRY_AFTER and posts them, so a digest is late rather than lost.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from tortoise.exceptions import IntegrityError

from bot.charts import ChartDay, render_digest_chart
from bot.errors import PermissionDeniedError, UsageError
from bot.runtime import Runtime
from bot.services import reports as svc
from bot.services.permissions import Actor
from bot.slack.blocks.reports import build_report_message, report_text
from bot.slack.text import clip, escape
from config.support import SupportConfig
from models.sla import ScheduledRun

log = logging.getLogger(__name__)

DIGEST_JOB = "reports.digest"
DIGEST_DONE = "reports.digest.done"
RETRY_AFTER = timedelta(minutes=15)
"""A claimed digest not done after this long is taken over (its process failed or died)."""
GIVE_UP_AFTER = timedelta(days=3)
UPLOAD_ATTEMPTS = 6
MAX_BACKOFF = 120.0
PERMANENT = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "missing_scope", "not_authed"}
)
USAGE = (
    "`/support report [today|week|month] [level|customer]` — opened and resolved tickets, SLA met in time "
    "(per priority and level), first response and resolution times (median, p90, business time), "
    "escalation and hand-back rates, KB deflection, CSAT. Only you see the answer."
)

Sleep = Callable[[float], Awaitable[Any]]


class DigestUploadError(RuntimeError):
    """The digest could not be uploaded (it is retried later)."""


def parse_report_args(text: str) -> tuple[svc.PeriodName, svc.Breakdown | None]:
    """'week customer' → ('week', 'customer'); words in any order, both optional."""
    period: svc.PeriodName = "week"
    breakdown: svc.Breakdown | None = None
    for word in text.lower().split():
        if word in svc.PERIODS:
            period = word  # type: ignore[assignment]
        elif word in svc.BREAKDOWNS:
            breakdown = word  # type: ignore[assignment]
        else:
            shown = escape(clip(word, 20)).replace("`", "'")
            raise UsageError(f"I don't know `{shown}` here. {USAGE}")
    return period, breakdown


async def show_report(rt: Runtime, *, actor: Actor, args: str) -> dict[str, Any]:
    """`/support report …` for agents and leads."""
    if not actor.is_agent:
        raise PermissionDeniedError("Reports are for the support team (members of a support level channel).")
    name, breakdown = parse_report_args(args)
    period = svc.named_period(name=name, now=rt.clock.now(), timezone=rt.config.defaults.timezone)
    report = await svc.build_report(period=period, config=rt.config, breakdown=breakdown)
    return build_report_message(report)


# ------------------------------------------------------------------------------------------------ digest


def _key(period: svc.Period) -> str:
    return f"{period.days()[0].isoformat()}..{period.days()[-1].isoformat()}"


def _period_of(rt: Runtime, key: str) -> svc.Period:
    first, last = (date.fromisoformat(part) for part in key.split(".."))
    return svc.date_period(
        since=first, until=last + timedelta(days=1), now=rt.clock.now(), timezone=rt.config.defaults.timezone
    )


async def _claim(key: str, now: datetime) -> bool:
    """Take the period for this process: new, or abandoned by another (claimed RETRY_AFTER ago, not done)."""
    if await ScheduledRun.exists(job=DIGEST_DONE, period=key):
        return False
    try:
        await ScheduledRun.create(job=DIGEST_JOB, period=key, at=now)
        return True
    except IntegrityError:
        taken = await ScheduledRun.filter(job=DIGEST_JOB, period=key, at__lt=now - RETRY_AFTER).update(at=now)
        return bool(taken)


def short_label(period: svc.Period) -> str:
    """2–8 Nov 2026, or 27 Oct – 2 Nov 2026 (a chart title must fit a thumbnail)."""
    days = period.days()
    first, last = days[0], days[-1]
    if len(days) == 1:
        return f"{last.day} {last:%b %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def chart_days(report: svc.Report) -> list[ChartDay]:
    """The report's days as the chart wants them."""
    return [
        ChartDay(day=d.day, arrivals=d.arrivals, breaches=d.breaches, compliance=d.compliance.rate)
        for d in report.days
    ]


async def upload_chart(
    client: AsyncWebClient,
    *,
    channel: str,
    content: bytes,
    filename: str,
    title: str,
    alt_text: str,
    comment: str,
    attempts: int = UPLOAD_ATTEMPTS,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> str:
    """Upload a PNG into a channel with a comment (files.getUploadURLExternal + upload +
    files.completeUploadExternal); 429 waits Retry-After, 5xx/timeouts back off; returns the file id."""
    rng = rng or random.Random()
    last = "no attempt"
    for attempt in range(1, attempts + 1):
        try:
            response = await client.files_upload_v2(
                content=content,
                filename=filename,
                title=title,
                alt_txt=alt_text,
                channel=channel,
                initial_comment=comment,
            )
            files = response.get("files") or [response.get("file") or {}]
            return str(files[0].get("id"))
        except SlackApiError as exc:
            status, error = exc.response.status_code, str(exc.response.get("error") or "")
            if status == 429 or error in ("ratelimited", "rate_limited"):
                headers = exc.response.headers or {}
                delay = float(headers.get("Retry-After", headers.get("retry-after", 1)))
            elif error in PERMANENT:
                raise DigestUploadError(f"Slack refused the digest: {error}") from exc
            else:
                delay = rng.uniform(0.5, 1.0) * min(MAX_BACKOFF, 2.0**attempt)
            last = error or f"http_{status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            delay = rng.uniform(0.5, 1.0) * min(MAX_BACKOFF, 2.0**attempt)
            last = type(exc).__name__
        if attempt < attempts:
            log.info("reports: digest upload attempt %d failed (%s); again in %.1fs", attempt, last, delay)
            await sleep(delay)
    raise DigestUploadError(f"the digest upload failed {attempts} times (last: {last})")


async def post_digest(
    rt: Runtime,
    *,
    now: datetime | None = None,
    period: svc.Period | None = None,
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """Post the digest of the period (default: the configured days before today) to the digest channel,
    once across processes; False when there is no channel or another process has it."""
    settings = rt.config.reports
    if not settings.digest_channel:
        return False
    now = now or rt.clock.now()
    period = period or svc.digest_period(
        now=now, timezone=rt.config.defaults.timezone, days=settings.digest_days
    )
    key = _key(period)
    if not await _claim(key, now):
        return False
    report = await svc.build_report(period=period, config=rt.config)
    title = "Support digest"
    compliance = report.overall.compliance.rate
    png = await asyncio.to_thread(
        render_digest_chart,
        chart_days(report),
        title=f"Support · {short_label(period)}",
        compliance=compliance,
    )
    alt = (
        f"Chart: new tickets per day by level with SLA breaches, and the share of SLA targets met per day, "
        f"{period.label}. {report.overall.opened} opened, {report.overall.resolved} resolved."
    )
    file_id = await upload_chart(
        rt.client,
        channel=settings.digest_channel,
        content=png,
        filename=f"support-digest-{period.days()[0].isoformat()}.png",
        title=f"{title} {period.label}",
        alt_text=alt,
        comment=report_text(report, title=title),
        sleep=sleep,
    )
    await ScheduledRun.create(job=DIGEST_DONE, period=key, at=rt.clock.now())
    log.info("reports: digest %s posted to %s (file %s)", key, settings.digest_channel, file_id)
    return True


async def run_digest(rt: Runtime) -> None:
    """The scheduled digest job (a failed upload is retried by `retry_digests`)."""
    try:
        await post_digest(rt)
    except DigestUploadError as exc:
        log.error("reports: %s; it is retried in %s", exc, RETRY_AFTER)


async def retry_digests(rt: Runtime) -> int:
    """Post digests that were claimed but not done for RETRY_AFTER (failed or abandoned); returns how many."""
    now = rt.clock.now()
    done = set(
        await ScheduledRun.filter(job=DIGEST_DONE, at__gte=now - GIVE_UP_AFTER).values_list(
            "period", flat=True
        )
    )
    stale = await ScheduledRun.filter(
        job=DIGEST_JOB, at__lt=now - RETRY_AFTER, at__gte=now - GIVE_UP_AFTER
    ).values_list("period", flat=True)
    posted = 0
    for key in stale:
        if key in done:
            continue
        try:
            posted += int(await post_digest(rt, now=now, period=_period_of(rt, str(key))))
        except DigestUploadError as exc:
            log.error("reports: digest %s still not posted: %s", key, exc)
    return posted


# ------------------------------------------------------------------------------------------------ exports


EXPORT_FIELDS = [
    "key",
    "customer",
    "priority",
    "level",
    "resolved_level",
    "status",
    "created_at",
    "first_response_at",
    "first_response_business_s",
    "resolved_at",
    "resolution_business_s",
    "escalated_to_l2",
    "escalated_to_l3",
    "handed_back",
    "kb_deflected",
    "sla_breaches",
    "csat_rating",
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _plain(value)


async def export_rows(
    *, config: SupportConfig, since: date, until: date | None, fmt: str, now: datetime | None = None
) -> str:
    """CSV: one row per ticket opened in the period. JSON: the report's numbers and those rows."""
    now = now or datetime.now(UTC)
    period = svc.date_period(since=since, until=until, now=now, timezone=config.defaults.timezone)
    rows = await svc.ticket_rows(period=period, config=config, key_prefix=config.tickets.key_prefix)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(v) for k, v in asdict(row).items()})
        return out.getvalue()
    report = await svc.build_report(period=period, config=config, breakdown="level")
    summary = _report_summary(report)
    return json.dumps({"summary": summary, "tickets": [_jsonable(asdict(r)) for r in rows]}, indent=2)


def _stats(g: svc.GroupStats) -> dict[str, Any]:
    return {
        "name": g.name,
        "opened": g.opened,
        "resolved": g.resolved,
        "first_response": {
            "count": g.first_response.count,
            "median_s": _plain(g.first_response.median),
            "p90_s": _plain(g.first_response.p90),
        },
        "resolution": {
            "count": g.resolution.count,
            "median_s": _plain(g.resolution.median),
            "p90_s": _plain(g.resolution.p90),
        },
        "sla": {"met": g.compliance.met, "breached": g.compliance.breached, "rate": g.compliance.rate},
        "csat": {
            "asked": g.csat.asked,
            "rated": g.csat.rated,
            "average": g.csat.average,
            "score": g.csat.score,
            "distribution": g.csat.distribution,
        },
    }


def _ratio(r: svc.Ratio | None) -> dict[str, Any] | None:
    return None if r is None else {"numerator": r.numerator, "denominator": r.denominator, "rate": r.value}


def _report_summary(report: svc.Report) -> dict[str, Any]:
    return _jsonable(
        {
            "since": report.period.since,
            "until": report.period.until,
            "overall": _stats(report.overall),
            "sla_by_priority": {
                p: {"met": c.met, "breached": c.breached, "rate": c.rate}
                for p, c in report.compliance_by_priority.items()
            },
            "sla_by_level": {
                lvl: {"met": c.met, "breached": c.breached, "rate": c.rate}
                for lvl, c in report.compliance_by_level.items()
            },
            "escalation_l1_l2": _ratio(report.escalation_l1_l2),
            "escalation_l2_l3": _ratio(report.escalation_l2_l3),
            "hand_back": _ratio(report.hand_back),
            "kb_deflection": _ratio(report.kb_deflection),
            "kb_helpfulness": _ratio(report.kb_helpfulness),
            "by_level": [_stats(g) for g in report.breakdown],
            "days": [
                {"day": d.day, "arrivals": d.arrivals, "breaches": d.breaches, "sla_rate": d.compliance.rate}
                for d in report.days
            ],
        }
    )
