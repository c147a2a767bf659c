"""Benchmark helpers (statistics, tables, TOML, load generator) and an end-to-end smoke run of `intake`."""

from __future__ import annotations

import asyncio
import math
import os
import time
import tomllib

import aiohttp
import pytest

from bot.bench.__main__ import BENCHMARKS
from bot.bench.__main__ import main as bench_main
from bot.bench.common import dumps_toml, format_number, format_table, in_hours, median, percentile, run_load
from bot.bench.intake import IntakeOptions, TrialMetrics, build_bench_workspace, parse_args, run_intake
from bot.sandbox.demo import ACME_CHANNEL, GLOBEX_CHANNEL, demo_support_raw
from bot.sandbox.driver import DriverResult
from config.support import parse_support_config


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_median_ignores_nan_and_is_nan_for_nothing() -> None:
    assert median([3.0, math.nan, 1.0, 2.0]) == 2.0
    assert math.isnan(median([math.nan]))


def test_format_number_and_table() -> None:
    assert format_number(None) == "-" and format_number(math.nan) == "-"
    assert format_number(1234.567, 1) == "1,234.6" and format_number(7) == "7"
    table = format_table(["target", "events/s"], [["bot", "70"], ["bare Bolt", "1,395"]])
    assert table.splitlines() == [
        "target     events/s",
        "---------  --------",
        "bot              70",
        "bare Bolt     1,395",
    ]
    with pytest.raises(ValueError):
        format_table(["a", "b"], [["only one"]])


def test_toml_writer_round_trips_the_demo_config() -> None:
    raw = demo_support_raw()
    text = dumps_toml(raw)
    assert tomllib.loads(text) == raw
    assert parse_support_config(tomllib.loads(text), source="bench").levels["L1"].channel == "C0L1"


def test_toml_writer_escapes_strings_keys_and_nests_tables() -> None:
    data = {
        "flag": True,
        "ratio": 0.25,
        "count": 3,
        "text": 'quote " backslash \\ newline \n tab \t del \x7f ümlaut',
        "odd key": "x",
        "inline": [{"a": 1}, 2],
        "table": {"inner": {"deep": ["a", "b"]}, "empty": {}},
        "items": [{"name": "one", "sub": {"k": 1}}, {"name": "two"}],
    }
    assert tomllib.loads(dumps_toml(data)) == data
    with pytest.raises(TypeError):
        dumps_toml({"when": object()})


def _result(status: int, elapsed: float) -> DriverResult:
    return DriverResult(status, "", None, {}, b"", {}, {}, elapsed)


async def test_run_load_caps_concurrency_and_records_errors() -> None:
    in_flight = peak = 0

    async def send(i: int) -> DriverResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        if i == 3:
            raise aiohttp.ClientConnectionError("refused")
        return _result(500 if i == 5 else 200, 0.005)

    run = await run_load(send, count=20, concurrency=4)
    assert peak == 4
    assert [s.index for s in run.samples if not s.ok] == [3, 5]
    assert run.samples[3].status is None and "refused" in (run.samples[3].error or "")
    assert len(run.acked) == 18 and all(s.ack_seconds == 0.005 for s in run.acked)


async def test_run_load_with_rate_spaces_requests() -> None:
    async def send(i: int) -> DriverResult:
        return _result(200, 0.0)

    started = time.monotonic()
    run = await run_load(send, count=11, concurrency=8, rate=200.0)
    assert time.monotonic() - started >= 0.045  # request 10 is due 50 ms after the start
    sent = [s.sent_at for s in run.samples]
    assert sent == sorted(sent)


def test_bench_workspace_gives_every_message_its_own_person() -> None:
    ws, senders = build_bench_workspace(5)
    assert len(set(senders)) == 5
    assert {channel for _, channel in senders} == {ACME_CHANNEL, GLOBEX_CHANNEL}
    assert all(user in ws.channels[channel].members for user, channel in senders)


def test_dispatcher_lists_benchmarks_and_rejects_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert "intake" in BENCHMARKS
    assert bench_main(["--help"]) == 0 and "intake" in capsys.readouterr().out
    assert bench_main(["nope"]) == 2
    options, as_json = parse_args(["--messages", "5", "--targets", "bot,bolt", "--json"])
    assert (options.messages, options.targets, as_json) == (5, ("bot", "bolt"), True)


def _assert_clean(report_trials: list[TrialMetrics]) -> None:
    for trial in report_trials:
        detail = f"{trial.target}: {trial.first_problems}"
        assert trial.lost == 0 and trial.duplicated == 0, detail
        assert trial.non_200 == 0 and trial.stderr_errors == 0 and trial.leaks == 0, detail
        assert trial.events_per_s > 0 and not math.isnan(trial.card_p99_ms), detail


async def test_intake_smoke_run_loses_and_duplicates_nothing() -> None:
    options = IntakeOptions(messages=20, concurrency=4, repeat=1, warmup=2, card_timeout=15.0)
    report = await run_intake(options)
    assert sorted(t.target for t in report.trials) == sorted(options.targets)
    _assert_clean(report.trials)
    bot = next(t for t in report.trials if t.target == "bot")
    assert bot.tickets == 22 and bot.unprocessed_events == 0 and set(bot.outbox or {}) == {"delivered"}
    assert "bot / bare Bolt" in report.render()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_intake_smoke_run_on_postgres() -> None:
    options = IntakeOptions(
        messages=10,
        concurrency=4,
        repeat=1,
        warmup=0,
        database="postgres",
        postgres_url=os.environ["TEST_DATABASE_URL"],
        targets=("bot",),
    )
    report = await run_intake(options)
    _assert_clean(report.trials)
    assert report.trials[0].tickets == 10


def test_in_hours_stretches_every_sla_duration_and_nothing_else() -> None:
    raw = demo_support_raw()
    stretched = in_hours(raw)
    gold = stretched["sla"]["plans"]["gold"]
    assert gold["P1"] == {"first_response": "2h", "next_response": "5h", "resolution": "15h"}
    assert stretched["sla"]["plans"]["standard"]["P1"]["resolution"] == "240h"  # 4h
    assert stretched["sla"]["ola"]["L2"]["P1"] == "3h"
    assert stretched["sla"]["alerts"]["thresholds"] == [50, 75, 90]
    assert stretched["levels"] == raw["levels"] and stretched["customers"] == raw["customers"]
    assert raw["sla"]["plans"]["gold"]["P1"]["first_response"] == "2m"  # the demo config is left alone
    config = parse_support_config(stretched, source="bench")
    assert config.sla.plans["gold"].P1.first_response == "2h"  # and it parses
