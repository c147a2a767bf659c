"""`python -m bot.bench escalate`: `/escalate SUP-N reason` slash commands, the bot next to bare Bolt.

Each bot trial starts a fresh Slack stand-in, database and bot, and seeds one ticket per escalation by
sending customer messages (one person each, so the follow-up window never merges them). The context L2
needs (steps tried, impact, how to reproduce) is then written straight into the tickets in the database:
no command sets context without escalating (`/ticket` has no such subcommand; the form escalates), and
the benchmark knows DATABASE_URL. With the context there, `/escalate SUP-N reason` escalates at once
and acks "Escalated SUP-N to L2.". Signed commands from the L1 agents go out at a fixed concurrency
(closed loop: throughput) or rate (open loop: latency). The baseline is bare Bolt with
process_before_response=True whose `/escalate` listener acks with a short text, measured in the same
run. Afterwards the bot's work is checked: every escalated ticket has exactly one L2 card, one customer
update and one "escalated" timeline entry, and no Slack message was posted twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.bench.common import (
    BENCH_SIGNING_SECRET,
    BENCH_TOKEN,
    DEFAULT_POSTGRES_URL,
    LOOPBACK,
    BenchError,
    CallWatcher,
    CommandAnswers,
    LoadRun,
    Sample,
    at_least_one,
    audit_workspace,
    bench_workdir,
    create_postgres_database,
    drop_postgres_database,
    drop_stale_databases,
    error_lines,
    format_number,
    format_ratio,
    format_table,
    json_safe,
    log,
    median,
    percentile,
    rotated,
    run_benchmark,
    run_load,
    set_ticket_context,
    wait_outbox_drained,
)
from bot.bench.intake import Target, build_bench_workspace, message_text, start_target
from bot.sandbox.demo import L1_AGENTS, L1_CHANNEL, L2_CHANNEL
from bot.sandbox.driver import DriverResult, SlackDriver
from bot.sandbox.standin import SlackStandIn

Database = Literal["sqlite", "postgres"]

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("bot", "bot", "bot"),
        Target("bolt-pbr", "bare Bolt (process_before_response)", "bolt", process_before_response=True),
        Target("bolt", "bare Bolt, pbr=False", "bolt"),
    )
}
DEFAULT_TARGETS = ("bot", "bolt-pbr")
BASELINE = "bolt-pbr"
PG_PREFIX = "bench_escalate_"
# What L2 asks for (config.support's default escalation fields), so `/escalate` needs no form.
L2_CONTEXT = {
    "tried": "Restarted the client and cleared its cache",
    "impact": "One team cannot work",
    "reproduce": "Every login since this morning",
}
REASON = "needs L2 analysis of the login service"
# The project's targets for this benchmark.
TARGET_THROUGHPUT_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_RATE = 200.0
OPEN_LOOP_CONCURRENCY = 1000
ANSWER_WAIT = 10.0  # seconds a person waits for the answer before the next command
ANSWER_POLL = 0.02  # hundreds of waiting agents polling faster would eat the stand-in's CPU
# A customer update in the ticket's thread after an escalation (English and German demo customers).
FORWARDED = re.compile(r"forwarded to our specialists|weitergeleitet")


@dataclass(frozen=True)
class EscalateOptions:
    """What to run: escalations per trial, concurrency or rate, repetitions, database, targets."""

    escalations: int = 1000
    concurrency: int = 32
    repeat: int = 3
    database: Database = "sqlite"
    postgres_url: str = DEFAULT_POSTGRES_URL
    warmup: int = 20
    rate: float | None = None
    card_timeout: float = 30.0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    keep: Path | None = None
    # Closed loop: "answer" (an agent waits for the answer before the next command) or "ack" (the next
    # command goes out when the ack is in, as Slack's own delivery does; the answers are timed afterwards).
    pace: Literal["answer", "ack"] = "answer"


@dataclass
class EscalateTrial:
    """The figures of one target in one repetition."""

    target: str
    repetition: int
    sent: int
    acked: int
    escalated: int
    non_200: int
    refused: int
    req_per_s: float
    escalated_per_s: float
    sent_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    answer_p50_ms: float
    answer_p99_ms: float
    card_p50_ms: float = math.nan
    card_p99_ms: float = math.nan
    cpu_ms_per_request: float | None = None
    seed_seconds: float | None = None
    lost: int = 0
    duplicated: int = 0
    checks: dict[str, int] = field(default_factory=dict)
    log_errors: int = 0
    leaks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def troubled(self) -> bool:
        """True when anything went wrong beyond slowness."""
        return bool(
            self.lost or self.duplicated or self.non_200 or self.refused or self.log_errors or self.leaks
        )


MEDIAN_KEYS = (
    "req_per_s",
    "escalated_per_s",
    "sent_per_s",
    "ack_p50_ms",
    "ack_p99_ms",
    "answer_p50_ms",
    "answer_p99_ms",
    "card_p50_ms",
    "card_p99_ms",
    "cpu_ms_per_request",
)
TOTAL_KEYS = ("escalated", "lost", "duplicated", "non_200", "refused", "log_errors", "leaks")


@dataclass
class EscalateReport:
    """All trials of a run, their per-target medians and the project's targets."""

    options: EscalateOptions
    trials: list[EscalateTrial]
    seconds: float = 0.0

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per target: medians of rates, latencies and CPU; totals of escalations and problems."""
        result: dict[str, dict[str, Any]] = {}
        for name in self.options.targets:
            rows = [t for t in self.trials if t.target == name]
            if not rows:
                continue
            entry: dict[str, Any] = {"label": TARGETS[name].label, "repetitions": len(rows)}
            for key in MEDIAN_KEYS:
                values = [getattr(t, key) for t in rows if getattr(t, key) is not None]
                entry[key] = median(values) if values else math.nan
            for key in TOTAL_KEYS:
                entry[key] = sum(getattr(t, key) for t in rows)
            result[name] = entry
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: options, per-target summary, every trial."""
        options = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.options).items()}
        return {
            "benchmark": "escalate",
            "options": options,
            "seconds": round(self.seconds, 1),
            "summary": json_safe(self.summary()),
            "trials": [json_safe(asdict(t)) for t in self.trials],
        }

    def render(self) -> str:
        """The table, the bot/baseline ratios, the targets and the exactly-once checks."""
        o = self.options
        summary = self.summary()
        headers = ["target", "sent/s", "req/s", "esc/s", "ack p50", "ack p99", "answer p50", "answer p99"]
        headers += ["card p50", "card p99", "cpu/req", "escalated", "lost", "dup", "non-200"]
        rows = [
            [
                s["label"],
                format_number(s["sent_per_s"], 0),
                format_number(s["req_per_s"], 0),
                format_number(s["escalated_per_s"], 0),
                format_number(s["ack_p50_ms"]),
                format_number(s["ack_p99_ms"]),
                format_number(s["answer_p50_ms"]),
                format_number(s["answer_p99_ms"]),
                format_number(s["card_p50_ms"]),
                format_number(s["card_p99_ms"]),
                format_number(s["cpu_ms_per_request"], 2),
                str(s["escalated"]),
                str(s["lost"]) if TARGETS[name].kind == "bot" else "-",
                str(s["duplicated"]) if TARGETS[name].kind == "bot" else "-",
                str(s["non_200"]),
            ]
            for name, s in summary.items()
        ]
        bot, base = summary.get("bot"), summary.get(BASELINE)
        if bot and base:
            keys = (
                "req_per_s",
                "escalated_per_s",
                "ack_p50_ms",
                "ack_p99_ms",
                "answer_p50_ms",
                "answer_p99_ms",
            )
            ratios = [format_ratio(bot[k], base[k]) for k in keys]
            cpu = format_ratio(bot["cpu_ms_per_request"], base["cpu_ms_per_request"])
            rows.append([f"bot / {base['label']}", "", *ratios, "", "", cpu, "", "", "", ""])
        load = (
            f"at {o.rate:g} req/s offered (open loop, " if o.rate else f"(closed loop paced by the {o.pace}, "
        )
        lines = [
            f"escalate: {o.escalations} /escalate commands per trial {load}concurrency {o.concurrency}), "
            f"{o.repeat} repetition(s), database {o.database}, {self.seconds:.0f} s in all",
            "medians over repetitions; escalated/lost/dup/non-200 are totals; times in ms",
            "",
            format_table(headers, rows),
            "",
            "sent/s: commands sent per second (open loop: below the offered rate when --concurrency held them",
            "back). req/s: HTTP 200 acks per second, the throughput the target is about. esc/s: 'Escalated'",
            "answers per second (the work itself, which bare Bolt's listener does not do). ack: HTTP response",
            "time. answer: send -> the answer the person sees ('Escalated SUP-N to L2.': the ack's body, or a",
            "response_url post when the app acks first). Closed loop: each of the --concurrency agents waits",
            "for the answer (--pace answer) or only the ack (--pace ack) before the next command. card: send ->",
            "the stand-in answered the L2 card's chat.postMessage.",
            "cpu/req: CPU ms of the target process per command, until its answer, cards and updates are out.",
            "Tickets were seeded with customer messages; their L2 context was written into the database.",
            *self._targets(bot, base),
        ]
        for t in self.trials:
            if t.troubled:
                lines.append(
                    f"! {TARGETS[t.target].label}, repetition {t.repetition}: lost {t.lost}, duplicated "
                    f"{t.duplicated}, non-200 {t.non_200}, not escalated {t.refused}, log errors "
                    f"{t.log_errors}, leaks {t.leaks}; checks {t.checks}"
                )
                lines += [f"    {line[:300]}" for line in t.problems[:5]]
        return "\n".join(lines)

    def _targets(self, bot: dict[str, Any] | None, base: dict[str, Any] | None) -> list[str]:
        if not bot:
            return []
        lines = [""]
        if base and not self.options.rate:
            acks = bot["req_per_s"] / base["req_per_s"] if base["req_per_s"] else math.nan
            work = bot["escalated_per_s"] / base["escalated_per_s"] if base["escalated_per_s"] else math.nan
            if self.options.pace == "ack":
                verdict = "met" if acks >= TARGET_THROUGHPUT_RATIO else "missed"
                lines.append(
                    f"target: throughput (req/s, the acks Slack waits for) >= {TARGET_THROUGHPUT_RATIO:g}x bare "
                    f"Bolt (closed loop paced by acks): {acks:.2f}x -> {verdict}"
                )
            else:
                lines.append(
                    f"acks (req/s): {acks:.2f}x bare Bolt, paced by the answers; the throughput target is "
                    "measured with --pace ack"
                )
            lines.append(
                f"work (esc/s): {work:.2f}x bare Bolt, whose listener only acks (an escalation is a transaction, "
                "two cards and four Slack calls)"
            )
        elif self.options.rate == TARGET_RATE:
            verdict = "met" if bot["ack_p99_ms"] <= TARGET_P99_MS else "missed"
            lines.append(
                f"target: p99 ack <= {TARGET_P99_MS:g} ms at {TARGET_RATE:g} req/s: "
                f"{bot['ack_p99_ms']:.1f} ms -> {verdict} (the answer: p99 {bot['answer_p99_ms']:.1f} ms)"
            )
        checked = [t for t in self.trials if t.target == "bot"]
        once = sum(t.checks.get("exactly_once", 0) for t in checked)
        escalated = sum(t.checks.get("escalated_incl_warmup", 0) for t in checked)
        lines.append(
            f"exactly once (one L2 card, one customer update, one 'escalated' timeline entry per escalated "
            f"ticket, no Slack message twice): {once}/{escalated} escalated tickets (warm-up included)"
        )
        return lines


