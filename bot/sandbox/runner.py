"""The local sandbox: the Slack stand-in, the sandbox page and the bot in one process and one event loop.

One aiohttp server (127.0.0.1, default port 3000) serves the page at `/`, the stand-in's Web API at
`/api/` and its internals under `/_standin/`; the bot runs its own aiohttp app on the next port and is
reached over real HTTP by the signed driver, exactly as Slack would reach it. Its database is
`data/sandbox.sqlite3`; the stand-in's workspace (messages, threads, views, files) is kept beside it in
`data/sandbox-workspace.json`, so both survive a restart together (`--reset` clears both).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import errno
import itertools
import json
import logging
import os
import re
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import db
from bot.sandbox.demo import INTERNAL, build_demo_workspace, demo_support_raw
from bot.sandbox.driver import SlackDriver
from bot.sandbox.standin import Channel, Message, SlackStandIn, StoredFile, StoredView, Workspace
from bot.sandbox.web import AppHomeInfo, ChangeFeed, CommandInfo, SandboxWeb, ShortcutInfo, build_sandbox_app
from bot.server import STATE_KEY, BotParts, build_bot
from bot.slack.ids import CallbackId, Command
from config.settings import Settings
from config.support import SupportConfig, parse_support_config

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 3000
DB_FILE = "sandbox.sqlite3"
SNAPSHOT_FILE = "sandbox-workspace.json"
SNAPSHOT_VERSION = 1
SNAPSHOT_DELAY = 1.0
STARTUP_LIMIT = 60.0
SQLITE_HEADER = b"SQLite format 3\x00"
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"
BANNER = "Sandbox running: open {url}/ in your browser (local simulation; nothing reaches Slack)"

_ID_NUMBER = re.compile(r"^[A-Z]0(\d{8})$")


class SandboxError(RuntimeError):
    """The sandbox could not start (port in use, unreadable data…); the message says what to do."""


@dataclass(frozen=True)
class SandboxOptions:
    """Where the sandbox listens and keeps its data."""

    port: int = DEFAULT_PORT
    bot_port: int | None = None  # default: port + 1 (a free port when port is 0)
    data_dir: Path = Path("data")
    reset: bool = False
    persist: bool = True

    @property
    def db_path(self) -> Path:
        """The bot's SQLite database of the sandbox (never the production default)."""
        return self.data_dir / DB_FILE

    @property
    def snapshot_path(self) -> Path:
        """The stand-in's workspace snapshot."""
        return self.data_dir / SNAPSHOT_FILE


# ---------------------------------------------------------------------- configuration of the demo


def sandbox_support_raw() -> dict[str, Any]:
    """The sandbox's support configuration: the demo's, including its SLA policy with short durations.

    The SLA targets live in `demo_support_raw()` (bot/sandbox/demo.py) next to the rest of the demo, so the
    scenario tests and the sandbox share them; they are minutes, so warnings and breaches show while playing.
    """
    return demo_support_raw()


@dataclass(frozen=True)
class ManifestInfo:
    """What the page needs from the app manifest: commands, shortcuts, App Home tabs."""

    commands: list[CommandInfo]
    shortcuts: list[ShortcutInfo]
    app_home: AppHomeInfo


def read_manifest(path: Path = MANIFEST) -> ManifestInfo:
    """Commands, shortcuts and App Home settings from manifest.json (bot/slack/ids.py when there is none)."""
    try:
        features = json.loads(path.read_text(encoding="utf-8")).get("features") or {}
        commands = [
            CommandInfo(c["command"], c.get("description", ""), c.get("usage_hint", ""))
            for c in features.get("slash_commands") or []
        ]
        shortcuts = [
            ShortcutInfo(
                s["callback_id"],
                s.get("name") or s["callback_id"],
                s.get("type", "message"),
                s.get("description", ""),
            )
            for s in features.get("shortcuts") or []
        ]
        home = features.get("app_home") or {}
        app_home = AppHomeInfo(
            home_tab=bool(home.get("home_tab_enabled", True)),
            messages_tab=bool(home.get("messages_tab_enabled", True)),
            messages_tab_read_only=bool(home.get("messages_tab_read_only_enabled", False)),
        )
        return ManifestInfo(commands, shortcuts, app_home)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("sandbox: %s is unreadable (%s); using bot/slack/ids.py", path, exc)
    commands = [CommandInfo(c.value) for c in Command]
    shortcuts = [
        ShortcutInfo(c.value, c.value.replace("_", " ").capitalize(), "message")
        for c in CallbackId
        if c.name.startswith("SHORTCUT_")
    ]
    return ManifestInfo(commands, shortcuts, AppHomeInfo())


