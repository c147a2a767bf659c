"""views.open/push/update/publish with trigger ids, stacks, hashes and limits."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.standin import SlackStandIn


def _modal(title: str = "New ticket", **extra: object) -> dict:
    return {
        "type": "modal",
        "callback_id": "ticket_new",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "Summary"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


async def _error(coro) -> dict:
    with pytest.raises(SlackApiError) as err:
        await coro
    return err.value.response.data


async def test_views_open_creates_modal_for_trigger_user(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    trigger = standin.issue_trigger_id("U0ALICE")
    resp = await standin_client.views_open(trigger_id=trigger, view=_modal(private_metadata="INC-1"))
    view = resp["view"]
    assert view["id"].startswith("V") and view["type"] == "modal"
    assert view["callback_id"] == "ticket_new" and view["private_metadata"] == "INC-1"
    assert view["root_view_id"] == view["id"] and view["previous_view_id"] is None
    assert view["hash"] and view["app_installed_team_id"] == "T0HOME"
    [stored] = standin.workspace.open_views("U0ALICE")
    assert stored.id == view["id"] and standin.workspace.view(view["id"]).private_metadata == "INC-1"


async def test_trigger_ids_expire_are_single_use_and_must_exist(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    expired = standin.issue_trigger_id("U0ALICE")
    standin.expire_trigger(expired)
    assert (await _error(standin_client.views_open(trigger_id=expired, view=_modal())))["error"] == (
        "expired_trigger_id"
    )
    unknown = standin_client.views_open(trigger_id="123.456.abcdef", view=_modal())
    assert (await _error(unknown))["error"] == "invalid_trigger_id"
    trigger = standin.issue_trigger_id("U0ALICE")
    await standin_client.views_open(trigger_id=trigger, view=_modal())
    reused = standin_client.views_open(trigger_id=trigger, view=_modal())
    assert (await _error(reused))["error"] == "exchanged_trigger_id"


async def test_trigger_ttl_attribute_controls_expiry(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    standin.trigger_ttl = -1.0  # every trigger is already too old
    trigger = standin.issue_trigger_id("U0ALICE")
    assert (await _error(standin_client.views_open(trigger_id=trigger, view=_modal())))["error"] == (
        "expired_trigger_id"
    )


async def test_invalid_view_does_not_consume_trigger(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    trigger = standin.issue_trigger_id("U0ALICE")
    body = await _error(
        standin_client.views_open(trigger_id=trigger, view=_modal(title="A modal title that is too long"))
    )
    assert body["error"] == "invalid_arguments"
    assert (
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
        in (body["response_metadata"]["messages"])
    )
    ok = await standin_client.views_open(trigger_id=trigger, view=_modal())
    assert ok["ok"] is True


async def test_views_update_by_id_and_external_id_with_hash(
    standin: SlackStandIn, standin_client: AsyncWebClient
) -> None:
    opened = (
        await standin_client.views_open(
            trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal(external_id="ticket-1")
        )
    )["view"]
    updated = await standin_client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=_modal("Step 2")
    )
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    assert updated["view"]["title"]["text"] == "Step 2"
    stale = standin_client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal("Step 3"))
    assert (await _error(stale))["error"] == "hash_conflict"
    by_external = await standin_client.views_update(external_id="ticket-1", view=_modal("Step 3"))
    assert by_external["view"]["title"]["text"] == "Step 3"
    missing = standin_client.views_update(view_id="V0NOPE", view=_modal())
    assert (await _error(missing))["error"] == "not_found"


async def test_views_push_stack_and_limit(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    no_modal = standin_client.views_push(trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal())
    assert (await _error(no_modal))["error"] == "not_found"
    root = (await standin_client.views_open(trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal()))[
        "view"
    ]
    second = (
        await standin_client.views_push(trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal("2"))
    )["view"]
    assert second["root_view_id"] == root["id"] and second["previous_view_id"] == root["id"]
    await standin_client.views_push(trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal("3"))
    assert len(standin.workspace.open_views("U0ALICE")) == 3
    fourth = standin_client.views_push(trigger_id=standin.issue_trigger_id("U0ALICE"), view=_modal("4"))
    assert (await _error(fourth))["error"] == "push_limit_reached"


async def test_views_publish_home_tab(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "My tickets: 2"}}],
    }
    first = await standin_client.views_publish(user_id="U0ALICE", view=home)
    second = await standin_client.views_publish(user_id="U0ALICE", view=home, hash=first["view"]["hash"])
    assert second["view"]["id"] == first["view"]["id"]
    stored = standin.workspace.home_view("U0ALICE")
    assert stored is not None and "My tickets: 2" in standin.workspace.visible_strings(stored)
    wrong_type = standin_client.views_publish(user_id="U0ALICE", view=_modal())
    assert (await _error(wrong_type))["error"] == "invalid_arguments"
    stale = standin_client.views_publish(user_id="U0ALICE", view=home, hash=first["view"]["hash"])
    assert (await _error(stale))["error"] == "hash_conflict"


async def test_view_too_large(standin: SlackStandIn, standin_client: AsyncWebClient) -> None:
    big = _modal()
    big["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 99
    too_large = standin_client.views_open(trigger_id=standin.issue_trigger_id("U0ALICE"), view=big)
    assert (await _error(too_large))["error"] == "view_too_large"
