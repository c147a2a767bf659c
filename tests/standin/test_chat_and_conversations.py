"""chat.*, conversations.*, users.* and reactions.* behave like Slack, including their error codes."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.standin import SlackStandIn


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _error(coro) -> dict:
    with pytest.raises(SlackApiError) as err:
        await coro
    return err.value.response.data


async def test_post_message_returns_realistic_message(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    resp = await standin_client.chat_postMessage(
        channel="C0SUPPORT", text="Ticket #1 opened", blocks=[_section("x")]
    )
    assert resp["channel"] == "C0SUPPORT"
    message = resp["message"]
    assert message["bot_id"] == "B0BOT" and message["app_id"] == "A0BOT"
    assert message["user"] == "U0BOT" and message["team"] == "T0HOME"
    assert message["ts"] == resp["ts"]
    assert [m.text for m in standin.workspace.channel_messages("C0SUPPORT")] == ["Ticket #1 opened"]


async def test_ts_values_are_unique_and_increasing(standin_client: AsyncWebClient) -> None:
    stamps = [
        (await standin_client.chat_postMessage(channel="C0SUPPORT", text=str(i)))["ts"] for i in range(5)
    ]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


@pytest.mark.parametrize(
    ("channel", "error"),
    [("C0RANDOM", "not_in_channel"), ("C0NOPE", "channel_not_found"), ("C0SECRET", "channel_not_found")],
)
async def test_post_message_channel_errors(standin_client: AsyncWebClient, channel: str, error: str) -> None:
    assert (await _error(standin_client.chat_postMessage(channel=channel, text="x")))["error"] == error


async def test_post_to_archived_channel(standin_client: AsyncWebClient) -> None:
    assert (await _error(standin_client.chat_postMessage(channel="C0OLD", text="x")))[
        "error"
    ] == "is_archived"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_no_text_and_msg_too_long(standin_client: AsyncWebClient) -> None:
    assert (await _error(standin_client.chat_postMessage(channel="C0SUPPORT")))["error"] == "no_text"
    too_long = standin_client.chat_postMessage(channel="C0SUPPORT", text="x" * 40_001)
    assert (await _error(too_long))["error"] == "msg_too_long"
    ok = await standin_client.chat_postMessage(channel="C0SUPPORT", text="x" * 40_000)
    assert ok["ok"] is True


async def test_invalid_blocks_too_many(standin_client: AsyncWebClient) -> None:
    body = await _error(
        standin_client.chat_postMessage(channel="C0SUPPORT", text="x", blocks=[_section("b")] * 51)
    )
    assert body["error"] == "invalid_blocks"
    assert "no more than 50 items allowed [json-pointer:/blocks]" in body["errors"]
    assert body["response_metadata"]["messages"][0].startswith("[ERROR] ")


async def test_invalid_blocks_button_text_too_long(standin_client: AsyncWebClient) -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "claim"}
    body = await _error(
        standin_client.chat_postMessage(
            channel="C0SUPPORT", text="x", blocks=[{"type": "actions", "elements": [button]}]
        )
    )
    assert body["error"] == "invalid_blocks"
    assert "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]" in body["errors"]


async def test_invalid_blocks_header_and_unknown_type(standin_client: AsyncWebClient) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    body = await _error(
        standin_client.chat_postMessage(
            channel="C0SUPPORT", text="x", blocks=[header, {"type": "carousel3d"}]
        )
    )
    assert body["errors"] == [
        "failed to match all allowed schemas [json-pointer:/blocks/0/text]",
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        "failed to match all allowed schemas [json-pointer:/blocks/1]",
        "unsupported type: carousel3d [json-pointer:/blocks/1/type]",
    ]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_chat_update_replaces_content_and_text_only_drops_blocks(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    posted = await standin_client.chat_postMessage(channel="C0SUPPORT", text="v1", blocks=[_section("v1")])
    updated = await standin_client.chat_update(channel="C0SUPPORT", ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"] and updated["text"] == "v2"
    stored = standin.workspace.message("C0SUPPORT", posted["ts"])
    assert stored is not None and stored.blocks == [] and stored.edited is not None
    assert stored.history[0]["text"] == "v1"
    no_content = standin_client.chat_update(channel="C0SUPPORT", ts=posted["ts"])
    assert (await _error(no_content))["error"] == "no_text"


async def test_chat_update_of_someone_elses_message(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    person = standin.workspace.post_as_user("U0ALICE", "C0SUPPORT", "my printer is on fire")
    body = await _error(standin_client.chat_update(channel="C0SUPPORT", ts=person.ts, text="hacked"))
    assert body["error"] == "cant_update_message"
    missing = standin_client.chat_update(channel="C0SUPPORT", ts="1700000000.000001", text="x")
    assert (await _error(missing))["error"] == "message_not_found"
    delete = standin_client.chat_delete(channel="C0SUPPORT", ts=person.ts)
    assert (await _error(delete))["error"] == "cant_delete_message"


async def test_chat_delete_hides_message(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    posted = await standin_client.chat_postMessage(channel="C0SUPPORT", text="oops")
    await standin_client.chat_delete(channel="C0SUPPORT", ts=posted["ts"])
    assert standin.workspace.channel_messages("C0SUPPORT") == []
    again = standin_client.chat_delete(channel="C0SUPPORT", ts=posted["ts"])
    assert (await _error(again))["error"] == "message_not_found"


async def test_permalinks_for_messages_and_replies(standin_client: AsyncWebClient) -> None:
    parent = await standin_client.chat_postMessage(channel="C0SUPPORT", text="parent")
    reply = await standin_client.chat_postMessage(channel="C0SUPPORT", text="reply", thread_ts=parent["ts"])
    top = await standin_client.chat_getPermalink(channel="C0SUPPORT", message_ts=parent["ts"])
    assert (
        top["permalink"] == f"https://home-it.slack.com/archives/C0SUPPORT/p{parent['ts'].replace('.', '')}"
    )
    threaded = await standin_client.chat_getPermalink(channel="C0SUPPORT", message_ts=reply["ts"])
    assert threaded["permalink"].endswith(f"?thread_ts={parent['ts']}&cid=C0SUPPORT")
    missing = standin_client.chat_getPermalink(channel="C0SUPPORT", message_ts="1700000000.000001")
    assert (await _error(missing))["error"] == "message_not_found"


async def test_threads_reply_counts_and_replies(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    parent = await standin_client.chat_postMessage(channel="C0SUPPORT", text="ticket")
    standin.workspace.post_as_user("U0ALICE", "C0SUPPORT", "on it", thread_ts=parent["ts"])
    await standin_client.chat_postMessage(channel="C0SUPPORT", text="status", thread_ts=parent["ts"])
    await standin_client.chat_postMessage(
        channel="C0SUPPORT", text="solved", thread_ts=parent["ts"], reply_broadcast=True
    )
    replies = await standin_client.conversations_replies(channel="C0SUPPORT", ts=parent["ts"])
    texts = [m["text"] for m in replies["messages"]]
    assert texts == ["ticket", "on it", "status", "solved"]
    head = replies["messages"][0]
    assert head["reply_count"] == 3
    assert head["reply_users"] == ["U0ALICE", "U0BOT"] and head["reply_users_count"] == 2
    assert replies["messages"][1]["parent_user_id"] == "U0BOT"
    assert [m.text for m in standin.workspace.channel_messages("C0SUPPORT")] == ["ticket", "solved"]
    assert [m.text for m in standin.workspace.thread_replies("C0SUPPORT", parent["ts"])] == texts[1:]
    history = await standin_client.conversations_history(channel="C0SUPPORT")
    assert [m["text"] for m in history["messages"]] == ["solved", "ticket"]


async def test_thread_errors_and_orphan_warning(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    bad = standin_client.chat_postMessage(channel="C0SUPPORT", text="x", thread_ts="0")
    assert (await _error(bad))["error"] == "invalid_thread_ts"
    orphan = await standin_client.chat_postMessage(
        channel="C0SUPPORT", text="lost", thread_ts="1700000000.000001"
    )
    assert orphan["ok"] is True
    assert standin.workspace.channel_messages("C0SUPPORT") == []
    assert "unknown thread_ts" in standin.warnings[0]
    missing = standin_client.conversations_replies(channel="C0SUPPORT", ts="1700000000.000002")
    assert (await _error(missing))["error"] == "thread_not_found"


async def test_history_pagination(standin_client: AsyncWebClient) -> None:
    for i in range(5):
        await standin_client.chat_postMessage(channel="C0SUPPORT", text=f"m{i}")
    first = await standin_client.conversations_history(channel="C0SUPPORT", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = await standin_client.conversations_history(channel="C0SUPPORT", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    not_member = standin_client.conversations_history(channel="C0RANDOM")
    assert (await _error(not_member))["error"] == "not_in_channel"


async def test_dm_via_conversations_open(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    opened = await standin_client.conversations_open(users="U0ALICE")
    dm_id = opened["channel"]["id"]
    assert dm_id.startswith("D")
    again = await standin_client.conversations_open(users="U0ALICE")
    assert again["channel"]["id"] == dm_id and again["already_open"] is True
    await standin_client.chat_postMessage(channel=dm_id, text="Your ticket was escalated")
    assert [m.text for m in standin.workspace.dm_messages("U0ALICE")] == ["Your ticket was escalated"]
    info = await standin_client.conversations_info(channel=dm_id)
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == "U0ALICE"
    unknown = standin_client.conversations_open(users="U0NOBODY")
    assert (await _error(unknown))["error"] == "user_not_found"


async def test_conversations_join_public_only(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    joined = await standin_client.conversations_join(channel="C0RANDOM")
    assert joined["channel"]["is_member"] is True
    assert "U0BOT" in standin.workspace.channels["C0RANDOM"].members
    await standin_client.chat_postMessage(channel="C0RANDOM", text="now I can post")
    again = await standin_client.conversations_join(channel="C0RANDOM")
    assert again["warning"] == "already_in_channel"
    assert (await _error(standin_client.conversations_join(channel="C0SECRET")))[
        "error"
    ] == "channel_not_found"
    assert (await _error(standin_client.conversations_join(channel="C0OLD")))["error"] == "is_archived"


async def test_conversations_info_and_members_slack_connect(standin_client: AsyncWebClient) -> None:
    info = (await standin_client.conversations_info(channel="C0CUST", include_num_members=True))["channel"]
    assert info["is_ext_shared"] is True and info["is_shared"] is True
    assert info["connected_team_ids"] == ["T0HOME", "T0CUST"]
    assert info["conversation_host_id"] == "T0HOME"
    assert info["num_members"] == 3
    internal = (await standin_client.conversations_info(channel="C0SUPPORT"))["channel"]
    assert internal["is_ext_shared"] is False and internal["connected_team_ids"] == []
    members = await standin_client.conversations_members(channel="C0CUST")
    assert members["members"] == ["U0BOT", "U0ALICE", "U0CAROL"]


async def test_users_info_internal_external_and_stranger(standin_client: AsyncWebClient) -> None:
    alice = (await standin_client.users_info(user="U0ALICE"))["user"]
    assert alice["team_id"] == "T0HOME" and "is_stranger" not in alice
    assert alice["profile"]["real_name"] == "Alice Agent" and alice["tz"] == "Europe/Berlin"
    carol = (await standin_client.users_info(user="U0CAROL"))["user"]
    assert carol["team_id"] == "T0CUST" and carol["is_stranger"] is False
    assert "email" not in carol["profile"]
    dave = (await standin_client.users_info(user="U0DAVE"))["user"]
    assert dave["is_stranger"] is True
    assert (await _error(standin_client.users_info(user="U0NOBODY")))["error"] == "user_not_found"


async def test_post_ephemeral(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    resp = await standin_client.chat_postEphemeral(channel="C0SUPPORT", user="U0ALICE", text="only you")
    assert resp["message_ts"]
    [eph] = standin.workspace.ephemerals_for("U0ALICE", "C0SUPPORT")
    assert eph.text == "only you" and eph.source == "chat.postEphemeral"
    outsider = standin_client.chat_postEphemeral(channel="C0SUPPORT", user="U0CAROL", text="x")
    assert (await _error(outsider))["error"] == "user_not_in_channel"


async def test_reactions_add(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    msg = standin.workspace.post_as_user("U0ALICE", "C0SUPPORT", "help")
    await standin_client.reactions_add(channel="C0SUPPORT", timestamp=msg.ts, name="eyes")
    assert msg.reactions == [{"name": "eyes", "users": ["U0BOT"], "count": 1}]
    dup = standin_client.reactions_add(channel="C0SUPPORT", timestamp=msg.ts, name="eyes")
    assert (await _error(dup))["error"] == "already_reacted"
    bad = standin_client.reactions_add(channel="C0SUPPORT", timestamp=msg.ts, name=":eyes:")
    assert (await _error(bad))["error"] == "invalid_name"
    gone = standin_client.reactions_add(channel="C0SUPPORT", timestamp="1700000000.000001", name="eyes")
    assert (await _error(gone))["error"] == "message_not_found"


async def test_read_helpers_find_messages(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    parent = await standin_client.chat_postMessage(
        channel="C0SUPPORT", text="fallback", blocks=[_section("Ticket *INC-42* created")]
    )
    await standin_client.chat_postMessage(channel="C0SUPPORT", text="INC-42 assigned", thread_ts=parent["ts"])
    found = standin.workspace.find_messages("C0SUPPORT", contains="INC-42")
    assert [m.ts for m in found][0] == parent["ts"] and len(found) == 2


async def test_history_and_replies_refuse_a_window_bound_that_is_no_timestamp(
    standin_client: AsyncWebClient,
) -> None:
    """Slack answers ok: false (invalid_ts_latest / invalid_ts_oldest), not an HTTP 500."""
    posted = await standin_client.chat_postMessage(channel="C0SUPPORT", text="ticket")
    for method, extra in (
        (standin_client.conversations_history, {}),
        (standin_client.conversations_replies, {"ts": posted["ts"]}),
    ):
        for name, value in (("latest", "abc"), ("oldest", "nan"), ("latest", "inf")):
            answer = await _error(method(channel="C0SUPPORT", **extra, **{name: value}))
            assert answer["error"] == f"invalid_ts_{name}"
        fine = await method(channel="C0SUPPORT", **extra, oldest="0", latest=posted["ts"], inclusive=True)
        assert [m["text"] for m in fine["messages"]] == ["ticket"]
