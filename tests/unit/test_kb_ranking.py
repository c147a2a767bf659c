"""Unit tests for the KB index: benchmark floor, determinism, updates, filters, feedback, German, hostile input."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.kb import (
    ArticleDoc,
    ConfidenceModel,
    KBIndex,
    SearchHit,
    feedback_multiplier,
    query_feedback_terms,
)
from bot.services.kb.evaluation import (
    evaluate,
    find_stackfaq_dir,
    hit_at_k,
    load_stackfaq,
    precision_at_1,
    reciprocal_rank,
    synthetic_articles,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Tuned figures on the stackfaq dev split (docs/kb-ranking.md) minus a small margin.
DEV_FLOOR = {"p_at_1": 81.0, "mrr": 87.5, "hit_at_3": 93.0}

ARTICLES = [
    ArticleDoc(
        "kb-1", "Reset your password", "Forgot your password? Use the self-service portal to reset it."
    ),
    ArticleDoc(
        "kb-2",
        "Printer does not print",
        "Check the printer is on, clear the print queue, reinstall the driver.",
    ),
    ArticleDoc(
        "kb-3",
        "VPN keeps disconnecting",
        "Update the VPN client and check the Wi-Fi connection.",
        tags=("network",),
    ),
    ArticleDoc("kb-4", "Outlook does not sync e-mail", "Restart Outlook and repair the mailbox profile."),
    ArticleDoc(
        "kb-5", "Request a new laptop", "Open a hardware request in the portal; approval by your manager."
    ),
    ArticleDoc(
        "kb-6", "Share a calendar in Outlook", "Right-click the calendar, choose Share and add the colleague."
    ),
    ArticleDoc(
        "kb-7",
        "Admin: unlock an AD account",
        "Internal procedure: unlock the user account in Active Directory.",
        visibility="internal",
    ),
    ArticleDoc(
        "de-1",
        "Passwort zurücksetzen",
        "Wenn Sie Ihr Passwort vergessen haben, können Sie es im Self-Service-Portal zurücksetzen.",
        language="de",
    ),
    ArticleDoc(
        "de-2",
        "Drucker druckt nicht",
        "Prüfen Sie, ob der Drucker eingeschaltet ist. Druckwarteschlange leeren und den Druckertreiber neu installieren.",
        language="de",
    ),
    ArticleDoc(
        "de-3",
        "VPN-Verbindung bricht ab",
        "Die VPN-Verbindung trennt sich nach einigen Minuten. Aktualisieren Sie den VPN-Client.",
        language="de",
    ),
]

QUERIES = [
    "I forgot my password",
    "printer not printing anything",
    "vpn drops every few minutes",
    "emails are not syncing in outlook",
    "how do I share my calendar with a colleague",
    "Kennwort vergessen, wie zurücksetzen?",
    "Drucker druckt nicht",
    "unlock account",
    "laptop",
]


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.id for h in hits]


@pytest.fixture
def index() -> KBIndex:
    return KBIndex(ARTICLES)


# ------------------------------------------------------------------ metrics


def test_metrics() -> None:
    assert precision_at_1(["a", "b"], ["a"]) == 1.0
    assert precision_at_1([], ["a"]) == 0.0
    assert reciprocal_rank(["x", "y", "a"], ["a"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], ["a"]) == 0.0
    assert hit_at_k(["x", "y", "a", "b"], ["a"], 3) == 1.0
    assert hit_at_k(["x", "y", "z", "a"], ["a"], 3) == 0.0


# ------------------------------------------------------------------ benchmark floor


def _stackfaq_dir() -> Path | None:
    found = find_stackfaq_dir()
    if found is not None:
        return found
    alt = REPO_ROOT.parent / "shared" / "datasets" / "stackfaq"
    return alt if (alt / "corpus.jsonl").is_file() else None


def test_stackfaq_dev_reaches_tuned_figures() -> None:
    root = _stackfaq_dir()
    if root is None:
        pytest.skip(
            "stackfaq benchmark not found at /work/shared/datasets/stackfaq or ../shared/datasets/stackfaq"
        )
    docs, dev, _test = load_stackfaq(root)  # the test split is reported once, never used in tests
    result = evaluate(KBIndex(docs), dev)
    assert result.n == 625
    assert result.p_at_1 >= DEV_FLOOR["p_at_1"], result
    assert result.mrr >= DEV_FLOOR["mrr"], result
    assert result.hit_at_3 >= DEV_FLOOR["hit_at_3"], result


# ------------------------------------------------------------------ relevance on the mini KB


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("I forgot my password", "kb-1"),
        ("printer not printing anything", "kb-2"),
        ("vpn drops every few minutes", "kb-3"),
        ("emails are not syncing in outlook", "kb-4"),
        ("how do I share my calendar with a colleague", "kb-6"),
        ("Hi team <@U123>, URGENT!!! my printr is not printing :sob: thanks, Bob", "kb-2"),
    ],
)
def test_mini_kb_top_hit(index: KBIndex, query: str, expected: str) -> None:
    assert ids(index.search(query, limit=3))[0] == expected


def test_split_words_typos_and_compounds() -> None:
    kb = KBIndex(
        [
            ArticleDoc("gh", "Contact a user on GitHub", "Send a message via the GitHub profile."),
            ArticleDoc("bk", "Backup your mailbox", "Export the mailbox to a PST file."),
            ArticleDoc("pw", "Reset your password", "Use the self-service portal."),
            ArticleDoc("ss", "Share a spreadsheet", "Use the Share button."),
        ]
    )
    assert ids(kb.search("how to contact someone on git hub", limit=1)) == ["gh"]
    assert ids(kb.search("how do I back up my mailbox", limit=1)) == ["bk"]
    assert ids(kb.search("pasword reset", limit=1)) == ["pw"]
    assert ids(kb.search("sharing a spread sheet", limit=1)) == ["ss"]


def test_hits_are_sorted_and_confidence_is_bounded(index: KBIndex) -> None:
    for q in QUERIES:
        hits = index.search(q, limit=5)
        assert len(hits) <= 5
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for h in hits:
            assert 0.0 <= h.confidence <= 1.0
            assert h.label in {"high", "medium", "low"}


def test_confidence_labels_follow_cutoffs() -> None:
    model = ConfidenceModel(high=0.7, medium=0.5)
    assert model.label(0.9) == "high"
    assert model.label(0.6) == "medium"
    assert model.label(0.1) == "low"
    strong = model.probability(1.0, 1.0, 0.8, 1.0)
    weak = model.probability(0.1, 1.0, 0.01, 0.1)
    assert strong > weak


def test_clear_winner_is_high_confidence(index: KBIndex) -> None:
    hit = index.search("my printer does not print", limit=3)[0]
    assert hit.id == "kb-2" and hit.label == "high"


def test_no_match_returns_empty(index: KBIndex) -> None:
    assert index.search("zxqv qwrtz", limit=3) == []
    assert index.search("the and of", limit=3) == []


# ------------------------------------------------------------------ determinism and updates


def test_insertion_order_does_not_change_rankings() -> None:
    docs = [*ARTICLES, *synthetic_articles(300, seed=3)]
    shuffled = docs[:]
    random.Random(42).shuffle(shuffled)
    a, b = KBIndex(docs), KBIndex(list(reversed(shuffled)))
    for q in QUERIES:
        assert a.search(q, limit=10) == b.search(q, limit=10)


def test_stackfaq_insertion_order_does_not_change_rankings() -> None:
    root = _stackfaq_dir()
    if root is None:
        pytest.skip("stackfaq benchmark not found")
    docs, dev, _ = load_stackfaq(root)
    a, b = KBIndex(docs), KBIndex(list(reversed(docs)))
    for q in dev[::5]:
        assert a.search(q.text, limit=125) == b.search(q.text, limit=125)


def test_ties_are_broken_by_id() -> None:
    twins = [ArticleDoc(f"t-{i}", "Reset VPN token", "Same text.") for i in (3, 1, 2)]
    assert ids(KBIndex(twins).search("vpn token", limit=3)) == ["t-1", "t-2", "t-3"]


def test_pruned_search_equals_exhaustive_search() -> None:
    docs = [*ARTICLES, *synthetic_articles(800, seed=11)]
    pruned, exhaustive = KBIndex(docs), KBIndex(docs)
    exhaustive._prune = False  # noqa: SLF001 - comparing the MaxScore path with plain scoring
    queries = [*QUERIES, *(d.title for d in docs[20:60])]
    for q in queries:
        for limit in (1, 3):
            assert pruned.search(q, limit=limit) == exhaustive.search(q, limit=limit)


def test_incremental_updates_equal_a_rebuild(index: KBIndex) -> None:
    edited = ArticleDoc("kb-5", "Request a new laptop or monitor", "Use the hardware request form.")
    extra = ArticleDoc(
        "kb-9", "Set up MFA on a new phone", "Open the authenticator app and scan the QR code."
    )
    index.upsert(edited)
    index.upsert(extra)
    index.remove("kb-6")
    rebuilt = KBIndex([*(d for d in ARTICLES if d.id not in {"kb-5", "kb-6"}), edited, extra])
    for q in [*QUERIES, "monitor", "mfa phone"]:
        assert index.search(q, limit=10) == rebuilt.search(q, limit=10)


def test_upsert_replaces_and_remove_deletes(index: KBIndex) -> None:
    assert ids(index.search("monitor", limit=3)) == []
    index.upsert(ArticleDoc("kb-5", "Request a new monitor", "Use the hardware request form."))
    assert len(index) == len(ARTICLES)
    assert ids(index.search("monitor", limit=3)) == ["kb-5"]
    assert index.remove("kb-5") is True
    assert index.remove("kb-5") is False
    assert "kb-5" not in index
    assert ids(index.search("monitor", limit=3)) == []
    assert len(index) == len(ARTICLES) - 1


def test_visibility_and_language_filters(index: KBIndex) -> None:
    assert "kb-7" in ids(index.search("unlock account", limit=5))
    assert "kb-7" not in ids(index.search("unlock account", limit=5, visibility={"public"}))
    assert "kb-7" in ids(index.search("unlock account", limit=5, visibility="internal"))
    de_only = index.search("password reset", limit=5, language="de")
    assert ids(de_only) == ["de-1"]
    assert all(not h.id.startswith("de-") for h in index.search("printer", limit=5, language={"en"}))


# ------------------------------------------------------------------ feedback


def test_feedback_multiplier_is_bounded_and_monotonic() -> None:
    assert feedback_multiplier(0, 0) == pytest.approx(1.0)
    assert 0.8 <= feedback_multiplier(0, 10**9) < feedback_multiplier(0, 3) < 1.0
    assert 1.0 < feedback_multiplier(3, 0) < feedback_multiplier(10**9, 0) <= 1.25
    assert feedback_multiplier(7, 7) == pytest.approx(1.0)
    assert feedback_multiplier(-5, -5) == pytest.approx(1.0)


def test_not_relevant_clicks_do_not_bury_the_right_answer(index: KBIndex) -> None:
    query = "printer not printing anything"
    before = ids(index.search(query, limit=3))
    assert before[0] == "kb-2"
    runner_up = before[1]
    kb2 = index.get("kb-2")
    assert kb2 is not None
    for clicks in (3, 10, 1000):
        index.upsert(ArticleDoc(**{**_fields(kb2), "not_relevant": clicks}))
        ranked = ids(index.search(query, limit=3))
        assert ranked[0] == "kb-2", clicks
        assert ranked.index("kb-2") < ranked.index(runner_up)


CLOSE_PAIR = [
    ArticleDoc("a", "Outlook search not working", "Rebuild the Outlook search index."),
    ArticleDoc(
        "b", "Outlook search not working after update", "Rebuild the Outlook search index in settings."
    ),
    ArticleDoc("c", "Outlook calendar invites missing", "Check the calendar permissions."),
]


def test_helped_clicks_lift_a_close_second() -> None:
    kb = KBIndex(CLOSE_PAIR)
    query = "outlook search not working"
    assert ids(kb.search(query, limit=2)) == ["a", "b"]
    kb.update_feedback("b", helped=20, not_relevant=0)
    assert ids(kb.search(query, limit=2)) == ["b", "a"]
    kb.update_feedback("a", helped=20, not_relevant=0)  # equal evidence: back to the text ranking
    assert ids(kb.search(query, limit=2)) == ["a", "b"]
    kb.update_feedback("c", helped=10**6, not_relevant=0)  # bounded: clicks cannot lift a poor match
    assert ids(kb.search(query, limit=3)) == ["a", "b", "c"]


def test_query_term_feedback_is_specific_to_the_query() -> None:
    kb = KBIndex(CLOSE_PAIR)
    query = "outlook search not working"
    terms = query_feedback_terms(query)
    assert terms == tuple(sorted(terms)) and "search" in terms
    kb.update_feedback("a", helped=0, not_relevant=0, query_feedback=tuple((t, 0, 15) for t in terms))
    kb.update_feedback("b", helped=0, not_relevant=0, query_feedback=tuple((t, 15, 0) for t in terms))
    assert ids(kb.search(query, limit=2)) == ["b", "a"]
    # an unrelated query is unaffected by that feedback
    assert ids(kb.search("calendar invites missing", limit=1)) == ["c"]


def test_feedback_update_keeps_text_index(index: KBIndex) -> None:
    before = index.search("vpn drops", limit=3)
    assert index.update_feedback("kb-3", helped=0, not_relevant=0) is True
    assert index.search("vpn drops", limit=3) == before
    assert index.update_feedback("missing", helped=1, not_relevant=0) is False


def _fields(doc: ArticleDoc) -> dict[str, object]:
    return {name: getattr(doc, name) for name in ArticleDoc.__slots__}


# ------------------------------------------------------------------ German


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Kennwort vergessen, wie zurücksetzen?", "de-1"),
        ("Passwort zurücksetzen", "de-1"),
        ("passwort zuruecksetzen", "de-1"),
        ("Drucker druckt nicht", "de-2"),
        ("Mein Drucker funktioniert nicht mehr", "de-2"),
        ("Treiber für den Drucker neu installieren", "de-2"),
        ("Die VPN Verbindung bricht ständig ab", "de-3"),
    ],
)
def test_german_queries_find_german_articles(index: KBIndex, query: str, expected: str) -> None:
    assert ids(index.search(query, limit=3))[0] == expected


def test_english_query_prefers_english_twin(index: KBIndex) -> None:
    assert ids(index.search("I forgot my password, how do I reset it?", limit=2))[0] == "kb-1"
    assert ids(index.search("the printer does not print", limit=2))[0] == "kb-2"


def test_german_query_can_reach_english_only_article() -> None:
    kb = KBIndex([ArticleDoc("p", "Printer does not print", "Clear the print queue."), *ARTICLES[4:6]])
    assert ids(kb.search("Der Drucker druckt nicht", limit=1)) == ["p"]


# ------------------------------------------------------------------ hostile input

HOSTILE = [
    "",
    " ",
    "\x00\x01\x02",
    "'; DROP TABLE kb_articles; --",
    '"',
    '"unterminated phrase',
    "*",
    "pass*",
    "NEAR(printer vpn, 3)",
    "printer OR vpn AND NOT outlook",
    "-printer -",
    "AND OR NOT NEAR",
    "((((((((((",
    "💥🔥🙈" * 100,
    "ǅ ẞ İ ﬃ ℌ 𝔘 ①",
    "\u202e\u200b\ufeff",
    "a" * 40_000,
    "printer " * 5_000,
    "!" * 40_000,
    "```" * 10_000,
    "<@U1>" * 5_000,
    "x-" * 20_000,
    "zzzzzq " * 6_000,
    " ".join(f"w{i}" for i in range(8_000)),
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_return_a_list(index: KBIndex, query: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.services.kb.ranking"):
        hits = index.search(query, limit=3)
    assert isinstance(hits, list) and len(hits) <= 3
    assert not caplog.records  # nothing was swallowed by the safety net


def test_odd_arguments(index: KBIndex) -> None:
    assert index.search("printer", limit=0) == []
    assert index.search("printer", limit=-1) == []
    assert index.search(None, limit=3) == []  # type: ignore[arg-type]
    assert index.search("printer", visibility=set()) == []
    assert KBIndex().search("printer") == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=300), limit=st.integers(min_value=-2, max_value=12))
def test_search_never_raises(index: KBIndex, query: str, limit: int) -> None:
    hits = index.search(query, limit=limit)
    assert isinstance(hits, list)
    assert len(hits) <= max(0, limit)
    assert all(isinstance(h, SearchHit) for h in hits)
    assert isinstance(query_feedback_terms(query), tuple)
