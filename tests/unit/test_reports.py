"""Report numbers against a hand-computed fixture: tickets and timeline entries with explicit timestamps,
times in business time across a weekend (09:00-17:00 Mon-Fri, UTC), SLA compliance from the SLA engine's
records, escalation / hand-back / deflection rates, KB helpfulness and CSAT; plus periods and exports.

The period is Wed 2026-11-04 00:00 to Wed 2026-11-11 00:00 UTC. Acme is on `standard` (office hours),
Globex on `gold` (24x7). Hand computation, per ticket:

  A  Acme P2  opened Fri 16:00, escalated L1→L2 Fri 16:30, first reply Mon 10:00, resolved at L2 Mon 15:00
     first response = Fri 16-17 + Mon 09-10 = 2h (66h on the wall clock); resolution = 1h + 6h = 7h
  B  Acme P3  opened Thu 09:00, reply 09:30 (30m), resolved 13:00 (4h) at L1
  C  Acme P3  opened Sat 10:00 (closed: counting starts Mon 09:00), reply Mon 09:15 (15m),
     L1→L2 Mon 09:30, L2→L3 Mon 11:00, handed back to L2 Tue 09:00, resolved at L2 Tue 10:00 (Mon 8h + 1h = 9h)
  D  Globex P1 (24x7) opened Sun 20:00, reply 20:10 (10m), resolved Sun 22:00 (2h) at L1, deflected by the KB
  E  Acme P3  opened Tue 16:30, still open
  F  Acme P4  opened before the period (Mon 11-02 10:00), first reply before it, another reply Wed 09:30,
     resolved Wed 11-04 10:00 = Mon 7h + Tue 8h + Wed 1h = 16h

  opened 5 (A-E), resolved 5 (A-D, F)
  first responses in the period: 10m, 15m, 30m, 2h → median 22m30s, p90 (nearest rank 4 of 4) 2h
  resolutions: 2h, 4h, 7h, 9h, 16h → median 7h, p90 (rank 5 of 5) 16h
  SLA: met in time A-res, B-fr, B-res, C-fr, D-fr, D-res = 6; breached A-fr (breach + late met: once),
       B-next_response, C-res (met late without a breach record) = 3; F's late resolution was breached
       before the period: not counted; C's OLA breach is internal: not counted → 6 of 9
       by priority P1 2/2, P2 1/2, P3 3/5; by level (resolving level) L1 4/5 (B, D), L2 2/4 (A, C)
  escalated L1→L2: A, C of 5 cohort tickets; L2→L3: C of A, C; handed back: C of A, C; deflected: D of 5
  KB feedback in the period: 3 helped, 1 not relevant → 75%
  CSAT: asked B, D, A (3); rated B 5, D 2 → average 3.5, 1 of 2 satisfied
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot import db
from bot.flows import reports as report_flows
from bot.services import reports as svc
from config.support import SupportConfig, parse_support_config
from models import CsatSurvey, Customer, KbArticle, KbFeedback, KbFeedbackKind, Ticket, TimelineEntry

H, M = timedelta(hours=1), timedelta(minutes=1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def config() -> SupportConfig:
    office = {"timezone": "UTC", "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
    targets = {"first_response": "1h", "resolution": "8h"}
    return parse_support_config(
        {
            "leads": ["U0LEAD"],
            "defaults": {"timezone": "UTC", "plan": "standard"},
            "levels": {"L1": {"channel": "C0L1"}, "L2": {"channel": "C0L2"}, "L3": {"channel": "C0L3"}},
            "customers": [
                {"team_id": "T0ACME", "name": "Acme Corp", "plan": "standard"},
                {"team_id": "T0GLOBEX", "name": "Globex GmbH", "plan": "gold"},
            ],
            "sla": {
                "calendars": {"office": office},
                "plans": {
                    "standard": {"calendar": "office", **{p: targets for p in ("P1", "P2", "P3", "P4")}},
                    "gold": {"calendar": "24x7", **{p: targets for p in ("P1", "P2", "P3", "P4")}},
                },
            },
        },
        source="test",
    )


PERIOD = svc.date_period(since=date(2026, 11, 4), until=date(2026, 11, 11), now=at(20, 0), timezone="UTC")


@pytest.fixture
async def reports_db(database_url: str) -> AsyncIterator[dict[str, Ticket]]:
    await db.init_db(database_url)
    try:
        yield await _fixture()
    finally:
        await db.close_db()


async def _ticket(customer: Customer, n: int, created: datetime, priority: str, **fields: Any) -> Ticket:
    return await Ticket.create(
        customer=customer,
        channel_id="C0ACME" if customer.team_id == "T0ACME" else "C0GLOBEX",
        source_ts=f"1.{n}",
        author_id="U0CUST",
        opened_by_id="U0CUST",
        text=f"ticket {n}",
        created_at=created,
        priority=priority,
        **fields,
    )


async def _entries(ticket: Ticket, *entries: tuple[datetime, str, dict[str, Any]]) -> None:
    for when, kind, data in entries:
        await TimelineEntry.create(ticket=ticket, at=when, actor_id="U0AGENT", kind=kind, data=data)


def met(timer: str, in_time: bool, cycle: int = 1) -> dict[str, Any]:
    return {"timer": timer, "cycle": cycle, "in_time": in_time}


def breach(timer: str, cycle: int = 1, level: str = "L1") -> dict[str, Any]:
    return {"timer": timer, "cycle": cycle, "level": level}


async def _fixture() -> dict[str, Ticket]:
    acme = await Customer.create(team_id="T0ACME", name="Acme Corp", plan="standard")
    globex = await Customer.create(team_id="T0GLOBEX", name="Globex GmbH", plan="gold")
    a = await _ticket(acme, 1, at(6, 16), "P2", level="L2", resolved_level="L2", status="closed")
    b = await _ticket(acme, 2, at(5, 9), "P3", resolved_level="L1", status="closed")
    c = await _ticket(acme, 3, at(7, 10), "P3", level="L2", resolved_level="L2", status="resolved")
    d = await _ticket(globex, 4, at(8, 20), "P1", resolved_level="L1", status="closed")
    e = await _ticket(acme, 5, at(10, 16, 30), "P3", status="new")
    f = await _ticket(acme, 6, at(2, 10), "P4", resolved_level="L1", status="closed")
    await _entries(
        a,
        (at(6, 16, 30), "escalated", {"from": "L1", "to": "L2"}),
        (at(6, 17), "sla_breached", breach("first_response")),
        (at(9, 10), "agent_reply", {}),
        (at(9, 10), "sla_met", met("first_response", False)),
        (at(9, 15), "resolved", {"level": "L2"}),
        (at(9, 15), "sla_met", met("resolution", True)),
    )
    await _entries(
        b,
        (at(5, 9, 30), "agent_reply", {}),
        (at(5, 9, 30), "sla_met", met("first_response", True)),
        (at(5, 13), "resolved", {"level": "L1"}),
        (at(5, 13), "sla_met", met("resolution", True)),
        (at(5, 15), "sla_breached", breach("next_response", cycle=2)),
    )
    await _entries(
        c,
        (at(9, 9, 15), "agent_reply_via_bot", {}),
        (at(9, 9, 15), "sla_met", met("first_response", True)),
        (at(9, 9, 30), "escalated", {"from": "L1", "to": "L2"}),
        (at(9, 11), "escalated", {"from": "L2", "to": "L3"}),
        (at(9, 12), "sla_breached", breach("ola_L3", level="L3")),
        (at(10, 9), "handed_back", {"from": "L3", "to": "L2"}),
        (at(10, 10), "resolved", {"level": "L2"}),
        (at(10, 10), "sla_met", met("resolution", False)),
    )
    await _entries(
        d,
        (at(8, 20, 10), "agent_reply", {}),
        (at(8, 20, 10), "sla_met", met("first_response", True)),
        (at(8, 22), "resolved", {"level": "L1"}),
        (at(8, 22), "sla_met", met("resolution", True)),
        (at(8, 22), "kb_deflected", {}),
    )
    await _entries(e, (at(10, 16, 30), "created", {}))
    await _entries(
        f,
        (at(2, 11), "agent_reply", {}),
        (at(3, 16), "sla_breached", breach("resolution")),
        (at(4, 9, 30), "agent_reply", {}),
        (at(4, 10), "resolved", {"level": "L1"}),
        (at(4, 10), "sla_met", met("resolution", False)),
    )
    article = await KbArticle.create(
        title="Printer", created_at=at(1, 9), updated_at=at(1, 9), reviewed_at=at(1, 9)
    )
    for n, (kind, when) in enumerate(
        [
            (KbFeedbackKind.HELPED, at(5, 10)),
            (KbFeedbackKind.HELPED, at(6, 10)),
            (KbFeedbackKind.HELPED, at(9, 10)),
            (KbFeedbackKind.NOT_RELEVANT, at(9, 11)),
            (KbFeedbackKind.HELPED, at(3, 10)),  # before the period
        ]
    ):
        await KbFeedback.create(article=article, ticket=None, user_id=f"U0A{n}", kind=kind, at=when)
    for ticket, asked, rating in ((b, at(5, 13, 5), 5), (d, at(8, 22, 1), 2), (a, at(9, 15, 5), None)):
        await CsatSurvey.create(
            ticket=ticket,
            customer_id=ticket.customer_id,
            user_id="U0CUST",
            team_id="T0ACME",
            level=ticket.resolved_level or ticket.level,
            priority=ticket.priority,
            asked_at=asked,
            rating=rating,
            rated_at=asked + 5 * M if rating else None,
        )
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}


async def test_report_numbers_match_the_hand_computed_fixture(reports_db: dict[str, Ticket]) -> None:
    report = await svc.build_report(period=PERIOD, config=config())
    o = report.overall
    assert (o.opened, o.resolved) == (5, 5)
    assert o.first_response == svc.Durations(4, 22 * M + timedelta(seconds=30), 2 * H)
    assert o.resolution == svc.Durations(5, 7 * H, 16 * H)
    assert (o.compliance.met, o.compliance.breached) == (6, 3)
    assert {p: (c.met, c.breached) for p, c in report.compliance_by_priority.items()} == {
        "P1": (2, 0),
        "P2": (1, 1),
        "P3": (3, 2),
        "P4": (0, 0),
    }
    assert {lvl: (c.met, c.breached) for lvl, c in report.compliance_by_level.items()} == {
        "L1": (4, 1),
        "L2": (2, 2),
        "L3": (0, 0),
    }
    assert (report.escalation_l1_l2.numerator, report.escalation_l1_l2.denominator) == (2, 5)
    assert (report.escalation_l2_l3.numerator, report.escalation_l2_l3.denominator) == (1, 2)
    assert (report.hand_back.numerator, report.hand_back.denominator) == (1, 2)
    assert (report.kb_deflection.numerator, report.kb_deflection.denominator) == (1, 5)
    assert report.kb_helpfulness is not None and report.kb_helpfulness.value == 0.75
    assert (o.csat.asked, o.csat.ratings, o.csat.average, o.csat.score) == (3, (5, 2), 3.5, 0.5)


async def test_business_time_is_not_wall_clock_time_across_the_weekend(reports_db: dict[str, Ticket]) -> None:
    rows = {r.key: r for r in await svc.ticket_rows(period=PERIOD, config=config(), key_prefix="SUP")}
    a, c, d = (rows[f"SUP-{reports_db[k].id}"] for k in "ACD")
    assert (a.first_response_business_s, a.resolution_business_s) == (2 * 3600, 7 * 3600)
    assert (a.first_response_at - a.created_at) == 66 * H  # what a wall clock would have said
    assert (c.first_response_business_s, c.resolution_business_s) == (15 * 60, 9 * 3600)
    assert (d.first_response_business_s, d.resolution_business_s) == (10 * 60, 2 * 3600)  # 24x7 plan
    assert (c.escalated_to_l2, c.escalated_to_l3, c.handed_back, c.kb_deflected) == (True, True, True, False)
    assert d.kb_deflected and a.sla_breaches == 1 and a.csat_rating is None and d.csat_rating == 2
    assert set(rows) == {f"SUP-{reports_db[k].id}" for k in "ABCDE"}  # F was opened before the period


async def test_breakdowns_by_level_and_customer(reports_db: dict[str, Ticket]) -> None:
    by_level = await svc.build_report(period=PERIOD, config=config(), breakdown="level")
    l1, l2, l3 = by_level.breakdown
    assert (l1.name, l1.opened, l1.resolved, l1.resolution.median) == ("L1", 3, 3, 4 * H)  # B, D, E · B, D, F
    assert (l2.name, l2.opened, l2.resolved, l2.resolution.median) == (
        "L2",
        2,
        2,
        8 * H,
    )  # A, C: (7h + 9h) / 2
    assert (l3.opened, l3.resolved) == (0, 0)
    by_customer = await svc.build_report(period=PERIOD, config=config(), breakdown="customer")
    acme, globex = by_customer.breakdown
    assert (acme.name, acme.opened, acme.resolved, acme.first_response.median) == ("Acme Corp", 4, 4, 30 * M)
    assert (globex.name, globex.opened, globex.resolved, globex.csat.ratings) == ("Globex GmbH", 1, 1, (2,))


async def test_daily_series_for_the_chart(reports_db: dict[str, Ticket]) -> None:
    report = await svc.build_report(period=PERIOD, config=config())
    days = {d.day.isoformat(): d for d in report.days}
    assert list(days) == [f"2026-11-{n:02d}" for n in range(4, 11)]
    assert days["2026-11-05"].arrivals == {"L1": 1, "L2": 0, "L3": 0} and days["2026-11-05"].breaches == 1
    assert days["2026-11-06"].arrivals == {"L1": 1, "L2": 1, "L3": 0} and days["2026-11-06"].breaches == 1
    assert days["2026-11-09"].arrivals == {"L1": 0, "L2": 1, "L3": 1}
    assert (days["2026-11-08"].compliance.met, days["2026-11-08"].compliance.breached) == (2, 0)
    assert days["2026-11-10"].breaches == 1 and days["2026-11-04"].compliance.rate is None


async def test_exports_csv_and_json(reports_db: dict[str, Ticket]) -> None:
    text = await report_flows.export_rows(
        config=config(), since=date(2026, 11, 4), until=date(2026, 11, 11), fmt="csv", now=at(20, 0)
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 and rows[0].keys() >= {"key", "first_response_business_s", "csat_rating"}
    a = next(r for r in rows if r["key"] == f"SUP-{reports_db['A'].id}")
    assert (a["first_response_business_s"], a["resolution_business_s"], a["escalated_to_l2"]) == (
        "7200",
        "25200",
        "True",
    )
    data = json.loads(
        await report_flows.export_rows(
            config=config(), since=date(2026, 11, 4), until=date(2026, 11, 11), fmt="json", now=at(20, 0)
        )
    )
    summary = data["summary"]
    assert summary["overall"]["first_response"] == {"count": 4, "median_s": 1350, "p90_s": 7200}
    assert summary["overall"]["sla"] == {"met": 6, "breached": 3, "rate": pytest.approx(2 / 3)}
    assert summary["kb_helpfulness"]["rate"] == 0.75 and len(data["tickets"]) == 5


def test_percentiles_and_periods() -> None:
    assert svc.durations([]) == svc.Durations(0, None, None)
    assert svc.durations([H]) == svc.Durations(1, H, H)
    ten = [n * M for n in range(1, 11)]
    assert svc.durations(ten) == svc.Durations(10, 5 * M + timedelta(seconds=30), 9 * M)  # rank ceil(9) = 9
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    today = svc.named_period(name="today", now=now, timezone="Europe/Berlin")
    assert (today.since, today.until) == (datetime(2026, 11, 9, 23, 0, tzinfo=UTC), now)
    week = svc.named_period(name="week", now=now, timezone="Europe/Berlin")
    assert week.since == datetime(2026, 11, 3, 23, 0, tzinfo=UTC) and len(week.days()) == 7
    digest = svc.digest_period(now=now, timezone="Europe/Berlin", days=7)
    assert (digest.since, digest.until) == (
        datetime(2026, 11, 2, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 9, 23, 0, tzinfo=UTC),
    )
    assert report_flows.parse_report_args("customer month") == ("month", "customer")
    assert report_flows.parse_report_args("") == ("week", None)
    with pytest.raises(Exception, match="don't know"):
        report_flows.parse_report_args("yearly")
