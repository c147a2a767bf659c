"""The aiohttp server: Bolt endpoint, health; start-up and shutdown of database, sender and Slack identity."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import db
from bot.app import build_app
from bot.clock import Clock
from bot.collector import CollectorGuard
from bot.flows import home as home_flows
from bot.flows import kb as kb_flows
from bot.flows.delivery import DeliveryFailureNotices
from bot.flows.inbox import InboundSpool, resume_pending
from bot.logs import EVENT_ID, REQUEST_ID, new_request_id
from bot.metrics import CONTENT_TYPE, BotMetrics
from bot.runtime import Runtime
from bot.scheduler import BotScheduler
from bot.slack.outbox import OutboxSender
from config.settings import RunMode, Settings
from config.support import SupportConfig

log = logging.getLogger(__name__)

RUNTIME_KEY = web.AppKey("runtime", Runtime)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
STATE_KEY = web.AppKey("state", dict)
METRICS_KEY = web.AppKey("metrics", BotMetrics)


@dataclass
class BotParts:
    """What build_bot made: the aiohttp app to serve, the Bolt app and the runtime."""

    web_app: web.Application
    bolt: AsyncApp
    runtime: Runtime


def build_client(settings: Settings, token: str) -> AsyncWebClient:
    """The one Web API client: every call goes to SLACK_API_URL."""
    return AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10)


def build_bot(
    settings: Settings,
    config: SupportConfig,
    *,
    clock: Clock | None = None,
    token: str | None = None,
    signing_secret: str | None = None,
) -> BotParts:
    """Assemble runtime, Bolt app and aiohttp app (nothing is started)."""
    token = token or settings.slack_bot_token or ""
    signing_secret = signing_secret or settings.slack_signing_secret or ""
    clock = clock or Clock()
    client = build_client(settings, token)
    sender_client = AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=settings.outbox_send_timeout
    )
    sender = OutboxSender(
        sender_client,
        clock=clock,
        uncertain_grace=settings.outbox_uncertain_grace,
        rate=settings.outbox_channel_rate,
        burst=settings.outbox_channel_burst,
        workers=settings.outbox_workers,
    )
    rt = Runtime(
        settings=settings,
        config=config,
        clock=clock,
        client=client,
        sender=sender,
        signing_secret=signing_secret,
    )
    rt.spool = InboundSpool(rt)
    # A message Slack refuses for good (channel gone, archived, bot not in it): the level channel is told.
    sender.on_permanent_failure = DeliveryFailureNotices(rt)
    bolt = build_app(rt, signing_secret=signing_secret)
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[RUNTIME_KEY] = rt
    web_app[BOLT_KEY] = bolt
    web_app[STATE_KEY] = {"accepting": True, "started": time.time()}
    horizon = config.sla.overview.horizon_delta if config.sla.overview.horizon else timedelta(hours=4)
    web_app[METRICS_KEY] = BotMetrics(clock=clock, horizon=horizon)
    web_app.router.add_post("/slack/events", handle_slack_request)
    web_app.router.add_get("/healthz", handle_health)
    web_app.router.add_get("/metrics", handle_metrics)
    web_app.on_startup.append(_on_startup)
    web_app.on_cleanup.append(_on_cleanup)
    return BotParts(web_app=web_app, bolt=bolt, runtime=rt)


async def handle_slack_request(request: web.Request) -> web.Response:
    """Events, slash commands and interactivity, all through Bolt; with a request id (logs, X-Request-Id)
    and counted in the metrics with the time to the answer (the ack)."""
    started = time.perf_counter()
    request_id = new_request_id()
    token = REQUEST_ID.set(request_id)
    try:
        response, body = await _dispatch(request)
    finally:
        REQUEST_ID.reset(token)
    elapsed = time.perf_counter() - started
    request.app[METRICS_KEY].observe_request(body, status=response.status, seconds=elapsed)
    response.headers["X-Request-Id"] = request_id
    return response


async def _dispatch(request: web.Request) -> tuple[web.Response, dict | None]:
    if not request.app[STATE_KEY]["accepting"]:
        return web.Response(status=503, text="shutting down"), None
    # The signature is checked here, on the raw bytes, before Bolt parses anything: Bolt parses the body first
    # (a body that is not UTF-8 raised there) and its own check raised on a timestamp that is not a number.
    # Slack's contract: 401 for anything not correctly signed, 400 for a signed body that cannot be parsed.
    raw = await request.read()
    if not is_signed(request.app[RUNTIME_KEY].signing_secret, raw, request.headers, now=time.time()):
        return web.Response(status=401, text="invalid signature"), None
    try:
        bolt_request = await to_bolt_request(request)
    except Exception:  # noqa: BLE001 - any body Bolt cannot parse (bad JSON, not UTF-8, a list …)
        return web.Response(status=400, text="malformed request body"), None
    parsed = bolt_request.body if isinstance(bolt_request.body, dict) else None
    if parsed is None or misshapen(parsed):
        return web.Response(status=400, text="malformed request payload"), parsed
    event_token = EVENT_ID.set(str(parsed["event_id"])[:64] if parsed and parsed.get("event_id") else None)
    try:
        bolt_response = await request.app[BOLT_KEY].async_dispatch(bolt_request)
    except Exception:  # Bolt's matchers can fail on a signed payload of the wrong shape: 400, never a 5xx
        log.exception("could not dispatch a request; answered 400")
        return web.Response(status=400, text="malformed request payload"), parsed
    finally:
        EVENT_ID.reset(event_token)
    return await to_aiohttp_response(bolt_response), parsed


# Ids that Bolt's listener matchers compare; Slack always sends them as strings.
ID_FIELDS = ("command", "callback_id", "action_id", "block_id")


def misshapen(body: dict) -> bool:
    """A signed payload whose structure Slack never sends and Bolt cannot route: an event or a view that is not
    an object with a `type`, actions that are not a list of objects, an id (command, callback_id, action_id,
    block_id) that is there but not a string. Bolt's own matchers, authorization and error handler index into
    them (`body["view"]["type"]`, `body["event"]["type"]`) or match them against our patterns
    (`bot.slack.ids.any_of`) and would raise before any listener runs; they get the 400 of any signed but
    unparseable body."""
    for key in ("event", "view"):
        if key in body and not (isinstance(body[key], dict) and isinstance(body[key].get("type"), str)):
            return True
    actions = body.get("actions")
    if "actions" in body and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        return True
    holders = [body, body.get("view") or {}, *(actions or [])]
    return any(not isinstance(h.get(key, ""), str) for h in holders for key in ID_FIELDS)


def is_signed(secret: str, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
    """Slack's request signature over the raw bytes (the body need not be UTF-8, nor the headers sane):
    `v0=` + HMAC-SHA256(secret, `v0:{timestamp}:{body}`), with a timestamp within 5 minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not secret or not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > 300:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "replace"))


