"""Command line: `python -m bot` serves (the local sandbox without Slack settings); `migrate`; `sandbox`;
`kb import|search`; `report` (exports)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from bot import db
from bot.logs import setup_logging
from config.settings import RunMode, Settings, SettingsError, load_settings
from config.support import SupportConfig, SupportConfigError, load_support_config

EXIT_CONFIG = 2
EXIT_SANDBOX = 1
_NO_SLACK: dict[str, object] = {
    "slack_bot_token": None,
    "slack_signing_secret": None,
    "slack_app_token": None,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Tiered support bot for Slack")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve Slack (default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    sandbox = sub.add_parser(
        "sandbox", help="run the local sandbox (a simulated Slack in your browser), even with Slack settings"
    )
    sandbox.add_argument(
        "--reset", action="store_true", help="delete the sandbox's demo data and start fresh"
    )
    sandbox.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of the sandbox page (default: PORT, 3000); the bot uses the next one",
    )
    from bot.services.kb import cli as kb_cli

    kb_cli.add_arguments(sub)
    _add_report_arguments(sub)
    args = parser.parse_args(argv)
    try:
        # The sandbox ignores Slack settings: it always talks to its own stand-in.
        settings = load_settings(**_NO_SLACK) if args.command == "sandbox" else load_settings()
    except SettingsError as exc:
        return _config_error(str(exc))
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "kb":
        return kb_cli.run(args, settings.database_url, migrate=settings.migrate_on_start)
    if args.command == "report":
        return _run_report(args, settings)
    if args.command == "migrate":
        asyncio.run(_migrate(settings.database_url))
        print("migrations applied")
        return 0
    if args.command == "sandbox":
        return _run_sandbox(
            settings, port=settings.port if args.port is None else args.port, reset=args.reset
        )
    if settings.mode == RunMode.SANDBOX:
        print(
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set: starting the local sandbox instead of "
            "serving Slack (see docs/sandbox.md; README 'Create the Slack app' to serve a real workspace)",
            file=sys.stderr,
        )
        return _run_sandbox(settings, port=settings.port, reset=False)
    try:
        config = load_support_config(settings.support_config)
    except SupportConfigError as exc:
        return _config_error(str(exc))
    from bot.server import AppTokenError, build_bot, serve

    parts = build_bot(settings, config)
    try:
        asyncio.run(serve(parts, settings))
    except AppTokenError as exc:
        return _config_error(str(exc))
    return 0


async def _migrate(database_url: str) -> None:
    await db.apply_migrations(database_url)


def _run_sandbox(settings: Settings, *, port: int, reset: bool) -> int:
    from bot.sandbox.runner import SandboxError, SandboxOptions, run_sandbox

    try:
        asyncio.run(run_sandbox(SandboxOptions(port=port, reset=reset), settings))
    except SandboxError as exc:
        print(f"Sandbox could not start: {exc}", file=sys.stderr)
        return EXIT_SANDBOX
    return 0


def _add_report_arguments(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report", help="export tickets and support numbers of a period (CSV: one row per ticket; JSON: both)"
    )
    report.add_argument("--since", required=True, type=_date, help="first day, e.g. 2026-11-01 (local time)")
    report.add_argument("--until", type=_date, default=None, help="day after the last one (default: now)")
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.add_argument("--output", default="-", help="file to write (default: standard output)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-01") from None


def _run_report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = load_support_config(settings.support_config)
    except SupportConfigError as exc:
        return _config_error(str(exc))
    if args.until is not None and args.until <= args.since:
        return _config_error("--until must be after --since")
    text = asyncio.run(_export(args, settings, config))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


async def _export(args: argparse.Namespace, settings: Settings, config: SupportConfig) -> str:
    from bot.flows.reports import export_rows

    await db.init_db(settings.database_url, migrate=settings.migrate_on_start)
    try:
        return await export_rows(config=config, since=args.since, until=args.until, fmt=args.format)
    finally:
        await db.close_db()


def _config_error(message: str) -> int:
    print(f"Configuration error: {message}", file=sys.stderr)
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
