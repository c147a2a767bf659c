"""The Bolt app factory: middleware, one error handler, and the listeners from handlers/."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

import handlers
from bot.runtime import Runtime
from bot.slack.errors import handle_error
from bot.slack.middleware import RequestGuards

log = logging.getLogger(__name__)


def build_app(rt: Runtime, *, signing_secret: str) -> AsyncApp:
    """A Bolt AsyncApp wired to the runtime's client (so SLACK_API_URL applies everywhere)."""
    token = rt.client.token

    async def authorize(**_: object) -> AuthorizeResult | None:
        """The identity learnt at start-up (bot.server.identify, before the server accepts requests). With a
        plain token Bolt would call auth.test itself on the first requests, and a 429 there drops them."""
        if rt.bot_user_id is None:
            log.error("a request arrived before the bot identified itself; refused")
            return None
        return AuthorizeResult(
            enterprise_id=None,
            team_id=rt.home_team_id,
            bot_user_id=rt.bot_user_id,
            bot_id=rt.bot_id,
            bot_token=token,
        )

    # The client's token is handed over per request by `authorize`; constructed without it, Bolt does not warn
    # that the token is ignored in favour of `authorize`.
    rt.client.token = None
    try:
        app = AsyncApp(
            signing_secret=signing_secret,
            client=rt.client,
            authorize=authorize,
            # Our listeners return as soon as they have acked and go on in the background (bot.slack.budget,
            # handlers/events.py), so Bolt answers at once instead of polling for the ack every 10 ms.
            process_before_response=True,
            # A request no listener matches (a button or form of another version, an event type we do not
            # handle) goes to the error handler, which answers it, instead of Bolt's 404.
            raise_error_for_unhandled_request=True,
            # bot/server.py checks every HTTP request's signature on the raw bytes before Bolt sees it (and
            # answers 401 itself); Socket Mode requests carry none. Bolt's own check would be a second HMAC.
            request_verification_enabled=False,
        )
    finally:
        rt.client.token = token
    app.use(RequestGuards(rt))
    app.error(handle_error)
    handlers.register(app)
    return app
