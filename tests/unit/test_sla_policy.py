"""SLA configuration and policy resolution: plan × priority → calendar, targets, internal targets, alerts;
bad configuration stops the start with an error that names the key."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.demo import demo_support_raw
from bot.services.sla.policy import calendar_named, policy_for
from config.sla import DEFAULT_BREACH, DEFAULT_THRESHOLDS, DEFAULT_WARNING
from config.support import SupportConfig, SupportConfigError, load_support_config, parse_support_config
from models.sla import SlaKind

REPO = Path(__file__).resolve().parents[2]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
H, M = timedelta(hours=1), timedelta(minutes=1)

SLA: dict[str, Any] = {
    "calendars": {
        "office": {
            "timezone": "Europe/Berlin",
            "holidays": "DE-BY",
            "hours": {d: ["09:00-12:00", "13:00-17:00"] for d in WEEKDAYS},
        },
    },
    "plans": {
        "gold": {
            "calendar": "24x7",
            "P1": {"first_response": "15m", "next_response": "30m", "resolution": "1d"},
        },
        "silver": {
            "calendar": "office",
            "P1": {"first_response": "1h", "next_response": "2h", "resolution": "8h"},
            "P4": {"resolution": "40h"},
        },
        "standard": {"calendar": "office", "P3": {"first_response": "4h"}},
    },
    "ola": {"L2": {"P1": "30m"}, "L3": {"P1": "1h", "P4": "16h"}},
    "alerts": {"P1": {"thresholds": [25, 50, 75, 90], "breach": ["channel", "leads", "escalate"]}},
    "stale_after": "8h",
}


def _config(sla: dict[str, Any] | None = None, **top: Any) -> SupportConfig:
    raw = demo_support_raw()
    raw["sla"] = copy.deepcopy(SLA if sla is None else sla)
    raw.update(top)
    return parse_support_config(raw, source="test")


def _error(sla: dict[str, Any], **top: Any) -> str:
    with pytest.raises(SupportConfigError) as caught:
        _config(sla, **top)
    return str(caught.value)


def test_plan_and_priority_select_calendar_targets_and_alerts() -> None:
    config = _config()
    gold = policy_for(config=config, plan="gold", priority="P1")
    assert gold is not None and gold.calendar == "24x7"
    assert gold.targets == {
        SlaKind.FIRST_RESPONSE: 15 * M,
        SlaKind.NEXT_RESPONSE: 30 * M,
        SlaKind.RESOLUTION: 24 * H,  # 'd' is 24 h, allowed on a 24x7 calendar
    }
    assert gold.alerts.thresholds == (25, 50, 75, 90)
    assert gold.alerts.breach == ("channel", "leads", "escalate")
    assert gold.alerts.warning == DEFAULT_WARNING  # not overridden for P1: the default
    silver = policy_for(config=config, plan="silver", priority="P4")
    assert silver is not None and silver.calendar == "office"
    assert silver.targets == {SlaKind.RESOLUTION: 40 * H}  # first/next response not promised at P4
    assert silver.target(SlaKind.FIRST_RESPONSE) is None
    assert silver.alerts.thresholds == DEFAULT_THRESHOLDS and silver.alerts.breach == DEFAULT_BREACH


def test_unknown_plan_falls_back_to_the_default_plan_and_missing_priority_promises_nothing() -> None:
    config = _config()
    fallback = policy_for(config=config, plan="platinum", priority="P3")
    assert fallback is not None and fallback.plan == "standard"
    assert fallback.targets == {SlaKind.FIRST_RESPONSE: 4 * H}
    none_at_p2 = policy_for(config=config, plan="silver", priority="P2")
    assert none_at_p2 is not None and none_at_p2.targets == {}


def test_internal_targets_per_level_and_stale_nudges_on_the_plan_calendar() -> None:
    config = _config()
    p1 = policy_for(config=config, plan="silver", priority="P1")
    assert p1 is not None
    assert p1.target(SlaKind.OLA_L2) == 30 * M and p1.target(SlaKind.OLA_L3) == H
    assert p1.calendar_of(SlaKind.OLA_L3) == "office"
    assert p1.target(SlaKind.IDLE) == 8 * H and p1.thresholds_of(SlaKind.IDLE) == ()
    p4 = policy_for(config=config, plan="silver", priority="P4")
    assert p4 is not None and p4.target(SlaKind.OLA_L2) is None and p4.target(SlaKind.OLA_L3) == 16 * H
    own = _config({**SLA, "ola": {"calendar": "24x7", "L2": {"P1": "2d"}}})
    assert (policy := policy_for(config=own, plan="silver", priority="P1")) is not None
    assert policy.calendar_of(SlaKind.OLA_L2) == "24x7" and policy.target(SlaKind.OLA_L2) == 48 * H


def test_without_plans_there_is_no_sla() -> None:
    config = _config({})
    assert not config.sla.enabled
    assert policy_for(config=config, plan="gold", priority="P1") is None


def test_calendars_are_built_once_and_shared() -> None:
    config = _config()
    assert calendar_named(config=config, name="office") is calendar_named(config=config, name="office")
    assert calendar_named(config=config, name="24x7").is_always_open
    # a timer whose calendar was removed from the configuration counts around the clock
    assert calendar_named(config=config, name="gone").is_always_open
    assert config.sla.is_24x7("24x7") and not config.sla.is_24x7("office")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"plans": {"gold": {"calendar": "ofice"}}}, "sla.plans.gold.calendar: unknown calendar 'ofice'"),
        (
            {"plans": {"gold": {"P1": {"resolution": "-4h"}}}},
            "sla.plans.gold.P1.resolution: duration '-4h' is negative",
        ),
        (
            {"plans": {"gold": {"P1": {"resolution": "0m"}}}},
            "sla.plans.gold.P1.resolution: duration '0m' is zero",
        ),
        (
            {"plans": {"silver": {"calendar": "office", "P2": {"resolution": "2d"}}}},
            "sla.plans.silver.P2.resolution: duration '2d' uses days",
        ),
        (
            {"calendars": {"office": {"timezone": "Europe/Berlin", "hours": "24x7", "holidays": "DE-XX"}}},
            "sla.calendars.office.holidays.subdiv: unknown subdivision 'XX'",
        ),
        (
            {"calendars": {"office": {"timezone": "Europe/Berln", "hours": "24x7"}}},
            "sla.calendars.office.timezone: unknown time zone 'Europe/Berln'",
        ),
        ({"alerts": {"thresholds": [75, 50]}}, "sla.alerts.thresholds: thresholds must be increasing"),
        ({"alerts": {"P2": {"breach": ["channel", "shout"]}}}, "sla.alerts.P2.breach[1]: Input should be"),
        ({"alerts": {"warning": ["escalate"]}}, "sla.alerts.warning[0]: Input should be"),
        ({"ola": {"calendar": "nights"}}, "sla.ola.calendar: unknown calendar 'nights'"),
        ({"ola": {"L3": {"P1": "1d"}}}, "sla.ola.L3.P1: duration '1d' uses days"),
        ({"overview": {"at": "8:30"}}, "sla.overview.at: '8:30' is not a time of day"),
        ({"leads": {"L2": ["lena"]}}, "sla.leads: 'lena' is neither a user id"),
        ({"stale_after": "1d"}, "sla.stale_after: duration '1d' uses days"),
    ],
)
def test_bad_sla_config_names_the_key(change: dict[str, Any], expected: str) -> None:
    sla = copy.deepcopy(SLA)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(sla.get(key), dict):
            for sub, sub_value in value.items():
                base = sla[key].get(sub)
                sla[key][sub] = (
                    {**base, **sub_value}
                    if isinstance(base, dict) and isinstance(sub_value, dict)
                    else sub_value
                )
        else:
            sla[key] = value
    assert expected in _error(sla)


def test_customers_and_the_default_plan_need_an_sla_plan() -> None:
    sla = {**SLA, "plans": {"gold": SLA["plans"]["gold"]}}
    message = _error(sla)
    assert "customers[1].plan: no SLA plan 'silver'" in message
    assert "defaults.plan: no SLA plan 'standard'" in message


def test_the_example_config_and_the_demo_config_are_valid() -> None:
    example = load_support_config(REPO / "config" / "support.example.toml")
    assert set(example.sla.plans) == {"gold", "silver", "standard"}
    gold = policy_for(config=example, plan="gold", priority="P3")
    assert gold is not None and gold.targets[SlaKind.RESOLUTION] == 48 * H
    demo = parse_support_config(demo_support_raw(), source="demo")
    assert demo.sla.enabled and demo.sla.stale_after
