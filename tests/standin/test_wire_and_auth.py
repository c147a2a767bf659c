"""Wire formats and authentication of the stand-in's Web API, through slack_sdk's real client."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.standin import SlackStandIn, Workspace, build_standin_app

from .conftest import STANDIN_TOKEN


async def test_api_url_ends_with_slash_and_auth_test_identifies_bot(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    assert standin.api_url.endswith("/api/")
    resp = await standin_client.auth_test()
    assert resp["user_id"] == "U0BOT"
    assert resp["bot_id"] == "B0BOT"
    assert resp["team_id"] == "T0HOME"
    assert resp["url"] == "https://home-it.slack.com/"


async def test_each_wire_format_is_recorded(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    await standin_client.chat_postMessage(channel="C0SUPPORT", text="json body")
    await standin_client.conversations_info(channel="C0SUPPORT")
    await standin_client.api_call("conversations.join", data={"channel": "C0SUPPORT"})
    await standin_client.auth_test()
    wires = {c.method: (c.http_verb, c.wire) for c in standin.calls}
    assert wires["chat.postMessage"] == ("POST", "json")
    assert wires["conversations.info"] == ("GET", "query")
    assert wires["conversations.join"] == ("POST", "form")
    assert wires["auth.test"] == ("POST", "query")
    assert standin.calls_to("chat.postMessage")[0].args["text"] == "json body"


async def test_form_encoded_blocks_are_decoded_from_json_strings(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "form *blocks*"}}]'
    resp = await standin_client.api_call("chat.postMessage", data={"channel": "C0SUPPORT", "blocks": blocks})
    stored = standin.workspace.message("C0SUPPORT", resp["ts"])
    assert stored is not None
    assert stored.blocks[0]["text"]["text"] == "form *blocks*"
    assert stored.blocks[0]["block_id"]  # Slack generates a block_id when none is given


async def test_token_as_form_param_is_accepted(standin: SlackStandIn) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{standin.api_url}auth.test", data={"token": STANDIN_TOKEN}) as resp:
            body = await resp.json()
    assert body["ok"] is True
    assert standin.calls_to("auth.test")[0].token_source == "param"


async def test_token_inside_json_body_is_ignored_like_slack(standin: SlackStandIn) -> None:
    async with aiohttp.ClientSession() as session:
        payload = {"token": STANDIN_TOKEN, "channel": "C0SUPPORT", "text": "x"}
        async with session.post(f"{standin.api_url}chat.postMessage", json=payload) as resp:
            body = await resp.json()
    assert body == {"ok": False, "error": "not_authed"}


async def test_missing_and_wrong_tokens(standin: SlackStandIn) -> None:
    no_token = AsyncWebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError) as missing:
        await no_token.auth_test()
    assert missing.value.response["error"] == "not_authed"

    wrong = AsyncWebClient(token="xoxb-wrong", base_url=standin.api_url)
    with pytest.raises(SlackApiError) as invalid:
        await wrong.chat_postMessage(channel="C0SUPPORT", text="hi")
    assert invalid.value.response["error"] == "invalid_auth"
    assert standin.workspace.channel_messages("C0SUPPORT") == []


async def test_unknown_method(standin_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await standin_client.api_call("chat.fly")
    assert err.value.response["error"] == "unknown_method"
    assert err.value.response.status_code == 200


async def test_app_can_be_mounted_into_another_aiohttp_app(standin_workspace: Workspace) -> None:
    standin = SlackStandIn(standin_workspace, bot_token=STANDIN_TOKEN)
    parent = web.Application()
    parent.add_subapp("/slack-sandbox/", build_standin_app(standin))
    runner = web.AppRunner(parent, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        standin.set_base_url(f"http://{host}:{port}/slack-sandbox")
        client = AsyncWebClient(token=STANDIN_TOKEN, base_url=standin.api_url)
        posted = await client.chat_postMessage(channel="C0SUPPORT", text="via mounted app")
        assert standin.workspace.message("C0SUPPORT", posted["ts"]) is not None
        url = standin.issue_response_url("U0ALICE", "C0SUPPORT")
        assert url.startswith(f"http://{host}:{port}/slack-sandbox/_standin/response/")
        assert (await AsyncWebhookClient(url).send(text="ok")).status_code == 200
    finally:
        await runner.cleanup()
