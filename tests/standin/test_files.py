"""files.getUploadURLExternal → upload URL → files.completeUploadExternal, via files_upload_v2."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.standin import SlackStandIn


async def test_upload_flow_shares_file_as_message(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    resp = await standin_client.files_upload_v2(
        channel="C0SUPPORT",
        content="ticket,status\nINC-1,open\n",
        filename="tickets.csv",
        title="Open tickets",
        initial_comment="Weekly export",
    )
    file_id = resp["file"]["id"]
    assert file_id.startswith("F")
    assert [c.method for c in standin.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [msg] = standin.workspace.channel_messages("C0SUPPORT")
    assert msg.text == "Weekly export" and msg.file_ids == [file_id] and msg.bot_id == "B0BOT"
    stored = standin.workspace.files[file_id]
    assert stored.content == b"ticket,status\nINC-1,open\n" and stored.title == "Open tickets"
    history = await standin_client.conversations_history(channel="C0SUPPORT")
    shared = history["messages"][0]["files"][0]
    assert shared["name"] == "tickets.csv" and shared["shares"]["public"]["C0SUPPORT"][0]["ts"] == msg.ts


async def test_upload_into_channel_without_bot(standin_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await standin_client.files_upload_v2(channel="C0RANDOM", content="x", filename="x.txt")
    assert err.value.response["error"] == "not_in_channel"


async def test_complete_without_upload_fails(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    reserved = await standin_client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert reserved["upload_url"].startswith(standin.url)
    with pytest.raises(SlackApiError) as err:
        await standin_client.files_completeUploadExternal(
            files=[{"id": reserved["file_id"]}], channel_id="C0SUPPORT"
        )
    assert err.value.response["error"] == "file_not_found"


async def test_file_titles_and_content_are_leak_checked(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    standin.mark_internal("L3 draft: firmware rollback")
    await standin_client.files_upload_v2(
        channel="C0CUST", content="notes", filename="notes.txt", title="L3 draft: firmware rollback"
    )
    await standin_client.files_upload_v2(
        channel="C0CUST", content="L3 draft: firmware rollback planned", filename="plan.txt", title="Plan"
    )
    assert [leak.method for leak in standin.leaks] == ["files.completeUploadExternal"] * 2
