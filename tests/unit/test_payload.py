"""Reading payloads defensively: what counts as a usable response_url."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.payload import is_url

PATH_STARTS = "https://hooks.slack.com/"
SLACK_URL = "https://hooks.slack.com/commands/T0001/1234567890123/abcdefABCDEF0123456789xy"


def test_a_slack_response_url_is_usable() -> None:
    assert is_url(SLACK_URL) and is_url("http://127.0.0.1:8123/response/abc")


def test_anything_else_is_not() -> None:
    for value in (None, 42, b"https://x.test/a", "", "ftp://x.test/a", "https://", "hooks.slack.com/a", "/a"):
        assert not is_url(value), value


@given(st.text(min_size=1, max_size=5), st.integers(min_value=len(PATH_STARTS), max_value=len(SLACK_URL)))
def test_a_blank_or_control_character_anywhere_in_the_path_makes_it_unusable(inserted: str, at: int) -> None:
    blank = any(ch.isspace() or ord(ch) < 32 for ch in inserted)
    assert is_url(SLACK_URL[:at] + inserted + SLACK_URL[at:]) is not blank
