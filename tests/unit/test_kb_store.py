"""KB articles in the database and the replica index over them: validation, versions, feedback counters,
and the consistency rule (every replica sees every committed change at its next search)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from bot.services.kb import store as kb
from models import KbArticle, KbArticleVersion, KbFeedback, KbState, KbTermFeedback

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def article(title: str, solution: str, **fields: object) -> kb.ArticleInput:
    return kb.clean_article(title=title, solution=solution, **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": ""}, "title is missing"),
        ({"title": "x" * 301}, "title is longer than 300"),
        ({"solution": "", "problem": "  "}, "no text"),
        ({"visibility": "secret"}, "visibility must be internal or public"),
        ({"language": "english!"}, "is not a language code"),
        ({"owner_id": "bob"}, "is not a Slack user id"),
        ({"component": "net work!"}, "must be a short name"),
        ({"tags": [{"a": 1}]}, "tags must be strings"),
        ({"tags": ["t"] * 5 + [f"t{i}" for i in range(21)]}, "at most 20 tags"),
        ({"external_id": "x" * 129}, "1 to 128 characters"),
    ],
)
def test_clean_article_names_the_bad_field(fields: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {"title": "VPN drops", "solution": "Reconnect", **fields}
    with pytest.raises(ValueError, match=message):
        kb.clean_article(**raw)  # type: ignore[arg-type]


def test_clean_article_normalises() -> None:
    data = kb.clean_article(
        title="  VPN\n drops ",
        solution=" Reconnect ",
        tags="VPN, Windows ,vpn,",
        visibility="PUBLIC",
        component="Network",
        owner_id="U0L1ANNA",
        external_id=42,
    )
    assert (data.title, data.solution, data.tags, data.visibility, data.component, data.external_id) == (
        "VPN drops",
        "Reconnect",
        ("vpn", "windows"),
        "public",
        "network",
        "42",
    )


async def test_edit_keeps_every_old_version_and_unchanged_saves_nothing(database: None) -> None:
    first, created = await kb.save_article(data=article("VPN drops", "Reconnect"), editor_id="U1", at=NOW)
    assert created and first.version == 1
    later = NOW + timedelta(days=1)
    second, changed = await kb.save_article(
        data=article("VPN drops", "Set the IKE lifetime to 8 h"),
        editor_id="U2",
        at=later,
        article_id=first.id,
    )
    assert changed and second.version == 2 and second.reviewed_at == later
    same, changed = await kb.save_article(
        data=article("VPN drops", "Set the IKE lifetime to 8 h"),
        editor_id="U3",
        at=later,
        article_id=first.id,
    )
    assert not changed and same.version == 2
    versions = await KbArticleVersion.filter(article_id=first.id).order_by("version")
    assert [(v.version, v.solution, v.editor_id) for v in versions] == [
        (1, "Reconnect", "U1"),
        (2, "Set the IKE lifetime to 8 h", "U2"),
    ]


async def test_feedback_counts_per_article_and_term_and_moves_a_changed_vote(database: None) -> None:
    a, _ = await kb.save_article(data=article("VPN drops", "Reconnect"), editor_id="U1", at=NOW)
    from models import Customer, Ticket

    customer = await Customer.create(team_id="T0X", name="X")
    ticket = await Ticket.create(
        customer=customer,
        channel_id="C1",
        source_ts="1.1",
        author_id="U9",
        opened_by_id="U9",
        text="t",
        created_at=NOW,
    )
    kw = {"article_id": a.id, "ticket_id": ticket.id, "user_id": "U5", "terms": ["drop", "vpn"], "at": NOW}
    assert await kb.record_feedback(kind="not_relevant", **kw)
    assert not await kb.record_feedback(kind="not_relevant", **kw)  # the same click twice counts once
    assert await kb.record_feedback(kind="helped", **kw)  # changing one's mind moves the vote
    a = await KbArticle.get(id=a.id)
    assert (a.helped, a.not_relevant) == (1, 0)
    terms = {t.term: (t.helped, t.not_relevant) for t in await KbTermFeedback.filter(article_id=a.id)}
    assert terms == {"drop": (1, 0), "vpn": (1, 0)}
    assert await KbFeedback.filter(article_id=a.id).count() == 1
    counts = await kb.not_relevant_since([a.id], {a.id: NOW - timedelta(days=1)})
    assert counts == {}


async def test_a_second_replica_sees_every_committed_change_at_its_next_search(database: None) -> None:
    writer, reader = kb.KbStore(), kb.KbStore()
    assert await reader.search("vpn") == []
    vpn, _ = await kb.save_article(data=article("VPN drops", "Reconnect the VPN"), editor_id="U1", at=NOW)
    printer, _ = await kb.save_article(
        data=article("Printer offline", "Restart spooler"), editor_id="U1", at=NOW
    )
    await writer.sync()
    assert [h.id for h in await reader.search("vpn drops")] == [str(vpn.id)]
    loads = reader.loads
    # Edits, feedback and retirement arrive as deltas (no rebuild) ...
    await kb.save_article(
        data=article("Printer offline", "Restart the spooler service", visibility="public"),
        editor_id="U2",
        at=NOW,
        article_id=printer.id,
    )
    await kb.record_feedback(
        article_id=vpn.id, ticket_id=None, user_id="U5", kind="helped", terms=["vpn"], at=NOW
    )
    hits = await reader.search("printer spooler", visibility="public")
    assert [h.id for h in hits] == [str(printer.id)]
    assert reader.index is not None and reader.index.get(str(vpn.id)).helped == 1  # type: ignore[union-attr]
    await kb.set_retired(article_id=vpn.id, actor_id="U1", at=NOW)
    assert await reader.search("vpn drops") == []
    assert reader.loads == loads
    # ... and the delta-updated index ranks exactly like one built from scratch.
    fresh = kb.KbStore()
    for query in ("printer", "spooler service", "vpn", "restart"):
        assert await reader.search(query, limit=5) == await fresh.search(query, limit=5)
    # Another database (a new epoch) rebuilds from scratch.
    await KbState.filter(id=kb.STATE_ID).update(epoch="restored")
    assert [h.id for h in await reader.search("printer")] == [str(printer.id)]
    assert reader.loads == loads + 1


async def test_searching_inside_a_transaction_never_waits_for_itself(database: None) -> None:
    for n in range(3):
        await kb.save_article(data=article(f"Printer {n} offline", "Restart spooler"), editor_id="U1", at=NOW)
    small = kb.KbStore()
    async with in_transaction():  # SQLite has one connection: a background read would wait for us
        assert len(await small.search("printer offline", wait=0)) == 3
    big = kb.KbStore(inline_build_limit=1)
    async with in_transaction():
        assert await big.search("printer offline", wait=0) == []  # rebuilt in the background instead
    assert big._loading is not None
    await big._loading
    assert len(await big.search("printer offline")) == 3