async def handle_metrics(request: web.Request) -> web.Response:
    """Prometheus text format (docs/operations.md lists the metrics)."""
    body = await request.app[METRICS_KEY].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def handle_health(request: web.Request) -> web.Response:
    """200 with JSON when the database answers, 503 otherwise."""
    rt = request.app[RUNTIME_KEY]
    database = await db.database_ok()
    body = {
        "status": "ok" if database else "unhealthy",
        "database": "ok" if database else "unreachable",
        "slack_api": rt.settings.slack_api_url,
        "team": rt.home_team_id,
        "uptime_seconds": round(time.time() - request.app[STATE_KEY]["started"], 1),
    }
    return web.json_response(body, status=200 if database else 503)


async def _on_startup(app: web.Application) -> None:
    rt = app[RUNTIME_KEY]
    # One pooled HTTP session for all Web API calls (slack_sdk otherwise connects anew for every call).
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300))
    app[STATE_KEY]["session"] = session
    rt.client.session = session
    rt.sender.client.session = session
    await db.init_db(rt.settings.database_url, migrate=rt.settings.migrate_on_start)
    db.GATE.mark_up()  # it just answered
    await identify(rt)
    await resume_pending(rt, older_than=timedelta(seconds=0))
    await rt.sender.start()
    await rt.spool.start()
    app[STATE_KEY]["scheduler"] = scheduler = BotScheduler(rt)
    await scheduler.start()
    if rt.settings.gc_freeze:  # the collector's full passes skip start-up's objects and a burst's backlog
        app[STATE_KEY]["collector"] = collector = CollectorGuard(rt.after_ack.waiting)
        collector.start()


