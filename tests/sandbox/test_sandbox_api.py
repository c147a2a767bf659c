"""The sandbox page's HTTP API: the bot reached through signed requests, what each person sees, live updates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox.demo import ACME_CHANNEL, GLOBEX_CHANNEL, L1_CHANNEL, L2_CHANNEL, L3_BILLING, L3_CHANNEL
from bot.sandbox.runner import BANNER, Sandbox, SandboxError
from tests.sandbox import PageClient, eventually, start_sandbox, texts

JO, KIM, MAX = "U0ACMEJO", "U0ACMEKIM", "U0GLOBMAX"
ANNA, BEN, CARL, DORA, LENA = "U0L1ANNA", "U0L1BEN", "U0L2CARL", "U0L3DORA", "U0LEAD"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A running sandbox with fresh demo data."""
    sb = await start_sandbox(tmp_path / "data")
    try:
        yield sb
    finally:
        await sb.stop()
    assert sb.standin is not None
    sb.standin.assert_no_leaks()


@pytest.fixture
async def page(sandbox: Sandbox) -> AsyncIterator[PageClient]:
    """The page's API client."""
    async with aiohttp.ClientSession() as session:
        yield PageClient(session, sandbox.url)


def channel_names(state: dict[str, Any]) -> set[str]:
    return {c["name"] for c in state["channels"]}


async def customer_ticket(page: PageClient, text: str = "Our VPN drops every 10 minutes") -> dict[str, Any]:
    """Jo posts a problem; returns Anna's view of #support-l1 once the card is there."""
    sent = await page.act("post", JO, channel=ACME_CHANNEL, text=text)
    assert sent["_status"] == 200 and sent["status"] == 200, sent
    return await eventually(
        lambda: page.state(ANNA, L1_CHANNEL),
        lambda s: bool(s["channel"]["messages"]),
        what="the ticket card in #support-l1",
    )


async def test_page_is_served_locally_with_the_simulation_banner(sandbox: Sandbox, page: PageClient) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    async with page.session.get(sandbox.url + "/") as resp:
        html = await resp.text()
    assert resp.status == 200 and "Local sandbox — nothing here reaches Slack" in html
    async with page.session.get(sandbox.url + "/static/app.js") as resp:
        assert resp.status == 200 and "function mrkdwn" in await resp.text()
    # the stand-in's Web API is mounted on the same server
    async with page.session.post(sandbox.url + "/api/auth.test") as resp:
        assert (await resp.json())["error"] == "not_authed"


async def test_each_person_sees_only_their_channels(page: PageClient) -> None:
    jo, maxi, anna = await page.state(JO), await page.state(MAX), await page.state(ANNA)
    carl, dora, lena = await page.state(CARL), await page.state(DORA), await page.state(LENA)
    assert channel_names(jo) == {"acme-support"}
    assert channel_names(maxi) == {"globex-support"}
    assert channel_names(anna) == {"support-l1", "team-lounge", "acme-support", "globex-support"}
    assert {"support-l2", "support-l3", "l3-billing"} <= channel_names(carl)
    assert channel_names(dora) == {"support-l3", "l3-billing", "team-lounge"}
    assert {"support-l1", "support-l2", "support-l3", "l3-billing", "l3-network"} <= channel_names(lena)
    assert jo["me"]["external"] and jo["me"]["team_name"] == "Acme Corp" and not anna["me"]["external"]
    # a channel the person is not in cannot be read or written
    refused = await page.state(JO, L1_CHANNEL)
    assert refused["_status"] == 403 and "not a member" in refused["error"]
    assert (await page.state(MAX, ACME_CHANNEL))["_status"] == 403
    assert (await page.state(DORA, L2_CHANNEL))["_status"] == 403
    posted = await page.act("post", JO, channel=GLOBEX_CHANNEL, text="peeking")
    assert posted["_status"] == 403


async def test_customer_message_becomes_a_card_the_l1_agent_sees(page: PageClient) -> None:
    anna = await customer_ticket(page, "Printer on floor 3 is offline")
    card = anna["channel"]["messages"][0]
    assert card.get("bot_id") and "SUP-1" in texts([card]) and "Printer on floor 3" in texts([card])
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"card.claim", "card.escalate"} <= {b["action_id"] for b in buttons}
    # the customer gets the acknowledgement in their thread; the customer never sees the L1 channel
    jo = await page.state(JO, ACME_CHANNEL)
    root = jo["channel"]["messages"][0]
    thread = await eventually(
        lambda: page.state(JO, ACME_CHANNEL, root["ts"]),
        lambda s: bool(s["thread"]["replies"]),
        what="the acknowledgement in the customer's thread",
    )
    assert "SUP-1" in texts(thread["thread"]["replies"])
    # internal people who are not in #support-l1 do not see the card
    assert (await page.state(DORA, L1_CHANNEL))["_status"] == 403


