"""response_url: ephemeral/in_channel answers, replace/delete original, 5 uses in 30 minutes."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.standin import SlackStandIn


async def test_default_answer_is_ephemeral_to_the_user(standin: SlackStandIn) -> None:
    url = standin.issue_response_url("U0ALICE", "C0SUPPORT")
    assert url.startswith(f"{standin.url}/_standin/response/")
    resp = await AsyncWebhookClient(url).send(text="Ticket INC-7 created")
    assert resp.status_code == 200
    [eph] = standin.workspace.ephemerals_for("U0ALICE", "C0SUPPORT")
    assert eph.text == "Ticket INC-7 created" and eph.source == "response_url"
    assert standin.workspace.channel_messages("C0SUPPORT") == []


async def test_in_channel_answer_posts_a_bot_message(standin: SlackStandIn) -> None:
    url = standin.issue_response_url("U0ALICE", "C0SUPPORT")
    await AsyncWebhookClient(url).send(text="Major incident declared", response_type="in_channel")
    [msg] = standin.workspace.channel_messages("C0SUPPORT")
    assert msg.text == "Major incident declared" and msg.bot_id == "B0BOT" and msg.source == "response_url"


async def test_replace_and_delete_original_message(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    posted = await standin_client.chat_postMessage(channel="C0SUPPORT", text="Ticket INC-8: open")
    url = standin.issue_response_url("U0ALICE", "C0SUPPORT", message_ts=posted["ts"])
    webhook = AsyncWebhookClient(url)
    await webhook.send(text="Ticket INC-8: claimed by Alice", replace_original=True)
    [msg] = standin.workspace.channel_messages("C0SUPPORT")
    assert msg.ts == posted["ts"] and msg.text == "Ticket INC-8: claimed by Alice"
    await webhook.send_dict({"delete_original": True})
    assert standin.workspace.channel_messages("C0SUPPORT") == []


async def test_five_uses_then_used_url(standin: SlackStandIn) -> None:
    webhook = AsyncWebhookClient(standin.issue_response_url("U0ALICE", "C0SUPPORT"))
    statuses = [(await webhook.send(text=f"update {i}")).status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 404]
    sixth = standin.calls_to("response_url")[-1]
    assert sixth.outcome == "used_url"
    assert len(standin.workspace.ephemerals_for("U0ALICE")) == 5


async def test_expired_url(standin: SlackStandIn) -> None:
    url = standin.issue_response_url("U0ALICE", "C0SUPPORT")
    standin.response_url_record(url).created -= 31 * 60  # issued 31 minutes ago
    resp = await AsyncWebhookClient(url).send(text="too late")
    assert resp.status_code == 404
    assert standin.calls_to("response_url")[0].outcome == "expired_url"


async def test_invalid_blocks_rejected_and_not_counted(standin: SlackStandIn) -> None:
    url = standin.issue_response_url("U0ALICE", "C0SUPPORT")
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    resp = await AsyncWebhookClient(url).send(text="x", blocks=[header])
    assert resp.status_code == 400
    assert standin.calls_to("response_url")[0].outcome == "invalid_blocks"
    assert standin.response_url_record(url).uses == 0
    assert standin.workspace.ephemerals_for("U0ALICE") == []