# ---------------------------------------------------------------------- seeding tickets


async def seed_tickets(
    driver: SlackDriver,
    senders: Sequence[tuple[str, str]],
    *,
    tag: str,
    database_url: str,
    concurrency: int = 32,
    limit: float = 300.0,
) -> list[int]:
    """One ticket per sender (a customer message each), delivered, then L2's context written into them.

    Returns the ticket ids in sender order. The context goes straight into the database: no command
    sets it without escalating.
    """

    async def send(i: int) -> DriverResult:
        user, channel = senders[i]
        return await driver.post_message(user, channel, message_text(f"{tag}-{i}", i), app_mention=False)

    run = await run_load(send, count=len(senders), concurrency=concurrency, limit=limit)
    failed = [s for s in run.samples if not s.ok]
    if failed:
        raise BenchError(f"{len(failed)} seed messages were not answered 200: {failed[0].error}")
    sources = [(senders[s.index][1], str(s.result.ts if s.result else "")) for s in run.samples]
    deadline = time.monotonic() + limit
    while True:
        audit = await wait_outbox_drained(database_url, limit=max(0.1, deadline - time.monotonic()))
        missing = [src for src in sources if src not in audit.tickets_by_source]
        if not missing and not audit.outbox_pending:
            break
        if time.monotonic() >= deadline:
            raise BenchError(
                f"seeding: {len(missing)} tickets missing, outbox {audit.outbox} after {limit:g}s"
            )
        await asyncio.sleep(0.2)
    ids = [audit.tickets_by_source[src][0] for src in sources]
    await set_ticket_context(database_url, ids, L2_CONTEXT)
    return ids


