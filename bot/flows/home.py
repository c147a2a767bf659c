"""App Home: render a person's Home (agent, lead, customer) and publish it when they open it and, debounced,
when tickets on it change.

Home views are projections, not notifications: publishing one again is harmless and the next open renders
it fresh, so they go straight to views.publish instead of through the outbox. `touch()` (called whenever a
ticket card is rendered, i.e. whenever a ticket changes) only marks the people whose Home shows that
ticket or its level (or who lead) as stale; each of them is re-published at most once per
`min_interval` seconds, a short `settle` after the change (so one flow's several card renders become one
publish, after its transaction committed). Only people who opened Home in this process are tracked; with
several bot processes the others see changes on their next open (or Refresh).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError

from bot.logs import EVENT_ID, REQUEST_ID
from bot.runtime import Runtime
from bot.services import home as svc
from bot.services.permissions import Actor
from bot.services.sla.durations import format_duration
from bot.slack import payload
from bot.slack.blocks.home import (
    MINE_ROWS,
    QUEUE_ROWS,
    RISK_ROWS,
    AgentHome,
    build_agent_home,
    build_customer_home,
    build_outsider_home,
    build_ticket_modal,
)

log = logging.getLogger(__name__)

MIN_INTERVAL = 10.0
"""Seconds between two automatic publishes of one person's Home."""
SETTLE = 1.0
"""Seconds after a change before publishing (coalesces one flow's changes, lets its transaction commit)."""
MAX_TRACKED = 10_000
DEFAULT_HORIZON = timedelta(hours=4)


@dataclass(frozen=True)
class Rendered:
    """A Home view and what it depends on."""

    view: dict[str, Any]
    levels: frozenset[str] = frozenset()
    is_lead: bool = False
    shown: frozenset[int] = frozenset()
    is_agent: bool = False


@dataclass
class _Viewer:
    """Someone whose Home this process published (kept fresh on changes)."""

    levels: frozenset[str]
    is_lead: bool
    shown: frozenset[int]
    published_at: float = 0.0
    handle: asyncio.TimerHandle | None = field(default=None, repr=False)


def _horizon(rt: Runtime) -> timedelta:
    sla = rt.config.sla
    return sla.overview.horizon_delta if sla.overview.horizon else DEFAULT_HORIZON


async def _actor(rt: Runtime, user_id: str) -> Actor:
    # Imported here: escalation imports cards, which calls touch() in this module.
    from bot.flows.escalation import actor_for

    return await actor_for(rt, user_id=user_id, team_id=None)


async def render(rt: Runtime, *, user_id: str) -> Rendered:
    """The Home of a person as it should look now."""
    actor = await _actor(rt, user_id)
    prefix = rt.config.tickets.key_prefix
    if actor.is_external:
        customer = rt.config.customer_by_team(actor.team_id)
        language = (customer.language if customer else None) or rt.config.defaults.language
        return Rendered(view=build_customer_home(language=language, key_prefix=prefix))
    if not actor.is_agent:
        return Rendered(view=build_outsider_home(key_prefix=prefix))
    now = rt.clock.now()
    horizon = _horizon(rt)
    levels = sorted(actor.levels) if actor.levels else list(svc.LEVELS)
    mine = await svc.ticket_section(assignee_id=user_id, limit=MINE_ROWS)
    queue = await svc.ticket_section(levels=levels, unassigned=True, limit=QUEUE_ROWS)
    risk = await svc.ticket_section(levels=levels, risky_before=now + horizon, limit=RISK_ROWS)
    counts = None
    if actor.is_lead:
        tz = ZoneInfo(rt.config.defaults.timezone)
        day_start = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
        counts = (await svc.overview(now=now, risky_before=now + horizon, day_start=day_start)).levels
    home = AgentHome(
        user_id=user_id,
        levels=tuple(levels),
        is_lead=actor.is_lead,
        key_prefix=prefix,
        mine=mine,
        queue=queue,
        risk=risk,
        risk_horizon=format_duration(horizon),
        updated_at=now,
        counts=counts,
    )
    shown = {t.id for section in (mine, queue, risk) for t in section.tickets}
    return Rendered(
        view=build_agent_home(home),
        levels=frozenset(levels),
        is_lead=actor.is_lead,
        shown=frozenset(shown),
        is_agent=True,
    )


