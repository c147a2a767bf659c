"""Signed driver: acts as the people of a stand-in workspace and delivers what Slack would send.

Every method stores the person's action in the stand-in's workspace first (so the Web API finds it
later), then POSTs a request signed exactly like Slack's to the bot's `/slack/events` URL.
Interactions are built from what the person can actually see (stored messages and views).
With `transport="socket"` the same payloads go out as Socket Mode envelopes over the stand-in's
websocket instead (unsigned, as Slack sends them), and the ack's payload plays the HTTP answer's part.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp

from .standin.socket import EnvelopeType
from .standin.webapi import SlackStandIn
from .standin.workspace import (
    Channel,
    Ephemeral,
    JsonDict,
    Message,
    StoredView,
    User,
    Workspace,
    iter_interactive_elements,
)

_EVENT_SEQ = itertools.count(1)

Transport = Literal["http", "socket"]

_TEXT_INPUTS = frozenset(
    {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
)
_SINGLE_OPTION = frozenset({"static_select", "external_select", "radio_buttons", "overflow"})
_MULTI_OPTION = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
_ID_PICKERS = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "file_input": "files",
}
_INITIAL_KEYS = {
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "value": "initial_value",
}


def compute_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: 'v0=' + hex HMAC-SHA256(secret, 'v0:{ts}:{body}')."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class DriverResult:
    """What the driver sent and what the bot answered."""

    status: int | None
    text: str
    json: Any
    headers: dict[str, str]
    sent_body: bytes
    sent_headers: dict[str, str]
    payload: JsonDict
    elapsed: float
    event_id: str | None = None
    ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None
    followups: list[DriverResult] = field(default_factory=list)
    applied_error: str | None = None
    transport: Transport = "http"
    envelope_id: str | None = None

    @property
    def ok(self) -> bool:
        """True for an HTTP 2xx answer (Socket Mode: the envelope was acknowledged, reported as 200)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def delivered(self) -> bool:
        """False when nothing was sent (e.g. view closed without notify_on_close)."""
        return self.status is not None or self.envelope_id is not None

    @property
    def acked_in_time(self) -> bool:
        """True when the bot answered within Slack's 3 second limit."""
        return self.elapsed <= 3.0

    @property
    def response_action(self) -> str | None:
        """The `response_action` of a view_submission answer, if any."""
        return self.json.get("response_action") if isinstance(self.json, dict) else None

    @property
    def view_errors(self) -> dict[str, str]:
        """The block_id → message map of a `response_action: errors` answer ({} otherwise)."""
        if self.response_action != "errors":
            return {}
        return dict(self.json.get("errors") or {})