def escalate_sender(
    driver: SlackDriver,
    keys: Sequence[str],
    *,
    answers: CommandAnswers,
    offset: int = 0,
    wait_for_answer: bool = True,
) -> Callable[[int], Awaitable[DriverResult]]:
    """send(i): an L1 agent runs `/escalate <keys[offset + i]> <reason>` in the L1 channel and waits for
    the answer (at most ANSWER_WAIT s), as a person does before the next command. With an app that
    acks first, the closed loop is thus paced by the answers, not by the acks. The open loop (--rate)
    does not wait: the schedule alone decides when commands go out (answers are timed afterwards)."""

    async def send(i: int) -> DriverResult:
        agent = L1_AGENTS[i % len(L1_AGENTS)]
        result = await driver.slash_command(agent, L1_CHANNEL, "/escalate", f"{keys[offset + i]} {REASON}")
        if result.status == 200 and wait_for_answer:
            for _ in range(int(ANSWER_WAIT / ANSWER_POLL)):
                if answers.of(result) is not None:
                    break
                await asyncio.sleep(ANSWER_POLL)
        return result

    return send


def _describe(sample: Sample | None, answers: CommandAnswers) -> str:
    """A command's outcome in a few words: HTTP status, the answer the person saw, how long it took."""
    if sample is None or sample.result is None:
        return f"no HTTP answer ({sample.error if sample else 'not sent'})"
    seen = answers.text(sample.result)
    return f"HTTP {sample.result.status} after {sample.result.elapsed:.1f} s, answer {seen[:70]!r}"


