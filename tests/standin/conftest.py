"""Fixtures for the Slack stand-in's own tests (all prefixed `standin_`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn, Workspace

STANDIN_TOKEN = "xoxb-standin-test"
STANDIN_SIGNING_SECRET = "standin-signing-secret"

Reply = Callable[["ReceivedRequest"], Awaitable[web.StreamResponse] | web.StreamResponse]


@dataclass
class ReceivedRequest:
    """One request the fake bot received."""

    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    payload: Any = None


@dataclass
class BotReceiver:
    """A tiny bot endpoint: verifies Slack signatures like Bolt does and records every request."""

    url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    reply: Reply | None = None

    @property
    def last(self) -> ReceivedRequest:
        """The most recent request."""
        return self.requests[-1]


@pytest.fixture
def standin_workspace() -> Workspace:
    """Home team with agents, a customer team, internal/private/Connect/archived channels."""
    ws = Workspace.create(home_team_id="T0HOME", bot_user_id="U0BOT", bot_id="B0BOT", team_name="Home IT")
    ws.add_team("T0CUST", name="Customer Co")
    ws.add_user("U0ALICE", name="alice", real_name="Alice Agent", tz="Europe/Berlin")
    ws.add_user("U0LENA", name="lena", real_name="Lena Schulz", is_admin=True)
    ws.add_user("U0CAROL", team_id="T0CUST", name="carol", real_name="Carol Customer")
    ws.add_user("U0DAVE", team_id="T0CUST", name="dave", real_name="Dave Stranger")
    ws.add_channel("C0SUPPORT", "it-support", members=["U0BOT", "U0ALICE", "U0LENA"])
    ws.add_channel("C0L3", "l3-internal", members=["U0BOT", "U0ALICE", "U0LENA"], is_private=True)
    ws.add_channel(
        "C0CUST", "ext-customer-co", members=["U0BOT", "U0ALICE", "U0CAROL"], ext_shared_with=["T0CUST"]
    )
    ws.add_channel("C0RANDOM", "random", members=["U0ALICE", "U0CAROL"])
    ws.add_channel("C0SECRET", "secret", members=["U0ALICE"], is_private=True)
    ws.add_channel("C0OLD", "old-support", members=["U0BOT", "U0ALICE"], is_archived=True)
    return ws


@pytest.fixture
async def standin(standin_workspace: Workspace) -> AsyncIterator[SlackStandIn]:
    """A running stand-in on a free local port."""
    si = SlackStandIn(standin_workspace, bot_token=STANDIN_TOKEN)
    await si.start()
    yield si
    await si.stop()


@pytest.fixture
def standin_client(standin: SlackStandIn) -> AsyncWebClient:
    """slack_sdk's real AsyncWebClient pointed at the stand-in."""
    return AsyncWebClient(token=STANDIN_TOKEN, base_url=standin.api_url, timeout=5)


@pytest.fixture
async def standin_receiver() -> AsyncIterator[BotReceiver]:
    """A fake bot endpoint at /slack/events that checks signatures (401 when invalid)."""
    receiver = BotReceiver()
    verifier = SignatureVerifier(STANDIN_SIGNING_SECRET)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        got = ReceivedRequest(headers, body, verifier.is_valid_request(body, headers))
        if request.content_type == "application/json":
            got.json = await request.json()
        else:
            got.form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            if "payload" in got.form:
                got.payload = json.loads(got.form["payload"])
        receiver.requests.append(got)
        if not got.signature_valid:
            return web.Response(status=401, text="invalid signature")
        if receiver.reply is not None:
            answer = receiver.reply(got)
            return await answer if not isinstance(answer, web.StreamResponse) else answer
        return web.Response(status=200, text="")

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/slack/events"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def standin_driver(standin: SlackStandIn, standin_receiver: BotReceiver) -> AsyncIterator[SlackDriver]:
    """A driver signing with the receiver's secret."""
    driver = SlackDriver(standin, standin_receiver.url, STANDIN_SIGNING_SECRET, app_id="A0BOT")
    yield driver
    await driver.close()
