"""The one slash-command listener: every command of the manifest, handed to its handler by name.

Bolt tries its listeners one after the other and builds the full set of listener arguments (about thirty)
for every one it tries. With a listener per command, `/reopen` paid for eight before its own, and every
button and form paid for all eleven. Each module keeps its commands in a `COMMANDS` table, wrapped as
before (`budgeted`, `ack_first`); this listener only picks the entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.util.utils import get_arg_names_of_callable

from bot.slack.ids import Command, any_of
from handlers import commands, kb, sla, support

COMMANDS: dict[str, Callable[..., Awaitable[Any]]] = {
    **commands.COMMANDS,
    **sla.COMMANDS,
    **kb.COMMANDS,
    **support.COMMANDS,
}
# What every command handler takes (Bolt passes a listener the arguments it names; this one names these).
ARGUMENTS = ("ack", "command", "context")


async def handle_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> Any:
    """Run the handler of the command (the matcher admits only commands in COMMANDS)."""
    return await COMMANDS[command["command"]](ack=ack, command=command, context=context)


def check_table() -> None:
    """Every command of the manifest has a handler, and every handler takes only what this listener passes."""
    declared = {c.value for c in Command}
    if set(COMMANDS) != declared:
        raise RuntimeError(
            f"slash commands without a handler: {sorted(declared - set(COMMANDS))}; "
            f"handlers for no declared command: {sorted(set(COMMANDS) - declared)}"
        )
    for name, listener in COMMANDS.items():
        extra = set(get_arg_names_of_callable(listener)) - set(ARGUMENTS)
        if extra:
            raise RuntimeError(
                f"the {name} handler wants {sorted(extra)}; handlers/slash.py passes {ARGUMENTS}"
            )


def register(app: AsyncApp) -> None:
    """One listener for all slash commands."""
    check_table()
    app.command(any_of(*COMMANDS))(handle_command)
