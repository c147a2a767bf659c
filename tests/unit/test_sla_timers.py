"""SLA timers on a real database: starting on the plan's calendar (weekends, holidays, lunch), meeting,
pausing across a night, reopening, priority changes, internal targets, and thresholds claimed once each."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.demo import demo_support_raw
from bot.services import tickets as ticket_service
from bot.services.sla import engine
from bot.services.sla.engine import SlaEvent, claim_due, on_ticket_event
from config.support import SupportConfig, parse_support_config
from models import Customer, Ticket, TicketStatus, TimelineEntry
from models.sla import SlaKind, SlaState, SlaTimer
from tests.unit.test_sla_policy import SLA

BERLIN = ZoneInfo("Europe/Berlin")
H, M, S = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)


def berlin(day: str, hhmm: str) -> datetime:
    """An aware Berlin time, e.g. berlin('2026-03-06', '16:30')."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=BERLIN)


def _config(**sla_changes: Any) -> SupportConfig:
    raw = demo_support_raw()
    raw["sla"] = {**copy.deepcopy(SLA), **sla_changes}
    return parse_support_config(raw, source="test")


async def _ticket(at: datetime, *, plan: str = "silver", priority: str = "P1", n: int = 1) -> Ticket:
    customer, _ = await Customer.get_or_create(
        team_id=f"T0{plan.upper()}", defaults={"name": plan, "plan": plan}
    )
    ticket = await Ticket.create(
        customer=customer,
        channel_id="C0CUST",
        source_ts=f"{at.timestamp()}.{n}",
        author_id="U0CUST",
        opened_by_id="U0CUST",
        text="It is broken",
        priority=priority,
        status=TicketStatus.NEW,
        level="L1",
        created_at=at,
    )
    ticket.customer = customer
    return ticket


async def _timers(ticket: Ticket) -> dict[SlaKind, SlaTimer]:
    return {SlaKind(t.kind): t for t in await SlaTimer.filter(ticket_id=ticket.id)}


async def _event(ticket: Ticket, event: SlaEvent, at: datetime, config: SupportConfig, **kw: Any) -> bool:
    await ticket.refresh_from_db()
    return await on_ticket_event(ticket, event, at=at, config=config, **kw)


async def _claim(at: datetime, config: SupportConfig) -> list[engine.Firing]:
    from tortoise.transactions import in_transaction

    async with in_transaction():
        return (await claim_due(now=at, config=config)).firings


async def test_first_response_and_resolution_count_business_time_over_the_weekend(database: None) -> None:
    config = _config()
    ticket = await _ticket(berlin("2026-03-06", "16:30"))  # Friday, office hours 09-12 + 13-17
    await _event(ticket, SlaEvent.CREATED, ticket.created_at, config)
    timers = await _timers(ticket)
    assert set(timers) == {SlaKind.FIRST_RESPONSE, SlaKind.RESOLUTION, SlaKind.IDLE}
    first, resolution = timers[SlaKind.FIRST_RESPONSE], timers[SlaKind.RESOLUTION]
    assert first.due_at == berlin("2026-03-09", "09:30")  # 30 min on Friday + 30 min on Monday
    assert first.next_fire_at == berlin("2026-03-06", "16:45")  # P1 warns at 25, 50, 75 and 90 %
    office = config.sla.calendar("office")
    assert engine.fire_time(first, office, 1) == berlin(
        "2026-03-06", "17:00"
    )  # 50 % at closing, not Mon 09:00
    assert resolution.due_at == berlin("2026-03-10", "09:30")  # 0:30 Fri + 7:00 Mon + 0:30 Tue
    assert first.calendar == "office" and first.thresholds == [25, 50, 75, 90]


async def test_lunch_break_and_public_holiday_are_not_counted(database: None) -> None:
    config = _config()
    lunch = await _ticket(berlin("2026-03-09", "11:30"), n=1)
    await _event(lunch, SlaEvent.CREATED, lunch.created_at, config)
    assert (await _timers(lunch))[SlaKind.FIRST_RESPONSE].due_at == berlin("2026-03-09", "13:30")
    holiday = await _ticket(berlin("2026-01-05", "16:30"), n=2)  # Tue 2026-01-06 is Epiphany in Bavaria
    await _event(holiday, SlaEvent.CREATED, holiday.created_at, config)
    assert (await _timers(holiday))[SlaKind.FIRST_RESPONSE].due_at == berlin("2026-01-07", "09:30")


