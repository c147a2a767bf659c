"""The running bot's shared parts, handed to listeners through Bolt's context."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from contextvars import Context
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.errors import TemporarilyUnavailableError
from bot.slack.afterack import AfterAck
from bot.slack.budget import REQUEST_BUDGET
from bot.slack.outbox import OutboxSender
from bot.slack.priority import RequestsFirst
from config.settings import Settings
from config.support import SupportConfig

if TYPE_CHECKING:
    from bot.flows.inbox import InboundSpool

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Runtime:
    """Settings, support config, clock, Web API client and outbox sender of one bot process."""

    settings: Settings
    config: SupportConfig
    clock: Clock
    client: AsyncWebClient
    sender: OutboxSender
    signing_secret: str = field(default="", repr=False)
    home_team_id: str | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None
    workspace_url: str | None = None
    _user_teams: dict[str, str | None] = field(default_factory=dict)
    _members: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    members_ttl: float = 30.0
    _members_fetches: dict[str, asyncio.Future[frozenset[str]]] = field(default_factory=dict)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    spool: InboundSpool = field(init=False)
    # Counts Slack requests in flight; work waits for a lull in them before it starts (bot.slack.priority).
    # The outbox sender's passes wait on the same one.
    requests_first: RequestsFirst = field(init=False)
    # Work after an ack waits here for its turn, settings.work_concurrency units at a time (bot.slack.afterack).
    after_ack: AfterAck = field(init=False)

    def __post_init__(self) -> None:
        self.requests_first = RequestsFirst(
            gap=self.settings.requests_first_gap, max_wait=self.settings.requests_first_max_wait
        )
        self.sender.requests_first = self.requests_first
        self.after_ack = AfterAck(
            concurrency=self.settings.work_concurrency,
            requests_first=self.requests_first,
            spawn=self.spawn,
            notice_after=REQUEST_BUDGET,
        )

    def begin_stopping(self) -> None:
        """Shutdown begins: work still waiting for its turn is not started (commands are told so)."""
        self.after_ack.stop()

    def spawn(
        self, work: Coroutine[Any, Any, T], *, name: str | None = None, context: Context | None = None
    ) -> asyncio.Task[T]:
        """Run work after the ack in the background, tracked so shutdown and tests can wait for it."""
        task = asyncio.create_task(work, name=name, context=context)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def background_work(self) -> list[asyncio.Task[Any]]:
        """Work started after an ack that has not finished yet."""
        return [t for t in self._background if not t.done()]

    async def wait_for_work(self, deadline: float) -> int:
        """Wait until the background work is done, or until the monotonic `deadline`. Looks again after each
        wait, so work that started meanwhile is waited for too. Returns how much was still running (logged)."""
        while tasks := self.background_work():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "shutdown: %d request(s) still running at the end of the grace period", len(tasks)
                )
                return len(tasks)
            await asyncio.wait(tasks, timeout=remaining)
        return 0

    def key(self, ticket_id: int) -> str:
        """The ticket key, e.g. SUP-42."""
        return f"{self.config.tickets.key_prefix}-{ticket_id}"

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str | None:
        """Slack's permalink for a message, in Slack's documented format (no API call needed)."""
        if not self.workspace_url:
            return None
        link = f"{self.workspace_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link

    async def user_team(self, user_id: str) -> str | None:
        """The Slack team a user belongs to (users.info, cached)."""
        if user_id not in self._user_teams:
            try:
                response = await self.client.users_info(user=user_id)
                user = response.get("user") or {}
                self._user_teams[user_id] = user.get("team_id")
            except Exception:  # noqa: BLE001 - unknown team: the caller treats the user as unknown
                return None
        return self._user_teams[user_id]

    def is_external_team(self, team_id: str | None) -> bool:
        """True for a team other than the one the bot is installed in."""
        return bool(team_id) and bool(self.home_team_id) and team_id != self.home_team_id

    async def channel_members(self, channel_id: str) -> frozenset[str]:
        """Members of a channel (conversations.members, all pages), cached for members_ttl seconds.

        Concurrent callers share one fetch per channel (a burst right after start would otherwise ask Slack
        once per request and get rate limited). When Slack can't answer and nothing is cached, the caller gets
        "try again" (TemporarilyUnavailableError), never a refusal: not knowing is not "not a member".
        """
        cached = self._members.get(channel_id)
        if cached and time.monotonic() - cached[0] < self.members_ttl:
            return cached[1]
        pending = self._members_fetches.get(channel_id)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch_members(channel_id))
            self._members_fetches[channel_id] = pending
            pending.add_done_callback(lambda _: self._members_fetches.pop(channel_id, None))
        try:
            result = await asyncio.shield(pending)
        except Exception as exc:  # noqa: BLE001 - logged; a stale answer beats none
            if cached:
                return cached[1]
            log.warning("conversations.members for %s failed: %s", channel_id, exc)
            status = exc.response.status_code if isinstance(exc, SlackApiError) else None
            if status is not None and status != 429 and status < 500:
                return frozenset()  # e.g. channel_not_found: no level rights from that channel, never more
            raise TemporarilyUnavailableError(
                "Slack is busy and I couldn't check your support level just now. Nothing was changed; "
                "please try again in a few seconds."
            ) from None
        return result

    async def _fetch_members(self, channel_id: str) -> frozenset[str]:
        members: set[str] = set()
        cursor = None
        for _ in range(50):
            response = await self.client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            members.update(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        # Cached here, before the fetch counts as done: a caller arriving after it is done but before its
        # awaiters have run must find the cache, not start a second fetch.
        result = frozenset(members)
        self._members[channel_id] = (time.monotonic(), result)
        return result

    def forget_members(self) -> None:
        """Drop the membership cache (after member_joined_channel / left events)."""
        self._members.clear()
