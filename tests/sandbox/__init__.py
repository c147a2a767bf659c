"""Tests of the local sandbox (page + stand-in + bot in one process), over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.sandbox.runner import Sandbox, SandboxOptions
from config.settings import Settings

T = TypeVar("T")


def sandbox_settings() -> Settings:
    """Settings for a sandbox under test: the outbox may post as fast as it likes."""
    return Settings(_env_file=None, outbox_channel_rate=1000.0, outbox_channel_burst=1000)  # type: ignore[call-arg]


async def start_sandbox(data_dir: Path, *, reset: bool = False) -> Sandbox:
    """A running sandbox on free ports with its data in data_dir."""
    sandbox = Sandbox(SandboxOptions(port=0, data_dir=data_dir, reset=reset), sandbox_settings())
    await sandbox.start()
    return sandbox


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, limit: float = 15.0, what: str = ""
) -> T:
    """Poll probe() until accept(result) holds, as a person watching the page would; fail after limit."""
    deadline = time.monotonic() + limit
    result = await probe()
    while not accept(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'the condition'}; last: {result!r:.2000}")
        await asyncio.sleep(0.1)
        result = await probe()
    return result


class PageClient:
    """The sandbox page's HTTP API, used as the browser uses it."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def state(
        self, person: str, channel: str | None = None, thread: str | None = None
    ) -> dict[str, Any]:
        """GET /sandbox/state for one person (and channel/thread)."""
        params = {
            "as": person,
            **({"channel": channel} if channel else {}),
            **({"thread": thread} if thread else {}),
        }
        async with self.session.get(f"{self.url}/sandbox/state", params=params) as resp:
            return {"_status": resp.status, **await resp.json()}

    async def act(self, action: str, person: str, **body: Any) -> dict[str, Any]:
        """POST /sandbox/<action> as a person."""
        async with self.session.post(f"{self.url}/sandbox/{action}", json={"as": person, **body}) as resp:
            return {"_status": resp.status, **await resp.json()}


def texts(items: list[dict[str, Any]]) -> str:
    """Every visible string of messages/ephemerals (text and blocks), joined."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if key not in (
                    "type",
                    "block_id",
                    "action_id",
                    "ts",
                    "thread_ts",
                    "user",
                    "bot_id",
                    "app_id",
                ):
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for item in items:
        walk(item.get("text"))
        walk(item.get("blocks"))
    return "\n".join(out)
