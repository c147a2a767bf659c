"""A time budget for interactive listeners: Slack wants an answer within 3 seconds.

The work itself is never cancelled. A listener cancelled inside a database transaction can leave tortoise's
pooled connection (PostgreSQL) or its write lock (SQLite) behind, and then every later request waits on it:
the process wedges. So a listener always runs to its end (its database calls are bounded by the database's
own timeouts: SQLite's busy_timeout, the PostgreSQL pool and server). When it outlasts the budget the person
is told at once that it is slow, and later how it ended:

- slash commands and buttons: "still on it" through response_url, then the listener's own answer (or the
  error handler's) through response_url as well;
- modal submissions: the modal turns into a "Working…" status modal in time for Slack, and the listener's
  late answer updates it (done, the next form, or why it did not go through).

While the database is known to be down (`bot.db.GATE`), listeners answer "temporarily unavailable" at once
instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.db import GATE, note_failure
from bot.errors import TemporarilyUnavailableError
from bot.slack.answers import SafeRespond
from bot.slack.blocks.modals import build_status_modal
from bot.slack.errors import UNAVAILABLE, describe, handle_error

log = logging.getLogger(__name__)

# Interactive requests must be answered within Slack's 3 s: past this budget the person hears it is slow.
REQUEST_BUDGET = 2.5

SLOW = (
    "This is taking longer than usual: the ticket database is slow or temporarily unavailable. "
    "I'm still on it and will tell you here whether it went through."
)
# The same moment for a command that has not started yet: it waits for its turn (bot.slack.afterack).
QUEUED = (
    "Many requests are coming in right now, so yours is waiting its turn. "
    "I'll tell you here whether it went through."
)
SLOW_VIEW = (
    "Still working on it: the ticket database is slow or temporarily unavailable. "
    "Keep this open to see whether it went through (the ticket card shows it too)."
)
DONE_VIEW = "Done: it went through. You can close this."
RESTARTING = (
    "The support bot is restarting, so this was not done and nothing was changed. "
    "Please run the command again in a minute."
)


def _body(kwargs: dict[str, Any]) -> dict[str, Any]:
    body = kwargs.get("body") or kwargs.get("command") or kwargs.get("shortcut") or {}
    return body if isinstance(body, dict) else {}


def _view_id(body: dict[str, Any]) -> str | None:
    view = body.get("view")
    return view.get("id") if isinstance(view, dict) and isinstance(view.get("id"), str) else None


class _Ack:
    """Stands in for Bolt's ack: before the budget it is the real ack; after it, a late answer."""

    def __init__(self, real: Any, kwargs: dict[str, Any]) -> None:
        self.real, self.kwargs = real, kwargs
        self.acked = asyncio.Event()  # Slack's answer is ready: Bolt may send it
        self.late = False  # set once the budget is spent and Slack got our interim answer
        self.view_id: str | None = None  # the status modal shown instead of a late modal answer

    @property
    def response(self) -> Any:
        return self.real.response

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.late:
            try:
                return await self.real(*args, **kwargs)
            finally:
                self.acked.set()
        if self.view_id:
            await self._update_view(kwargs)
            return None
        text, blocks = kwargs.get("text") or (args[0] if args else None), kwargs.get("blocks")
        if text or blocks:
            await _respond(self.kwargs, text=text, blocks=blocks)
        return None

    async def _update_view(self, answer: dict[str, Any]) -> None:
        action, view = answer.get("response_action"), answer.get("view")
        if action in ("update", "push") and view is not None:
            new_view = view if isinstance(view, dict) else view.to_dict()
        elif action == "errors":
            problems = " ".join(str(v) for v in (answer.get("errors") or {}).values())
            new_view = build_status_modal(
                "Not saved",
                f"That did not go through: {problems}\nNothing was changed; please open it again.",
            )
        else:
            new_view = build_status_modal("Done", DONE_VIEW)
        await _update_status(self.kwargs, self.view_id, new_view)


def _has_response_url(kwargs: dict[str, Any]) -> bool:
    body = _body(kwargs)
    return bool(body.get("response_url") or (body.get("response_urls") or [None])[0])


async def _respond(kwargs: dict[str, Any], *, text: str | None, blocks: Any = None) -> None:
    """An ephemeral answer through response_url, when the request has one."""
    respond = getattr(kwargs.get("context"), "respond", None)
    if respond is None or not _has_response_url(kwargs):
        return
    try:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception:
        log.exception("could not send a late answer")


async def _notice(kwargs: dict[str, Any], text: str) -> None:
    """An interim notice through response_url, unless the request was answered already (SafeRespond keeps
    the order: a notice never follows the answer it announces)."""
    respond = getattr(kwargs.get("context"), "respond", None)
    if not isinstance(respond, SafeRespond) or not _has_response_url(kwargs):
        return
    try:
        await respond.notice(text)
    except Exception:
        log.exception("could not send a notice")


async def _update_status(kwargs: dict[str, Any], view_id: str | None, view: dict[str, Any]) -> bool:
    client = getattr(kwargs.get("context"), "client", None)
    if client is None or view_id is None:
        return False
    try:
        await client.views_update(view_id=view_id, view=view)
        return True
    except Exception:
        log.exception("could not update the status modal")
        return False