def is_escalated(answers: CommandAnswers, result: DriverResult | None) -> bool:
    """True for an acknowledged command whose answer says the ticket was escalated."""
    return result is not None and result.status == 200 and "Escalated " in answers.text(result)


# ---------------------------------------------------------------------- one trial


async def run_trial(
    target: Target, options: EscalateOptions, *, repetition: int, workdir: Path
) -> EscalateTrial:
    """One target, one repetition: fresh stand-in, database and process; seed, warm up, drive, check."""
    tag = f"ex{secrets.token_hex(3)}"
    total = options.warmup + options.escalations
    ws, senders = build_bench_workspace(total)
    standin = SlackStandIn(ws, bot_token=BENCH_TOKEN)
    is_bot = target.kind == "bot"
    async with AsyncExitStack() as stack:
        await standin.start(LOOPBACK, 0)
        stack.push_async_callback(standin.stop)
        database_url = ""
        if is_bot and options.database == "postgres":
            name = f"{PG_PREFIX}{os.getpid()}_{repetition}"
            database_url = await create_postgres_database(options.postgres_url, name)
            stack.push_async_callback(drop_postgres_database, options.postgres_url, name)
        elif is_bot:
            database_url = f"sqlite://{workdir / f'{target.name}-{tag}.sqlite3'}"
        service = await start_target(
            target,
            standin=standin,
            database_url=database_url or "sqlite://:memory:",
            workdir=workdir,
            tag=tag,
        )
        stack.push_async_callback(service.stop)
        driver = SlackDriver(standin, f"{service.url}/slack/events", BENCH_SIGNING_SECRET, timeout=10.0)
        stack.push_async_callback(driver.close)
        seed_seconds = None
        if is_bot:
            started = time.monotonic()
            ids = await seed_tickets(driver, senders, tag=tag, database_url=database_url)
            seed_seconds = time.monotonic() - started
        else:
            ids = list(range(1, total + 1))
        keys = [f"SUP-{i}" for i in ids]
        answers = CommandAnswers(standin)
        warm = None
        if options.warmup:
            warm = await run_load(
                escalate_sender(driver, keys, answers=answers),
                count=options.warmup,
                concurrency=options.concurrency,
            )
        cpu_before = service.cpu_seconds()
        run = await run_load(
            escalate_sender(
                driver,
                keys,
                answers=answers,
                offset=options.warmup,
                wait_for_answer=options.rate is None and options.pace == "answer",
            ),
            count=options.escalations,
            concurrency=options.concurrency,
            rate=options.rate,
            limit=max(120.0, 3 * options.escalations / options.rate) if options.rate else 120.0,
        )
        # The answer is the ack's body, or a post to the response_url after the work (ack-first apps).
        samples = [s for r in (warm, run) if r is not None for s in r.samples]
        await answers.wait([s.result for s in samples if s.result], idle=options.card_timeout)
        trial = measure(target.name, repetition, run=run, answers=answers)
        trial.seed_seconds = seed_seconds
        if is_bot:
            await check_bot(
                trial,
                options,
                standin=standin,
                answers=answers,
                database_url=database_url,
                tag=tag,
                ids=ids,
                run=run,
                warm=warm,
            )
        cpu_after = service.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            trial.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / len(run.samples)
        await service.stop()
    errors = error_lines(service.log_text())
    trial.log_errors, trial.leaks = len(errors), len(standin.leaks)
    trial.problems += errors[:5] + [f"leak: {leak}" for leak in standin.leaks[:5]]
    return trial


