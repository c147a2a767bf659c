"""Socket Mode for the stand-in: connection tickets, the websocket endpoint, envelopes and their acks.

As with Slack, the app calls `apps.connections.open` with its app-level token (`xapp-…`), connects to the
returned URL (its ticket works once, for `ticket_ttl` seconds), receives `hello`, then envelopes
(`events_api`, `slash_commands`, `interactive`) that it acknowledges by `envelope_id` within 3 seconds, with
a `payload` where the envelope accepts one. `disconnect()` sends Slack's `disconnect` message
(`warning`, `refresh_requested`, `link_disabled`): the connection gets no new envelopes and the client is
expected to open a new one. Every frame, connection, rejected handshake and envelope is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web

from .workspace import JsonDict

if TYPE_CHECKING:
    from .webapi import SlackStandIn

ACK_DEADLINE = 3.0
SOCKET_PATH = "/_standin/socket"
EnvelopeType = Literal["events_api", "slash_commands", "interactive"]
DisconnectReason = Literal["warning", "refresh_requested", "link_disabled"]
# Interactions whose ack may carry a payload Slack uses (response_action, options); all commands do.
_INTERACTIONS_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})


class SocketModeError(RuntimeError):
    """Something Slack's Socket Mode would not do (or could not do) was asked of the stand-in."""


class SocketNotConnected(SocketModeError):
    """No open Socket Mode connection accepted an envelope within the wait."""


@dataclass
class SocketTicket:
    """A websocket URL ticket issued by apps.connections.open (single use)."""

    ticket: str
    issued_at: float
    used: bool = False


@dataclass
class SocketRejection:
    """A websocket handshake the stand-in refused (unknown, used or expired ticket)."""

    ticket: str
    error: str
    time: float


@dataclass
class SocketFrame:
    """One websocket text frame: 'out' from the stand-in to the app, 'in' from the app."""

    connection_id: int
    direction: Literal["in", "out"]
    data: Any
    time: float

    @property
    def type(self) -> str | None:
        """The frame's `type` (hello, disconnect, events_api, …); None for acks and non-objects."""
        return self.data.get("type") if isinstance(self.data, dict) else None


@dataclass
class SocketConnection:
    """One websocket connection of the app."""

    id: int
    ticket: str
    opened_at: float
    ws: web.WebSocketResponse = field(repr=False, compare=False)
    closed_at: float | None = None
    closed_by: Literal["app", "standin"] | None = None
    close_code: int | None = None
    disconnect_reason: str | None = None
    send_failed: bool = False

    @property
    def is_open(self) -> bool:
        """True until either side closed the connection."""
        return self.closed_at is None and not self.ws.closed

    @property
    def accepting(self) -> bool:
        """Open, writable and not asked to reconnect: new envelopes go to such a connection."""
        return self.is_open and self.disconnect_reason is None and not self.send_failed


@dataclass
class Envelope:
    """One envelope sent to the app and, once it arrived, its acknowledgement."""

    envelope_id: str
    type: EnvelopeType
    payload: JsonDict
    accepts_response_payload: bool
    connection_id: int
    sent_at: float
    retry_attempt: int | None = None
    retry_reason: str | None = None
    ack: JsonDict | None = None
    acked_at: float | None = None
    ack_connection_id: int | None = None
    done: asyncio.Future[None] | None = field(default=None, repr=False, compare=False)

    @property
    def acked(self) -> bool:
        """True once the app acknowledged this envelope."""
        return self.ack is not None

    @property
    def ack_payload(self) -> JsonDict | None:
        """The payload of the ack (None for a bare ack or before the ack)."""
        payload = (self.ack or {}).get("payload")
        return payload if isinstance(payload, dict) else None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from sending the envelope to its ack (None while unacknowledged)."""
        return None if self.acked_at is None else self.acked_at - self.sent_at

    @property
    def acked_in_time(self) -> bool:
        """True when the ack arrived within Slack's 3 second limit."""
        latency = self.ack_latency
        return latency is not None and latency <= ACK_DEADLINE

    def frame(self) -> JsonDict:
        """The envelope as sent over the websocket."""
        data: JsonDict = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            data["retry_attempt"] = self.retry_attempt or 0
            data["retry_reason"] = self.retry_reason or ""
        return data


def response_payload_accepted(envelope_type: str, payload: JsonDict) -> bool:
    """Whether Slack uses a payload in the ack of this envelope (commands, view submissions, options)."""
    if envelope_type == "slash_commands":
        return True
    return envelope_type == "interactive" and payload.get("type") in _INTERACTIONS_WITH_RESPONSE


