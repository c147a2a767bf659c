"""The signed driver: signatures, event envelopes, commands, clicks and view submissions over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.driver import SlackDriver, compute_signature
from bot.sandbox.standin import SlackStandIn

from .conftest import BotReceiver, ReceivedRequest

VECTOR = Path("/work/shared/reference/slack/payloads/slack-docs_signature_test_vector_slash_command.json")


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_signature_matches_slack_docs_vector() -> None:
    if not VECTOR.exists():
        pytest.skip(f"official signing test vector not found at {VECTOR}")
    vector = json.loads(VECTOR.read_text())
    body = vector["raw_body"].encode()
    ts = vector["x_slack_request_timestamp"]
    assert compute_signature(vector["signing_secret"], ts, body) == vector["x_slack_signature"]
    verifier = SignatureVerifier(vector["signing_secret"], clock=_FixedClock(float(ts)))
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": vector["x_slack_signature"]}
    assert verifier.is_valid_request(body, headers)


async def test_post_message_envelope_and_storage(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    result = await standin_driver.post_message("U0ALICE", "C0SUPPORT", "My laptop won't boot")
    assert result.status == 200 and result.event_id and result.event_id.startswith("Ev")
    got = standin_receiver.last
    assert got.signature_valid and got.headers["Content-Type"] == "application/json"
    body = got.json
    assert body["type"] == "event_callback" and body["team_id"] == "T0HOME" and body["api_app_id"] == "A0BOT"
    assert body["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0HOME",
            "user_id": "U0BOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert body["is_ext_shared_channel"] is False and body["event_context"]
    event = body["event"]
    assert event["type"] == "message" and event["channel_type"] == "channel"
    assert event["user"] == "U0ALICE" and event["ts"] == result.ts == event["event_ts"]
    assert event["blocks"][0]["type"] == "rich_text" and event["client_msg_id"]
    assert event["user_team"] == event["source_team"] == event["team"] == "T0HOME"
    assert event["user_profile"]["real_name"] == "Alice Agent"
    # stored like Slack would: the Web API finds it
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    link = await client.chat_getPermalink(channel="C0SUPPORT", message_ts=result.ts)
    assert link["permalink"].endswith(result.ts.replace(".", ""))


async def test_external_user_in_slack_connect_channel(
    standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    await standin_driver.post_message("U0CAROL", "C0CUST", "VPN is down again")
    body = standin_receiver.last.json
    assert body["is_ext_shared_channel"] is True
    assert body["team_id"] == "T0CUST"
    assert body["authorizations"][0]["team_id"] == "T0HOME"
    event = body["event"]
    assert event["user_team"] == event["source_team"] == event["user_profile"]["team"] == "T0CUST"


async def test_thread_reply_and_app_mention(
    standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    parent = await standin_driver.post_message("U0ALICE", "C0SUPPORT", "Printer jam")
    reply = await standin_driver.post_message("U0LENA", "C0SUPPORT", "<@U0BOT> status?", thread_ts=parent.ts)
    events = [r.json["event"] for r in standin_receiver.requests]
    assert [e["type"] for e in events] == ["message", "message", "app_mention"]
    assert events[1]["thread_ts"] == parent.ts and events[1]["parent_user_id"] == "U0ALICE"
    assert events[2]["ts"] == reply.ts and reply.followups[0].status == 200
    assert events[1]["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "U0BOT"}


async def test_person_cannot_post_where_they_are_not(standin_driver: SlackDriver) -> None:
    with pytest.raises(AssertionError, match="not a member"):
        await standin_driver.post_message("U0CAROL", "C0SUPPORT", "let me in")


async def test_edit_delete_reaction_join_home_events(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    posted = await standin_driver.post_message("U0ALICE", "C0SUPPORT", "typo")
    await standin_driver.edit_message("U0ALICE", "C0SUPPORT", posted.ts, "fixed")
    await standin_driver.add_reaction("U0LENA", "C0SUPPORT", posted.ts, "eyes")
    await standin_driver.delete_message("U0ALICE", "C0SUPPORT", posted.ts)
    await standin_driver.member_joined("U0CAROL", "C0SUPPORT", inviter="U0ALICE")
    await standin_driver.channel_join_message("U0CAROL", "C0SUPPORT")
    await standin_driver.app_home_opened("U0ALICE")
    events = [r.json["event"] for r in standin_receiver.requests[1:]]
    changed, reaction, deleted, joined, join_msg, home = events
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["text"] == "fixed" and changed["previous_message"]["text"] == "typo"
    assert changed["message"]["edited"]["user"] == "U0ALICE"
    assert reaction["type"] == "reaction_added" and reaction["item"] == {
        "type": "message",
        "channel": "C0SUPPORT",
        "ts": posted.ts,
    }
    assert reaction["item_user"] == "U0ALICE"
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == posted.ts
    assert deleted["previous_message"]["text"] == "fixed"
    assert joined == {**joined, "type": "member_joined_channel", "user": "U0CAROL", "inviter": "U0ALICE"}
    assert join_msg["subtype"] == "channel_join" and "has joined" in join_msg["text"]
    assert home["type"] == "app_home_opened" and home["channel"].startswith("D")
    assert standin.workspace.channel_messages("C0SUPPORT")[-1].subtype == "channel_join"


async def test_redeliver_same_event_with_retry_headers(
    standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    first = await standin_driver.post_message("U0ALICE", "C0SUPPORT", "hello")
    retry = await standin_driver.redeliver(first, retry_num=2, reason="http_timeout")
    original, again = standin_receiver.requests
    assert again.body == original.body and again.signature_valid
    assert again.json["event_id"] == first.event_id == retry.event_id
    assert (
        again.headers["X-Slack-Retry-Num"] == "2" and again.headers["X-Slack-Retry-Reason"] == "http_timeout"
    )


async def test_send_raw_hostile_inputs_are_rejected_by_verifier(
    standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    body = b'{"type":"event_callback"}'
    unsigned = await standin_driver.send_raw(body, sign=False)
    stale = await standin_driver.send_raw(body, timestamp=str(int(time.time()) - 301))
    forged = await standin_driver.send_raw(body, signature="v0=" + "0" * 64)
    good = await standin_driver.send_raw(body)
    assert [unsigned.status, stale.status, forged.status, good.status] == [401, 401, 401, 200]
    assert [r.signature_valid for r in standin_receiver.requests] == [False, False, False, True]


async def test_slash_command_form_and_ack_body_shown_as_ephemeral(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    standin_receiver.reply = lambda req: web.json_response({"text": "Creating your ticket…"})
    result = await standin_driver.slash_command("U0CAROL", "C0CUST", "/ticket", "VPN down")
    form = standin_receiver.last.form
    assert standin_receiver.last.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["command"] == "/ticket" and form["text"] == "VPN down"
    assert form["team_id"] == "T0CUST" and form["team_domain"] == "customer-co"
    assert form["channel_id"] == "C0CUST" and form["channel_name"] == "ext-customer-co"
    assert form["user_id"] == "U0CAROL" and form["user_name"] == "carol"
    assert form["api_app_id"] == "A0BOT" and form["is_enterprise_install"] == "false"
    assert form["response_url"] == result.response_url and form["trigger_id"] == result.trigger_id
    assert form["trigger_id"] in standin.triggers
    [eph] = standin.workspace.ephemerals_for("U0CAROL", "C0CUST")
    assert eph.text == "Creating your ticket…"


async def test_bot_opens_modal_with_command_trigger_and_expiry(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Ticket"},
        "blocks": [{"type": "divider"}],
    }
    outcomes: list[str] = []

    def bot(delay: float):
        async def handle(req: ReceivedRequest) -> web.Response:
            await asyncio.sleep(delay)  # slow work before views.open
            try:
                await client.views_open(trigger_id=req.form["trigger_id"], view=modal)
                outcomes.append("ok")
            except SlackApiError as exc:
                outcomes.append(exc.response["error"])
            return web.Response(text="")

        return handle

    standin_receiver.reply = bot(0.0)
    await standin_driver.slash_command("U0ALICE", "C0SUPPORT", "/ticket")
    standin.trigger_ttl = 0.05
    standin_receiver.reply = bot(0.1)
    await standin_driver.slash_command("U0ALICE", "C0SUPPORT", "/ticket")
    assert outcomes == ["ok", "expired_trigger_id"]
    assert len(standin.workspace.open_views("U0ALICE")) == 1


async def _post_ticket_card(standin: SlackStandIn) -> str:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    blocks = [
        {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*INC-9* VPN down"}},
        {
            "type": "actions",
            "block_id": "ticket_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "ticket_claim",
                    "text": {"type": "plain_text", "text": "Claim"},
                    "value": "INC-9",
                    "style": "primary",
                },
                {
                    "type": "static_select",
                    "action_id": "ticket_priority",
                    "placeholder": {"type": "plain_text", "text": "Priority"},
                    "options": [
                        {"text": {"type": "plain_text", "text": "P1"}, "value": "p1"},
                        {"text": {"type": "plain_text", "text": "P2"}, "value": "p2"},
                    ],
                },
            ],
        },
    ]
    return (await client.chat_postMessage(channel="C0SUPPORT", text="INC-9", blocks=blocks))["ts"]


async def test_click_builds_block_actions_from_stored_message(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    ts = await _post_ticket_card(standin)
    result = await standin_driver.click("U0LENA", "ticket_claim", channel="C0SUPPORT", ts=ts)
    payload = standin_receiver.last.payload
    assert standin_receiver.last.signature_valid and set(standin_receiver.last.form) == {"payload"}
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U0LENA", "username": "lena", "name": "lena", "team_id": "T0HOME"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C0SUPPORT",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0SUPPORT", "name": "it-support"}
    assert payload["message"]["ts"] == ts and payload["message"]["bot_id"] == "B0BOT"
    [action] = payload["actions"]
    assert (action["type"], action["block_id"], action["value"]) == ("button", "ticket_actions", "INC-9")
    assert payload["response_url"] == result.response_url and payload["trigger_id"] == result.trigger_id
    assert payload["team"] == {"id": "T0HOME", "domain": "home-it"} and payload["api_app_id"] == "A0BOT"
    # The bot answers through response_url and replaces the card.
    record = standin.response_url_record(result.response_url or "")
    assert record is not None and record.message_ts == ts
    status, _ = standin.apply_response(record, {"replace_original": True, "text": "INC-9 claimed by Lena"})
    assert status == 200 and standin.workspace.message("C0SUPPORT", ts).text == "INC-9 claimed by Lena"


async def test_click_select_uses_option_from_message(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    ts = await _post_ticket_card(standin)
    await standin_driver.click("U0ALICE", "ticket_priority", channel="C0SUPPORT", ts=ts, selected_option="p1")
    [action] = standin_receiver.last.payload["actions"]
    assert action["selected_option"] == {"text": {"type": "plain_text", "text": "P1"}, "value": "p1"}
    with pytest.raises(AssertionError, match="not offered"):
        await standin_driver.click(
            "U0ALICE", "ticket_priority", channel="C0SUPPORT", ts=ts, selected_option="p9"
        )


async def test_click_refuses_what_the_person_cannot_see(
    standin: SlackStandIn, standin_driver: SlackDriver
) -> None:
    ts = await _post_ticket_card(standin)
    with pytest.raises(AssertionError, match="no element action_id='ticket_close'"):
        await standin_driver.click("U0ALICE", "ticket_close", channel="C0SUPPORT", ts=ts)
    with pytest.raises(AssertionError, match="not in C0SUPPORT"):
        await standin_driver.click("U0CAROL", "ticket_claim", channel="C0SUPPORT", ts=ts)
    with pytest.raises(AssertionError, match="no element"):
        await standin_driver.click("U0ALICE", "ticket_claim", channel="C0SUPPORT", ts=ts, value="INC-1")


async def test_click_on_ephemeral_and_replace_it(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    button = {"type": "button", "action_id": "kb_helpful", "text": {"type": "plain_text", "text": "Helpful"}}
    await client.chat_postEphemeral(
        channel="C0SUPPORT", user="U0ALICE", text="KB", blocks=[{"type": "actions", "elements": [button]}]
    )
    [eph] = standin.workspace.ephemerals_for("U0ALICE")
    result = await standin_driver.click("U0ALICE", "kb_helpful", ephemeral=eph)
    payload = standin_receiver.last.payload
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    record = standin.response_url_record(result.response_url or "")
    assert record is not None
    standin.apply_response(record, {"replace_original": True, "text": "Thanks for the feedback"})
    assert [e.text for e in standin.workspace.ephemerals_for("U0ALICE")] == ["Thanks for the feedback"]


def _ticket_modal() -> dict:
    return {
        "type": "modal",
        "callback_id": "ticket_new",
        "private_metadata": "C0SUPPORT",
        "notify_on_close": True,
        "title": {"type": "plain_text", "text": "New ticket"},
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "Summary"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "priority",
                "label": {"type": "plain_text", "text": "Priority"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "initial_option": {"text": {"type": "plain_text", "text": "P3"}, "value": "p3"},
                    "options": [
                        {"text": {"type": "plain_text", "text": "P1"}, "value": "p1"},
                        {"text": {"type": "plain_text", "text": "P3"}, "value": "p3"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "assignee",
                "optional": True,
                "label": {"type": "plain_text", "text": "Assignee"},
                "element": {"type": "users_select", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "flags",
                "optional": True,
                "label": {"type": "plain_text", "text": "Flags"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": "VIP"}, "value": "vip"},
                        {"text": {"type": "plain_text", "text": "Outage"}, "value": "outage"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "due",
                "optional": True,
                "label": {"type": "plain_text", "text": "Due"},
                "element": {"type": "datepicker", "action_id": "value"},
            },
        ],
    }


async def _open_modal(standin: SlackStandIn, user_id: str = "U0ALICE") -> str:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    resp = await client.views_open(trigger_id=standin.issue_trigger_id(user_id), view=_ticket_modal())
    return resp["view"]["id"]


async def test_submit_view_shapes_state_and_closes(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    view_id = await _open_modal(standin)
    values = {
        "summary": {"value": "Laptop broken"},
        "assignee": {"value": "U0LENA"},
        "flags": {"value": ["vip", "outage"]},
        "due": {"value": "2025-01-31"},
    }
    result = await standin_driver.submit_view("U0ALICE", view_id, values)
    assert result.status == 200 and result.response_action is None
    payload = standin_receiver.last.payload
    assert payload["type"] == "view_submission" and payload["response_urls"] == []
    view = payload["view"]
    assert (
        view["id"] == view_id
        and view["callback_id"] == "ticket_new"
        and view["private_metadata"] == "C0SUPPORT"
    )
    assert view["hash"] and view["app_installed_team_id"] == "T0HOME"
    state = view["state"]["values"]
    assert state["summary"]["value"] == {"type": "plain_text_input", "value": "Laptop broken"}
    assert state["priority"]["value"]["selected_option"]["value"] == "p3"  # untouched: initial option
    assert state["assignee"]["value"] == {"type": "users_select", "selected_user": "U0LENA"}
    assert [o["value"] for o in state["flags"]["value"]["selected_options"]] == ["vip", "outage"]
    assert state["due"]["value"] == {"type": "datepicker", "selected_date": "2025-01-31"}
    assert standin.workspace.open_views("U0ALICE") == []


async def test_submit_view_rejects_unknown_inputs(standin: SlackStandIn, standin_driver: SlackDriver) -> None:
    view_id = await _open_modal(standin)
    with pytest.raises(AssertionError, match="has no input"):
        await standin_driver.submit_view("U0ALICE", view_id, {"sumary": {"value": "typo"}})
    with pytest.raises(AssertionError, match="no open modal"):
        await standin_driver.submit_view("U0LENA", view_id, {})


async def test_submit_view_errors_keep_it_open_and_update_replaces(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    view_id = await _open_modal(standin)
    standin_receiver.reply = lambda req: web.json_response(
        {"response_action": "errors", "errors": {"summary": "Please describe the problem"}}
    )
    result = await standin_driver.submit_view("U0ALICE", view_id, {"summary": {"value": ""}})
    assert result.response_action == "errors" and result.applied_error is None
    assert result.view_errors == {"summary": "Please describe the problem"}
    assert [v.id for v in standin.workspace.open_views("U0ALICE")] == [view_id]
    done = {"type": "modal", "title": {"type": "plain_text", "text": "Done"}, "blocks": [{"type": "divider"}]}
    standin_receiver.reply = lambda req: web.json_response({"response_action": "update", "view": done})
    await standin_driver.submit_view("U0ALICE", view_id, {"summary": {"value": "ok"}})
    assert standin.workspace.view(view_id).view["title"]["text"] == "Done"
    assert standin.workspace.open_views("U0ALICE")[0].id == view_id


async def test_invalid_response_action_view_is_reported(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    view_id = await _open_modal(standin)
    bad = {"type": "modal", "title": {"type": "plain_text", "text": "T" * 30}, "blocks": []}
    standin_receiver.reply = lambda req: web.json_response({"response_action": "update", "view": bad})
    result = await standin_driver.submit_view("U0ALICE", view_id, {})
    assert result.applied_error and "invalid_arguments" in result.applied_error
    assert standin.warnings and standin.workspace.view(view_id).view["title"]["text"] == "New ticket"


async def test_close_view_sends_view_closed_only_with_notify(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    view_id = await _open_modal(standin)
    result = await standin_driver.close_view("U0ALICE", view_id)
    assert result.delivered and standin_receiver.last.payload["type"] == "view_closed"
    assert standin_receiver.last.payload["view"]["id"] == view_id
    assert standin.workspace.open_views("U0ALICE") == []
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    quiet = {"type": "modal", "title": {"type": "plain_text", "text": "Q"}, "blocks": [{"type": "divider"}]}
    quiet_id = (await client.views_open(trigger_id=standin.issue_trigger_id("U0ALICE"), view=quiet))["view"][
        "id"
    ]
    silent = await standin_driver.close_view("U0ALICE", quiet_id)
    assert not silent.delivered and len(standin_receiver.requests) == 1


async def test_click_inside_view_updates_state(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    view_id = await _open_modal(standin)
    await standin_driver.click("U0ALICE", "value", view=view_id, block_id="priority", selected_option="p1")
    payload = standin_receiver.last.payload
    assert payload["container"] == {"type": "view", "view_id": view_id} and "response_url" not in payload
    assert payload["view"]["state"]["values"]["priority"]["value"]["selected_option"]["value"] == "p1"
    await standin_driver.submit_view("U0ALICE", view_id, {"summary": {"value": "x"}})
    submitted = standin_receiver.last.payload["view"]["state"]["values"]
    assert submitted["priority"]["value"]["selected_option"]["value"] == "p1"


async def test_shortcuts(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    posted = await standin_driver.post_message("U0CAROL", "C0CUST", "Can't print")
    result = await standin_driver.message_shortcut(
        "U0ALICE", "C0CUST", posted.ts or "", "ticket_from_message"
    )
    payload = standin_receiver.last.payload
    assert payload["type"] == "message_action" and payload["callback_id"] == "ticket_from_message"
    assert payload["message"]["text"] == "Can't print" and payload["message"]["user"] == "U0CAROL"
    assert payload["response_url"] == result.response_url and payload["trigger_id"] == result.trigger_id
    await standin_driver.global_shortcut("U0ALICE", "ticket_new")
    payload = standin_receiver.last.payload
    assert payload["type"] == "shortcut" and payload["callback_id"] == "ticket_new" and payload["trigger_id"]


async def test_echo_of_bot_posts_when_enabled(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    await client.chat_postMessage(channel="C0SUPPORT", text="silent by default")
    await asyncio.sleep(0.05)
    assert standin_receiver.requests == []
    standin.echo_events_to = standin_driver.deliver_event
    posted = await client.chat_postMessage(channel="C0SUPPORT", text="echoed")
    for _ in range(50):
        if standin_receiver.requests:
            break
        await asyncio.sleep(0.01)
    event = standin_receiver.last.json["event"]
    assert event["type"] == "message" and event["subtype"] == "bot_message"
    assert event["bot_id"] == "B0BOT" and event["ts"] == posted["ts"] and event["channel"] == "C0SUPPORT"


async def test_direct_message_to_the_bot(
    standin: SlackStandIn, standin_driver: SlackDriver, standin_receiver: BotReceiver
) -> None:
    result = await standin_driver.post_dm("U0CAROL", "hi, I need help")
    event = standin_receiver.last.json["event"]
    dm = standin.workspace.dm_channel("U0CAROL")
    assert dm is not None and event["channel"] == dm.id and event["channel_type"] == "im"
    assert [m.ts for m in standin.workspace.dm_messages("U0CAROL")] == [result.ts]


async def test_failed_echo_delivery_is_reported(standin: SlackStandIn) -> None:
    def broken_sink(event: dict) -> None:
        raise RuntimeError("bot is down")

    standin.echo_events_to = broken_sink
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    await client.chat_postMessage(channel="C0SUPPORT", text="hello")
    await asyncio.sleep(0.05)
    assert any("bot is down" in w for w in standin.warnings)
