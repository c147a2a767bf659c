"""The SLA tick's bulk writes (bot/services/sla/bulk.py) store what the ORM would: read back through tortoise,
rows inserted as plain tuples (PostgreSQL: INSERT … unnest(arrays)) equal the values that went in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from bot.services.sla import bulk
from models import Customer, OutboxMessage, OutboxStatus, Ticket, TicketStatus, TimelineEntry

AT = datetime(2026, 3, 2, 8, 0, 0, 250_000, tzinfo=UTC)


async def _ticket(n: int) -> Ticket:
    customer, _ = await Customer.get_or_create(team_id="T0BULK", defaults={"name": "Bulk", "plan": "gold"})
    return await Ticket.create(
        customer=customer,
        channel_id="C0CUST",
        source_ts=f"1700000000.{n:06d}",
        author_id="U0CUST",
        opened_by_id="U0CUST",
        text="It is broken",
        status=TicketStatus.NEW,
        created_at=AT,
        updated_at=AT,
    )


async def test_tuples_with_shared_columns_read_back_like_orm_rows(database: None) -> None:
    tickets = [await _ticket(n) for n in range(3)]
    sqlite = bulk.is_sqlite()
    data_json = bulk.encoder(TimelineEntry, "data")
    payload_json = bulk.encoder(OutboxMessage, "payload")
    later = AT + timedelta(minutes=5, microseconds=7)
    async with in_transaction():
        entries = [
            (t.id, "sla_warning", data_json({"percent": 50 + i, "missed": [i]}))
            for i, t in enumerate(tickets)
        ]
        shared = {"at": bulk.stamp(AT, sqlite=sqlite), "actor_id": "U0BOT"}
        assert await bulk.insert_rows(TimelineEntry, ("ticket_id", "kind", "data"), entries, same=shared) == 3
        posts = [
            (f"ticket:{t.id}", "C0L1", payload_json({"text": f"ü {t.id}", "channel": "C0L1"}), None)
            for t in tickets
        ]
        shared = {
            "method": "chat.postMessage",
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": bulk.stamp(later, sqlite=sqlite),
            "created_at": bulk.stamp(AT, sqlite=sqlite),
        }
        await bulk.insert_rows(
            OutboxMessage, ("stream", "channel_id", "payload", "thread_parent_id"), posts, same=shared
        )
    stored = await TimelineEntry.filter(kind="sla_warning").order_by("id")
    assert [(e.ticket_id, e.at, e.actor_id, e.data) for e in stored] == [
        (t.id, AT, "U0BOT", {"percent": 50 + i, "missed": [i]}) for i, t in enumerate(tickets)
    ]
    rows = await OutboxMessage.filter(method="chat.postMessage").order_by("id")
    assert [
        (r.stream, r.payload["text"], r.status, r.attempts, r.next_attempt_at, r.thread_parent_id)
        for r in rows
    ] == [(f"ticket:{t.id}", f"ü {t.id}", OutboxStatus.PENDING, 0, later, None) for t in tickets]
    due = await OutboxMessage.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=later).count()
    assert due == 3  # the sender's own query finds them (SQLite compares the stored text)
