"""Command line: `python -m bot` serves; `python -m bot migrate` applies migrations."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import db
from bot.logs import setup_logging
from config.settings import RunMode, SettingsError, load_settings
from config.support import SupportConfigError, load_support_config

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Tiered support bot for Slack")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve Slack (default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _config_error(str(exc))
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        asyncio.run(_migrate(settings.database_url))
        print("migrations applied")
        return 0
    if settings.mode == RunMode.SANDBOX:
        return _config_error(
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set: set them to serve a Slack workspace "
            "(see README, 'Create the Slack app')"
        )
    try:
        config = load_support_config(settings.support_config)
    except SupportConfigError as exc:
        return _config_error(str(exc))
    from bot.server import build_bot, serve

    parts = build_bot(settings, config)
    asyncio.run(serve(parts, settings))
    return 0


async def _migrate(database_url: str) -> None:
    await db.apply_migrations(database_url)


def _config_error(message: str) -> int:
    print(f"Configuration error: {message}", file=sys.stderr)
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