class SlackDriver:
    """Sends correctly signed Events API / slash command / interactivity requests to the bot.

    `transport="socket"` delivers the same payloads as Socket Mode envelopes through the stand-in's
    websocket (the bot must be connected); `ack_timeout` bounds the wait for each ack, and a missing ack
    gives a result with `status=None`. `send_raw` always uses HTTP (it tests the signed endpoint).
    """

    def __init__(
        self,
        standin: SlackStandIn,
        bot_events_url: str,
        signing_secret: str,
        app_id: str = "A0BOT",
        *,
        verification_token: str = "standin-verification-token",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: Transport = "http",
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        if transport not in ("http", "socket"):
            raise ValueError(f"transport must be 'http' or 'socket', not {transport!r}")
        self.standin = standin
        self.bot_events_url = bot_events_url
        self.signing_secret = signing_secret
        self.app_id = app_id
        self.verification_token = verification_token
        self.timeout = timeout
        self.clock = clock
        self.transport: Transport = transport
        self.ack_timeout = ack_timeout
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def workspace(self) -> Workspace:
        """The stand-in's workspace."""
        return self.standin.workspace

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ transport

    def signed_headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """X-Slack-Request-Timestamp and X-Slack-Signature for a body."""
        ts = timestamp or str(int(self.clock()))
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": compute_signature(self.signing_secret, ts, body),
        }

    async def send_raw(
        self,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        sign: bool = True,
        timestamp: str | None = None,
        signature: str | None = None,
        content_type: str = "application/json",
    ) -> DriverResult:
        """POST arbitrary bytes (for hostile-input tests): unsigned, stale timestamp or forged signature.

        Always over HTTP, whatever the transport: it tests the bot's signed endpoint.
        """
        sent: dict[str, str] = {"Content-Type": content_type}
        if sign:
            sent.update(self.signed_headers(body, timestamp))
        elif timestamp is not None:
            sent["X-Slack-Request-Timestamp"] = timestamp
        if signature is not None:
            sent["X-Slack-Signature"] = signature
        sent.update(headers or {})
        return await self._post(body, sent, payload=_parse_body(body, content_type))

    async def _post(self, body: bytes, headers: dict[str, str], *, payload: JsonDict) -> DriverResult:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        started = time.monotonic()
        async with self._session.post(self.bot_events_url, data=body, headers=headers) as resp:
            text = await resp.text()
            status, resp_headers = resp.status, dict(resp.headers)
        elapsed = time.monotonic() - started
        try:
            parsed: Any = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            parsed = None
        return DriverResult(status, text, parsed, resp_headers, body, headers, payload, elapsed)

    async def _send_envelope(
        self,
        envelope_type: EnvelopeType,
        payload: JsonDict,
        *,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> DriverResult:
        """Deliver a payload as a Socket Mode envelope and wait (bounded) for the bot's ack."""
        envelope = await self.standin.socket.deliver(
            envelope_type,
            payload,
            ack_timeout=self.ack_timeout,
            connect_timeout=self.connect_timeout,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        answer = envelope.ack_payload
        latency = envelope.ack_latency
        return DriverResult(
            status=200 if envelope.acked else None,
            text=json.dumps(answer) if answer else "",
            json=answer,
            headers={},
            sent_body=json.dumps(envelope.frame()).encode(),
            sent_headers={},
            payload=payload,
            elapsed=latency if latency is not None else time.monotonic() - envelope.sent_at,
            transport="socket",
            envelope_id=envelope.envelope_id,
        )

    async def _send_json(
        self, payload: JsonDict, extra_headers: Mapping[str, str] | None = None
    ) -> DriverResult:
        if self.transport == "socket":
            return await self._send_envelope("events_api", payload)
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **self.signed_headers(body), **(extra_headers or {})}
        return await self._post(body, headers, payload=payload)

    async def _send_form(self, fields: Mapping[str, str], payload: JsonDict) -> DriverResult:
        if self.transport == "socket":
            return await self._send_envelope("slash_commands", dict(fields))
        body = urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self.signed_headers(body)}
        return await self._post(body, headers, payload=payload)

    async def _send_interaction(self, payload: JsonDict) -> DriverResult:
        if self.transport == "socket":
            return await self._send_envelope("interactive", payload)
        return await self._send_form({"payload": json.dumps(payload)}, payload)

    async def redeliver(
        self, previous: DriverResult, retry_num: int = 1, reason: str = "http_timeout"
    ) -> DriverResult:
        """Re-send the same body (same event_id) freshly signed, with Slack's retry headers.

        For a Socket Mode result: the same payload in a new envelope with retry_attempt/retry_reason.
        """
        if previous.transport == "socket" and previous.envelope_id is not None:
            sent = self.standin.socket.envelope(previous.envelope_id)
            result = await self._send_envelope(
                sent.type,
                previous.payload,
                retry_attempt=retry_num,
                retry_reason=reason,
            )
            result.event_id, result.ts = previous.event_id, previous.ts
            return result
        headers = {
            "Content-Type": previous.sent_headers.get("Content-Type", "application/json"),
            **self.signed_headers(previous.sent_body),
            "X-Slack-Retry-Num": str(retry_num),
            "X-Slack-Retry-Reason": reason,
        }
        result = await self._post(previous.sent_body, headers, payload=previous.payload)
        result.event_id, result.ts = previous.event_id, previous.ts
        return result

    # ------------------------------------------------------------------ people and envelopes

    def _user(self, user_id: str) -> User:
        user = self.workspace.users.get(user_id)
        if user is None:
            raise AssertionError(f"unknown user {user_id!r}")
        return user

    def _channel(self, channel_id: str) -> Channel:
        channel = self.workspace.channels.get(channel_id)
        if channel is None:
            raise AssertionError(f"unknown channel {channel_id!r}")
        return channel

    def _team_object(self, user: User) -> JsonDict:
        team = self.workspace.teams[user.team_id]
        data: JsonDict = {"id": team.id, "domain": team.domain}
        if team.enterprise_id:
            data.update(enterprise_id=team.enterprise_id, enterprise_name=team.enterprise_name)
        return data

    def _user_object(self, user: User) -> JsonDict:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def _user_profile(self, user: User) -> JsonDict:
        return {
            "avatar_hash": "g0000000000",
            "image_72": "https://a.slack-edge.com/avatar-72.png",
            "first_name": user.real_name.split(" ")[0],
            "real_name": user.real_name,
            "display_name": user.name,
            "team": user.team_id,
            "name": user.name,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": False,
        }

    def envelope(
        self, event: JsonDict, *, channel: Channel | None = None, actor: User | None = None
    ) -> JsonDict:
        """Wrap an event in Slack's event_callback envelope (Slack Connect aware)."""
        ws = self.workspace
        ext_shared = channel is not None and channel.is_ext_shared
        actor_team = actor.team_id if actor is not None else ws.home_team_id
        team_id = actor_team if ext_shared else ws.home_team_id
        event_id = f"Ev{next(_EVENT_SEQ):08d}SB"
        context = {
            "team_id": ws.home_team_id,
            "channel_id": channel.id if channel else None,
            "event_id": event_id,
        }
        envelope: JsonDict = {
            "token": self.verification_token,
            "team_id": team_id,
            "context_team_id": ws.home_team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(self.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.home_team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": ext_shared,
            "event_context": "4-"
            + base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("="),
        }
        enterprise = ws.teams[team_id].enterprise_id if team_id in ws.teams else None
        if enterprise:
            envelope["enterprise_id"] = enterprise
        return envelope

    async def _deliver(self, event: JsonDict, *, channel: Channel | None, actor: User | None) -> DriverResult:
        payload = self.envelope(event, channel=channel, actor=actor)
        result = await self._send_json(payload)
        result.event_id, result.ts = payload["event_id"], event.get("ts") or event.get("event_ts")
        return result

    async def deliver_event(self, event: JsonDict) -> DriverResult:
        """Deliver an arbitrary event (used as `standin.echo_events_to` for the bot's own posts)."""
        channel = self.workspace.channels.get(str(event.get("channel") or ""))
        actor = self.workspace.users.get(str(event.get("user") or ""))
        return await self._deliver(event, channel=channel, actor=actor)

    def _person_message_event(self, msg: Message, channel: Channel, user: User) -> JsonDict:
        event: JsonDict = {
            "client_msg_id": msg.client_msg_id,
            "type": "message",
            "text": msg.text,
            "user": user.id,
            "ts": msg.ts,
            "blocks": copy.deepcopy(msg.blocks),
            "team": user.team_id,
            "user_team": user.team_id,
            "source_team": user.team_id,
            "user_profile": self._user_profile(user),
            "channel": channel.id,
            "event_ts": msg.ts,
            "channel_type": channel.channel_type,
        }
        if msg.subtype:
            event["subtype"] = msg.subtype
        if msg.is_reply:
            event.update(thread_ts=msg.thread_ts, parent_user_id=msg.parent_user_id)
        return event

    # ------------------------------------------------------------------ events

    async def post_message(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        thread_ts: str | None = None,
        *,
        app_mention: bool = True,
    ) -> DriverResult:
        """A person posts a message; also delivers app_mention when the bot is mentioned."""
        user, channel = self._user(user_id), self._channel(channel_id)
        msg = self.workspace.post_as_user(user_id, channel_id, text, thread_ts=thread_ts)
        event = self._person_message_event(msg, channel, user)
        result = await self._deliver(event, channel=channel, actor=user)
        if app_mention and f"<@{self.workspace.bot_user_id}>" in text:
            mention = {k: v for k, v in event.items() if k not in ("channel_type", "subtype")}
            mention["type"] = "app_mention"
            result.followups.append(await self._deliver(mention, channel=channel, actor=user))
        return result

    async def post_dm(self, user_id: str, text: str, thread_ts: str | None = None) -> DriverResult:
        """A person writes to the bot in its Messages tab (DM, channel_type im)."""
        dm = self.workspace.open_dm(user_id)
        return await self.post_message(user_id, dm.id, text, thread_ts, app_mention=False)

    async def channel_join_message(self, user_id: str, channel_id: str) -> DriverResult:
        """The `channel_join` subtype message Slack posts when someone joins."""
        user, channel = self._user(user_id), self._channel(channel_id)
        msg = self.workspace.post_as_user(
            user_id, channel_id, f"<@{user_id}> has joined the channel", subtype="channel_join"
        )
        event = self._person_message_event(msg, channel, user)
        event.pop("client_msg_id", None)
        return await self._deliver(event, channel=channel, actor=user)

    async def edit_message(self, user_id: str, channel_id: str, ts: str, text: str) -> DriverResult:
        """A person edits their message (message_changed)."""
        user, channel = self._user(user_id), self._channel(channel_id)
        msg = self.workspace.require_message(channel_id, ts)
        if msg.user != user_id:
            raise AssertionError(f"{user_id} cannot edit a message of {msg.user}")
        previous = self.workspace.edit_message(channel_id, ts, editor=user_id, text=text)
        edit_ts = msg.edited["ts"] if msg.edited else self.workspace.next_ts()
        event: JsonDict = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "message": {
                **self.workspace.render_message(msg),
                "user_team": user.team_id,
                "source_team": user.team_id,
            },
            "previous_message": previous,
            "channel": channel.id,
            "event_ts": edit_ts,
            "ts": edit_ts,
            "channel_type": channel.channel_type,
        }
        return await self._deliver(event, channel=channel, actor=user)

    async def delete_message(self, user_id: str, channel_id: str, ts: str) -> DriverResult:
        """A person deletes their message (message_deleted)."""
        user, channel = self._user(user_id), self._channel(channel_id)
        msg = self.workspace.require_message(channel_id, ts)
        if msg.user != user_id and not user.is_admin:
            raise AssertionError(f"{user_id} cannot delete a message of {msg.user}")
        previous = self.workspace.delete_message(channel_id, ts)
        event_ts = self.workspace.next_ts()
        event: JsonDict = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": ts,
            "previous_message": previous,
            "channel": channel.id,
            "event_ts": event_ts,
            "ts": event_ts,
            "channel_type": channel.channel_type,
        }
        return await self._deliver(event, channel=channel, actor=user)

    async def add_reaction(self, user_id: str, channel_id: str, ts: str, name: str) -> DriverResult:
        """A person reacts to a message (reaction_added)."""
        user, channel = self._user(user_id), self._channel(channel_id)
        if user_id not in channel.members:
            raise AssertionError(f"{user_id} is not in {channel_id} and cannot react there")
        msg = self.workspace.add_reaction(channel_id, ts, user_id, name)
        event = {
            "type": "reaction_added",
            "user": user_id,
            "item": {"type": "message", "channel": channel_id, "ts": ts},
            "reaction": name,
            "item_user": msg.user,
            "event_ts": self.workspace.next_ts(),
        }
        return await self._deliver(event, channel=channel, actor=user)

    async def member_joined(
        self, user_id: str, channel_id: str, *, inviter: str | None = None
    ) -> DriverResult:
        """A person joins a channel (member_joined_channel)."""
        user, channel = self._user(user_id), self._channel(channel_id)
        self.workspace.join_channel(channel_id, user_id)
        event: JsonDict = {
            "type": "member_joined_channel",
            "user": user_id,
            "channel": channel_id,
            "channel_type": "G" if channel.is_private else "C",
            "team": user.team_id,
            "event_ts": self.workspace.next_ts(),
        }
        if inviter:
            event["inviter"] = inviter
        return await self._deliver(event, channel=channel, actor=user)

    async def app_home_opened(self, user_id: str, tab: str = "home") -> DriverResult:
        """A person opens the app's Home (or Messages) tab."""
        user = self._user(user_id)
        dm = self.workspace.open_dm(user_id)
        event: JsonDict = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm.id,
            "tab": tab,
            "event_ts": self.workspace.next_ts(),
        }
        home = self.workspace.home_view(user_id)
        if tab == "home" and home is not None:
            event["view"] = self.workspace.render_view(home)
        return await self._deliver(event, channel=None, actor=user)

    # ------------------------------------------------------------------ slash commands and shortcuts

    async def slash_command(
        self, user_id: str, channel_id: str, command: str, text: str = ""
    ) -> DriverResult:
        """A person runs a slash command; an ack body is shown to them like Slack does."""
        user, channel = self._user(user_id), self._channel(channel_id)
        if user_id not in channel.members:
            raise AssertionError(f"{user_id} is not in {channel_id} and cannot run {command} there")
        team = self.workspace.teams[user.team_id]
        trigger_id = self.standin.issue_trigger_id(user_id)
        response_url = self.standin.issue_response_url(user_id, channel_id)
        fields: dict[str, str] = {
            "token": self.verification_token,
            "team_id": team.id,
            "team_domain": team.domain,
        }
        if team.enterprise_id:
            fields.update(enterprise_id=team.enterprise_id, enterprise_name=team.enterprise_name or "")
        fields.update(
            channel_id=channel.id,
            channel_name=_channel_name(channel),
            user_id=user.id,
            user_name=user.name,
            command=command,
            text=text,
            api_app_id=self.app_id,
            is_enterprise_install="false",
            response_url=response_url,
            trigger_id=trigger_id,
        )
        result = await self._send_form(fields, dict(fields))
        result.trigger_id, result.response_url = trigger_id, response_url
        if result.status == 200 and result.text.strip():
            body = result.json if isinstance(result.json, dict) else {"text": result.text}
            record = self.standin.response_url_record(response_url)
            if record is not None:
                status, answer = self.standin.apply_response(record, body, count_use=False)
                if status != 200:
                    result.applied_error = str(answer.get("error"))
        return result

    async def message_shortcut(
        self, user_id: str, channel_id: str, message_ts: str, callback_id: str
    ) -> DriverResult:
        """A person runs a message shortcut on a message they can see."""
        user, channel = self._user(user_id), self._channel(channel_id)
        msg = self._visible_message(user_id, channel_id, message_ts)
        trigger_id = self.standin.issue_trigger_id(user_id)
        response_url = self.standin.issue_response_url(user_id, channel_id)
        payload: JsonDict = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": _action_ts(self.clock),
            "team": self._team_object(user),
            "user": self._user_object(user),
            "channel": {"id": channel.id, "name": _channel_name(channel)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "response_url": response_url,
            "message_ts": msg.ts,
            "message": self.workspace.render_message(msg),
        }
        result = await self._send_interaction(payload)
        result.trigger_id, result.response_url, result.ts = trigger_id, response_url, msg.ts
        return result

    async def global_shortcut(self, user_id: str, callback_id: str) -> DriverResult:
        """A person runs a global shortcut."""
        user = self._user(user_id)
        trigger_id = self.standin.issue_trigger_id(user_id)
        payload: JsonDict = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": _action_ts(self.clock),
            "team": self._team_object(user),
            "user": {"id": user.id, "username": user.name, "team_id": user.team_id},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id,
        }
        result = await self._send_interaction(payload)
        result.trigger_id = trigger_id
        return result

    # ------------------------------------------------------------------ block actions

    def _visible_message(self, user_id: str, channel_id: str, ts: str) -> Message:
        channel = self._channel(channel_id)
        msg = self.workspace.message(channel_id, ts)
        if msg is None or msg.deleted:
            raise AssertionError(f"no visible message {ts} in {channel_id}")
        if user_id not in channel.members:
            raise AssertionError(f"{user_id} is not in {channel_id} and cannot see message {ts}")
        return msg

    async def click(
        self,
        user_id: str,
        action_id: str,
        *,
        message: Message | None = None,
        channel: str | None = None,
        ts: str | None = None,
        view: StoredView | str | None = None,
        ephemeral: Ephemeral | None = None,
        block_id: str | None = None,
        value: Any = None,
        selected_option: Any = None,
    ) -> DriverResult:
        """A person uses an element they can see (button/select/…) in a message, ephemeral or view.

        `value` picks among buttons sharing an action_id (by their value) or is the value entered in
        other elements; `selected_option` is the option value (or option dict) chosen in a select.
        """
        user = self._user(user_id)
        ws = self.workspace
        payload: JsonDict = {
            "type": "block_actions",
            "user": self._user_object(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "team": self._team_object(user),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        stored_view: StoredView | None = None
        response_url: str | None = None
        if view is not None:
            stored_view = ws.views[view] if isinstance(view, str) else view
            if stored_view.user_id != user_id or not (stored_view.is_open or stored_view.type == "home"):
                raise AssertionError(f"view {stored_view.id} is not open for {user_id}")
            blocks, where = stored_view.blocks, f"view {stored_view.id}"
            payload["container"] = {"type": "view", "view_id": stored_view.id}
        elif ephemeral is not None:
            if ephemeral.user != user_id or ephemeral.deleted:
                raise AssertionError(f"ephemeral {ephemeral.ts} is not shown to {user_id}")
            blocks, where = ephemeral.blocks, f"ephemeral {ephemeral.ts}"
            chan = self._channel(ephemeral.channel)
            response_url = self.standin.issue_response_url(user_id, chan.id, ephemeral_ts=ephemeral.ts)
            payload["container"] = {
                "type": "message",
                "message_ts": ephemeral.ts,
                "channel_id": chan.id,
                "is_ephemeral": True,
            }
            payload["channel"] = {"id": chan.id, "name": _channel_name(chan)}
        else:
            if message is not None:
                channel, ts = message.channel, message.ts
            if channel is None or ts is None:
                raise AssertionError("click() needs message=, channel=+ts=, ephemeral= or view=")
            msg = self._visible_message(user_id, channel, ts)
            chan = self._channel(channel)
            blocks = [*msg.blocks, *(b for a in msg.attachments for b in a.get("blocks") or [])]
            where = f"message {ts} in {channel}"
            response_url = self.standin.issue_response_url(user_id, channel, message_ts=msg.ts)
            payload["container"] = {
                "type": "message",
                "message_ts": msg.ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            if msg.is_reply:
                payload["container"]["thread_ts"] = msg.thread_ts
            payload["channel"] = {"id": chan.id, "name": _channel_name(chan)}
            payload["message"] = ws.render_message(msg)
        block, element = _find_element(blocks, action_id, block_id=block_id, button_value=value, where=where)
        chosen = selected_option if selected_option is not None else value
        if element.get("type") == "button":
            action: JsonDict = {
                "type": "button",
                "action_id": action_id,
                "block_id": block["block_id"],
                "text": copy.deepcopy(element.get("text")),
            }
            for key in ("value", "style", "url"):
                if key in element:
                    action[key] = element[key]
        else:
            if chosen is None:
                raise AssertionError(f"{element.get('type')} {action_id!r} needs selected_option= or value=")
            state = _state_value(element, chosen, ws)
            action = {"action_id": action_id, "block_id": block["block_id"], **state}
            if stored_view is not None:
                stored_view.state_values.setdefault(block["block_id"], {})[action_id] = state
            if "placeholder" in element:
                action["placeholder"] = copy.deepcopy(element["placeholder"])
        action["action_ts"] = _action_ts(self.clock)
        trigger_id = self.standin.issue_trigger_id(user_id)
        payload["trigger_id"] = trigger_id
        if stored_view is not None:
            payload["view"] = ws.render_view(stored_view)
            payload["state"] = {"values": copy.deepcopy(stored_view.state_values)}
        else:
            payload["state"] = {"values": {}}
            payload["response_url"] = response_url
        payload["actions"] = [action]
        result = await self._send_interaction(payload)
        result.trigger_id, result.response_url = trigger_id, response_url
        result.view_id = stored_view.id if stored_view else None
        return result

    # ------------------------------------------------------------------ views

    async def submit_view(
        self, user_id: str, view_id: str, values: Mapping[str, Mapping[str, Any]] | None = None
    ) -> DriverResult:
        """A person submits a modal; values maps block_id → action_id → plain Python value."""
        ws = self.workspace
        user = self._user(user_id)
        stored = ws.views.get(view_id)
        if stored is None or stored.user_id != user_id or not stored.is_open or stored.type != "modal":
            raise AssertionError(f"no open modal {view_id} for {user_id}")
        elements = {
            (b.get("block_id"), e.get("action_id")): (b, e)
            for b, e in iter_interactive_elements(stored.blocks)
        }
        for (block_id, action_id), (block, element) in elements.items():
            if block.get("type") == "input":
                current = stored.state_values.get(block_id, {}).get(action_id)
                if current is None:
                    stored.state_values.setdefault(block_id, {})[action_id] = _initial_state(element)
        for block_id, actions in (values or {}).items():
            for action_id, value in actions.items():
                if (block_id, action_id) not in elements:
                    known = sorted(f"{b}/{a}" for b, a in elements)
                    raise AssertionError(
                        f"view {view_id} has no input {block_id}/{action_id}; it has {known}"
                    )
                element = elements[(block_id, action_id)][1]
                stored.state_values.setdefault(block_id, {})[action_id] = _state_value(element, value, ws)
        trigger_id = self.standin.issue_trigger_id(user_id)
        payload: JsonDict = {
            "type": "view_submission",
            "team": self._team_object(user),
            "user": self._user_object(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id,
            "view": ws.render_view(stored),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        result = await self._send_interaction(payload)
        result.trigger_id, result.view_id = trigger_id, view_id
        if result.status == 200:
            body = result.json if isinstance(result.json, dict) else {}
            result.applied_error = self.standin.apply_view_response(view_id, body)
        return result

    async def close_view(self, user_id: str, view_id: str) -> DriverResult:
        """A person closes a modal (view_closed is sent only when the view has notify_on_close)."""
        ws = self.workspace
        user = self._user(user_id)
        stored = ws.views.get(view_id)
        if stored is None or stored.user_id != user_id or not stored.is_open:
            raise AssertionError(f"no open modal {view_id} for {user_id}")
        cleared = bool(stored.view.get("clear_on_close"))
        rendered = ws.render_view(stored)
        ws.close_view(view_id, whole_stack=cleared)
        payload: JsonDict = {
            "type": "view_closed",
            "team": self._team_object(user),
            "user": self._user_object(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "view": rendered,
            "is_cleared": cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        if not stored.view.get("notify_on_close"):
            return DriverResult(None, "", None, {}, b"", {}, payload, 0.0, view_id=view_id)
        result = await self._send_interaction(payload)
        result.view_id = view_id
        return result


# ---------------------------------------------------------------------- helpers


def _parse_body(body: bytes, content_type: str) -> JsonDict:
    try:
        if content_type.startswith("application/json"):
            parsed = json.loads(body or b"null")
            return parsed if isinstance(parsed, dict) else {"raw": parsed}
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return {"raw": body.decode("utf-8", "replace")}


def _action_ts(clock: Callable[[], float]) -> str:
    return f"{clock():.6f}"


def _channel_name(channel: Channel) -> str:
    if channel.is_im:
        return "directmessage"
    return channel.name


def _find_element(
    blocks: list[JsonDict],
    action_id: str,
    *,
    block_id: str | None,
    button_value: Any,
    where: str,
) -> tuple[JsonDict, JsonDict]:
    """Find the element a person clicks; AssertionError when they could not see it."""
    visible = list(iter_interactive_elements(blocks))
    matches = [
        (b, e)
        for b, e in visible
        if e.get("action_id") == action_id
        and (block_id is None or b.get("block_id") == block_id)
        and (button_value is None or e.get("type") != "button" or e.get("value") == button_value)
    ]
    if not matches:
        seen = [f"{e.get('action_id')}({e.get('type')}, value={e.get('value')!r})" for _, e in visible]
        raise AssertionError(f"no element action_id={action_id!r} visible in {where}; visible: {seen}")
    if len(matches) > 1:
        raise AssertionError(
            f"{len(matches)} elements action_id={action_id!r} in {where}: pass block_id= or value="
        )
    return matches[0]


def _find_option(element: JsonDict, wanted: Any) -> JsonDict:
    if isinstance(wanted, dict):
        return copy.deepcopy(wanted)
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    if element.get("type") in ("external_select", "multi_external_select") and not options:
        return {"text": {"type": "plain_text", "text": str(wanted)}, "value": str(wanted)}
    for option in options:
        if option.get("value") == wanted:
            return copy.deepcopy(option)
    values = [o.get("value") for o in options]
    raise AssertionError(
        f"option {wanted!r} is not offered by {element.get('action_id')!r}; options: {values}"
    )


def _state_value(element: JsonDict, value: Any, ws: Workspace) -> JsonDict:
    """Shape a plain Python value as Slack's state/action value for this element type."""
    kind = str(element.get("type"))
    if kind in _TEXT_INPUTS:
        return {"type": kind, "value": None if value is None else str(value)}
    if kind in _SINGLE_OPTION:
        return {"type": kind, "selected_option": _find_option(element, value)}
    if kind in _MULTI_OPTION:
        chosen = value if isinstance(value, list | tuple) else [value]
        return {"type": kind, "selected_options": [_find_option(element, v) for v in chosen]}
    if kind in _ID_PICKERS:
        key = _ID_PICKERS[kind]
        if kind in ("users_select", "multi_users_select"):
            for uid in value if isinstance(value, list | tuple) else [value]:
                if uid not in ws.users:
                    raise AssertionError(f"{kind} {element.get('action_id')!r}: unknown user {uid!r}")
        return {"type": kind, key: list(value) if isinstance(value, tuple) else value}
    return {"type": kind, "value": value}


def _initial_state(element: JsonDict) -> JsonDict:
    """State Slack reports for an untouched input element (its initial value, or empty)."""
    kind = str(element.get("type"))
    if kind in _TEXT_INPUTS:
        key = "value"
    elif kind in _SINGLE_OPTION:
        key = "selected_option"
    elif kind in _MULTI_OPTION:
        key = "selected_options"
    else:
        key = _ID_PICKERS.get(kind, "value")
    initial = element.get(_INITIAL_KEYS.get(key, ""))
    if initial is None and key in ("selected_options", "selected_users", "selected_conversations", "files"):
        initial = []
    if initial is None and key == "selected_channels":
        initial = []
    return {"type": kind, key: copy.deepcopy(initial)}
