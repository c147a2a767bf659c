"""Unit tests for bot.services.kb.text: cleanup, tokenising, language guess, stemming, synonyms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.kb import text as T


def stems(text: str, lang: str = "en", *, query: bool = False) -> list[str]:
    return [s for s, extra in T.analyze(text, lang, query=query) if not extra]


# ------------------------------------------------------------------ chat-noise cleanup


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hi team <@U123> my vpn keeps dropping!!! :sob: thanks, Bob", "my vpn keeps dropping"),
        ("Hello John, printer is broken", "printer is broken"),
        ("hey there my laptop is slow\nThanks\nBob Smith\nIT dept", "my laptop is slow"),
        ("Good morning! VPN down. Regards, Anna", "VPN down"),
        ("Hallo zusammen, mein Drucker geht nicht. Danke!", "mein Drucker geht nicht"),
        ("Outlook crashes\nMit freundlichen Grüßen\nErika Muster", "Outlook crashes"),
    ],
)
def test_clean_chat_noise_greetings_and_signoffs(raw: str, expected: str) -> None:
    assert T.clean_chat_noise(raw).strip(" .!") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "Outlook crashes\nbest way to fix?",
        "Monitor flickers\nlg monitor broken",
        "Thanks for the help\nprinter still jams",
    ],
)
def test_clean_chat_noise_keeps_content_lines_that_look_like_signoffs(raw: str) -> None:
    assert T.clean_chat_noise(raw) == raw


def test_clean_chat_noise_slack_markup() -> None:
    cleaned = T.clean_chat_noise(
        "<@U024BE7LH> see <https://intranet.example/vpn|VPN guide> in <#C123|it-help> <!here>"
    )
    assert "U024BE7LH" not in cleaned and "https" not in cleaned and "here" not in cleaned
    assert "VPN guide" in cleaned and "it-help" in cleaned


def test_clean_chat_noise_emoji_urls_and_filler() -> None:
    cleaned = T.clean_chat_noise("URGENT!!! please help :fire: 🔥 wifi drops https://x.example/a?b=c")
    assert "🔥" not in cleaned and ":fire:" not in cleaned and "https" not in cleaned
    assert "please help" not in cleaned.lower()
    assert stems(cleaned, query=True) == ["wifi", "drop"]


def test_clean_chat_noise_keeps_first_lines_of_code_blocks() -> None:
    cleaned = T.clean_chat_noise("update fails:\n```\nError 0x800f0922\n" + "trace line\n" * 50 + "```")
    assert "0x800f0922" in cleaned
    assert "```" not in cleaned
    assert cleaned.count("trace line") <= 5


def test_clean_chat_noise_empty_and_huge() -> None:
    assert T.clean_chat_noise("") == ""
    assert len(T.clean_chat_noise("word " * 20_000)) <= 8000


# ------------------------------------------------------------------ tokenising and stemming


def test_tokenize_hyphen_apostrophe_and_single_letters() -> None:
    toks = T.tokenize("E-Mail doesn't sync; user's c/p")
    words = [t.text for t in toks]
    assert "mail" in words and "email" in words
    assert [t for t in toks if t.text == "email"][0].joined
    assert "doesnt" in words and "user" in words
    assert "e" not in words and "c" not in words and "p" not in words


def test_tokenize_drops_absurdly_long_runs() -> None:
    assert T.tokenize("x" * 500) == []


def test_stop_words_removed_per_language() -> None:
    assert stems("How do I reset my password?") == ["reset", "password"]
    assert stems("Wie kann ich mein Passwort zurücksetzen?", "de") == ["password", "zurucksetz"]


def test_german_umlaut_spellings_share_a_stem() -> None:
    variants = {T.stem(w, "de") for w in ("zurücksetzen", "zuruecksetzen", "zurucksetzen")}
    assert len(variants) == 1
    assert T.stem(T.normalize("Straße"), "de") == T.stem("strasse", "de")


def test_english_stemming_folds_inflections() -> None:
    assert T.stem("printers") == T.stem("printer")
    assert T.stem("deleting") == T.stem("deleted") == T.stem("delete")


def test_synonyms_fold_password_spellings() -> None:
    assert stems("Kennwort", "de") == stems("Passwort", "de") == stems("password", "de")
    assert stems("pwd") == stems("password")


def test_related_words_are_symmetric() -> None:
    assert "remove" in T.RELATED["delete"]
    assert "delete" in T.RELATED["remove"]
    assert "löschen" in T.RELATED["delete"]


def test_query_noise_only_dropped_for_queries() -> None:
    assert "help" not in stems("help me with outlook", query=True)
    assert "help" in stems("help center")


# ------------------------------------------------------------------ language guess


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Der Drucker druckt nicht mehr, was kann ich tun?", "de"),
        ("Kennwort vergessen, wie zurücksetzen?", "de"),
        ("The printer does not print anymore, what can I do?", "en"),
        ("How do I reset my password", "en"),
    ],
)
def test_guess_language(text: str, lang: str) -> None:
    assert T.guess_language(text) == lang


def test_guess_language_undecided_uses_default() -> None:
    assert T.detect_language("VPN Outlook") is None
    assert T.guess_language("VPN Outlook", default="de") == "de"
    assert T.guess_language("VPN Outlook", default="fr") == "en"


# ------------------------------------------------------------------ robustness


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_text_pipeline_never_raises(text: str) -> None:
    cleaned = T.clean_chat_noise(text)
    assert isinstance(cleaned, str)
    for lang in ("en", "de", "xx"):
        assert isinstance(T.analyze(cleaned, lang, query=True), list)
    assert T.guess_language(text) in T.ANALYZED_LANGUAGES