async def test_ephemerals_are_shown_only_to_their_person(page: PageClient) -> None:
    await customer_ticket(page)
    answer = await page.act("command", ANNA, channel=L1_CHANNEL, command="/ticket", text="SUP-1")
    assert answer["_status"] == 200 and answer["status"] == 200
    anna = await eventually(
        lambda: page.state(ANNA, L1_CHANNEL),
        lambda s: bool(s["channel"]["ephemerals"]),
        what="Anna's ephemeral",
    )
    assert "SUP-1" in texts(anna["channel"]["ephemerals"])
    for other in (BEN, CARL, LENA):
        assert (await page.state(other, L1_CHANNEL))["channel"]["ephemerals"] == []
    # dismissing it hides it for Anna (Slack does not tell the app)
    dismissed = await page.act("dismiss", ANNA, ts=anna["channel"]["ephemerals"][0]["ts"])
    assert dismissed["_status"] == 200
    assert (await page.state(ANNA, L1_CHANNEL))["channel"]["ephemerals"] == []


async def test_slash_command_answer_for_a_customer_in_the_shared_channel(page: PageClient) -> None:
    answer = await page.act("command", JO, channel=ACME_CHANNEL, command="/ticket", text="help")
    assert answer["status"] == 200
    jo = await eventually(
        lambda: page.state(JO, ACME_CHANNEL), lambda s: bool(s["channel"]["ephemerals"]), what="the help text"
    )
    assert "/ticket" in texts(jo["channel"]["ephemerals"])
    assert (await page.state(KIM, ACME_CHANNEL))["channel"]["ephemerals"] == []


async def test_unknown_commands_and_bad_requests_are_refused_with_a_reason(page: PageClient) -> None:
    unknown = await page.act("command", ANNA, channel=L1_CHANNEL, command="/nope", text="")
    assert unknown["_status"] == 400 and "not a valid command" in unknown["error"]
    nobody = await page.act("post", "U0NOBODY", channel=L1_CHANNEL, text="hi")
    assert nobody["_status"] == 404 and "unknown person" in nobody["error"]
    empty = await page.act("post", ANNA, channel=L1_CHANNEL, text="   ")
    assert empty["_status"] == 400
    async with page.session.post(f"{page.url}/sandbox/post", data="as=U0L1ANNA&text=x") as resp:
        assert resp.status == 415  # only JSON: a cross-site form cannot post as someone
    headers = {"Origin": "https://evil.example"}
    async with page.session.post(f"{page.url}/sandbox/post", json={"as": ANNA}, headers=headers) as resp:
        assert resp.status == 403


async def test_requests_for_a_foreign_host_name_are_refused(sandbox: Sandbox, page: PageClient) -> None:
    async with page.session.get(f"{sandbox.url}/sandbox/state", headers={"Host": "attacker.example"}) as resp:
        assert resp.status == 403


async def test_the_event_stream_announces_changes(sandbox: Sandbox, page: PageClient) -> None:
    async with page.session.get(f"{sandbox.url}/sandbox/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")

        async def next_version() -> int:
            while True:
                line = (await stream.content.readline()).decode()
                if line.startswith("data: "):
                    return int(json.loads(line[6:])["version"])

        first = await asyncio.wait_for(next_version(), 5)
        await page.act("post", JO, channel=ACME_CHANNEL, text="Mailbox full")
        later = await asyncio.wait_for(next_version(), 5)
        assert later > first
        # the bot's own posts (the card) are announced too, without any page action: keep listening
        # until an announcement arrives after which the card is there (bursts are coalesced)
        for _ in range(50):
            if (await page.state(ANNA, L1_CHANNEL))["channel"]["messages"]:
                break
            await asyncio.wait_for(next_version(), 10)
        else:
            raise AssertionError("no change was announced after the bot posted the card")


async def test_card_button_reaches_the_bot_as_signed_block_actions(
    sandbox: Sandbox, page: PageClient
) -> None:
    anna = await customer_ticket(page)
    card = anna["channel"]["messages"][0]
    assert sandbox.standin is not None
    calls_before = len(sandbox.standin.calls)
    block, claim = next(
        (b, e)
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "card.claim"
    )
    answer = await page.act(
        "click", ANNA, channel=L1_CHANNEL, ts=card["ts"], action_id="card.claim", block_id=block["block_id"],
        value=claim.get("value"),
    )  # fmt: skip
    assert answer["_status"] == 200 and answer["status"] == 200 and "notice" not in answer
    # the bot verified the signature and answered through the Web API / response_url
    writes = await eventually(
        lambda: _writes_after(sandbox, calls_before), bool, what="the bot's answer to the click"
    )
    assert writes
    # a button nobody can see cannot be clicked
    missing = await page.act("click", ANNA, channel=L1_CHANNEL, ts=card["ts"], action_id="nope", block_id="x")
    assert missing["_status"] == 403 and "no element" in missing["error"]


