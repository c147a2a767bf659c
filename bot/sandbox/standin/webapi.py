"""The Slack stand-in server: Slack's Web API over HTTP (aiohttp), response_url, file uploads.

`SlackStandIn` owns the runtime state (workspace, trigger ids, response URLs, faults, call log, leak
guard); `build_standin_app()` builds the aiohttp application so it can also be mounted elsewhere.
Each Web API method is one small handler registered in `METHODS`.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .faults import CallRecord, FaultInjector
from .limits import Leak, LeakGuard, check_message_content, check_view
from .socket import SOCKET_PATH, SocketModeHub
from .workspace import (
    INTERACTIVE_ELEMENT_TYPES,
    Channel,
    JsonDict,
    Message,
    SlackError,
    StoredFile,
    Workspace,
)

EventSink = Callable[[JsonDict], Awaitable[Any] | Any]
Handler = Callable[["SlackStandIn", "Args"], JsonDict]

METHODS: dict[str, Handler] = {}
# Methods called with the app-level token (xapp-…) instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
STANDIN_KEY: web.AppKey[SlackStandIn] = web.AppKey("slack_standin")

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
_TS_RE = re.compile(r"^\d{9,10}\.\d{6}$")
_EMOJI_RE = re.compile(r"^[a-z0-9_+'\-]{1,100}(::skin-tone-[2-6])?$")
_TRIGGER_SEQ = itertools.count(1_000_001)


def api_method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for a Web API method name."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        return handler

    return register


@dataclass
class TriggerId:
    """A trigger_id issued to the driver for one user (valid `trigger_ttl` seconds, single use)."""

    id: str
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    """A response_url issued for a command or an interaction (5 uses within 30 minutes)."""

    token: str
    user_id: str
    channel_id: str
    created: float
    message_ts: str | None = None
    ephemeral_ts: str | None = None
    uses: int = 0
    last_ephemeral_ts: str | None = None


class Args:
    """Parsed request arguments with typed accessors that raise Slack errors."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str) -> Any:
        """Return an argument as sent (JSON fields already decoded)."""
        return self.data.get(name)

    def str(self, name: str) -> str | None:
        """Return a string argument, or None when absent/empty."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        return str(value)

    def require(self, name: str, error: str = "invalid_arguments") -> str:
        """Return a non-empty string argument or raise the given Slack error."""
        value = self.str(name)
        if value is None:
            raise SlackError(error)
        return value

    def bool(self, name: str) -> bool:
        """Interpret Slack's boolean encodings (true/1)."""
        value = self.data.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def int(self, name: str, default: int) -> int:
        """Return an integer argument or the default; invalid values raise invalid_arguments."""
        value = self.data.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None