def group_names(config: SupportConfig) -> dict[str, str]:
    """Handles for the user groups the config pings (the stand-in has no user groups of its own)."""
    names: dict[str, str] = {}
    for level, lc in config.levels.items():
        for target in lc.ping:
            if target.startswith("S"):
                names.setdefault(target, f"{level.lower()}-team")
    return names


def persona_hints(ws: Workspace, config: SupportConfig) -> dict[str, str]:
    """One sentence per person: who they are and what to try first."""
    hints: dict[str, str] = {}
    level_channels = {lc.channel: level for level, lc in config.levels.items()}
    level_channels.update({r.channel: "L3" for r in config.routes})
    prefix = config.tickets.key_prefix
    for user in ws.users.values():
        if user.is_bot:
            continue
        member_of = [c for c in ws.channels.values() if user.id in c.members and not c.is_im]
        if ws.is_external_user(user.id):
            shared = next((c for c in member_of if c.is_ext_shared), None)
            where = f"#{shared.name}" if shared else "your shared channel"
            hints[user.id] = (
                f"You are a customer at {ws.teams[user.team_id].name}. Describe a problem in {where}: "
                f"the bot logs a ticket and answers in the thread. `/ticket {prefix}-1` shows its state."
            )
            continue
        levels = [f"#{c.name}" for c in member_of if c.id in level_channels]
        if user.id in config.leads:
            hints[user.id] = (
                f"You lead the support team and see every support channel ({', '.join(levels)}) "
                "and the customers' shared channels."
            )
        elif user.id in INTERNAL and levels:
            # Their own channel: the highest level they work at, a component channel before the L3 channel.
            rank = {"L1": 1, "L2": 2, "L3": 3}
            own = max(
                (c for c in member_of if c.id in level_channels),
                key=lambda c: (
                    rank[level_channels[c.id]],
                    c.id not in {lc.channel for lc in config.levels.values()},
                ),
            )
            first = f"#{own.name}"
            hints[user.id] = (
                f"You are {_with_article(user.title)}. Tickets reach you as cards in {first}. "
                f"Try the card's buttons, `/ticket {prefix}-1`, or ⋮ → Create support ticket on a "
                "customer's message."
            )
        else:
            hints[user.id] = "You are on the support team."
    return hints


def _with_article(title: str) -> str:
    """'an L1 agent', 'a support lead': initialisms take 'an' when their first letter's name starts with a vowel."""
    if not title:
        return "on the support team"
    spelled = re.match(r"[A-Z][A-Z0-9]", title) is not None
    vowel_sound = title[0] in "AEFHILMNORSX" if spelled else title[0].lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {title}"


# ---------------------------------------------------------------------- workspace snapshot


