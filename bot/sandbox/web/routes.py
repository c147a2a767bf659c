"""HTTP handlers of the sandbox page: per-person state, a change feed (SSE) and the person's actions.

Every action goes through the signed driver, so the bot receives exactly what Slack would send; the page
never calls the bot's functions. What a person sees is read from the stand-in's workspace, filtered to
what that person may see (their channels, their ephemerals, their modals).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from bot.sandbox.driver import DriverResult, SlackDriver
from bot.sandbox.standin import Channel, SlackStandIn, User, Workspace, build_standin_app
from bot.sandbox.standin.workspace import JsonDict

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
# Web API methods that change nothing a person sees: calling them does not refresh the page.
READ_ONLY_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.lookupByEmail",
        "conversations.info",
        "conversations.history",
        "conversations.replies",
        "conversations.members",
        "chat.getPermalink",
    }
)
SLACK_ACK_LIMIT = 3.0
KEEPALIVE_SECONDS = 15.0


class ChangeFeed:
    """A version counter that wakes waiters when the workspace changed (one bump per request)."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._changed = asyncio.Event()

    def bump(self) -> None:
        """Record a change and wake everyone waiting."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seen: int, within: float | None) -> int:
        """Return the version once it differs from `seen` (or the same one after `within` seconds)."""
        if self.version != seen or self.closed:
            return self.version
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), within)
        return self.version

    def close(self) -> None:
        """Stop the feed: waiters return at once, streams end."""
        self.closed = True
        self._changed.set()


@dataclass(frozen=True)
class CommandInfo:
    """A slash command as the manifest declares it."""

    command: str
    description: str = ""
    usage_hint: str = ""


@dataclass(frozen=True)
class ShortcutInfo:
    """A shortcut (message or global) as the manifest declares it."""

    callback_id: str
    name: str
    type: str = "message"
    description: str = ""


@dataclass(frozen=True)
class AppHomeInfo:
    """The manifest's App Home settings (which tabs exist, whether people may write to the app)."""

    home_tab: bool = True
    messages_tab: bool = True
    messages_tab_read_only: bool = False


@dataclass
class SandboxWeb:
    """What the page's handlers need: the stand-in, the driver (set once the bot runs) and page data."""

    standin: SlackStandIn
    commands: list[CommandInfo] = field(default_factory=list)
    shortcuts: list[ShortcutInfo] = field(default_factory=list)
    hints: dict[str, str] = field(default_factory=dict)
    group_names: dict[str, str] = field(default_factory=dict)
    app_home: AppHomeInfo = field(default_factory=AppHomeInfo)
    driver: SlackDriver | None = None
    feed: ChangeFeed = field(default_factory=ChangeFeed)
    view_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    accepting: bool = True

    @property
    def workspace(self) -> Workspace:
        """The stand-in's workspace."""
        return self.standin.workspace


SANDBOX_KEY: web.AppKey[SandboxWeb] = web.AppKey("sandbox_web", SandboxWeb)


