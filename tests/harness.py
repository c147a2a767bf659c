"""A running bot wired to the Slack stand-in over real HTTP, for scenario tests and benchmarks."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.clock import Clock
from bot.runtime import Runtime
from bot.sandbox.demo import build_demo_workspace, demo_support_raw
from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import SlackStandIn, Workspace
from bot.server import BotParts, build_bot
from config.settings import Settings
from config.support import parse_support_config
from models import InboundEvent, OutboxMessage, OutboxStatus

TOKEN = "xoxb-test-0000-harness"
SIGNING_SECRET = "harness-signing-secret-0123456789"
APP_TOKEN = "xapp-1-A0BOT-0000-harness"


@dataclass
class CommandAnswer:
    """What a person saw after a slash command: the HTTP status and ack time, and every answer's text."""

    status: int | None
    elapsed: float
    text: str
    raw: Any


@dataclass
class Harness:
    """The stand-in, the bot (served on a real port) and a signed driver pointed at it."""

    standin: SlackStandIn
    ws: Workspace
    parts: BotParts
    runner: web.AppRunner
    driver: SlackDriver
    bot_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rt(self) -> Runtime:
        """The bot's runtime."""
        return self.parts.runtime

    async def settle(self, limit: float = 15.0) -> None:
        """Wait until every acknowledged request is processed and the outbox has nothing due."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            tasks = self.rt.background_work()
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.01, deadline - time.monotonic()))
                continue
            await self.rt.sender.drain(limit=max(0.1, deadline - time.monotonic()))
            if not self.rt.background_work() and not await self._due():
                return
        raise TimeoutError("the bot did not settle in time")

    async def _due(self) -> bool:
        now = self.rt.clock.now()
        return await OutboxMessage.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now).exists()

    async def command(self, user: str, channel: str, command: str, text: str = "") -> CommandAnswer:
        """Run a slash command like a person and return what they were shown (ack body and later answers)."""
        before = len(self.ws.ephemerals_for(user))
        result = await self.driver.slash_command(user, channel, command, text)
        await self.settle()
        shown = self.ws.ephemerals_for(user)[before:]
        texts = ["\n".join([e.text, *self.ws.visible_strings(e)]) for e in shown]
        return CommandAnswer(status=result.status, elapsed=result.elapsed, text="\n".join(texts), raw=result)

    async def unprocessed_events(self) -> int:
        """Recorded deliveries that were not processed."""
        return await InboundEvent.filter(processed_at__isnull=True).count()


async def start_harness(
    database_url: str,
    *,
    clock: Clock | None = None,
    config_overrides: dict[str, Any] | None = None,
    settings_overrides: dict[str, Any] | None = None,
    standin: SlackStandIn | None = None,
) -> Harness:
    """Start the stand-in (unless given) and the bot on 127.0.0.1 with the demo workspace and config."""
    if standin is None:
        standin = SlackStandIn(build_demo_workspace(), bot_token=TOKEN)
        await standin.start()
    raw = demo_support_raw()
    for key, value in (config_overrides or {}).items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": standin.api_url,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        # Slack's pace (~1 msg/s per channel) is tested on its own; elsewhere it would only slow tests down.
        "outbox_channel_rate": 1000.0,
        "outbox_channel_burst": 1000,
        # Dozens of bots start in one test process: a full collection and freeze at each start would cost
        # seconds (tests/scenario/test_gc_freeze.py starts one with it on).
        "gc_freeze": False,
        **(settings_overrides or {}),
    }
    settings = Settings(_env_file=None, **values)
    parts = build_bot(settings, parse_support_config(raw, source="test"), clock=clock)
    runner = web.AppRunner(parts.web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    bot_url = f"http://{host}:{port}"
    driver = SlackDriver(standin, f"{bot_url}/slack/events", SIGNING_SECRET)
    return Harness(
        standin=standin, ws=standin.workspace, parts=parts, runner=runner, driver=driver, bot_url=bot_url
    )


async def stop_harness(h: Harness, *, stop_standin: bool = True) -> None:
    """Stop the bot (and the stand-in)."""
    await h.runner.cleanup()
    await h.driver.close()
    if stop_standin:
        await h.standin.stop()


@asynccontextmanager
async def serving(
    h: Harness, stop: Callable[[Harness], Awaitable[None]] = stop_harness
) -> AsyncIterator[Harness]:
    """A started harness for one test: afterwards it settles, stops (`stop`: stop_socket_harness for Socket
    Mode), and fails if the stand-in saw a leak."""
    try:
        yield h
        await h.settle()
    finally:
        await stop(h)
    h.standin.assert_no_leaks()


def hold_sqlite_write_lock(path: str, seconds: float, started: threading.Event) -> None:
    """Another process-like connection takes SQLite's exclusive lock: the bot cannot write."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    started.set()
    time.sleep(seconds)
    connection.execute("ROLLBACK")
    connection.close()


async def sqlite_write_locked(database_url: str, seconds: float) -> threading.Thread:
    """Hold the SQLite database's write lock from another connection for `seconds`; returns once it is held
    (join the returned thread to wait for the release)."""
    started = threading.Event()
    holder = threading.Thread(
        target=hold_sqlite_write_lock,
        args=(database_url.removeprefix("sqlite://"), seconds, started),
        daemon=True,
    )
    holder.start()
    await asyncio.to_thread(started.wait, 5)
    return holder


async def start_socket_harness(
    database_url: str,
    *,
    clock: Clock | None = None,
    config_overrides: dict[str, Any] | None = None,
    settings_overrides: dict[str, Any] | None = None,
) -> Harness:
    """The bot in Socket Mode, like `serve()` with SLACK_APP_TOKEN: HTTP site up, plus the websocket.

    The driver delivers over the socket; `h.extra["socket_handler"]` is Bolt's AsyncSocketModeHandler.
    Stop it with `stop_socket_harness`.
    """
    standin = SlackStandIn(build_demo_workspace(), bot_token=TOKEN, app_token=APP_TOKEN)
    await standin.start()
    try:
        h = await start_harness(
            database_url,
            clock=clock,
            config_overrides=config_overrides,
            settings_overrides={"slack_app_token": APP_TOKEN, **(settings_overrides or {})},
            standin=standin,
        )
    except BaseException:
        await standin.stop()
        raise
    handler = AsyncSocketModeHandler(h.parts.bolt, APP_TOKEN)
    h.extra["socket_handler"] = handler
    try:
        await handler.connect_async()
        await standin.socket.wait_connected(limit=10.0)
    except BaseException:
        await stop_socket_harness(h)
        raise
    await h.driver.close()
    h.driver = SlackDriver(standin, f"{h.bot_url}/slack/events", SIGNING_SECRET, transport="socket")
    return h


async def stop_socket_harness(h: Harness, *, stop_standin: bool = True) -> None:
    """Close the Socket Mode connection, then stop the bot (and the stand-in)."""
    handler = h.extra.pop("socket_handler", None)
    if handler is not None:
        await handler.close_async()
    await stop_harness(h, stop_standin=stop_standin)