def save_workspace(ws: Workspace, path: Path) -> None:
    """Write the workspace's conversations, views and files to a JSON file (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = workspace_snapshot(ws)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def workspace_snapshot(ws: Workspace) -> dict[str, Any]:
    """The JSON-able state of a workspace (people, teams and demo channels come from the demo's code)."""
    files = []
    for f in ws.files.values():
        item = dataclasses.asdict(f)
        item["content"] = base64.b64encode(f.content).decode() if f.content is not None else None
        files.append(item)
    return {
        "version": SNAPSHOT_VERSION,
        "saved_at": time.time(),
        # Direct messages and group DMs are created while playing; the demo's channels come from code.
        "channels": [dataclasses.asdict(c) for c in ws.channels.values() if c.is_im or c.is_mpim],
        "messages": {cid: [dataclasses.asdict(m) for m in msgs] for cid, msgs in ws.messages.items() if msgs},
        "views": [dataclasses.asdict(v) for v in ws.views.values()],
        "files": files,
        # Private bookkeeping of the stand-in's Workspace (same package): DM index, home tabs, clocks.
        "dms": dict(ws._dms),
        "home_views": dict(ws._home_views),
        "last_micros": ws._last_micros,
    }


def restore_workspace(data: dict[str, Any]) -> Workspace:
    """A demo workspace with the conversations, views and files of a snapshot."""
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
    ws = build_demo_workspace()
    for item in data.get("channels") or []:
        channel = Channel(**item)
        ws.channels.setdefault(channel.id, channel)
    for channel_id, messages in (data.get("messages") or {}).items():
        if channel_id in ws.channels:
            ws.messages[channel_id] = [Message(**m) for m in messages]
    for item in data.get("views") or []:
        view = StoredView(**item)
        ws.views[view.id] = view
    for item in data.get("files") or []:
        content = item.pop("content", None)
        f = StoredFile(**{**item, "shares": [tuple(s) for s in item.get("shares") or []]})
        f.content = base64.b64decode(content) if content is not None else None
        ws.files[f.id] = f
    ws._dms.update({u: c for u, c in (data.get("dms") or {}).items() if c in ws.channels})
    ws._home_views.update({u: v for u, v in (data.get("home_views") or {}).items() if v in ws.views})
    ws._last_micros = max(ws._last_micros, int(data.get("last_micros") or 0))
    used = [int(m.group(1)) for i in (*ws.channels, *ws.views, *ws.files) if (m := _ID_NUMBER.match(i))]
    ws._ids = itertools.count(max(used, default=0) + 1)
    return ws


def prepare_workspace(options: SandboxOptions) -> Workspace:
    """Reset or restore: the database and the snapshot are kept or discarded together."""
    db_files = [options.db_path.with_name(options.db_path.name + s) for s in ("", "-wal", "-shm")]
    snapshot = options.snapshot_path
    if options.reset or not options.persist:
        _remove(snapshot, *db_files)
        return build_demo_workspace()
    if options.db_path.exists() and not _is_sqlite(options.db_path):
        log.warning("sandbox: %s is not a SQLite database; starting fresh", options.db_path)
    elif snapshot.exists() and options.db_path.exists():
        try:
            return restore_workspace(json.loads(snapshot.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("sandbox: %s is unreadable (%s); starting fresh", snapshot, exc)
    elif snapshot.exists() or options.db_path.exists():
        log.warning("sandbox: database and workspace snapshot do not match; starting fresh")
    _remove(snapshot, *db_files)
    return build_demo_workspace()


def _is_sqlite(path: Path) -> bool:
    """True when the file starts with SQLite's header (an empty file is a new database too)."""
    with path.open("rb") as f:
        head = f.read(16)
    return head in (b"", SQLITE_HEADER)


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ---------------------------------------------------------------------- the running sandbox


class Sandbox:
    """The stand-in + page server, the bot server and the driver between them."""

    def __init__(self, options: SandboxOptions, settings: Settings | None = None) -> None:
        self.options = options
        self.base_settings = settings or Settings(_env_file=None)  # type: ignore[call-arg]
        self.url = ""
        self.bot_url = ""
        self.standin: SlackStandIn | None = None
        self.web: SandboxWeb | None = None
        self.driver: SlackDriver | None = None
        self.parts: BotParts | None = None
        self._ui_runner: web.AppRunner | None = None
        self._bot_runner: web.AppRunner | None = None
        self._snapshot_task: asyncio.Task[None] | None = None

    @property
    def workspace(self) -> Workspace:
        """The stand-in's workspace."""
        if self.standin is None:
            raise RuntimeError("the sandbox is not started")
        return self.standin.workspace

    async def start(self) -> str:
        """Start the page + stand-in server, then the bot, then connect the driver; return the page URL."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> str:
        options = self.options
        ws = prepare_workspace(options)
        token = "xoxb-sandbox-" + secrets.token_hex(12)
        signing_secret = secrets.token_hex(16)
        config = parse_support_config(sandbox_support_raw(), source="sandbox")
        manifest = read_manifest()
        self.standin = SlackStandIn(ws, bot_token=token)
        self.web = SandboxWeb(
            self.standin,
            commands=manifest.commands,
            shortcuts=manifest.shortcuts,
            app_home=manifest.app_home,
            hints=persona_hints(ws, config),
            group_names=group_names(config),
        )
        self._ui_runner = web.AppRunner(
            build_sandbox_app(self.web), access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._ui_runner.setup()
        port = await _bind(self._ui_runner, options.port, "the sandbox page")
        self.url = f"http://{HOST}:{port}"
        self.standin.set_base_url(self.url)

        settings = self.base_settings.model_copy(
            update={
                "slack_bot_token": token,
                "slack_signing_secret": signing_secret,
                "slack_app_token": None,
                "slack_api_url": self.standin.api_url,
                "database_url": f"sqlite://{options.db_path.resolve()}",
                "host": HOST,
                "migrate_on_start": True,
            }
        )
        self.parts = build_bot(settings, config)
        self._bot_runner = web.AppRunner(
            self.parts.web_app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=settings.shutdown_grace_seconds,
        )
        try:
            # The bot's start-up (migrations, auth.test, outbox, scheduler), bounded. Not wait_for(): that
            # runs it in another task, and Tortoise keeps its connections in that task's context.
            async with asyncio.timeout(STARTUP_LIMIT):
                await self._bot_runner.setup()
        except Exception as exc:
            log.exception("sandbox: the bot could not start")
            hint = "" if options.reset or not options.persist else (
                "; if the bot was updated since the sandbox last ran, its saved data may not fit: "
                "`python -m bot sandbox --reset` starts fresh"
            )  # fmt: skip
            raise SandboxError(f"the bot could not start ({exc.__class__.__name__}: {exc}){hint}") from exc
        bot_port = options.bot_port if options.bot_port is not None else (port + 1 if options.port else 0)
        bot_port = await _bind(self._bot_runner, bot_port, "the bot")
        self.bot_url = f"http://{HOST}:{bot_port}"

        self.driver = SlackDriver(self.standin, f"{self.bot_url}/slack/events", signing_secret, ws.app_id)
        self.standin.echo_events_to = self.driver.deliver_event  # the bot hears its own posts, as in Slack
        self.web.driver = self.driver
        if options.persist:
            self._snapshot_task = asyncio.create_task(
                self._keep_snapshot(self.web.feed), name="sandbox-snapshot"
            )
        self.web.feed.bump()
        return self.url

    async def _keep_snapshot(self, feed: ChangeFeed) -> None:
        """Write the workspace snapshot shortly after changes (at most once per SNAPSHOT_DELAY)."""
        saved = feed.version
        while not feed.closed:
            version = await feed.wait(saved, None)
            if version == saved:
                continue
            await asyncio.sleep(SNAPSHOT_DELAY)
            saved = feed.version
            self._save_snapshot()

    def _save_snapshot(self) -> None:
        if self.standin is None or not self.options.persist:
            return
        try:
            save_workspace(self.standin.workspace, self.options.snapshot_path)
        except OSError as exc:
            log.warning("sandbox: could not save %s: %s", self.options.snapshot_path, exc)

    async def stop(self) -> None:
        """Stop taking actions, let the bot finish its work, save the workspace, stop both servers."""
        if self.web is not None:
            self.web.accepting = False
        if self.standin is not None:
            self.standin.echo_events_to = None
        if self._bot_runner is not None:
            if self.parts is not None:
                self.parts.web_app[STATE_KEY]["accepting"] = False
                grace = self.base_settings.shutdown_grace_seconds
                await self.parts.runtime.wait_for_work(time.monotonic() + grace)
            try:
                await self._bot_runner.cleanup()  # in-flight deliveries finish; the stand-in still runs
            except Exception:  # a bot that failed half-way through start-up may not clean up fully
                log.exception("sandbox: the bot did not shut down cleanly")
            finally:
                self._bot_runner = None
                # Start-up may have failed after the database was opened; an open SQLite connection keeps
                # a worker thread alive and the process from exiting.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await db.close_db()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshot_task
            self._snapshot_task = None
        if self.parts is not None:
            self._save_snapshot()
        if self.driver is not None:
            await self.driver.close()
            self.driver = None
        if self.standin is not None:
            await self.standin.stop(drain_timeout=2.0)
        if self._ui_runner is not None:
            await self._ui_runner.cleanup()
            self._ui_runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _bind(runner: web.AppRunner, port: int, what: str) -> int:
    """Serve a runner on 127.0.0.1:port; return the bound port (a clear error when it is taken)."""
    site = web.TCPSite(runner, HOST, port)
    try:
        await site.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SandboxError(
                f"port {port} for {what} is already in use; stop the other program or choose another port "
                f"with `python -m bot sandbox --port N` (the sandbox uses N and N+1)"
            ) from None
        raise SandboxError(f"cannot listen on {HOST}:{port} for {what}: {exc}") from None
    return int(runner.addresses[-1][1])


async def run_sandbox(options: SandboxOptions, settings: Settings | None = None) -> None:
    """Start the sandbox, print its URL, and run until SIGINT/SIGTERM; then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sandbox = Sandbox(options, settings)
    try:
        url = await sandbox.start()
        print(BANNER.format(url=url), flush=True)
        log.info("sandbox: bot on %s, data in %s (Ctrl-C to stop)", sandbox.bot_url, options.data_dir)
        await stop.wait()
        log.info("sandbox: stopping")
    finally:
        await sandbox.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
