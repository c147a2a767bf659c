"""Block Kit / view limits: the explicit walker and slack_sdk's models together."""

from __future__ import annotations

import pytest

from bot.sandbox.standin import SlackError, block_errors, check_message_content, check_view


def _button(text: str = "Claim", action_id: str = "claim", **extra: object) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, **extra}


def _select(options: list[dict], action_id: str = "pick") -> dict:
    return {"type": "static_select", "action_id": action_id, "options": options}


def _option(value: str, text: str = "opt") -> dict:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def _modal(blocks: list[dict], **extra: object) -> dict:
    return {"type": "modal", "title": {"type": "plain_text", "text": "New ticket"}, "blocks": blocks, **extra}


def test_valid_message_blocks_have_no_errors() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Ticket INC-1"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Printer* down"}, "accessory": _button()},
        {
            "type": "actions",
            "elements": [_button("Escalate", "escalate", value="INC-1"), _select([_option("a")])],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "SLA 4h"}]},
        {"type": "divider"},
    ]
    assert block_errors(blocks, max_blocks=50) == []


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
        ),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}},
            "invalid additional property: emoji [json-pointer:/blocks/0/text]",
        ),
        (
            {"type": "section", "text": "plain string"},
            "must provide an object [json-pointer:/blocks/0/text]",
        ),
        (
            {"type": "header", "text": {"type": "mrkdwn", "text": "hdr"}},
            "must be a valid enum value [json-pointer:/blocks/0/text/type]",
        ),
        (
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
            "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
        ),
        (
            {"type": "actions", "elements": [_button(action_id=f"a{i}") for i in range(26)]},
            "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
        ),
        (
            {"type": "actions", "elements": [_button(value="v" * 2001)]},
            "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
        ),
        (
            {"type": "actions", "elements": [_select([_option("v" * 151)])]},
            "must be less than 151 characters [json-pointer:/blocks/0/elements/0/options/0/value]",
        ),
        (
            {"type": "actions", "elements": [_select([_option(str(i)) for i in range(101)])]},
            "no more than 100 items allowed [json-pointer:/blocks/0/elements/0/options]",
        ),
        (
            {"type": "actions", "elements": [_button(action_id="a" * 256)]},
            "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
        ),
        (
            {"type": "actions", "elements": [_button(), _button()]},
            "duplicate action_id: claim [json-pointer:/blocks/0/elements/1/action_id]",
        ),
        (
            {"type": "markdown", "text": "m" * 12_001},
            "must be less than 12001 characters [json-pointer:/blocks/0/text]",
        ),
        (
            {"type": "actions", "elements": [{"type": "laser_pointer", "action_id": "x"}]},
            "unsupported type: laser_pointer [json-pointer:/blocks/0/elements/0/type]",
        ),
    ],
)
def test_block_limits(block: dict, expected: str) -> None:
    assert expected in block_errors([block], max_blocks=50)


def test_duplicate_block_ids_in_one_message() -> None:
    blocks = [{"type": "divider", "block_id": "same"}, {"type": "divider", "block_id": "same"}]
    assert block_errors(blocks, max_blocks=50) == [
        "duplicate block_id: same [json-pointer:/blocks/1/block_id]"
    ]


def test_same_action_id_in_different_blocks_is_allowed_like_slack() -> None:
    blocks = [
        {"type": "actions", "block_id": "t1", "elements": [_button(value="INC-1")]},
        {"type": "actions", "block_id": "t2", "elements": [_button(value="INC-2")]},
    ]
    assert block_errors(blocks, max_blocks=50) == []


def test_sdk_models_catch_what_the_walker_does_not() -> None:
    confirm = {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "plain_text", "text": "x"},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "No"},
    }
    overflow = {"type": "overflow", "action_id": "more", "options": [_option(str(i)) for i in range(5)]}
    assert block_errors([{"type": "actions", "elements": [overflow]}], max_blocks=50) == []
    good = _button(confirm=confirm)
    assert block_errors([{"type": "actions", "elements": [good]}], max_blocks=50) == []
    bad_image = {"type": "image", "image_url": "https://x/y.png"}
    assert any("alt_text" in e for e in block_errors([bad_image], max_blocks=50))


def test_message_content_errors() -> None:
    with pytest.raises(SlackError) as no_text:
        check_message_content(text="", blocks=None, attachments=None)
    assert no_text.value.error == "no_text"
    with pytest.raises(SlackError) as too_long:
        check_message_content(text="x" * 40_001, blocks=None, attachments=None)
    assert too_long.value.error == "msg_too_long"
    with pytest.raises(SlackError) as not_a_list:
        check_message_content(text="x", blocks="[not json", attachments=None)
    assert not_a_list.value.error == "invalid_blocks_format"
    attachment_blocks = [{"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}]
    with pytest.raises(SlackError) as attachment:
        check_message_content(text="x", blocks=None, attachments=attachment_blocks)
    assert attachment.value.error == "invalid_attachments"
    assert "[json-pointer:/attachments/0/blocks/0/text/text]" in attachment.value.details[-1]


def test_valid_modal_passes() -> None:
    check_view(_modal([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]))


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (
            {**_modal([{"type": "divider"}]), "title": {"type": "plain_text", "text": "t" * 25}},
            "must be less than 25 characters [json-pointer:/view/title/text]",
        ),
        (
            _modal([{"type": "divider"}], submit={"type": "plain_text", "text": "s" * 25}),
            "must be less than 25 characters [json-pointer:/view/submit/text]",
        ),
        (
            _modal([{"type": "divider"}], private_metadata="p" * 3001),
            "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        ),
        (
            _modal([{"type": "divider"}] * 101),
            "no more than 100 items allowed [json-pointer:/view/blocks]",
        ),
        (
            _modal(
                [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "Summary"},
                        "element": {"type": "plain_text_input", "action_id": "summary"},
                    }
                ]
            ),
            "must define `submit` to use an `input` block in modals [json-pointer:/view/submit]",
        ),
    ],
)
def test_view_limits_answer_invalid_arguments_like_slack(view: dict, expected: str) -> None:
    with pytest.raises(SlackError) as err:
        check_view(view)
    assert err.value.error == "invalid_arguments"
    assert err.value.details[0] == "failed to match all allowed schemas [json-pointer:/view]"
    assert expected in err.value.details
    assert "errors" not in err.value.to_response()
    assert err.value.to_response()["response_metadata"]["messages"][1].startswith("[ERROR] ")


def test_view_too_large() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 99
    with pytest.raises(SlackError) as err:
        check_view(_modal(blocks))
    assert err.value.error == "view_too_large"


def test_home_tab_allows_100_blocks_and_rejects_modal_type() -> None:
    check_view({"type": "home", "blocks": [{"type": "divider"}] * 100}, allowed_types=("home",))
    with pytest.raises(SlackError):
        check_view(_modal([{"type": "divider"}]), allowed_types=("home",))
