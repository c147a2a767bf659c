"""Inbound Slack listeners, thin: parse, ack, call a flow, render with a builder, answer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, events, home, kb, shortcuts, slash, support, views


def register(app: AsyncApp) -> None:
    """Attach every listener to the app, the busiest kinds first: Bolt tries listeners in this order, and
    every one it tries before the match costs the request (see `bot.slack.ids.any_of`). Events (customer
    messages), then the slash commands (one listener), card buttons and forms; the matchers never overlap, so
    the order changes nothing else."""
    for module in (events, slash, actions, views, kb, support, shortcuts, home):
        module.register(app)
