"""Opening modals: views.open, with Slack's refusals turned into answers the person can act on, and a
'Working…' modal when preparing the form outlasts part of the trigger's 3-second life."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import TemporarilyUnavailableError, UsageError
from bot.slack import payload
from bot.slack.blocks.modals import build_status_modal, build_working_modal
from bot.slack.errors import describe

log = logging.getLogger(__name__)

# A trigger_id works once, for 3 seconds: these mean "too late" (or a trigger Slack never issued).
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"})
TOO_LATE = (
    "That took a moment too long, and Slack no longer lets me open the form. Nothing was changed; "
    "please try again."
)
NO_TRIGGER = "Slack didn't send what I need to open the form. Nothing was changed; please try again."
SLACK_DOWN = "Slack didn't open the form just now. Nothing was changed; please try again in a minute."
# A form still being prepared this long after its request arrived gets a 'Working…' modal first. Preparing
# takes milliseconds when the database is well; this leaves views.open about 2 s of the trigger's 3 s.
WORKING_AFTER = 1.0
# After this long the trigger is as good as spent (Slack: 3 s from when it issued it): no Working modal is
# tried any more, so work that waited its turn that long costs Slack no doomed views.open.
TRIGGER_LIFE = 2.5
_SLACK_TROUBLE = ("ratelimited", "internal_error", "fatal_error")
T = TypeVar("T")


async def _views_call(call: Awaitable[T], name: str) -> T:
    """A views.* call; Slack failing or not answering becomes TemporarilyUnavailableError. Its other refusals
    stay SlackApiError for the caller."""
    try:
        return await call
    except SlackApiError as exc:
        error = payload.api_error(exc)
        if exc.response.status_code >= 500 or error in _SLACK_TROUBLE:
            log.warning("%s failed: %s", name, error)
            raise TemporarilyUnavailableError(SLACK_DOWN) from None
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("%s got no answer: %s", name, type(exc).__name__)
        raise TemporarilyUnavailableError(SLACK_DOWN) from None


async def open_modal(client: AsyncWebClient, *, trigger_id: Any, view: dict[str, Any]) -> str | None:
    """views.open; returns the new view's id. An expired or missing trigger raises UsageError ('try again'),
    Slack failing or not answering TemporarilyUnavailableError. Other refusals (our token, our view) stay
    errors for the handler."""
    if not isinstance(trigger_id, str) or not trigger_id:
        raise UsageError(NO_TRIGGER)
    try:
        response = await _views_call(client.views_open(trigger_id=trigger_id, view=view), "views.open")
    except SlackApiError as exc:
        error = payload.api_error(exc)
        if error in TRIGGER_ERRORS:
            log.info("views.open refused the trigger: %s", error)
            raise UsageError(TOO_LATE) from None
        raise
    return payload.ident(payload.obj(response.get("view")).get("id")) or None


async def update_modal(client: AsyncWebClient, *, view_id: str, view: dict[str, Any]) -> bool:
    """views.update of a modal the bot opened; False when the person has closed it meanwhile."""
    try:
        await _views_call(client.views_update(view_id=view_id, view=view), "views.update")
    except SlackApiError as exc:
        if payload.api_error(exc) == "not_found":
            log.info("views.update: modal %s was closed meanwhile", view_id)
            return False
        raise
    return True


class FormOpener:
    """Opens a form for a trigger_id even when preparing it (database reads, checks) outlasts the trigger.

    While the form is quick to prepare — the usual case — it opens with one views.open, as without this
    class: no extra round trip, no flicker. If it is not ready `after` seconds after the request arrived, a
    'Working…' modal is opened with the trigger while it is still valid, and the form replaces it
    (views.update) when ready. A problem raised while preparing is shown in that Working modal, which is what
    the person is looking at; when no Working modal was opened it goes its usual way (the error handler).

        async with form_opener(context, body) as form:
            ticket = await load(...)  # may be slow
            await form.show(build_form(ticket))

    The preparation is never cancelled (see bot/slack/budget.py); only the timer is.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        trigger_id: Any,
        *,
        received_at: float | None = None,
        after: float = WORKING_AFTER,
    ) -> None:
        self.client, self.trigger_id = client, trigger_id
        start = received_at if isinstance(received_at, float) else time.monotonic()
        self.opens_at = start + after
        self.expires_at = start + TRIGGER_LIFE
        self._timer: asyncio.Task[str | None] | None = None
        self._opening = False  # the timer fired: views.open of the Working modal is under way
        self._finished = False  # the form (or a closing note) was shown

    async def __aenter__(self) -> FormOpener:
        if isinstance(self.trigger_id, str) and self.trigger_id and time.monotonic() < self.expires_at:
            self._timer = asyncio.ensure_future(self._open_working())
        return self

    async def _open_working(self) -> str | None:
        await asyncio.sleep(max(0.0, self.opens_at - time.monotonic()))
        self._opening = True
        log.info("form not ready after %.1f s: opening a Working modal", WORKING_AFTER)
        return await open_modal(self.client, trigger_id=self.trigger_id, view=build_working_modal())

    async def _working_view(self) -> str | None:
        """The Working modal's id once it is open; None (and the timer stopped) when it was not needed.
        Raises what opening it raised (e.g. the trigger had expired)."""
        timer, self._timer = self._timer, None
        if timer is None:
            return None
        if not self._opening:  # still sleeping: nothing was sent to Slack
            timer.cancel()
            await asyncio.wait({timer})
            return None
        return await timer

    async def show(self, view: dict[str, Any]) -> None:
        """The form: opened now, or in place of the Working modal."""
        self._finished = True
        view_id = await self._working_view()
        if view_id is None:
            await open_modal(self.client, trigger_id=self.trigger_id, view=view)
        else:
            await update_modal(self.client, view_id=view_id, view=view)

    async def close_with(self, text: str, title: str = "Done") -> None:
        """No form after all (the answer went elsewhere): an open Working modal shows `text` instead.

        Never raises: the work is done and answered elsewhere, so a Working modal that could not be opened
        (the trigger expired while the work waited) or updated must not turn that answer into an error."""
        self._finished = True
        try:
            view_id = await self._working_view()
            if view_id is not None:
                await update_modal(self.client, view_id=view_id, view=build_status_modal(title, text))
        except Exception as failure:  # noqa: BLE001 - logged; the real answer still goes out
            log.info("the Working modal could not show %r: %s", title, failure)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if self._finished:
            return False
        try:
            view_id = await self._working_view()
        except Exception as failure:  # noqa: BLE001 - the Working modal did not open: answered the usual way
            log.info("the Working modal could not be opened: %s", failure)
            return False
        if view_id is None:
            return False
        if exc is None:
            await update_modal(self.client, view_id=view_id, view=build_status_modal("Done", "Done."))
            return False
        if not isinstance(exc, Exception):
            return False
        # The error handler's wording (unknown errors are logged with a reference there).
        notice = build_status_modal("Nothing changed", describe(exc))
        try:
            return await update_modal(self.client, view_id=view_id, view=notice)
        except Exception:  # noqa: BLE001 - not shown: the original error goes to the error handler
            log.warning("could not show why there is no form in the Working modal", exc_info=True)
            return False


def form_opener(context: Any, body: Any) -> FormOpener:
    """A FormOpener for the request's trigger_id, timed from when the request arrived (the runtime middleware
    puts `received_at` into the context)."""
    return FormOpener(
        context["rt"].client, payload.obj(body).get("trigger_id"), received_at=context.get("received_at")
    )
