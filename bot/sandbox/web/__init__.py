"""The sandbox page: a Slack-like web client for playing every role against the stand-in and the bot."""

from .routes import (
    SANDBOX_KEY,
    STATIC_DIR,
    AppHomeInfo,
    ChangeFeed,
    CommandInfo,
    PageError,
    SandboxWeb,
    ShortcutInfo,
    build_sandbox_app,
    build_state,
)

__all__ = [
    "SANDBOX_KEY",
    "STATIC_DIR",
    "AppHomeInfo",
    "ChangeFeed",
    "CommandInfo",
    "PageError",
    "SandboxWeb",
    "ShortcutInfo",
    "build_sandbox_app",
    "build_state",
]
