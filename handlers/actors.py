"""Who is acting: the person behind a slash command or an interactive payload, as the permission check
needs them (levels from channel membership, lead flag, team from Slack's own record)."""

from __future__ import annotations

from typing import Any

from bot.errors import UsageError
from bot.flows import escalation
from bot.runtime import Runtime
from bot.services.permissions import Actor
from bot.slack import payload

# Without a user id nothing is done: what the person is told, by payload type.
NO_USER = {
    "block_actions": "Slack didn't say who pressed the button, so nothing was changed. Please try again.",
    "view_submission": "Slack didn't say who sent this form, so nothing was changed. Please try again.",
    "command": "Slack didn't say who ran the command, so nothing was changed. Please try again.",
}
NO_USER_OTHER = "Slack didn't say who you are, so nothing was changed. Please try again."


async def actor_of(rt: Runtime, body: Any) -> Actor:
    """The person behind a slash command (`user_id`, `team_id`) or an interactive payload (`user`); a payload
    that names nobody is refused with UsageError."""
    body = payload.obj(body)
    if "command" in body and "type" not in body:
        kind = "command"
        user_id, team_id = payload.ident(body.get("user_id")), payload.ident(body.get("team_id")) or None
    else:
        kind = payload.string(body.get("type"))
        user_id, team_id = payload.user_of(body)
    if not user_id:
        raise UsageError(NO_USER.get(kind, NO_USER_OTHER))
    return await escalation.actor_for(rt, user_id=user_id, team_id=team_id)