class PageError(Exception):
    """A request from the page that cannot be carried out; the message is shown to the person."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------- the aiohttp app


def build_sandbox_app(web_state: SandboxWeb) -> web.Application:
    """The stand-in's Web API (/api/, /_standin/) plus the page (/, /static/, /sandbox/) on one app."""
    app = build_standin_app(web_state.standin)
    app[SANDBOX_KEY] = web_state
    app.middlewares.append(local_only)
    app.middlewares.append(publish_changes)
    app.router.add_get("/", handle_index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_get("/sandbox/state", handle_state)
    app.router.add_get("/sandbox/events", handle_events)
    for name, handler in ACTIONS.items():
        app.router.add_post(f"/sandbox/{name}", _action_endpoint(handler))
    app.on_shutdown.append(_close_feed)
    return app


async def _close_feed(app: web.Application) -> None:
    app[SANDBOX_KEY].feed.close()


@web.middleware
async def local_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse page requests whose Host is not local (DNS rebinding) and posts from other origins."""
    if request.path == "/" or request.path.startswith(("/sandbox/", "/static/")):
        if request.url.host not in LOCAL_HOSTS:
            return web.Response(status=403, text="the sandbox only answers on 127.0.0.1")
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin and URL(origin).host not in LOCAL_HOSTS:
            return web.json_response({"ok": False, "error": "cross-origin request refused"}, status=403)
    return await handler(request)


@web.middleware
async def publish_changes(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """After anything that may change what people see (bot's Web API writes, page actions), bump the feed."""
    response = await handler(request)
    path = request.path
    changed = (
        path.startswith("/_standin/")
        or (path.startswith("/api/") and request.match_info.get("method") not in READ_ONLY_METHODS)
        or (path.startswith("/sandbox/") and request.method == "POST")
    )
    if changed:
        request.app[SANDBOX_KEY].feed.bump()
    return response


async def handle_index(request: web.Request) -> web.StreamResponse:
    """The page itself."""
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


async def handle_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `change` with the new version whenever the workspace changed."""
    feed = request.app[SANDBOX_KEY].feed
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    seen = -1
    try:
        while not feed.closed:
            version = await feed.wait(seen, KEEPALIVE_SECONDS)
            if feed.closed:
                break
            if version == seen:
                await response.write(b": keep-alive\n\n")
                continue
            seen = version
            await response.write(f"event: change\ndata: {json.dumps({'version': version})}\n\n".encode())
            await asyncio.sleep(0.05)  # coalesce a burst of changes into one refresh
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def handle_state(request: web.Request) -> web.Response:
    """Everything one person sees right now: their channels, one channel, one thread, their modals."""
    web_state = request.app[SANDBOX_KEY]
    try:
        wanted = request.query.get("as")
        person = _person(web_state.workspace, wanted) if wanted else _default_person(web_state.workspace)
        state = build_state(
            web_state,
            person,
            channel_id=request.query.get("channel") or None,
            thread_ts=request.query.get("thread") or None,
        )
    except PageError as exc:
        return web.json_response({"ok": False, "error": exc.message}, status=exc.status)
    return web.json_response(state, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------------- state


def person_json(ws: Workspace, user: User) -> JsonDict:
    """A person as the page shows them (name, org, role)."""
    team = ws.teams.get(user.team_id)
    return {
        "id": user.id,
        "name": user.name,
        "real_name": user.real_name,
        "title": user.title,
        "team_id": user.team_id,
        "team_name": team.name if team else user.team_id,
        "external": ws.is_external_user(user.id),
        "is_bot": user.is_bot,
    }


def channel_json(ws: Workspace, channel: Channel, viewer: User) -> JsonDict:
    """A channel in the sidebar: kind, who it is shared with, latest activity."""
    if channel.is_im:
        kind = "app"
    elif channel.is_mpim:
        kind = "group_dm"
    elif channel.is_ext_shared:
        kind = "shared"
    else:
        kind = "private" if channel.is_private else "channel"
    shared_with = [
        ws.teams[t].name for t in channel.connected_team_ids if t in ws.teams and t != viewer.team_id
    ]
    name = channel.name
    if channel.is_mpim:
        name = ", ".join(ws.users[u].real_name for u in channel.members if u != viewer.id and u in ws.users)
    top = ws.channel_messages(channel.id)
    latest = next((m for m in reversed(top) if m.user != viewer.id), None)
    return {
        "id": channel.id,
        "name": name,
        "kind": kind,
        "shared_with": shared_with if channel.is_ext_shared else [],
        "topic": channel.topic,
        "purpose": channel.purpose,
        "members": len(channel.members),
        "archived": channel.is_archived,
        "latest_ts": latest.ts if latest else None,
    }


def build_state(
    web_state: SandboxWeb, person: User, *, channel_id: str | None, thread_ts: str | None
) -> JsonDict:
    """The page's JSON for one person."""
    ws = web_state.workspace
    mine = [c for c in ws.channels.values() if person.id in c.members]
    dm = ws.dm_channel(person.id)
    home = ws.home_view(person.id)
    state: JsonDict = {
        "ok": True,
        "version": web_state.feed.version,
        "ready": web_state.driver is not None,
        "workspace": {"name": ws.home_team.name, "domain": ws.home_team.domain, "team_id": ws.home_team_id},
        "me": person_json(ws, person),
        "hint": web_state.hints.get(person.id, ""),
        "people": [person_json(ws, u) for u in ws.users.values() if not u.is_bot and not u.deleted],
        "users": {u.id: person_json(ws, u) for u in ws.users.values()},
        "groups": dict(web_state.group_names),
        "channels": [channel_json(ws, c, person) for c in mine if not c.is_im],
        "app": {
            "bot_user_id": ws.bot_user_id,
            "name": ws.bot_user.real_name,
            "dm": dm.id if dm else None,
            "dm_latest_ts": _latest_from_others(ws, dm, person) if dm else None,
            "home": ws.render_view(home) if home else None,
            "home_tab": web_state.app_home.home_tab,
            "messages_tab": web_state.app_home.messages_tab,
            "messages_tab_read_only": web_state.app_home.messages_tab_read_only
            or not web_state.app_home.messages_tab,
        },
        "commands": [c.__dict__ for c in web_state.commands],
        "shortcuts": [s.__dict__ for s in web_state.shortcuts],
        "pickers": {
            "users": [
                {"id": u.id, "label": u.real_name}
                for u in ws.users.values()
                if not u.deleted and (not ws.is_external_user(u.id) or u.team_id == person.team_id)
            ],
            "conversations": [{"id": c.id, "label": _conversation_label(ws, c)} for c in mine],
            "channels": [
                {"id": c.id, "label": f"#{c.name}"}
                for c in ws.channels.values()
                if not (c.is_im or c.is_mpim or c.is_private or c.is_archived)
                and (person.id in c.members or not ws.is_external_user(person.id))
            ],
        },
        "channel": None,
        "thread": None,
        "modal": _modal_json(web_state, person),
    }
    if channel_id:
        channel = _member_channel(ws, person, channel_id)
        state["channel"] = {
            **channel_json(ws, channel, person),
            "messages": [ws.render_message(m) for m in ws.channel_messages(channel.id)],
            "ephemerals": [
                _ephemeral_json(e) for e in ws.ephemerals_for(person.id, channel.id) if not e.thread_ts
            ],
        }
        if thread_ts:
            parent = ws.message(channel.id, thread_ts)
            if parent is not None and not parent.deleted and not parent.is_reply:
                state["thread"] = {
                    "channel": channel.id,
                    "ts": parent.ts,
                    "parent": ws.render_message(parent),
                    "replies": [ws.render_message(m) for m in ws.thread_replies(channel.id, parent.ts)],
                    "ephemerals": [
                        _ephemeral_json(e)
                        for e in ws.ephemerals_for(person.id, channel.id)
                        if e.thread_ts == parent.ts
                    ],
                }
    return state


def _latest_from_others(ws: Workspace, channel: Channel, viewer: User) -> str | None:
    latest = next((m for m in reversed(ws.channel_messages(channel.id)) if m.user != viewer.id), None)
    return latest.ts if latest else None


def _conversation_label(ws: Workspace, channel: Channel) -> str:
    if channel.is_im:
        return f"@{ws.bot_user.real_name}"
    return f"#{channel.name}" if not channel.is_mpim else channel.name


def _ephemeral_json(eph: Any) -> JsonDict:
    return {
        "ts": eph.ts,
        "text": eph.text,
        "blocks": eph.blocks,
        "attachments": eph.attachments,
        "thread_ts": eph.thread_ts,
        "ephemeral": True,
    }


def _modal_json(web_state: SandboxWeb, person: User) -> JsonDict | None:
    ws = web_state.workspace
    stack = ws.open_views(person.id)
    if not stack:
        return None
    top = stack[-1]
    return {
        "depth": len(stack),
        "view": ws.render_view(top),
        "errors": web_state.view_errors.get(f"{top.id}:{top.hash}", {}),
    }


def _person(ws: Workspace, user_id: str | None) -> User:
    user = ws.users.get(user_id or "")
    if user is None or user.is_bot or user.deleted:
        raise PageError(f"unknown person {user_id!r}: pick someone in 'Acting as'", 404)
    return user


def _default_person(ws: Workspace) -> User:
    """Whom the page acts as before anyone is picked: the first customer (the story starts with them)."""
    people = [u for u in ws.users.values() if not u.is_bot and not u.deleted]
    if not people:
        raise PageError("the workspace has no people", 404)
    return next((u for u in people if ws.is_external_user(u.id)), people[0])


def _member_channel(ws: Workspace, person: User, channel_id: str | None) -> Channel:
    channel = ws.channels.get(channel_id or "")
    if channel is None:
        raise PageError(f"unknown channel {channel_id!r}", 404)
    if person.id not in channel.members:
        raise PageError(f"{person.real_name} is not a member of #{channel.name}", 403)
    return channel


# ---------------------------------------------------------------------- actions

Action = Callable[[SandboxWeb, SlackDriver, User, JsonDict], Awaitable[JsonDict]]


def _action_endpoint(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        web_state = request.app[SANDBOX_KEY]
        try:
            if request.content_type != "application/json":
                raise PageError("send JSON (Content-Type: application/json)", 415)
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise PageError("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise PageError("the request body must be a JSON object")
            driver = web_state.driver
            if driver is None or not web_state.accepting:
                raise PageError("the sandbox is starting or stopping; try again in a moment", 503)
            person = _person(web_state.workspace, body.get("as"))
            answer = await action(web_state, driver, person, body)
        except PageError as exc:
            return web.json_response({"ok": False, "error": exc.message}, status=exc.status)
        except AssertionError as exc:  # the driver refuses what the person could not do in Slack
            return web.json_response({"ok": False, "error": str(exc)}, status=403)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sandbox: the bot did not answer: %r", exc)
            return web.json_response(
                {"ok": False, "error": f"the bot did not answer ({exc.__class__.__name__})"}, status=502
            )
        return web.json_response({"ok": True, **answer})

    endpoint.__doc__ = action.__doc__
    return endpoint


def _text(body: JsonDict, name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise PageError(f"'{name}' is missing")
        return ""
    if not isinstance(value, str):
        raise PageError(f"'{name}' must be a string")
    return value


def _outcome(result: DriverResult, what: str) -> JsonDict:
    """Summarise the bot's answer the way Slack would surface it to the person."""
    answer: JsonDict = {"status": result.status, "elapsed": round(result.elapsed, 3)}
    if result.status is not None and not result.ok:
        answer["notice"] = (
            f"{what[:1].upper()}{what[1:]} failed: the app answered HTTP {result.status} "
            "(Slack would show 'dispatch_failed')"
        )
    elif result.elapsed > SLACK_ACK_LIMIT:
        answer["notice"] = (
            f"The app took {result.elapsed:.1f}s to answer {what}; Slack gives up after 3s (operation_timeout)"
        )
    if result.applied_error:
        answer["notice"] = f"Slack rejected the app's answer to {what}: {result.applied_error}"
    return answer


async def post_message(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Post a message (or a thread reply) as the person; the DM with the app when channel is 'app'."""
    text = _text(body, "text")
    if not text.strip():
        raise PageError("the message is empty")
    thread_ts = _text(body, "thread_ts", required=False) or None
    channel_id = _text(body, "channel")
    if channel_id == "app":
        app_home = web_state.app_home
        if not app_home.messages_tab or app_home.messages_tab_read_only:
            raise PageError("Sending messages to this app has been turned off (manifest: app_home).")
        result = await driver.post_dm(person.id, text, thread_ts)
    else:
        channel = _member_channel(web_state.workspace, person, channel_id)
        if channel.is_archived:
            raise PageError(f"#{channel.name} is archived")
        result = await driver.post_message(person.id, channel.id, text, thread_ts)
    return {**_outcome(result, "the message"), "ts": result.ts}


async def run_command(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Run a slash command in a channel; the app's answer appears as an ephemeral (or in channel)."""
    command = _text(body, "command").strip()
    known = {c.command for c in web_state.commands}
    if command not in known:
        raise PageError(
            f"{command} is not a valid command. In Slack, every message that starts with '/' is a command; "
            "add a space before the '/' to send it as a message."
        )
    channel_id = _text(body, "channel")
    if channel_id == "app":
        channel = web_state.workspace.open_dm(person.id)
    else:
        channel = _member_channel(web_state.workspace, person, channel_id)
    result = await driver.slash_command(person.id, channel.id, command, _text(body, "text", required=False))
    return _outcome(result, command)


async def react(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Add a reaction (reaction_added) to a message the person can see."""
    channel = _member_channel(web_state.workspace, person, _text(body, "channel"))
    name = _text(body, "name").strip(":")
    ts = _text(body, "ts")
    msg = web_state.workspace.message(channel.id, ts)
    if msg is None or msg.deleted:
        raise PageError("that message is gone", 404)
    if any(r["name"] == name and person.id in r["users"] for r in msg.reactions):
        return {"status": None, "notice": "You already reacted with that emoji."}
    result = await driver.add_reaction(person.id, channel.id, ts, name)
    return _outcome(result, f":{name}:")


async def click(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Use an interactive element (button, select, overflow…) in a message, an ephemeral or a view."""
    ws = web_state.workspace
    action_id = _text(body, "action_id")
    block_id = _text(body, "block_id", required=False) or None
    value = body.get("value")
    if body.get("view_id"):
        result = await driver.click(
            person.id, action_id, view=_text(body, "view_id"), block_id=block_id, value=value
        )
    elif body.get("ephemeral_ts"):
        ts = _text(body, "ephemeral_ts")
        eph = next((e for e in ws.ephemerals_for(person.id) if e.ts == ts), None)
        if eph is None:
            raise PageError("that ephemeral message is gone", 404)
        result = await driver.click(person.id, action_id, ephemeral=eph, block_id=block_id, value=value)
    else:
        channel = _member_channel(ws, person, _text(body, "channel"))
        result = await driver.click(
            person.id, action_id, channel=channel.id, ts=_text(body, "ts"), block_id=block_id, value=value
        )
    return _outcome(result, "the click")


async def shortcut(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Run a message shortcut on a message (or a global shortcut when no message is given)."""
    callback_id = _text(body, "callback_id")
    known = {s.callback_id: s for s in web_state.shortcuts}
    if callback_id not in known:
        raise PageError(f"the app has no shortcut {callback_id!r}")
    if known[callback_id].type == "global":
        result = await driver.global_shortcut(person.id, callback_id)
    else:
        channel = _member_channel(web_state.workspace, person, _text(body, "channel"))
        result = await driver.message_shortcut(person.id, channel.id, _text(body, "ts"), callback_id)
    return _outcome(result, known[callback_id].name)


async def submit_view(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Submit the person's open modal with the values they entered (block_id → action_id → value)."""
    view_id = _text(body, "view_id")
    values = body.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise PageError("'values' must map block_id to {action_id: value}")
    result = await driver.submit_view(person.id, view_id, values)
    stored = web_state.workspace.views.get(view_id)
    errors = result.view_errors
    if stored is not None:
        web_state.view_errors = {
            k: v for k, v in web_state.view_errors.items() if not k.startswith(f"{view_id}:")
        }
        if errors:
            web_state.view_errors[f"{view_id}:{stored.hash}"] = errors
    return {**_outcome(result, "the form"), "errors": errors, "response_action": result.response_action}


async def close_view(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Close the person's modal (view_closed reaches the app only with notify_on_close)."""
    result = await driver.close_view(person.id, _text(body, "view_id"))
    return {"status": result.status} if not result.delivered else _outcome(result, "closing the form")


async def open_app_home(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Open the app's Home or Messages tab (app_home_opened)."""
    tab = "messages" if body.get("tab") == "messages" else "home"
    result = await driver.app_home_opened(person.id, tab)
    dm = web_state.workspace.dm_channel(person.id)
    return {**_outcome(result, "App Home"), "dm": dm.id if dm else None}


async def dismiss(web_state: SandboxWeb, driver: SlackDriver, person: User, body: JsonDict) -> JsonDict:
    """Dismiss one of the person's ephemeral messages (Slack does not tell the app)."""
    ts = _text(body, "ts")
    for eph in web_state.workspace.ephemerals_for(person.id):
        if eph.ts == ts:
            eph.deleted = True
            return {"status": None}
    raise PageError("that ephemeral message is gone", 404)


ACTIONS: dict[str, Action] = {
    "post": post_message,
    "command": run_command,
    "react": react,
    "click": click,
    "shortcut": shortcut,
    "submit": submit_view,
    "close": close_view,
    "home": open_app_home,
    "dismiss": dismiss,
}
