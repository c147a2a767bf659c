"""Inbound Slack listeners, thin: parse, ack, call a flow, render with a builder, answer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, home, kb, shortcuts, sla, support, views


def register(app: AsyncApp) -> None:
    """Attach every listener to the app."""
    for module in (home, events, commands, actions, shortcuts, views, sla, kb, support):
        module.register(app)