class SocketModeHub:
    """The stand-in's Socket Mode side: tickets, connections, envelopes, acks and a record of every frame."""

    def __init__(
        self, standin: SlackStandIn, *, ticket_ttl: float = 30.0, close_timeout: float = 2.0
    ) -> None:
        self.standin = standin
        self.ticket_ttl = ticket_ttl
        self.close_timeout = close_timeout
        self.tickets: dict[str, SocketTicket] = {}
        self.connections: list[SocketConnection] = []
        self.envelopes: list[Envelope] = []
        self.frames: list[SocketFrame] = []
        self.rejections: list[SocketRejection] = []
        self._by_id: dict[str, Envelope] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._closers: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ state

    @property
    def active(self) -> SocketConnection | None:
        """The connection new envelopes go to: the newest one that is open and not retiring."""
        return next((c for c in reversed(self.connections) if c.accepting), None)

    @property
    def open_connections(self) -> list[SocketConnection]:
        """Connections not closed yet (including retiring ones)."""
        return [c for c in self.connections if c.is_open]

    @property
    def unacked(self) -> list[Envelope]:
        """Envelopes still waiting for their ack."""
        return [e for e in self.envelopes if not e.acked]

    def envelopes_of(self, envelope_type: str) -> list[Envelope]:
        """All envelopes of one type (events_api, slash_commands, interactive)."""
        return [e for e in self.envelopes if e.type == envelope_type]

    def frames_of(self, frame_type: str) -> list[SocketFrame]:
        """All recorded frames of one type (hello, disconnect, events_api, …)."""
        return [f for f in self.frames if f.type == frame_type]

    def envelope(self, envelope_id: str) -> Envelope:
        """The envelope with this id (KeyError if it was never sent)."""
        return self._by_id[envelope_id]

    # ------------------------------------------------------------------ tickets

    def issue_url(self) -> str:
        """A fresh single-use websocket URL, as apps.connections.open returns it."""
        if not self.standin.url:
            raise SocketModeError("the stand-in has no base URL yet (start() or set_base_url() first)")
        ticket = str(uuid.uuid4())
        self.tickets[ticket] = SocketTicket(ticket, time.monotonic())
        base = self.standin.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}{SOCKET_PATH}?ticket={ticket}&app_id={self.standin.workspace.app_id}"

    def _redeem(self, ticket: str) -> str | None:
        """Use a ticket; return the error when it cannot be used."""
        record = self.tickets.get(ticket)
        if record is None:
            return "invalid_ticket"
        if record.used:
            return "ticket_already_used"
        if time.monotonic() - record.issued_at > self.ticket_ttl:
            return "expired_ticket"
        record.used = True
        return None

    # ------------------------------------------------------------------ websocket endpoint

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The websocket endpoint: check the ticket, send hello, record acks until either side closes."""
        ticket = request.query.get("ticket", "")
        error = self._redeem(ticket)
        if error is not None:
            self.rejections.append(SocketRejection(ticket, error, time.time()))
            return web.json_response({"ok": False, "error": error}, status=401)
        ws = web.WebSocketResponse(autoping=True, timeout=self.close_timeout)
        await ws.prepare(request)
        conn = SocketConnection(id=len(self.connections) + 1, ticket=ticket, opened_at=time.time(), ws=ws)
        self.connections.append(conn)
        try:
            await self._send(conn, self._hello())
            self._notify()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._receive(conn, message.data)
                elif message.type == WSMsgType.BINARY:
                    self.frames.append(SocketFrame(conn.id, "in", message.data, time.time()))
                    self.standin.warn(
                        f"socket connection {conn.id}: binary frame ignored (Slack expects JSON text)"
                    )
        finally:
            conn.closed_at = time.time()
            conn.closed_by = conn.closed_by or "app"
            conn.close_code = ws.close_code
            self._notify()
        return ws

    def _hello(self) -> JsonDict:
        return {
            "type": "hello",
            "num_connections": len([c for c in self.connections if c.accepting]),
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.standin.workspace.app_id},
        }

    async def _send(self, conn: SocketConnection, data: JsonDict) -> None:
        await conn.ws.send_str(json.dumps(data))
        self.frames.append(SocketFrame(conn.id, "out", copy.deepcopy(data), time.time()))

    def _receive(self, conn: SocketConnection, text: str) -> None:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError:
            data = text
        self.frames.append(SocketFrame(conn.id, "in", data, time.time()))
        envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
        if not isinstance(envelope_id, str):
            self.standin.warn(f"socket connection {conn.id}: frame without envelope_id ignored: {text[:200]}")
            return
        envelope = self._by_id.get(envelope_id)
        if envelope is None:
            self.standin.warn(f"socket connection {conn.id}: ack for unknown envelope {envelope_id}")
            return
        if envelope.acked:
            self.standin.warn(f"socket: envelope {envelope_id} acknowledged twice")
            return
        envelope.ack, envelope.acked_at, envelope.ack_connection_id = data, time.monotonic(), conn.id
        if envelope.ack_payload and not envelope.accepts_response_payload:
            self.standin.warn(
                f"socket: ack payload of {envelope.type} envelope {envelope_id} is ignored by Slack "
                f"(accepts_response_payload is false): {json.dumps(envelope.ack_payload)[:200]}"
            )
        if envelope.done is not None and not envelope.done.done():
            envelope.done.set_result(None)

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _wait_until(self, ready: Callable[[], bool], limit: float) -> bool:
        deadline = time.monotonic() + limit
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)
            self._waiters.discard(waiter)
        return True

    async def wait_connected(self, *, opened: int = 1, limit: float = 5.0) -> SocketConnection:
        """Wait until at least `opened` connections were made and one accepts envelopes; return it."""
        if not await self._wait_until(
            lambda: len(self.connections) >= opened and self.active is not None, limit
        ):
            raise SocketNotConnected(
                f"no accepting Socket Mode connection within {limit:g}s "
                f"({len(self.connections)} opened, {len(self.open_connections)} open; "
                f"rejected handshakes: {[r.error for r in self.rejections]})"
            )
        assert self.active is not None
        return self.active

    async def wait_closed(self, conn: SocketConnection, limit: float = 5.0) -> bool:
        """Wait until a connection is closed (by either side); False when it is still open."""
        return await self._wait_until(lambda: not conn.is_open, limit)

    # ------------------------------------------------------------------ delivering

    async def send(
        self,
        envelope_type: EnvelopeType,
        payload: JsonDict,
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        connect_timeout: float = 5.0,
    ) -> Envelope:
        """Send one envelope on the active connection (waiting up to connect_timeout for one).

        A connection that fails while the envelope is written (the app is just closing it) is skipped and
        the envelope goes to the next accepting one, as Slack does.
        """
        deadline = time.monotonic() + connect_timeout
        accepts = (
            response_payload_accepted(envelope_type, payload)
            if accepts_response_payload is None
            else accepts_response_payload
        )
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=envelope_type,
            payload=copy.deepcopy(payload),
            accepts_response_payload=accepts,
            connection_id=0,
            sent_at=time.monotonic(),
            retry_attempt=retry_attempt if envelope_type == "events_api" else None,
            retry_reason=retry_reason if envelope_type == "events_api" else None,
            done=asyncio.get_running_loop().create_future(),
        )
        self._by_id[envelope.envelope_id] = envelope
        try:
            while True:
                conn = await self.wait_connected(limit=max(0.0, deadline - time.monotonic()))
                envelope.connection_id, envelope.sent_at = conn.id, time.monotonic()
                try:
                    await self._send(conn, envelope.frame())
                    break
                except (ConnectionError, RuntimeError):
                    conn.send_failed = True
        except BaseException:
            del self._by_id[envelope.envelope_id]
            raise
        self.envelopes.append(envelope)
        return envelope

    async def wait_ack(self, envelope: Envelope, limit: float = 5.0) -> bool:
        """Wait up to `limit` seconds for the envelope's ack; True when it arrived."""
        if envelope.acked or envelope.done is None:
            return envelope.acked
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(envelope.done), limit)
        return envelope.acked

    async def deliver(
        self,
        envelope_type: EnvelopeType,
        payload: JsonDict,
        *,
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> Envelope:
        """Send one envelope and wait (bounded) for its ack; check `acked` on the result."""
        envelope = await self.send(
            envelope_type,
            payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            connect_timeout=connect_timeout,
        )
        await self.wait_ack(envelope, ack_timeout)
        return envelope

    # ------------------------------------------------------------------ refresh and shutdown

    async def disconnect(
        self, reason: DisconnectReason = "refresh_requested", *, close_after: float | None = None
    ) -> list[SocketConnection]:
        """Send `disconnect` on every accepting connection; they get no new envelopes from now on.

        The app is expected to open a new connection (and close the old one). With `close_after`, the
        stand-in itself closes the old connection that many seconds later, as Slack eventually does.
        """
        targets = [c for c in self.connections if c.accepting]
        for conn in targets:
            conn.disconnect_reason = reason
            frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin"}}
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(conn, frame)
            if close_after is not None:
                task = asyncio.get_running_loop().create_task(self._close_later(conn, close_after))
                self._closers.add(task)
                task.add_done_callback(self._closers.discard)
        self._notify()
        return targets

    async def _close_later(self, conn: SocketConnection, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.close_connection(conn)

    async def close_connection(self, conn: SocketConnection, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close one connection from the stand-in's side (like a dropped link or a server restart)."""
        if not conn.is_open:
            return
        conn.closed_by = "standin"
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.close(code=code, message=b"standin closed the connection")

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close every open connection from the stand-in's side."""
        for task in list(self._closers):
            task.cancel()
        await asyncio.gather(*(self.close_connection(c, code) for c in self.open_connections))

    async def on_shutdown(self, app: web.Application) -> None:
        """aiohttp on_shutdown hook: close websockets so the server can stop promptly."""
        await self.close_all()