class HomePublisher:
    """Publishes Home views of one bot process: on open, on request, and debounced after changes."""

    def __init__(self, rt: Runtime, *, min_interval: float = MIN_INTERVAL, settle: float = SETTLE) -> None:
        self._rt = weakref.ref(rt)
        self.min_interval, self.settle = min_interval, settle
        self.viewers: dict[str, _Viewer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._context = contextvars.copy_context()
        self.published = 0

    def remember_context(self) -> None:
        """Keep the caller's context (outside any transaction) for the publishes that changes schedule."""
        context = contextvars.copy_context()
        context.run(REQUEST_ID.set, None)
        context.run(EVENT_ID.set, None)
        self._context = context

    @property
    def rt(self) -> Runtime | None:
        """The runtime (None once it is gone)."""
        return self._rt()

    def touch(self, *, ticket_id: int, level: str, assignee_id: str | None) -> None:
        """A ticket changed: schedule a publish for everyone whose Home shows it, its level or counts."""
        if not self.viewers:
            return
        for user_id, viewer in self.viewers.items():
            if (
                ticket_id in viewer.shown
                or user_id == assignee_id
                or level in viewer.levels
                or viewer.is_lead
            ):
                self._schedule(user_id, viewer)

    def _schedule(self, user_id: str, viewer: _Viewer) -> None:
        if viewer.handle is not None:
            return  # already due: this change rides along
        loop = asyncio.get_running_loop()
        delay = max(self.settle, viewer.published_at + self.min_interval - loop.time())
        # Not the current context: touch() runs inside the changing flow's transaction, whose connection
        # (a context variable of tortoise's) is gone by the time the publish runs.
        viewer.handle = loop.call_later(delay, self._spawn, user_id, context=self._context)

    def _spawn(self, user_id: str) -> None:
        viewer = self.viewers.get(user_id)
        if viewer is not None:
            viewer.handle = None
        task = asyncio.get_running_loop().create_task(self._publish_logged(user_id), name="home-publish")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_logged(self, user_id: str) -> None:
        try:
            await self.publish(user_id)
        except Exception:  # a background refresh: log it, the next change or open publishes again
            log.exception("home: refreshing the Home of %s failed", user_id)

    async def publish(self, user_id: str) -> bool:
        """Render and publish a person's Home now; False when Slack refused it (logged)."""
        rt = self.rt
        if rt is None:
            return False
        viewer = self.viewers.get(user_id)
        if viewer is not None and viewer.handle is not None:
            viewer.handle.cancel()
            viewer.handle = None
        rendered = await render(rt, user_id=user_id)
        try:
            await rt.client.views_publish(user_id=user_id, view=rendered.view)
        except SlackApiError as exc:
            log.warning("home: views.publish for %s failed: %s", user_id, payload.api_error(exc))
            return False
        self.published += 1
        loop = asyncio.get_running_loop()
        if rendered.is_agent:
            if user_id not in self.viewers and len(self.viewers) >= MAX_TRACKED:
                self.viewers.pop(next(iter(self.viewers)))
            self.viewers[user_id] = _Viewer(
                levels=rendered.levels,
                is_lead=rendered.is_lead,
                shown=rendered.shown,
                published_at=loop.time(),
            )
        else:
            self.viewers.pop(user_id, None)
        return True

    async def flush(self) -> None:
        """Publish every pending Home now and wait for publishes in flight (tests, shutdown)."""
        due = [u for u, v in self.viewers.items() if v.handle is not None]
        for user_id in due:
            await self.publish(user_id)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel pending publishes and wait for those in flight."""
        for viewer in self.viewers.values():
            if viewer.handle is not None:
                viewer.handle.cancel()
                viewer.handle = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


_PUBLISHERS: dict[int, HomePublisher] = {}


def publisher(rt: Runtime) -> HomePublisher:
    """The Home publisher of a bot process."""
    found = _PUBLISHERS.get(id(rt))
    if found is None or found.rt is not rt:
        found = _PUBLISHERS[id(rt)] = HomePublisher(rt)
    return found


def touch(rt: Runtime, ticket: Any, *, level: str | None = None) -> None:
    """Mark the Homes that show this ticket (or its level) stale; cheap when nobody has Home open."""
    found = _PUBLISHERS.get(id(rt))
    if found is None or found.rt is not rt:
        return
    found.touch(ticket_id=ticket.id, level=level or ticket.level, assignee_id=ticket.assignee_id)


async def stop(rt: Runtime) -> None:
    """Stop the process's Home publisher (on shutdown)."""
    found = _PUBLISHERS.pop(id(rt), None)
    if found is not None:
        await found.stop()


async def opened(rt: Runtime, *, user_id: str) -> None:
    """Someone opened the Home tab: publish it fresh."""
    found = publisher(rt)
    found.remember_context()
    await found.publish(user_id)


async def refresh(rt: Runtime, *, user_id: str) -> None:
    """Someone asked for a fresh Home (Refresh, or right after they claimed a ticket from it)."""
    found = publisher(rt)
    found.remember_context()
    await found.publish(user_id)


async def ticket_modal(rt: Runtime, *, user_id: str, ticket_id: int) -> dict[str, Any]:
    """The modal for 'Open' on Home: the ticket as `/ticket KEY` shows it to an agent."""
    from bot.flows import viewing

    viewer = await viewing.viewer_for(rt, user_id=user_id, team_id=None, channel_id="")
    shown = await viewing.show_ticket(rt, key_text=str(ticket_id), viewer=viewer)
    return build_ticket_modal(key=rt.key(ticket_id), blocks=shown["blocks"])