async def _on_cleanup(app: web.Application) -> None:
    rt = app[RUNTIME_KEY]
    deadline = app[STATE_KEY].get("deadline") or time.monotonic() + rt.settings.shutdown_grace_seconds

    def left() -> float:  # what is left of the one grace period (a moment at least, to finish cleanly)
        return max(0.5, deadline - time.monotonic())

    if (scheduler := app[STATE_KEY].get("scheduler")) is not None:
        await scheduler.stop(grace=left())
    await kb_flows.stop(rt)
    await home_flows.stop(rt)
    await rt.spool.stop()
    await rt.sender.stop(grace=left())
    await db.close_db()
    if (collector := app[STATE_KEY].get("collector")) is not None:
        await collector.stop()
    session = app[STATE_KEY].get("session")
    if session is not None:
        await session.close()


async def identify(rt: Runtime, attempts: int = 5) -> None:
    """Learn the bot's own team, user and workspace URL (auth.test), retrying while Slack is unreachable."""
    for attempt in range(attempts):
        try:
            response = await rt.client.auth_test()
            rt.home_team_id = response.get("team_id")
            rt.bot_user_id = response.get("user_id")
            rt.bot_id = response.get("bot_id")
            rt.workspace_url = response.get("url")
            return
        except Exception as exc:  # noqa: BLE001 - logged and retried; the last failure is raised
            if attempt == attempts - 1:
                raise
            log.warning("auth.test failed (%s); retrying", exc)
            await asyncio.sleep(min(5.0, 0.5 * 2**attempt))


async def serve(parts: BotParts, settings: Settings) -> None:
    """Serve HTTP (and Socket Mode when configured) until SIGTERM/SIGINT, then shut down cleanly."""
    # In-flight HTTP requests only wait for their ack (at most Slack's 3 s); the work after the ack is what
    # Runtime.wait_for_work waits for.
    runner = web.AppRunner(
        parts.web_app, handle_signals=False, shutdown_timeout=min(3.0, settings.shutdown_grace_seconds)
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    socket_handler = None
    if settings.mode == RunMode.SOCKET:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        try:
            await check_app_token(parts.runtime, settings.slack_app_token or "")
        except BaseException:
            await runner.cleanup()
            raise
        socket_handler = AsyncSocketModeHandler(parts.bolt, settings.slack_app_token)
        await socket_handler.connect_async()
    log.info("bot listening on http://%s:%s (mode: %s)", settings.host, settings.port, settings.mode.value)
    await stop.wait()
    log.info(
        "shutting down: no new requests, finishing in-flight work (up to %ss)",
        settings.shutdown_grace_seconds,
    )
    parts.web_app[STATE_KEY]["accepting"] = False
    parts.runtime.begin_stopping()  # work still waiting for its turn is not started (commands are told so)
    if socket_handler is not None:
        with contextlib.suppress(Exception):
            await socket_handler.close_async()
    # One grace period for the whole shutdown: listeners, then the scheduler and the outbox get what is left.
    deadline = time.monotonic() + settings.shutdown_grace_seconds
    parts.web_app[STATE_KEY]["deadline"] = deadline
    await parts.runtime.wait_for_work(deadline)
    await runner.cleanup()
    log.info("stopped")


class AppTokenError(RuntimeError):
    """Slack refused the app-level token (Socket Mode cannot connect)."""


async def check_app_token(rt: Runtime, app_token: str) -> None:
    """Open one Socket Mode connection URL up front, so a bad SLACK_APP_TOKEN stops the bot with a clear error
    (slack_sdk's client would otherwise retry forever)."""
    client = AsyncWebClient(token=app_token, base_url=rt.settings.slack_api_url, timeout=10)
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in (
            "invalid_auth",
            "not_authed",
            "not_allowed_token_type",
            "token_revoked",
            "account_inactive",
        ):
            raise AppTokenError(
                f"SLACK_APP_TOKEN was refused by Slack ({error}): create an app-level token with the "
                "connections:write scope (Basic Information > App-Level Tokens)"
            ) from None
        raise