def _send_rate(run: LoadRun) -> float:
    """Requests sent per second (below --rate when the concurrency cap held requests back)."""
    sent = sorted(s.sent_at for s in run.samples if not math.isnan(s.sent_at))
    return (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else math.nan


def measure(target: str, repetition: int, *, run: LoadRun, answers: CommandAnswers) -> EscalateTrial:
    """Rates, ack and answer latencies of a run."""
    acked = run.acked
    done = [s.sent_at + s.ack_seconds for s in acked]
    ack_ms = [s.ack_seconds * 1000 for s in acked]
    answer_ms = [(answers.answered_at(s.result) - s.sent_at) * 1000 for s in acked]
    escalated = sum(1 for s in run.samples if is_escalated(answers, s.result))
    answered = [answers.answered_at(s.result) for s in run.samples if is_escalated(answers, s.result)]
    return EscalateTrial(
        target=target,
        repetition=repetition,
        sent=len(run.samples),
        acked=len(acked),
        escalated=escalated,
        non_200=len(run.samples) - len(acked),
        refused=len(acked) - escalated,
        req_per_s=len(acked) / (max(done) - run.started_at) if done else 0.0,
        escalated_per_s=escalated / (max(answered) - run.started_at) if answered else 0.0,
        sent_per_s=_send_rate(run),
        ack_p50_ms=percentile(ack_ms, 50),
        ack_p99_ms=percentile(ack_ms, 99),
        answer_p50_ms=percentile((v for v in answer_ms if not math.isnan(v)), 50),
        answer_p99_ms=percentile((v for v in answer_ms if not math.isnan(v)), 99),
    )


async def check_bot(
    trial: EscalateTrial,
    options: EscalateOptions,
    *,
    standin: SlackStandIn,
    answers: CommandAnswers,
    database_url: str,
    tag: str,
    ids: Sequence[int],
    run: LoadRun,
    warm: LoadRun | None,
) -> None:
    """Wait for the L2 cards, then check every escalation happened exactly once (Slack and database)."""
    watcher = CallWatcher(standin, "chat.postMessage", L2_CHANNEL, re.compile(rf"\b{tag}-(\d+)\b"))
    samples: list[tuple[int, Sample]] = [(s.index, s) for s in (warm.samples if warm else [])]
    samples += [(options.warmup + s.index, s) for s in run.samples]
    escalated = {i: s for i, s in samples if is_escalated(answers, s.result)}
    await watcher.wait_for({str(i) for i in escalated}, idle=options.card_timeout)
    audit = await wait_outbox_drained(database_url, limit=options.card_timeout)
    ws = audit_workspace(standin.workspace, [L1_CHANNEL, L2_CHANNEL])
    card_ms = [
        (seen - s.sent_at) * 1000
        for i, s in samples
        if i >= options.warmup and i in escalated and (seen := watcher.first(str(i))) is not None
    ]
    trial.card_p50_ms, trial.card_p99_ms = percentile(card_ms, 50), percentile(card_ms, 99)
    lost, doubled, once, silent = [], [], 0, 0
    for i, ticket in enumerate(ids):
        channel, thread_ts = audit.ticket_thread[ticket]
        updates = sum(1 for text in ws.replies_in(channel, thread_ts) if FORWARDED.search(text))
        cards, entries = ws.cards_of(L2_CHANNEL, ticket), audit.escalations[ticket]
        if i not in escalated:
            if entries:
                answer = _describe(dict(samples).get(i), answers)
                trial.problems.append(f"SUP-{ticket} escalated {entries}x, but the answer was {answer}")
                silent += 1
            continue
        if cards == 0 or updates == 0 or entries == 0 or audit.ticket_level.get(ticket) != "L2":
            lost.append(f"SUP-{ticket}: {cards} L2 cards, {updates} customer updates, {entries} entries")
        elif cards > 1 or updates > 1 or entries > 1:
            doubled.append(f"SUP-{ticket}: {cards} L2 cards, {updates} customer updates, {entries} entries")
        else:
            once += 1
    trial.lost, trial.duplicated = len(lost), len(doubled) + len(ws.doubled_outbox_ids)
    trial.checks = {
        "exactly_once": once,
        "escalated_incl_warmup": len(escalated),
        "escalated_without_that_answer": silent,
        "doubled_outbox_ids": len(ws.doubled_outbox_ids),
        "unprocessed_events": audit.unprocessed_events,
        "outbox_pending": audit.outbox_pending,
        "outbox_failed": audit.outbox.get("failed", 0),
    }
    trial.problems += lost[:5] + doubled[:5]
    if ws.doubled_outbox_ids:
        trial.problems.append(f"outbox ids posted twice: {sorted(ws.doubled_outbox_ids)[:10]}")
    if audit.outbox_pending or audit.outbox.get("failed") or audit.unprocessed_events:
        trial.problems.append(f"outbox {audit.outbox}, unprocessed events {audit.unprocessed_events}")


# ---------------------------------------------------------------------- the run


async def run_escalate(options: EscalateOptions) -> EscalateReport:
    """Every repetition runs every target once (order rotated per repetition to spread drift)."""
    for name in options.targets:
        if name not in TARGETS:
            raise BenchError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    started = time.monotonic()
    await drop_stale_databases(options.database, options.postgres_url, PG_PREFIX)
    trials: list[EscalateTrial] = []
    with contextlib.ExitStack() as cleanup:
        workdir = bench_workdir(cleanup, options.keep, "bench-escalate-")
        for rep in range(1, options.repeat + 1):
            for name in rotated(options.targets, rep):
                t = await run_trial(TARGETS[name], options, repetition=rep, workdir=workdir)
                trials.append(t)
                seeded = f" (seeded in {t.seed_seconds:.0f} s)" if t.seed_seconds is not None else ""
                log(
                    f"  rep {rep}/{options.repeat} {TARGETS[name].label:<36} {t.req_per_s:5.0f} req/s "
                    f"{t.escalated_per_s:5.0f} esc/s  ack p50/p99 {t.ack_p50_ms:5.1f}/{t.ack_p99_ms:6.1f} ms  "
                    f"answer p50/p99 {t.answer_p50_ms:6.1f}/{t.answer_p99_ms:6.1f} ms  card p50/p99 "
                    f"{t.card_p50_ms:6.0f}/{t.card_p99_ms:6.0f} ms  cpu {t.cpu_ms_per_request or math.nan:.2f} "
                    f"ms/req  escalated {t.escalated} lost {t.lost} dup {t.duplicated}{seeded}"
                )
    return EscalateReport(options=options, trials=trials, seconds=time.monotonic() - started)


def parse_args(argv: Sequence[str] | None) -> tuple[EscalateOptions, bool]:
    """Command line -> (EscalateOptions, print JSON?)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench escalate",
        description="/escalate slash commands through the real bot, next to bare Bolt in the same run.",
    )

    parser.add_argument(
        "--escalations", type=at_least_one, default=1000, help="timed commands per trial (1000)"
    )
    parser.add_argument(
        "--concurrency",
        type=at_least_one,
        help="requests in flight at most (closed loop: 32; with --rate: 1000, so the schedule decides)",
    )
    parser.add_argument(
        "--repeat", type=at_least_one, default=3, help="repetitions; medians are reported (3)"
    )
    parser.add_argument("--rate", type=float, help="offered commands/s (open loop); default: closed loop")
    parser.add_argument("--warmup", type=int, default=20, help="untimed commands before each trial (20)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server for --database postgres; a fresh database is created and dropped per trial",
    )
    parser.add_argument(
        "--card-timeout", type=float, default=30.0, help="give up on L2 cards after this many idle seconds"
    )
    parser.add_argument(
        "--targets", default=",".join(DEFAULT_TARGETS), help=f"comma-separated: {', '.join(TARGETS)}"
    )
    parser.add_argument(
        "--pace",
        choices=("answer", "ack"),
        default="answer",
        help="closed loop: the next command after the answer (an agent, default) or after the ack (Slack)",
    )
    parser.add_argument("--keep", type=Path, help="keep logs, configs and SQLite files in this directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args(argv)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        parser.error(f"--targets: unknown {unknown}; choose from {', '.join(TARGETS)}")
    if args.warmup < 0 or args.card_timeout <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--warmup must be >= 0, --card-timeout and --rate > 0")
    options = EscalateOptions(
        escalations=args.escalations,
        concurrency=args.concurrency or (OPEN_LOOP_CONCURRENCY if args.rate else 32),
        repeat=args.repeat,
        database=args.database,
        postgres_url=args.postgres_url,
        warmup=args.warmup,
        rate=args.rate,
        card_timeout=args.card_timeout,
        targets=targets,
        keep=args.keep,
        pace=args.pace,
    )
    return options, bool(args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the escalate benchmark and print the table (or JSON)."""
    options, as_json = parse_args(argv)
    log(
        f"escalate: {options.escalations} commands x {len(options.targets)} targets x {options.repeat} "
        f"repetition(s), {f'{options.rate:g} req/s' if options.rate else 'closed loop'}, "
        f"concurrency {options.concurrency}, database {options.database}"
    )
    return run_benchmark(lambda: run_escalate(options), as_json=as_json)
