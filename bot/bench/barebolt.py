"""The bare-Bolt baseline: a minimal AsyncApp doing the bot's visible intake work, nothing else.

Run as `python -m bot.bench.barebolt`, configured like the bot (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_API_URL, HOST, PORT) plus BAREBOLT_CARD_CHANNEL (where the "card" goes) and
BAREBOLT_PROCESS_BEFORE_RESPONSE (1 = ack after the listener finished). It is served exactly like the bot:
aiohttp with Bolt's aiohttp adapter on POST /slack/events, and GET /healthz. For each top-level message of
a person it posts what the bot posts: a reply in the customer's thread, then a card in the card channel,
so the baseline does the same Web API calls, without a database, outbox or domain logic. `/escalate`
is acknowledged with a short text and nothing else (the baseline of the escalate benchmark).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

BOLT_KEY = web.AppKey("bolt", AsyncApp)
DEFAULT_CARD_CHANNEL = "C0L1"


def make_card_listener(card_channel: str) -> Callable[..., Awaitable[None]]:
    """A `message` listener: thread reply to the customer, then a card (with the text) in card_channel."""

    async def post_reply_and_card(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("subtype") or event.get("bot_id") or event.get("thread_ts"):
            return
        text = str(event.get("text") or "")
        await client.chat_postMessage(
            channel=event["channel"],
            thread_ts=event["ts"],
            text="Thanks, we received your request and will answer in this thread.",
        )
        await client.chat_postMessage(
            channel=card_channel,
            text=f"New request from <@{event.get('user')}>: {text[:200]}",
            unfurl_links=False,
        )

    return post_reply_and_card


async def ack_escalate_command(ack: AsyncAck, command: dict[str, Any]) -> None:
    """`/escalate KEY reason`: ack with a short text, nothing else (the escalate benchmark's baseline)."""
    key = str(command.get("text") or "").strip().partition(" ")[0] or "the ticket"
    await ack(text=f"Escalated {key} to L2.")


def build_barebolt(
    *,
    token: str,
    signing_secret: str,
    api_url: str,
    card_channel: str = DEFAULT_CARD_CHANNEL,
    process_before_response: bool = False,
) -> web.Application:
    """The aiohttp application serving a bare Bolt app on /slack/events and /healthz."""
    client = AsyncWebClient(token=token, base_url=api_url, timeout=10)
    bolt = AsyncApp(
        signing_secret=signing_secret,
        client=client,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
    )
    bolt.event("message")(make_card_listener(card_channel))
    bolt.command("/escalate")(ack_escalate_command)
    app = web.Application()
    app[BOLT_KEY] = bolt
    app.router.add_post("/slack/events", handle_slack_request)
    app.router.add_get("/healthz", handle_health)
    return app


async def handle_slack_request(request: web.Request) -> web.Response:
    """Hand the request to Bolt (which verifies the signature), as the bot's server does."""
    bolt_response = await request.app[BOLT_KEY].async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(bolt_response)


async def handle_health(request: web.Request) -> web.Response:
    """Always 200: there is nothing to be unhealthy about."""
    return web.json_response({"status": "ok"})


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def main() -> int:
    """Serve the baseline until SIGTERM/SIGINT."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    try:
        token, secret = os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"]
    except KeyError as exc:
        print(f"Configuration error: {exc.args[0]} is not set", file=sys.stderr)
        return 2
    api_url = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
    app = build_barebolt(
        token=token,
        signing_secret=secret,
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        card_channel=os.environ.get("BAREBOLT_CARD_CHANNEL", DEFAULT_CARD_CHANNEL),
        process_before_response=_flag("BAREBOLT_PROCESS_BEFORE_RESPONSE"),
    )
    web.run_app(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "3000")),
        access_log=None,
        print=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