async def _tell_slow(kwargs: dict[str, Any], ack: _Ack) -> None:
    """The budget is spent: give Slack its answer now and tell the person the work goes on."""
    body = _body(kwargs)
    if ack.response is None:
        view_id = _view_id(body) if body.get("type") == "view_submission" else None
        if view_id:
            await ack.real(response_action="update", view=build_status_modal("Working…", SLOW_VIEW))
            ack.view_id = view_id
        else:
            await ack.real()
    ack.late = True
    ack.acked.set()
    if not ack.view_id:
        await _notice(kwargs, SLOW)


def budgeted(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Answer a command/action/view within Slack's 3 s whatever the database does; never cancel the work.

    Bolt runs with process_before_response=True: the HTTP answer goes out when this returns. It returns as
    soon as the listener has acked (or failed before acking, or the budget is spent and we acked for it);
    the rest of the work goes on in the background (`Runtime.spawn`), watched by `_supervise`. That is
    Bolt's own pbr=False behaviour, but woken by the ack instead of polling for it every 10 ms.
    """

    @functools.wraps(listener)
    async def bounded(**kwargs: Any) -> Any:
        real_ack = kwargs.get("ack")
        if GATE.is_down():  # known outage: answer now (Bolt's error handler puts it in the ack)
            raise TemporarilyUnavailableError(UNAVAILABLE)
        ack = _Ack(real_ack, kwargs) if real_ack is not None else None
        if ack is not None:
            kwargs["ack"] = ack
        rt = kwargs["context"]["rt"]
        runner = rt.spawn(_supervise(listener, kwargs, ack, real_ack), name="listener")
        if ack is None:
            return await runner
        acked = asyncio.ensure_future(ack.acked.wait())
        await asyncio.wait({runner, acked}, return_when=asyncio.FIRST_COMPLETED)
        acked.cancel()
        if runner.done():
            return (
                runner.result()
            )  # an error before the ack reaches Bolt's error handler (it answers in the ack)
        return None  # acked: Bolt sends ack.response now; the work goes on in the background

    return bounded


async def _supervise(
    listener: Callable[..., Awaitable[Any]], kwargs: dict[str, Any], ack: _Ack | None, real_ack: Any
) -> Any:
    """Run the listener to its end; past the budget tell the person it is slow; answer errors after the ack."""
    try:
        task = asyncio.ensure_future(listener(**kwargs))
        done, _ = await asyncio.wait({task}, timeout=REQUEST_BUDGET)
        if not done and ack is not None:
            await _tell_slow(kwargs, ack)
        if not done:
            await asyncio.wait({task})
        return task.result()
    except Exception as error:
        note_failure(error)
        if ack is not None and ack.view_id:
            # A late modal answer: say how it ended in the status modal (a DM if that fails).
            view = build_status_modal("Not saved", describe(error))
            if await _update_status(kwargs, ack.view_id, view):
                return None
        if real_ack is None or getattr(real_ack, "response", None) is None:
            raise  # not acked yet: Bolt's error handler answers in the ack
        # Already acked: Slack has its answer; tell the person here.
        context = kwargs.get("context")
        await handle_error(
            error, _body(kwargs), None, getattr(context, "respond", None), getattr(context, "client", None)
        )
        return None


def ack_first(listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Acknowledge a slash command at once; its work waits its turn after the ack (`bot.slack.afterack`)
    and answers through response_url.

    Slack only needs the ack within 3 s; the work (database, outbox) happens after it, so acks stay fast
    under load: the ack path only appends the command to the queue. The listener keeps calling
    `ack(text=…, blocks=…)`: after the real ack that becomes an ephemeral answer to the person who ran the
    command. Past Slack's budget the person hears that the command waits its turn or that the database is
    slow, then how it ended; errors reach the error handler, which answers through response_url as well.
    """

    @functools.wraps(listener)
    async def acked(**kwargs: Any) -> None:
        if GATE.is_down():  # known outage: answer now (Bolt's error handler puts it in the ack)
            raise TemporarilyUnavailableError(UNAVAILABLE)
        await kwargs["ack"]()
        context = kwargs["context"]
        context["rt"].after_ack.submit(
            _run_acked,
            listener,
            kwargs,
            refuse=_refuse_acked,
            on_wait=_tell_waiting,
            on_slow=_tell_slow_acked,
            since=context.get("received_at"),
        )

    return acked


async def _run_acked(listener: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> None:
    """The command's turn: run it, answering through response_url (the queue tells the person when it is
    slow, counted from the command's arrival)."""
    context = kwargs["context"]
    respond = context.respond

    async def answer(text: str | None = None, blocks: Any = None, **_: Any) -> None:
        if text or blocks:  # after a notice on its way, never before it (SafeRespond keeps the order)
            await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    kwargs["ack"] = answer
    try:
        await listener(**kwargs)
    except Exception as error:
        note_failure(error)
        await handle_error(error, _body(kwargs), None, respond, context.client)


def _tell_slow_acked(listener: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> None:
    kwargs["context"]["rt"].spawn(_notice(kwargs, SLOW), name="slow notice")


def _tell_waiting(listener: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> None:
    kwargs["context"]["rt"].spawn(_notice(kwargs, QUEUED), name="waiting notice")


async def _refuse_acked(listener: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> None:
    """Shutdown came before the command's turn: nothing was done, and the person hears so."""
    try:
        await kwargs["context"].respond(text=RESTARTING, response_type="ephemeral", replace_original=False)
    except Exception:
        log.exception("could not tell a waiting command that it was not done")