async def _writes_after(sandbox: Sandbox, index: int) -> list[str]:
    assert sandbox.standin is not None
    reads = {
        "auth.test",
        "users.info",
        "conversations.history",
        "conversations.replies",
        "conversations.info",
    }
    return [c.method for c in sandbox.standin.calls[index:] if c.method not in reads]


async def test_shortcut_opens_a_modal_with_field_errors_then_creates_the_ticket(page: PageClient) -> None:
    posted = await page.act("post", ANNA, channel=ACME_CHANNEL, text="Reminder: Jo's laptop needs a new disk")
    shortcut = await page.act(
        "shortcut", ANNA, callback_id="create_support_ticket", channel=ACME_CHANNEL, ts=posted["ts"]
    )
    assert shortcut["status"] == 200
    anna = await eventually(lambda: page.state(ANNA), lambda s: s["modal"] is not None, what="the modal")
    view = anna["modal"]["view"]
    assert view["title"]["text"] == "Create support ticket"
    assert (await page.state(JO))["modal"] is None  # only the person who ran the shortcut sees it
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    text_block = next(k for k, e in inputs.items() if e["type"] == "plain_text_input")
    text_action = inputs[text_block]["action_id"]

    refused = await page.act("submit", ANNA, view_id=view["id"], values={text_block: {text_action: "   "}})
    assert refused["response_action"] == "errors" and text_block in refused["errors"]
    shown = await page.state(ANNA)
    assert shown["modal"]["view"]["id"] == view["id"] and text_block in shown["modal"]["errors"]

    done = await page.act(
        "submit", ANNA, view_id=view["id"], values={text_block: {text_action: "Disk failing"}}
    )
    assert done["status"] == 200 and not done["errors"]
    assert (await page.state(ANNA))["modal"] is None
    l1 = await eventually(
        lambda: page.state(ANNA, L1_CHANNEL), lambda s: bool(s["channel"]["messages"]), what="the card"
    )
    assert "Disk failing" in texts(l1["channel"]["messages"])


async def test_closing_a_modal_removes_it(page: PageClient) -> None:
    posted = await page.act("post", ANNA, channel=ACME_CHANNEL, text="Need a new badge")
    await page.act(
        "shortcut", ANNA, callback_id="create_support_ticket", channel=ACME_CHANNEL, ts=posted["ts"]
    )
    anna = await eventually(lambda: page.state(ANNA), lambda s: s["modal"] is not None, what="the modal")
    closed = await page.act("close", ANNA, view_id=anna["modal"]["view"]["id"])
    assert closed["_status"] == 200 and (await page.state(ANNA))["modal"] is None


async def test_ticket_reaction_is_recorded_and_answered_privately(page: PageClient) -> None:
    posted = await page.act("post", ANNA, channel=ACME_CHANNEL, text="FYI: Kim cannot print")
    reacted = await page.act("react", ANNA, channel=ACME_CHANNEL, ts=posted["ts"], name="ticket")
    assert reacted["status"] == 200
    anna = await eventually(
        lambda: page.state(ANNA, ACME_CHANNEL), lambda s: bool(s["channel"]["ephemerals"]), what="the reply"
    )
    message = next(m for m in anna["channel"]["messages"] if m["ts"] == posted["ts"])
    assert message["reactions"] == [{"name": "ticket", "users": [ANNA], "count": 1}]
    assert "SUP-" in texts(anna["channel"]["ephemerals"])
    assert (await page.state(JO, ACME_CHANNEL))["channel"]["ephemerals"] == []
    again = await page.act("react", ANNA, channel=ACME_CHANNEL, ts=posted["ts"], name="ticket")
    assert again["notice"] == "You already reacted with that emoji."


async def test_thread_reply_from_the_customer_is_mirrored_to_the_card_thread(page: PageClient) -> None:
    await customer_ticket(page, "Cannot log in to the portal")
    root = (await page.state(JO, ACME_CHANNEL))["channel"]["messages"][0]
    reply = await page.act(
        "post", JO, channel=ACME_CHANNEL, text="Error 403 since this morning", thread_ts=root["ts"]
    )
    assert reply["status"] == 200
    card = (await page.state(ANNA, L1_CHANNEL))["channel"]["messages"][0]
    mirrored = await eventually(
        lambda: page.state(ANNA, L1_CHANNEL, card["ts"]),
        lambda s: "Error 403" in texts(s["thread"]["replies"]),
        what="the mirrored reply",
    )
    assert mirrored["thread"]["parent"]["ts"] == card["ts"]