class SlackStandIn:
    """A local Slack: Web API, response_url, trigger ids, faults, call log and leak guard."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        bot_token: str = "xoxb-standin-token",
        app_token: str | None = None,
        trigger_ttl: float = 3.0,
        response_url_max_uses: int = 5,
        response_url_ttl: float = 30 * 60,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.workspace = workspace
        self.bot_token = bot_token
        self.app_token = app_token
        self.trigger_ttl = trigger_ttl
        self.response_url_max_uses = response_url_max_uses
        self.response_url_ttl = response_url_ttl
        self.clock = clock or workspace.clock
        self.faults = FaultInjector(seed=seed)
        self.calls: list[CallRecord] = []
        self.guard = LeakGuard(workspace)
        self.warnings: list[str] = []
        self.echo_events_to: EventSink | None = None
        self.url = ""
        self.api_url = ""
        self.triggers: dict[str, TriggerId] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.socket = SocketModeHub(self)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the stand-in over HTTP; sets and returns `url` (api_url = url + '/api/')."""
        runner = web.AppRunner(build_standin_app(self), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.set_base_url(f"http://{bound_host}:{bound_port}")
        return self.url

    def set_base_url(self, url: str) -> None:
        """Set the public base URL (use when the app is mounted into another server)."""
        self.url = url.rstrip("/")
        self.api_url = f"{self.url}/api/"

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Finish pending echo deliveries (cancelled after drain_timeout) and stop serving."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=drain_timeout)
            for task in pending:
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        if not self.url:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test helpers

    def calls_to(self, method: str) -> list[CallRecord]:
        """All recorded calls of one Web API method (or 'response_url' / 'upload')."""
        return [c for c in self.calls if c.method == method]

    def mark_internal(self, text: str) -> None:
        """Register a string that must never reach external people (Connect channels, their DMs/views)."""
        self.guard.mark_internal(text)

    def mark_internal_user(self, user_id: str) -> None:
        """Register a user whose mention or name must never reach external people."""
        self.guard.mark_internal_user(user_id)

    @property
    def leaks(self) -> list[Leak]:
        """Violations found so far by the leak guard."""
        return self.guard.leaks

    def assert_no_leaks(self) -> None:
        """Fail with a readable list when anything leaked."""
        if self.guard.leaks:
            lines = "\n".join(f"  - {leak}" for leak in self.guard.leaks)
            raise AssertionError(f"{len(self.guard.leaks)} leak(s) to external audiences:\n{lines}")

    def issue_trigger_id(self, user_id: str) -> str:
        """Issue a trigger_id for a user, as Slack does with each interaction."""
        team_number = zlib.crc32(self.workspace.home_team_id.encode())
        trigger = f"{next(_TRIGGER_SEQ)}.{team_number}.{secrets.token_hex(16)}"
        self.triggers[trigger] = TriggerId(trigger, user_id, self.clock())
        return trigger

    def expire_trigger(self, trigger_id: str) -> None:
        """Make a trigger_id expired (as if more than trigger_ttl seconds passed)."""
        self.triggers[trigger_id].issued_at = float("-inf")

    def use_trigger(self, trigger_id: str | None, *, consume: bool = True) -> TriggerId:
        """Validate a trigger_id (invalid/expired/exchanged) and mark it used."""
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if self.clock() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if consume:
            trigger.used = True
        return trigger

    def issue_response_url(
        self,
        user_id: str,
        channel_id: str,
        *,
        message_ts: str | None = None,
        ephemeral_ts: str | None = None,
    ) -> str:
        """Issue a response_url bound to a user/channel (and the original message for interactions)."""
        token = secrets.token_urlsafe(18)
        self.response_urls[token] = ResponseUrl(
            token=token,
            user_id=user_id,
            channel_id=channel_id,
            created=self.clock(),
            message_ts=message_ts,
            ephemeral_ts=ephemeral_ts,
        )
        return f"{self.url}/_standin/response/{token}"

    def response_url_record(self, url: str) -> ResponseUrl | None:
        """Find the record behind a response_url."""
        return self.response_urls.get(url.rstrip("/").rsplit("/", 1)[-1])

    def warn(self, text: str) -> None:
        """Record a realism warning (something Slack accepts but that is probably a bug)."""
        self.warnings.append(text)

    # ------------------------------------------------------------------ writes shared by handlers

    def guard_message(self, method: str, channel: Channel, msg: Message) -> None:
        """Run the leak guard on a message the bot wrote to a channel."""
        ws = self.workspace
        extra: list[str] = []
        for file_id in msg.file_ids:
            f = ws.files.get(file_id)
            if f is not None:
                extra += [f.name, f.title, f.alt_txt or "", _decoded(f.content)]
        content = {"text": msg.text, "blocks": msg.blocks, "attachments": msg.attachments}
        self.guard.check(method=method, content=content, extra_strings=extra, channel=channel)

    def guard_private(self, method: str, viewer: str, content: Any, channel: Channel | None = None) -> None:
        """Run the leak guard on something only one person sees (ephemeral or view)."""
        self.guard.check(method=method, content=content, channel=channel, viewer=viewer)

    def emit(self, event: JsonDict) -> None:
        """Deliver an event to `echo_events_to` in the background (if configured)."""
        sink = self.echo_events_to
        if sink is None:
            return

        async def deliver() -> None:
            result = sink(copy.deepcopy(event))
            if inspect.isawaitable(result):
                await result

        task = asyncio.get_running_loop().create_task(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._echo_done)

    def _echo_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.warn(f"echo event delivery failed: {task.exception()!r}")

    def emit_bot_message(self, msg: Message, channel: Channel) -> None:
        """Echo the `message` event Slack sends for the bot's own post."""
        if self.echo_events_to is None:
            return
        event = self.workspace.render_message(msg)
        event.update(
            subtype="bot_message", channel=msg.channel, event_ts=msg.ts, channel_type=channel.channel_type
        )
        self.emit(event)

    def apply_response(
        self, record: ResponseUrl, body: Any, *, count_use: bool = True
    ) -> tuple[int, JsonDict]:
        """Apply a response_url payload (or a command's ack body); return (HTTP status, JSON body)."""
        ws = self.workspace
        if self.clock() - record.created > self.response_url_ttl:
            return 404, {"ok": False, "error": "expired_url"}
        if count_use and record.uses >= self.response_url_max_uses:
            return 404, {"ok": False, "error": "used_url"}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        channel = ws.channels.get(record.channel_id)
        if channel is None:
            return 404, {"ok": False, "error": "channel_not_found"}
        try:
            if body.get("delete_original"):
                self._delete_original(record)
            else:
                content = message_content(ws, body, require_content=True)
                if body.get("replace_original") and (record.message_ts or record.ephemeral_ts):
                    self._replace_original(record, channel, content)
                elif body.get("response_type") == "in_channel":
                    msg = ws.add_message(
                        channel.id,
                        as_bot=True,
                        source="response_url",
                        thread_ts=body.get("thread_ts"),
                        **content,
                    )
                    self.guard_message("response_url", channel, msg)
                    self.emit_bot_message(msg, channel)
                else:
                    if body.get("replace_original") and record.last_ephemeral_ts:
                        self._retire_ephemeral(record.last_ephemeral_ts)
                    eph = ws.add_ephemeral(
                        channel.id,
                        record.user_id,
                        thread_ts=body.get("thread_ts"),
                        source="response_url",
                        **content,
                    )
                    record.last_ephemeral_ts = eph.ts
                    self.guard_private("response_url", record.user_id, content, channel)
        except SlackError as exc:
            return 400, exc.to_response()
        if count_use:
            record.uses += 1
        return 200, {"ok": True}

    def _delete_original(self, record: ResponseUrl) -> None:
        if record.ephemeral_ts:
            self._retire_ephemeral(record.ephemeral_ts)
        elif record.message_ts:
            msg = self.workspace.require_message(record.channel_id, record.message_ts)
            if not msg.is_from_bot:
                raise SlackError("cant_delete_message")
            self.workspace.delete_message(record.channel_id, record.message_ts)
        elif record.last_ephemeral_ts:
            self._retire_ephemeral(record.last_ephemeral_ts)

    def _replace_original(self, record: ResponseUrl, channel: Channel, content: JsonDict) -> None:
        ws = self.workspace
        if record.ephemeral_ts:
            eph = next(e for e in ws.ephemerals if e.ts == record.ephemeral_ts)
            eph.history.append({"text": eph.text, "blocks": eph.blocks, "attachments": eph.attachments})
            eph.text, eph.blocks, eph.attachments = content["text"], content["blocks"], content["attachments"]
            self.guard_private("response_url", record.user_id, content, channel)
            return
        msg = ws.require_message(record.channel_id, record.message_ts)
        if not msg.is_from_bot:
            raise SlackError("cant_update_message")
        ws.edit_message(record.channel_id, msg.ts, editor=ws.bot_user_id, **content)
        self.guard_message("response_url", channel, msg)

    def _retire_ephemeral(self, ts: str) -> None:
        for eph in self.workspace.ephemerals:
            if eph.ts == ts:
                eph.deleted = True

    def apply_view_response(self, view_id: str, body: JsonDict) -> str | None:
        """Apply a view_submission answer (close/update/push/clear/errors); return an error or None."""
        ws = self.workspace
        stored = ws.views[view_id]
        action = body.get("response_action") if isinstance(body, dict) else None
        try:
            if action is None:
                ws.close_view(view_id)
            elif action == "errors":
                if not isinstance(body.get("errors"), dict) or not body["errors"]:
                    raise SlackError("invalid_arguments", details=["errors must be a non-empty object"])
                known = {b.get("block_id") for b in stored.blocks}
                unknown = [k for k in body["errors"] if k not in known]
                if unknown:
                    raise SlackError(
                        "invalid_arguments", details=[f"unknown block_id(s) in errors: {unknown}"]
                    )
            elif action == "update":
                view = normalize_view(ws, body.get("view"))
                check_view(view)
                self.guard_private("view_submission:update", stored.user_id, view)
                ws.update_view(stored, view)
            elif action == "push":
                view = normalize_view(ws, body.get("view"))
                check_view(view)
                if len(ws.open_views(stored.user_id)) >= 3:
                    raise SlackError("push_limit_reached")
                self.guard_private("view_submission:push", stored.user_id, view)
                ws.open_view(stored.user_id, view, push_onto=stored)
            elif action == "clear":
                ws.close_view(view_id, whole_stack=True)
            else:
                raise SlackError("invalid_arguments", details=[f"unknown response_action {action!r}"])
        except SlackError as exc:
            self.warn(f"view_submission answer for {view_id} rejected: {exc}")
            return str(exc)
        return None


# ---------------------------------------------------------------------- shared helpers


def _decoded(content: bytes | None) -> str:
    if not content:
        return ""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def normalize_blocks(ws: Workspace, blocks: Any) -> Any:
    """Give blocks and interactive elements the block_id/action_id Slack would generate."""
    if not isinstance(blocks, list):
        return blocks
    result = copy.deepcopy(blocks)
    for block in result:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", ws.short_id())
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in elements:
            if isinstance(element, dict) and element.get("type") in INTERACTIVE_ELEMENT_TYPES:
                element.setdefault("action_id", ws.short_id())
    return result


def normalize_view(ws: Workspace, view: Any) -> Any:
    """Return a copy of the view with generated block/action ids."""
    if not isinstance(view, dict):
        return view
    view = copy.deepcopy(view)
    if "blocks" in view:
        view["blocks"] = normalize_blocks(ws, view["blocks"])
    return view


def message_content(ws: Workspace, source: Args | JsonDict, *, require_content: bool = True) -> JsonDict:
    """Validate text/blocks/attachments of a message and return normalized content."""
    get = source.get
    text, blocks, attachments = get("text"), get("blocks"), get("attachments")
    check_message_content(text=text, blocks=blocks, attachments=attachments, require_content=require_content)
    if isinstance(attachments, list):
        attachments = [
            {**a, "blocks": normalize_blocks(ws, a["blocks"])} if isinstance(a.get("blocks"), list) else a
            for a in attachments
        ]
    return {
        "text": text or "",
        "blocks": normalize_blocks(ws, blocks or []),
        "attachments": attachments or [],
    }


def _metadata(args: Args) -> JsonDict | None:
    metadata = args.get("metadata")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return metadata


def _thread_ts(si: SlackStandIn, channel: Channel, raw: str | None) -> str | None:
    """Validate thread_ts like Slack: malformed → invalid_thread_ts; unknown parent → warning only."""
    if raw is None:
        return None
    if not _TS_RE.match(str(raw)):
        raise SlackError("invalid_thread_ts")
    parent = si.workspace.message(channel.id, str(raw))
    if parent is None or parent.deleted:
        si.warn(f"reply to unknown thread_ts {raw} in {channel.id}: Slack accepts it but nobody will see it")
    elif parent.is_reply:
        si.warn(f"thread_ts {raw} in {channel.id} is a reply, not a thread parent: the reply is not visible")
    return str(raw)


def _paginate(items: list[Any], args: Args, *, default_limit: int) -> tuple[list[Any], JsonDict]:
    limit = max(1, min(args.int("limit", default_limit), 1000))
    cursor = args.str("cursor")
    start = 0
    if cursor:
        if not cursor.startswith("offset:") or not cursor[7:].isdigit():
            raise SlackError("invalid_cursor")
        start = int(cursor[7:])
    page = items[start : start + limit]
    next_cursor = f"offset:{start + limit}" if start + limit < len(items) else ""
    return page, {"has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}


def _window(args: Args) -> Callable[[str], bool]:
    """Whether a message ts lies within `oldest`/`latest` (`inclusive`). A bound that is not a timestamp is
    refused as Slack does (invalid_ts_oldest / invalid_ts_latest), before any message is looked at."""

    def bound(name: str) -> float | None:
        raw = args.str(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SlackError(f"invalid_ts_{name}")
        return value

    oldest, latest, inclusive = bound("oldest"), bound("latest"), args.bool("inclusive")

    def inside(ts: str) -> bool:
        value = float(ts)
        if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
            return False
        return not (latest is not None and (value > latest or (value == latest and not inclusive)))

    return inside


def _bot_message(ws: Workspace, args: Args, *, ts_arg: str, not_yours: str) -> tuple[Channel, Message]:
    channel = ws.require_channel(args.str("channel"))
    msg = ws.require_message(channel.id, args.require(ts_arg, "message_not_found"))
    if not msg.is_from_bot or msg.bot_id != ws.bot_id:
        raise SlackError(not_yours)
    return channel, msg


def _open_modal(si: SlackStandIn, args: Args, method: str) -> tuple[TriggerId, JsonDict]:
    """Shared part of views.open/push: trigger check, view validation, leak check."""
    trigger_id = args.str("trigger_id") or args.str("interactivity_pointer")
    trigger = si.use_trigger(trigger_id, consume=False)
    view = normalize_view(si.workspace, args.get("view"))
    check_view(view)
    external_id = view.get("external_id")
    if external_id and si.workspace.find_view(external_id=external_id) is not None:
        raise SlackError("duplicate_external_id")
    trigger.used = True
    si.guard_private(method, trigger.user_id, view)
    return trigger, view


# ---------------------------------------------------------------------- Web API methods


@api_method("auth.test")
def auth_test(si: SlackStandIn, args: Args) -> JsonDict:
    """auth.test: identity of the bot token."""
    ws = si.workspace
    return {
        "url": f"https://{ws.home_team.domain}.slack.com/",
        "team": ws.home_team.name,
        "user": ws.bot_user.name,
        "team_id": ws.home_team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


@api_method("chat.postMessage")
def chat_post_message(si: SlackStandIn, args: Args) -> JsonDict:
    """chat.postMessage: post as the bot (membership, archive, limits, threads)."""
    ws = si.workspace
    channel = ws.require_postable(args.require("channel", "channel_not_found"))
    content = message_content(ws, args)
    msg = ws.add_message(
        channel.id,
        as_bot=True,
        source="chat.postMessage",
        thread_ts=_thread_ts(si, channel, args.str("thread_ts")),
        reply_broadcast=args.bool("reply_broadcast"),
        metadata=_metadata(args),
        **content,
    )
    si.guard_message("chat.postMessage", channel, msg)
    si.emit_bot_message(msg, channel)
    return {"channel": channel.id, "ts": msg.ts, "message": ws.render_message(msg)}


@api_method("chat.postEphemeral")
def chat_post_ephemeral(si: SlackStandIn, args: Args) -> JsonDict:
    """chat.postEphemeral: a message only one channel member sees."""
    ws = si.workspace
    channel = ws.require_postable(args.require("channel", "channel_not_found"))
    user = ws.require_user(args.require("user", "user_not_found"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    content = message_content(ws, args)
    eph = ws.add_ephemeral(channel.id, user.id, thread_ts=args.str("thread_ts"), **content)
    si.guard_private("chat.postEphemeral", user.id, content, channel)
    return {"message_ts": eph.ts}


@api_method("chat.update")
def chat_update(si: SlackStandIn, args: Args) -> JsonDict:
    """chat.update: edit one of the bot's messages (text-only updates drop blocks, like Slack)."""
    ws = si.workspace
    channel, msg = _bot_message(ws, args, ts_arg="ts", not_yours="cant_update_message")
    if not any(k in args for k in ("text", "blocks", "attachments")):
        raise SlackError("no_text")
    content = message_content(ws, args, require_content=False)
    changes: JsonDict = {}
    if "text" in args:
        changes["text"] = content["text"]
    if "blocks" in args:
        changes["blocks"] = content["blocks"]
    elif "text" in args:
        changes["blocks"] = []
    if "attachments" in args:
        changes["attachments"] = content["attachments"]
    if "metadata" in args:
        changes["metadata"] = _metadata(args)
    previous = ws.edit_message(channel.id, msg.ts, editor=ws.bot_user_id, **changes)
    si.guard_message("chat.update", channel, msg)
    if si.echo_events_to is not None:
        si.emit(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel.id,
                "channel_type": channel.channel_type,
                "message": ws.render_message(msg),
                "previous_message": previous,
                "ts": msg.edited["ts"] if msg.edited else msg.ts,
                "event_ts": msg.edited["ts"] if msg.edited else msg.ts,
            }
        )
    return {"channel": channel.id, "ts": msg.ts, "text": msg.text, "message": ws.render_message(msg)}


@api_method("chat.delete")
def chat_delete(si: SlackStandIn, args: Args) -> JsonDict:
    """chat.delete: delete one of the bot's messages."""
    channel, msg = _bot_message(si.workspace, args, ts_arg="ts", not_yours="cant_delete_message")
    si.workspace.delete_message(channel.id, msg.ts)
    return {"channel": channel.id, "ts": msg.ts}


@api_method("chat.getPermalink")
def chat_get_permalink(si: SlackStandIn, args: Args) -> JsonDict:
    """chat.getPermalink: https://<domain>.slack.com/archives/C…/p… (+thread_ts for replies)."""
    channel = si.workspace.require_channel(args.require("channel", "channel_not_found"))
    ts = args.require("message_ts", "message_not_found")
    return {"channel": channel.id, "permalink": si.workspace.permalink(channel.id, ts)}


@api_method("conversations.info")
def conversations_info(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.info: channel object including Slack Connect fields."""
    channel = si.workspace.require_channel(args.require("channel", "channel_not_found"))
    return {
        "channel": si.workspace.render_channel(channel, include_num_members=args.bool("include_num_members"))
    }


@api_method("conversations.members")
def conversations_members(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.members: paginated member ids."""
    channel = si.workspace.require_channel(args.require("channel", "channel_not_found"))
    page, meta = _paginate(list(channel.members), args, default_limit=100)
    return {"members": page, "response_metadata": meta["response_metadata"]}


@api_method("conversations.join")
def conversations_join(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.join: the bot joins a public channel."""
    ws = si.workspace
    channel = ws.require_channel(args.require("channel", "channel_not_found"))
    if channel.is_im or channel.is_mpim or channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    extra: JsonDict = {}
    if ws.bot_user_id in channel.members:
        extra = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
    ws.join_channel(channel.id, ws.bot_user_id)
    return {"channel": ws.render_channel(channel), **extra}


@api_method("conversations.open")
def conversations_open(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.open: open (or resume) a DM `D…` or a group DM."""
    ws = si.workspace
    if args.str("channel"):
        channel = ws.require_channel(args.str("channel"))
        if not (channel.is_im or channel.is_mpim):
            raise SlackError("method_not_supported_for_channel_type")
        return {"no_op": True, "already_open": True, "channel": {"id": channel.id}}
    users = [u.strip() for u in (args.str("users") or "").split(",") if u.strip()]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    for user_id in users:
        user = ws.require_user(user_id)
        if not user.visible:
            raise SlackError("user_not_visible")
        if user.deleted:
            raise SlackError("user_disabled")
    existed = ws.dm_channel(users[0]) is not None if len(users) == 1 else False
    channel = ws.open_dm(users[0]) if len(users) == 1 else ws.open_mpim(users)
    body: JsonDict = {"channel": ws.render_channel(channel) if args.bool("return_im") else {"id": channel.id}}
    if existed:
        body.update(no_op=True, already_open=True)
    return body


@api_method("conversations.history")
def conversations_history(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.history: top-level messages, newest first, paginated."""
    ws = si.workspace
    channel = ws.require_channel(args.require("channel", "channel_not_found"))
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    inside = _window(args)
    messages = [m for m in reversed(ws.channel_messages(channel.id)) if inside(m.ts)]
    page, meta = _paginate(messages, args, default_limit=100)
    return {"messages": [ws.render_message(m) for m in page], "pin_count": 0, **meta}


@api_method("conversations.replies")
def conversations_replies(si: SlackStandIn, args: Args) -> JsonDict:
    """conversations.replies: thread parent + replies, oldest first."""
    ws = si.workspace
    channel = ws.require_channel(args.require("channel", "channel_not_found"))
    msg = ws.message(channel.id, args.require("ts", "thread_not_found"))
    root = ws.message(channel.id, msg.thread_ts) if msg is not None and msg.is_reply else msg
    if root is None or root.deleted:
        raise SlackError("thread_not_found")
    thread = [root, *ws.thread_replies(channel.id, root.ts)]
    inside = _window(args)
    page, meta = _paginate([m for m in thread if inside(m.ts)], args, default_limit=1000)
    return {"messages": [ws.render_message(m) for m in page], **meta}


@api_method("users.info")
def users_info(si: SlackStandIn, args: Args) -> JsonDict:
    """users.info: user object with team_id, profile and is_stranger for external users."""
    user = si.workspace.require_user(args.require("user", "user_not_found"))
    if not user.visible:
        raise SlackError("user_not_visible")
    return {"user": si.workspace.render_user(user)}


@api_method("users.lookupByEmail")
def users_lookup_by_email(si: SlackStandIn, args: Args) -> JsonDict:
    """users.lookupByEmail: only users of the home team are found."""
    email = args.require("email", "users_not_found").lower()
    ws = si.workspace
    for user in ws.users.values():
        if user.email and user.email.lower() == email and not ws.is_external_user(user.id):
            return {"user": ws.render_user(user)}
    raise SlackError("users_not_found")


@api_method("views.open")
def views_open(si: SlackStandIn, args: Args) -> JsonDict:
    """views.open: open a modal with a fresh trigger_id."""
    trigger, view = _open_modal(si, args, "views.open")
    stored = si.workspace.open_view(trigger.user_id, view)
    return {"view": si.workspace.render_view(stored)}


@api_method("views.push")
def views_push(si: SlackStandIn, args: Args) -> JsonDict:
    """views.push: push a modal onto the user's open stack (max 3)."""
    ws = si.workspace
    trigger = si.use_trigger(args.str("trigger_id") or args.str("interactivity_pointer"), consume=False)
    stack = ws.open_views(trigger.user_id)
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= 3:
        raise SlackError("push_limit_reached")
    trigger, view = _open_modal(si, args, "views.push")
    stored = ws.open_view(trigger.user_id, view, push_onto=stack[-1])
    return {"view": ws.render_view(stored)}


@api_method("views.update")
def views_update(si: SlackStandIn, args: Args) -> JsonDict:
    """views.update: replace an open view by view_id or external_id (hash checked)."""
    ws = si.workspace
    if not args.str("view_id") and not args.str("external_id"):
        raise SlackError("invalid_arguments", details=["must provide view_id or external_id"])
    stored = ws.find_view(view_id=args.str("view_id"), external_id=args.str("external_id"))
    if stored is None or (stored.type == "modal" and not stored.is_open):
        raise SlackError("not_found")
    if args.str("hash") and args.str("hash") != stored.hash:
        raise SlackError("hash_conflict")
    view = normalize_view(ws, args.get("view"))
    check_view(view, allowed_types=(stored.type,))
    si.guard_private("views.update", stored.user_id, view)
    ws.update_view(stored, view)
    return {"view": ws.render_view(stored)}


@api_method("views.publish")
def views_publish(si: SlackStandIn, args: Args) -> JsonDict:
    """views.publish: publish a user's Home tab."""
    ws = si.workspace
    user = ws.require_user(args.require("user_id", "invalid_arguments"))
    existing = ws.home_view(user.id)
    if args.str("hash") and existing is not None and args.str("hash") != existing.hash:
        raise SlackError("hash_conflict")
    view = normalize_view(ws, args.get("view"))
    check_view(view, allowed_types=("home",))
    si.guard_private("views.publish", user.id, view)
    stored = ws.publish_home(user.id, view)
    return {"view": ws.render_view(stored)}


@api_method("reactions.add")
def reactions_add(si: SlackStandIn, args: Args) -> JsonDict:
    """reactions.add: the bot reacts to a message."""
    ws = si.workspace
    channel_id, ts = args.str("channel"), args.str("timestamp")
    if not channel_id or not ts:
        raise SlackError("no_item_specified")
    channel = ws.require_channel(channel_id)
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    if not _TS_RE.match(ts):
        raise SlackError("bad_timestamp")
    name = args.require("name", "invalid_name")
    if not _EMOJI_RE.match(name):
        raise SlackError("invalid_name")
    ws.add_reaction(channel.id, ts, ws.bot_user_id, name)
    return {}


@api_method("files.getUploadURLExternal")
def files_get_upload_url_external(si: SlackStandIn, args: Args) -> JsonDict:
    """files.getUploadURLExternal: reserve a file id and an upload URL on this stand-in."""
    ws = si.workspace
    filename = args.require("filename")
    length = args.int("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", details=["length is required"])
    f = StoredFile(
        id=ws.new_id("F"),
        name=filename,
        length=length,
        user=ws.bot_user_id,
        created=int(ws.clock()),
        alt_txt=args.str("alt_txt"),
        snippet_type=args.str("snippet_type"),
    )
    ws.files[f.id] = f
    return {"upload_url": f"{si.url}/_standin/upload/{f.id}", "file_id": f.id}


@api_method("files.completeUploadExternal")
def files_complete_upload_external(si: SlackStandIn, args: Args) -> JsonDict:
    """files.completeUploadExternal: finish uploads and share them into a channel as one message."""
    ws = si.workspace
    entries = args.get("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", details=["files must be a JSON array"])
    files = []
    for entry in entries:
        f = ws.files.get(entry.get("id", "")) if isinstance(entry, dict) else None
        if f is None or not f.uploaded:
            raise SlackError("file_not_found")
        f.title = entry.get("title") or f.name
        files.append(f)
    targets = [args.str("channel_id")] if args.str("channel_id") else []
    targets += [c for c in (args.str("channels") or "").split(",") if c]
    channels = [ws.require_postable(c) for c in targets]
    for channel in channels:
        msg = ws.add_message(
            channel.id,
            as_bot=True,
            source="files.completeUploadExternal",
            text=args.str("initial_comment") or "",
            thread_ts=_thread_ts(si, channel, args.str("thread_ts")),
            file_ids=[f.id for f in files],
        )
        for f in files:
            f.shares.append((channel.id, msg.ts))
        si.guard_message("files.completeUploadExternal", channel, msg)
        si.emit_bot_message(msg, channel)
    for f in files:
        f.completed = True
    return {"files": [{"id": f.id, "title": f.title} for f in files]}


@api_method("apps.connections.open")
def apps_connections_open(si: SlackStandIn, args: Args) -> JsonDict:
    """apps.connections.open: a single-use Socket Mode websocket URL on this stand-in."""
    return {"url": si.socket.issue_url()}


# ---------------------------------------------------------------------- HTTP layer


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str, str | None, str | None]:
    """Merge query, form and JSON arguments; return (args, wire format, token, token source)."""
    args: dict[str, Any] = dict(request.query)
    wire = "query"
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("json_not_object")
            body.pop("token", None)  # Slack ignores tokens inside JSON bodies
            args.update(body)
            wire = "json"
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
            wire = "form"
    token, source = None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token, source = header[7:].strip(), "header"
    elif args.get("token"):
        token, source = str(args.pop("token")), "param"
    args.pop("token", None)
    for name in _JSON_FIELDS:
        if isinstance(args.get(name), str):
            try:
                args[name] = json.loads(args[name])
            except json.JSONDecodeError:
                pass  # left as a string: the handler reports the format error
    return args, wire, token, source


async def _handle_api(request: web.Request) -> web.StreamResponse:
    si = request.config_dict[STANDIN_KEY]
    method = request.match_info["method"]
    started = time.monotonic()
    record = CallRecord(method=method, args={}, time=time.time(), http_verb=request.method, wire="?")
    si.calls.append(record)
    try:
        record.args, record.wire, token, record.token_source = await _read_args(request)
    except SlackError as exc:
        return _finish(record, exc.to_response(), started)
    fault = si.faults.next_fault(method)
    if fault is not None:
        record.fault = fault.kind
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "ratelimited":
            body = {"ok": False, "error": "ratelimited"}
            headers = {"Retry-After": str(fault.retry_after)}
            return _finish(record, body, started, status=429, headers=headers)
        elif fault.kind == "http_error":
            record.outcome, record.status, record.duration = f"http_{fault.status}", fault.status, 0.0
            html = f"<html><body><h1>{fault.status} Server Error</h1></body></html>"
            return web.Response(status=fault.status, text=html, content_type="text/html")
        elif fault.kind == "error":
            return _finish(record, {"ok": False, "error": fault.error}, started)
    handler = METHODS.get(method)
    if handler is None:
        return _finish(record, {"ok": False, "error": "unknown_method", "req_method": method}, started)
    if not token:
        return _finish(record, {"ok": False, "error": "not_authed"}, started)
    if (error := _token_error(si, method, token)) is not None:
        return _finish(record, {"ok": False, "error": error}, started)
    try:
        body = {"ok": True, **handler(si, Args(record.args))}
    except SlackError as exc:
        body = exc.to_response()
    return _finish(record, body, started)


def _token_error(si: SlackStandIn, method: str, token: str) -> str | None:
    """The bot token for Web API methods, the app-level token for apps.connections.open; else an error."""
    app_method = method in APP_TOKEN_METHODS
    expected = si.app_token if app_method else si.bot_token
    if expected and token == expected:
        return None
    other_kind = ("xoxb-", "xoxp-") if app_method else ("xapp-",)
    if token.startswith(other_kind) or token in (si.bot_token, si.app_token):
        return "not_allowed_token_type"
    return "invalid_auth"


def _finish(
    record: CallRecord,
    body: JsonDict,
    started: float,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    record.response = body
    record.status = status
    record.outcome = "ok" if body.get("ok") else str(body.get("error"))
    record.duration = time.monotonic() - started
    return web.json_response(body, status=status, headers=headers)


async def _handle_response_url(request: web.Request) -> web.StreamResponse:
    si = request.config_dict[STANDIN_KEY]
    started = time.monotonic()
    record = CallRecord("response_url", {}, time.time(), request.method, "json")
    si.calls.append(record)
    fault = si.faults.next_fault("response_url")
    if fault is not None and fault.kind == "stall":
        await asyncio.sleep(fault.seconds)
    elif fault is not None:
        record.fault = fault.kind
        status = 429 if fault.kind == "ratelimited" else fault.status if fault.kind == "http_error" else 400
        return _finish(record, {"ok": False, "error": fault.error or fault.kind}, started, status=status)
    target = si.response_urls.get(request.match_info["token"])
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    record.args = body if isinstance(body, dict) else {"raw": body}
    if target is None:
        return _finish(record, {"ok": False, "error": "invalid_url"}, started, status=404)
    status, answer = si.apply_response(target, body)
    return _finish(record, answer, started, status=status)


async def _handle_socket(request: web.Request) -> web.StreamResponse:
    return await request.config_dict[STANDIN_KEY].socket.handle(request)


async def _handle_upload(request: web.Request) -> web.StreamResponse:
    si = request.config_dict[STANDIN_KEY]
    record = CallRecord(
        "upload", {"file_id": request.match_info["file_id"]}, time.time(), request.method, "binary"
    )
    si.calls.append(record)
    f = si.workspace.files.get(request.match_info["file_id"])
    if f is None:
        record.outcome, record.status = "file_not_found", 404
        return web.Response(status=404, text="file_not_found", content_type="text/plain")
    if request.content_type == "multipart/form-data":
        form = await request.post()
        part = next((v for v in form.values() if not isinstance(v, str)), None)
        f.content = part.file.read() if part is not None else b""
    else:
        f.content = await request.read()
    record.args["bytes"] = len(f.content)
    return web.Response(text=f"OK - {len(f.content)}", content_type="text/plain")


def build_standin_app(standin: SlackStandIn) -> web.Application:
    """Build the aiohttp app serving /api/{method}, /_standin/response|upload|socket (Socket Mode)."""
    app = web.Application(client_max_size=64 * 1024**2)
    app[STANDIN_KEY] = standin
    app.router.add_route("*", "/api/{method}", _handle_api)
    app.router.add_post("/_standin/response/{token}", _handle_response_url)
    app.router.add_post("/_standin/upload/{file_id}", _handle_upload)
    app.router.add_get(SOCKET_PATH, _handle_socket)
    app.on_shutdown.append(standin.socket.on_shutdown)
    return app
