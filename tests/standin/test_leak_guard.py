"""Leak guard: internal texts/users never reach external people; no broadcast mentions."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.standin import SlackStandIn

INTERNAL_NOTE = "Root cause: customer's VPN appliance runs an EOL firmware"


@pytest.fixture
def guarded(standin: SlackStandIn) -> SlackStandIn:
    """Stand-in with an internal note and an internal L3 specialist registered."""
    standin.mark_internal(INTERNAL_NOTE)
    standin.mark_internal_user("U0LENA")
    return standin


async def test_internal_text_in_ext_shared_channel_is_flagged(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    await standin_client.chat_postMessage(channel="C0CUST", text=f"Update: {INTERNAL_NOTE}")
    [leak] = guarded.leaks
    assert (leak.method, leak.channel, leak.rule) == ("chat.postMessage", "C0CUST", "internal_text")
    assert "VPN appliance" in leak.excerpt
    with pytest.raises(AssertionError, match="1 leak"):
        guarded.assert_no_leaks()


async def test_same_text_in_internal_channel_is_fine(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    await standin_client.chat_postMessage(channel="C0L3", text=f"Note: {INTERNAL_NOTE}")
    await standin_client.chat_postMessage(channel="C0SUPPORT", text=f"<@U0LENA> please look: {INTERNAL_NOTE}")
    guarded.assert_no_leaks()


async def test_internal_text_hidden_in_blocks_and_case_is_flagged(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": INTERNAL_NOTE.upper()}}
    await standin_client.chat_postMessage(channel="C0CUST", text="Status update", blocks=[section])
    assert [leak.rule for leak in guarded.leaks] == ["internal_text"]


async def test_chat_update_is_checked_too(guarded: SlackStandIn, standin_client: AsyncWebClient) -> None:
    posted = await standin_client.chat_postMessage(channel="C0CUST", text="We are on it")
    assert guarded.leaks == []
    await standin_client.chat_update(channel="C0CUST", ts=posted["ts"], text=f"We are on it. {INTERNAL_NOTE}")
    assert [leak.method for leak in guarded.leaks] == ["chat.update"]


async def test_internal_user_mention_or_name_is_flagged(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    await standin_client.chat_postMessage(channel="C0CUST", text="Escalated to <@U0LENA>")
    await standin_client.chat_postMessage(channel="C0CUST", text="Lena Schulz will call you")
    await standin_client.chat_postMessage(channel="C0CUST", text="Our specialist Helena is on it")
    assert [leak.rule for leak in guarded.leaks] == ["internal_user", "internal_user"]


async def test_broadcast_mentions(guarded: SlackStandIn, standin_client: AsyncWebClient) -> None:
    await standin_client.chat_postMessage(channel="C0SUPPORT", text="<!channel> P1 incident")
    await standin_client.chat_postMessage(channel="C0SUPPORT", text="<!subteam^S0L3|@l3> please check")
    await standin_client.chat_postMessage(channel="C0CUST", text="<!subteam^S0L3|@l3> please check")
    await standin_client.chat_postMessage(channel="C0CUST", text="<!here|here> we are investigating")
    rules = [(leak.channel, leak.rule) for leak in guarded.leaks]
    assert rules == [
        ("C0SUPPORT", "broadcast_mention"),
        ("C0CUST", "subteam_mention_external"),
        ("C0CUST", "broadcast_mention"),
    ]


async def test_ephemerals_depend_on_who_sees_them(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    await standin_client.chat_postEphemeral(channel="C0CUST", user="U0ALICE", text=f"FYI {INTERNAL_NOTE}")
    assert guarded.leaks == []
    await standin_client.chat_postEphemeral(channel="C0CUST", user="U0CAROL", text=f"FYI {INTERNAL_NOTE}")
    [leak] = guarded.leaks
    assert (leak.viewer, leak.method) == ("U0CAROL", "chat.postEphemeral")


async def test_response_url_to_external_user(guarded: SlackStandIn) -> None:
    url = guarded.issue_response_url("U0CAROL", "C0CUST")
    await AsyncWebhookClient(url).send(text="Assigned to Lena Schulz")
    assert [leak.method for leak in guarded.leaks] == ["response_url"]


async def test_views_for_external_users(guarded: SlackStandIn, standin_client: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Ticket"},
        "private_metadata": INTERNAL_NOTE,  # not shown to the person: never flagged
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your ticket is being handled"}}],
    }
    await standin_client.views_open(trigger_id=guarded.issue_trigger_id("U0CAROL"), view=modal)
    assert guarded.leaks == []
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": INTERNAL_NOTE}}],
    }
    await standin_client.views_publish(user_id="U0ALICE", view=home)
    assert guarded.leaks == []
    await standin_client.views_publish(user_id="U0CAROL", view=home)
    assert [(leak.method, leak.viewer) for leak in guarded.leaks] == [("views.publish", "U0CAROL")]


async def test_dm_with_external_user_counts_as_external(
    guarded: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    dm = (await standin_client.conversations_open(users="U0CAROL"))["channel"]["id"]
    await standin_client.chat_postMessage(channel=dm, text=INTERNAL_NOTE)
    assert [leak.channel for leak in guarded.leaks] == [dm]