async def test_app_home_opened_reaches_the_bot_and_opens_the_dm(sandbox: Sandbox, page: PageClient) -> None:
    answer = await page.act("home", LENA, tab="home")
    assert answer["status"] == 200 and answer["dm"]
    lena = await page.state(LENA)
    assert lena["app"]["dm"] == answer["dm"] and lena["app"]["name"]
    assert (await page.state(LENA, answer["dm"]))["_status"] == 200
    assert (await page.state(ANNA, answer["dm"]))["_status"] == 403  # someone else's DM with the app


async def test_workspace_survives_a_restart_and_reset_clears_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start_sandbox(data)
    try:
        async with aiohttp.ClientSession() as session:
            await customer_ticket(PageClient(session, first.url), "Laptop will not boot")
    finally:
        await first.stop()
    assert (data / "sandbox.sqlite3").exists() and (data / "sandbox-workspace.json").exists()

    second = await start_sandbox(data)
    try:
        async with aiohttp.ClientSession() as session:
            page = PageClient(session, second.url)
            l1 = await page.state(ANNA, L1_CHANNEL)
            assert "Laptop will not boot" in texts(l1["channel"]["messages"])
            # the bot's database was kept with it: the next ticket is SUP-2, and /ticket SUP-1 still works
            await page.act("post", MAX, channel=GLOBEX_CHANNEL, text="Drucker druckt nicht")
            l1 = await eventually(
                lambda: page.state(ANNA, L1_CHANNEL),
                lambda s: len(s["channel"]["messages"]) == 2,
                what="card 2",
            )
            assert "SUP-2" in texts(l1["channel"]["messages"][1:])
    finally:
        await second.stop()

    third = await start_sandbox(data, reset=True)
    try:
        async with aiohttp.ClientSession() as session:
            page = PageClient(session, third.url)
            assert (await page.state(ANNA, L1_CHANNEL))["channel"]["messages"] == []
            await customer_ticket(page, "Fresh start")
            assert "SUP-1" in texts((await page.state(ANNA, L1_CHANNEL))["channel"]["messages"])
    finally:
        await third.stop()


async def test_saved_data_the_bot_cannot_use_gives_a_hint_to_reset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start_sandbox(data)
    await first.stop()
    with sqlite3.connect(data / "sandbox.sqlite3") as db:  # as if saved by an older bot without this table
        db.execute("DROP TABLE inbound_events")
    with pytest.raises(SandboxError, match="--reset"):
        await start_sandbox(data)
    fresh = await start_sandbox(data, reset=True)
    await fresh.stop()


async def test_a_corrupt_database_file_means_a_fresh_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start_sandbox(data)
    await first.stop()
    (data / "sandbox.sqlite3").write_bytes(b"not a database " * 100)
    second = await start_sandbox(data)
    try:
        async with aiohttp.ClientSession() as session:
            await customer_ticket(PageClient(session, second.url))
    finally:
        await second.stop()


async def test_three_level_channels_exist_for_the_people_who_work_there(page: PageClient) -> None:
    carl = await page.state(CARL, L2_CHANNEL)
    dora = await page.state(DORA, L3_BILLING)
    lena = await page.state(LENA, L3_CHANNEL)
    assert carl["channel"]["kind"] == "channel" and dora["channel"]["name"] == "l3-billing"
    assert lena["channel"]["name"] == "support-l3" and "lead" in lena["hint"]
    acme = await page.state(ANNA, ACME_CHANNEL)
    assert acme["channel"]["kind"] == "shared" and acme["channel"]["shared_with"] == ["Acme Corp"]


async def _run_cli(tmp_path: Path, *args: str) -> None:
    """Start `python -m bot ARGS` without Slack settings, check the page, stop it with SIGINT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(PORT="0", PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        prefix, _, rest = BANNER.partition("{url}")
        assert line.startswith(prefix) and line.endswith(rest.removeprefix("/")), line
        url = line.removeprefix(prefix).split("/ ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(url + "/sandbox/state") as resp:
            assert resp.status == 200 and (await resp.json())["ready"] is True
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (tmp_path / "data" / "sandbox.sqlite3").exists()
    assert (tmp_path / "data" / "sandbox-workspace.json").exists()


async def test_cli_sandbox_command_prints_the_url_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    await _run_cli(tmp_path, "sandbox", "--reset")


async def test_cli_without_slack_settings_starts_the_sandbox(tmp_path: Path) -> None:
    await _run_cli(tmp_path)
