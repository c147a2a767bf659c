"""Pure intake rules: ticket keys and priority keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UsageError
from bot.sandbox.demo import demo_support_config
from bot.services.intake import detect_priority
from bot.services.tickets import parse_key
from bot.slack.parsing import parse_user, split_key
from bot.slack.text import escape

CONFIG = demo_support_config()


@pytest.mark.parametrize("text", ["SUP-42", "sup-42", "42", "#42", "  SUP-42 "])
def test_keys_are_accepted_in_every_documented_form(text: str) -> None:
    assert parse_key(text, "SUP") == 42


@pytest.mark.parametrize("text", ["", "SUP-", "ABC-42", "4 2", "SUP-42x", "-1", "SUP--1"])
def test_bad_keys_get_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_key(text, "SUP")


@given(st.text(max_size=200))
def test_parse_key_never_raises_anything_else(text: str) -> None:
    try:
        assert parse_key(text, "SUP") >= 0
    except UsageError as exc:
        assert exc.message


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("Our production is DOWN", "P1"),
        ("Totalausfall im Lager", "P1"),
        ("urgent: cannot print", "P2"),
        ("Bitte dringend prüfen", "P2"),
        ("Downloads are slow", "P3"),
        ("a countdown timer", "P3"),
        ("Can you help with Excel?", "P3"),
    ],
)
def test_priority_keywords_match_whole_words_highest_wins(text: str, priority: str) -> None:
    assert detect_priority(text, CONFIG)[0] == priority


def test_split_key_and_user_mentions() -> None:
    assert split_key("SUP-7 needs L2 now", "SUP", "usage") == (7, "needs L2 now")
    assert split_key("", "SUP", "usage") == (None, "")
    with pytest.raises(UsageError, match="usage"):
        split_key("nonsense here", "SUP", "usage")
    assert parse_user("<@U0L1ANNA|anna>") == "U0L1ANNA" and parse_user("<@U0L1ANNA>") == "U0L1ANNA"
    assert parse_user("@anna") is None and parse_user("<!channel>") is None


@given(st.text(max_size=300))
def test_escaped_text_never_contains_a_live_mention_or_link(text: str) -> None:
    out = escape(text)
    assert "<" not in out and ">" not in out
