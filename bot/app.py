"""The Bolt app factory: middleware, one error handler, and the listeners from handlers/."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

import handlers
from bot.runtime import Runtime
from bot.slack.errors import handle_error
from bot.slack.middleware import (
    record_inbound_event,
    runtime_middleware,
    safe_respond,
    strip_nul_characters,
)


def build_app(rt: Runtime, *, signing_secret: str) -> AsyncApp:
    """A Bolt AsyncApp wired to the runtime's client (so SLACK_API_URL applies everywhere)."""
    app = AsyncApp(
        signing_secret=signing_secret,
        client=rt.client,
        process_before_response=False,
        # A request no listener matches (a button or form of another version, an event type we do not
        # handle) goes to the error handler, which answers it, instead of Bolt's 404.
        raise_error_for_unhandled_request=True,
    )
    app.use(runtime_middleware(rt))
    app.use(strip_nul_characters)
    app.use(safe_respond)
    app.use(record_inbound_event)
    app.error(handle_error)
    handlers.register(app)
    return app