async def test_thresholds_fire_once_each_then_the_breach(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    assert await _claim(start + 14 * M, config) == []
    fired: list[tuple[str, int | None]] = []
    for minute in (15, 30, 45, 54, 60):  # first response 1h: 25, 50, 75, 90 %, breach
        at = start + minute * M
        batch = [f for f in await _claim(at, config) if f.kind == SlaKind.FIRST_RESPONSE]
        assert len(batch) == 1 and not batch[0].late and batch[0].due_at == at
        fired.append(("breach" if batch[0].is_breach else "warning", batch[0].percent))
        assert [f for f in await _claim(at, config) if f.kind == SlaKind.FIRST_RESPONSE] == []  # once
    assert fired == [("warning", 25), ("warning", 50), ("warning", 75), ("warning", 90), ("breach", None)]
    first = (await _timers(ticket))[SlaKind.FIRST_RESPONSE]
    assert first.breached_at == start + H and first.next_fire_at is None and first.state == SlaState.RUNNING
    assert [f for f in await _claim(start + 3 * H, config) if f.kind == SlaKind.FIRST_RESPONSE] == []


async def test_reminders_missed_while_down_are_sent_once_collapsed_and_marked_late(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    late = [f for f in await _claim(start + 56 * M, config) if f.kind == SlaKind.FIRST_RESPONSE]
    assert len(late) == 1
    assert (late[0].percent, late[0].missed, late[0].late) == (90, (25, 50, 75), True)
    assert late[0].due_at == start + 54 * M
    just_in_time = [
        f for f in await _claim(start + 60 * M + 30 * S, config) if f.kind == SlaKind.FIRST_RESPONSE
    ]
    assert len(just_in_time) == 1 and just_in_time[0].is_breach and not just_in_time[0].late


async def test_agent_reply_meets_first_response_customer_replies_start_next_response(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    assert await _event(
        ticket, SlaEvent.CUSTOMER_REPLY, start + 5 * M, config
    )  # follow-up: first response covers it
    assert SlaKind.NEXT_RESPONSE not in await _timers(ticket)
    await _event(ticket, SlaEvent.AGENT_REPLY, start + 20 * M, config)
    first = (await _timers(ticket))[SlaKind.FIRST_RESPONSE]
    assert first.state == SlaState.MET and first.met_at == start + 20 * M and first.next_fire_at is None
    met = await TimelineEntry.filter(ticket_id=ticket.id, kind="sla_met").values_list("data", flat=True)
    assert met == [{"timer": "first_response", "cycle": 1, "used_s": 1200, "target_s": 3600, "in_time": True}]
    await _event(ticket, SlaEvent.CUSTOMER_REPLY, start + 30 * M, config)
    await _event(ticket, SlaEvent.CUSTOMER_REPLY, start + 40 * M, config)  # still unanswered: same cycle
    reply = (await _timers(ticket))[SlaKind.NEXT_RESPONSE]
    assert (reply.cycle, reply.started_at, reply.due_at) == (1, start + 30 * M, start + 150 * M)
    await _event(ticket, SlaEvent.AGENT_REPLY, start + 50 * M, config)
    await _event(ticket, SlaEvent.CUSTOMER_REPLY, start + 60 * M, config)
    reply = (await _timers(ticket))[SlaKind.NEXT_RESPONSE]
    assert (reply.cycle, reply.state, reply.due_at) == (2, SlaState.RUNNING, start + 180 * M)


async def test_waiting_on_customer_pauses_across_the_night_and_the_pause_is_in_the_timeline(
    database: None,
) -> None:
    config = _config()
    start = berlin("2026-03-10", "15:00")  # Tuesday
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    await _event(ticket, SlaEvent.AGENT_REPLY, start + 10 * M, config)
    await _event(ticket, SlaEvent.WAITING, berlin("2026-03-10", "16:00"), config)
    resolution = (await _timers(ticket))[SlaKind.RESOLUTION]
    assert resolution.state == SlaState.PAUSED and resolution.elapsed_us == 3600 * 10**6
    assert resolution.due_at is None and resolution.next_fire_at is None
    assert await _claim(berlin("2026-03-11", "09:59"), config) == []  # nothing fires while paused
    await _event(ticket, SlaEvent.CUSTOMER_REPLY, berlin("2026-03-11", "10:00"), config)
    resolution = (await _timers(ticket))[SlaKind.RESOLUTION]
    assert resolution.state == SlaState.RUNNING
    # 8h target, 1h used before the pause: 7h from Wed 10:00 = 10-12, 13-17 (6h) + Thu 09-10
    assert resolution.due_at == berlin("2026-03-12", "10:00")
    entries = {
        e.kind: e.data for e in await TimelineEntry.filter(ticket_id=ticket.id, kind__startswith="sla_p")
    }
    entries |= {e.kind: e.data for e in await TimelineEntry.filter(ticket_id=ticket.id, kind="sla_resumed")}
    assert entries["sla_paused"] == {"timers": ["resolution"], "reason": "waiting"}
    resumed = entries["sla_resumed"]
    assert resumed["paused_s"] == 18 * 3600 and resumed["paused_business_s"] == 2 * 3600
    assert resumed["cause"] == "customer replied" and resumed["timers"] == ["resolution"]


async def test_resolve_then_reopen_resumes_the_resolution_clock_where_it_stopped(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    warned = await _claim(berlin("2026-03-09", "13:05"), config)  # 25 % of the 8h resolution target = 11:00
    assert [f.percent for f in warned if f.kind == SlaKind.RESOLUTION] == [25]
    await Ticket.filter(id=ticket.id).update(status=TicketStatus.RESOLVED)
    await _event(ticket, SlaEvent.RESOLVED, berlin("2026-03-09", "13:30"), config)
    timers = await _timers(ticket)
    assert timers[SlaKind.RESOLUTION].state == SlaState.MET
    assert timers[SlaKind.FIRST_RESPONSE].state == SlaState.STOPPED  # no reply before it was resolved
    assert timers[SlaKind.FIRST_RESPONSE].stop_reason == "resolved"
    await Ticket.filter(id=ticket.id).update(status=TicketStatus.OPEN)
    await _event(ticket, SlaEvent.REOPENED, berlin("2026-03-11", "09:00"), config)
    resolution = (await _timers(ticket))[SlaKind.RESOLUTION]
    assert resolution.state == SlaState.RUNNING and resolution.met_at is None
    assert resolution.elapsed_us == 210 * 60 * 10**6  # 09-12 + 13-13:30 on Monday
    assert resolution.next_threshold == 1  # the 25 % warning is not sent again
    assert resolution.due_at == berlin("2026-03-11", "14:30")  # 4h30 left: 09-12 + 13-14:30
    assert resolution.next_fire_at == berlin("2026-03-11", "09:30")  # 50 % = 4h used


async def test_priority_change_keeps_the_time_used_and_applies_the_new_targets(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start, priority="P4")  # silver P4: resolution 40h only
    await _event(ticket, SlaEvent.CREATED, start, config)
    assert set(await _timers(ticket)) == {SlaKind.RESOLUTION, SlaKind.IDLE}
    await Ticket.filter(id=ticket.id).update(priority="P1")
    await _event(ticket, SlaEvent.PRIORITY_CHANGED, start + 7 * H, config)  # 16:00, 6h used
    timers = await _timers(ticket)
    resolution = timers[SlaKind.RESOLUTION]
    assert resolution.target_us == 8 * 3600 * 10**6 and resolution.elapsed_us == 6 * 3600 * 10**6
    assert resolution.due_at == berlin("2026-03-10", "10:00")  # 2h left: 16-17 + Tue 09-10
    assert resolution.next_threshold == 0  # 75 % crossed under the new target: announced at once
    firings = [f for f in await _claim(start + 7 * H, config) if f.kind == SlaKind.RESOLUTION]
    assert [(f.percent, f.missed) for f in firings] == [(75, (25, 50))]
    # first response is newly promised at P1: counted as if it had run since the ticket was opened
    first = timers[SlaKind.FIRST_RESPONSE]
    assert first.elapsed_us == 6 * 3600 * 10**6 and first.due_at == start + 7 * H
    entry = await TimelineEntry.get(ticket_id=ticket.id, kind="sla_retargeted")
    assert entry.data["from"] == "P4" and entry.data["to"] == "P1"


async def test_a_breach_stays_a_breach_when_the_priority_is_lowered(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start, priority="P1")
    await _event(ticket, SlaEvent.CREATED, start, config)
    await _claim(start + H, config)  # first response (1h) breached
    await Ticket.filter(id=ticket.id).update(priority="P4")
    await _event(ticket, SlaEvent.PRIORITY_CHANGED, start + 2 * H, config)
    timers = await _timers(ticket)
    assert timers[SlaKind.FIRST_RESPONSE].state == SlaState.STOPPED  # P4 promises no first response
    assert timers[SlaKind.FIRST_RESPONSE].breached_at == start + H
    resolution = timers[SlaKind.RESOLUTION]
    assert resolution.target_us == 40 * 3600 * 10**6 and resolution.next_threshold == 0
    await _event(ticket, SlaEvent.AGENT_REPLY, start + 3 * H, config)
    assert (await _timers(ticket))[SlaKind.FIRST_RESPONSE].breached_at == start + H


async def test_internal_targets_run_from_escalation_until_claimed_at_that_level(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    await Ticket.filter(id=ticket.id).update(level="L2")
    await _event(ticket, SlaEvent.ESCALATED, start + 10 * M, config, level="L2")
    l2 = (await _timers(ticket))[SlaKind.OLA_L2]
    assert (l2.state, l2.level, l2.due_at) == (SlaState.RUNNING, "L2", start + 40 * M)
    await _event(ticket, SlaEvent.CLAIMED, start + 25 * M, config, level="L2")
    assert (await _timers(ticket))[SlaKind.OLA_L2].state == SlaState.MET
    await Ticket.filter(id=ticket.id).update(level="L3")
    await _event(ticket, SlaEvent.ESCALATED, start + 30 * M, config, level="L3")
    await Ticket.filter(id=ticket.id).update(level="L2")
    await _event(ticket, SlaEvent.HANDED_BACK, start + 40 * M, config, level="L2")
    l3 = (await _timers(ticket))[SlaKind.OLA_L3]
    assert (l3.state, l3.stop_reason) == (SlaState.STOPPED, "handed back to L2")
    await Ticket.filter(id=ticket.id).update(level="L3")
    await _event(ticket, SlaEvent.ESCALATED, start + 50 * M, config, level="L3")
    l3 = (await _timers(ticket))[SlaKind.OLA_L3]
    assert (l3.state, l3.cycle, l3.due_at) == (SlaState.RUNNING, 2, start + 110 * M)
    firing = [f for f in await _claim(start + 110 * M, config) if f.kind == SlaKind.OLA_L3]
    assert len(firing) == 1 and firing[0].is_breach and firing[0].level == "L3" and not firing[0].escalate


async def test_closing_stops_every_timer_and_a_stray_timer_never_fires(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    await Ticket.filter(id=ticket.id).update(status=TicketStatus.CLOSED)
    assert await _claim(start + 5 * H, config) == []  # closed without the event: stopped, not announced
    timers = await _timers(ticket)
    assert timers[SlaKind.FIRST_RESPONSE].state == timers[SlaKind.RESOLUTION].state == SlaState.STOPPED
    assert timers[SlaKind.RESOLUTION].stop_reason == "closed"
    other = await _ticket(start, n=2)
    await _event(other, SlaEvent.CREATED, start, config)
    await _event(other, SlaEvent.CLOSED, start + M, config)
    assert {t.next_fire_at for t in (await _timers(other)).values()} == {None}


async def test_breach_with_escalate_policy_marks_the_auto_escalation(database: None) -> None:
    config = _config()
    start = datetime(2026, 3, 9, 8, 0, tzinfo=ZoneInfo("UTC"))
    ticket = await _ticket(start, plan="gold", priority="P1")  # gold P1: breach escalates
    await _event(ticket, SlaEvent.CREATED, start, config)
    firings = [f for f in await _claim(start + 15 * M, config) if f.kind == SlaKind.FIRST_RESPONSE]
    assert len(firings) == 1 and firings[0].is_breach and firings[0].escalate
    pending = await engine.pending_escalations()
    first = (await _timers(ticket))[SlaKind.FIRST_RESPONSE]
    assert [(p.ticket_id, p.timer_id, p.level) for p in pending] == [(ticket.id, first.id, "L1")]
    assert await engine.take_escalation(pending_id=pending[0].id)
    assert not await engine.take_escalation(pending_id=pending[0].id)  # exactly once
    assert await engine.take_stale_cards() == [ticket.id]  # the card will show the breach
    assert await engine.take_stale_cards() == []


async def test_no_activity_nudges_repeat_and_activity_restarts_the_clock(database: None) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start)
    await _event(ticket, SlaEvent.CREATED, start, config)
    await _event(ticket, SlaEvent.AGENT_REPLY, start + H, config)  # activity: 8 business hours from 10:00
    idle = (await _timers(ticket))[SlaKind.IDLE]
    assert idle.due_at == berlin("2026-03-10", "11:00")  # Mon 10-12, 13-17, Tue 09-11
    nudges = [f for f in await _claim(berlin("2026-03-10", "11:00"), config) if f.is_nudge]
    assert len(nudges) == 1 and nudges[0].percent is None and not nudges[0].is_breach
    idle = (await _timers(ticket))[SlaKind.IDLE]
    assert idle.state == SlaState.RUNNING and idle.due_at == berlin("2026-03-11", "12:00")  # again 8h later


async def test_a_first_response_newly_promised_by_a_priority_change_is_not_owed_once_answered(
    database: None,
) -> None:
    config = _config()
    start = berlin("2026-03-09", "09:00")
    ticket = await _ticket(start, priority="P4")  # silver P4 promises no first response
    await _event(ticket, SlaEvent.CREATED, start, config)
    await ticket_service.record(
        ticket, kind="agent_reply", actor_id="U0AGENT", at=start + M
    )  # as intake does
    await _event(ticket, SlaEvent.AGENT_REPLY, start + M, config)
    await Ticket.filter(id=ticket.id).update(priority="P1")
    await _event(ticket, SlaEvent.PRIORITY_CHANGED, start + H, config)
    assert SlaKind.FIRST_RESPONSE not in await _timers(ticket)
    assert (await _timers(ticket))[SlaKind.RESOLUTION].target_us == 8 * 3600 * 10**6
