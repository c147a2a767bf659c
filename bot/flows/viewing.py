"""Read-only views of tickets for `/ticket KEY`, respecting who asks and where."""

from __future__ import annotations

from typing import Any

from bot.errors import UsageError
from bot.flows.cards import card_data
from bot.runtime import Runtime
from bot.services import tickets as ticket_service
from bot.services.permissions import Actor
from bot.services.tickets import Viewer
from bot.slack.blocks.customer import build_customer_ticket_view
from bot.slack.blocks.tickets import build_notice, build_ticket_ephemeral
from bot.slack.text import clip, escape, slack_date
from models import Ticket, TimelineEntry
from models.tickets import OPEN_STATUSES


async def viewer_for(rt: Runtime, *, user_id: str, team_id: str | None, channel_id: str) -> Viewer:
    """Who is asking: external (customer) or internal, and which customer's channel they are in."""
    external = rt.is_external_team(team_id)
    configured = rt.config.customer_by_channel(channel_id)
    return Viewer(
        user_id=user_id,
        is_external=external,
        customer_team_id=team_id if external else None,
        channel_customer_team_id=configured.team_id if configured else (team_id if external else None),
    )


async def show_ticket(rt: Runtime, *, key_text: str, viewer: Viewer) -> dict[str, Any]:
    """The ephemeral answer for `/ticket KEY`."""
    ticket_id = ticket_service.parse_key(key_text, rt.config.tickets.key_prefix)
    key = rt.key(ticket_id)
    ticket = await ticket_service.get_visible_ticket(ticket_id=ticket_id, viewer=viewer, key=key)
    if viewer.is_external:
        language = ticket.customer.language or rt.config.defaults.language
        opened = "Opened " + slack_date(ticket.created_at.timestamp(), fallback="recently")
        return build_customer_ticket_view(
            key=key, status=str(ticket.status), language=language, opened=opened
        )
    entries = await TimelineEntry.filter(ticket_id=ticket.id).order_by("-at", "-id").limit(8)
    lines = [
        f"{slack_date(e.at.timestamp(), fallback=f'{e.at:%Y-%m-%d %H:%M} UTC')} · {e.kind.replace('_', ' ')}"
        f" · {_actor(e.actor_id)}"
        for e in reversed(entries)
    ]
    return build_ticket_ephemeral(card_data(rt, ticket), lines)


def _actor(actor_id: str) -> str:
    """A person as a mention; the bot's own parts (SLA engine, scheduler) by name."""
    return f"<@{actor_id}>" if actor_id[:1] in ("U", "W") and actor_id[1:].isalnum() else escape(actor_id)


async def list_tickets(rt: Runtime, *, actor: Actor, args: str, limit: int = 20) -> dict[str, Any]:
    """`/ticket list [mine|level|customer <name>]`: open tickets, most urgent first."""
    words = args.split(maxsplit=1)
    mode = words[0].lower() if words else "level"
    query = Ticket.filter(status__in=list(OPEN_STATUSES)).prefetch_related("customer")
    if mode == "mine":
        query, title = query.filter(assignee_id=actor.user_id), "Your open tickets"
    elif mode == "level":
        levels = sorted(actor.levels) if actor.levels else ["L1", "L2", "L3"]
        query, title = query.filter(level__in=levels), f"Open tickets at {', '.join(levels)}"
    elif mode == "customer" and len(words) == 2:
        name = words[1].strip()[:80]
        query, title = (
            query.filter(customer__name__icontains=name),
            f"Open tickets of customers matching '{name}'",
        )
    else:
        raise UsageError("Usage: `/ticket list [mine|level|customer <name>]`")
    tickets = await query.order_by("priority", "created_at").limit(limit + 1)
    lines = [
        f"• *{rt.key(t.id)}* · {t.priority} · {t.level} · {t.status} · {escape(t.customer.name)}"
        f"{' · <@' + t.assignee_id + '>' if t.assignee_id else ''}: {escape(clip(' '.join(t.text.split()), 80))}"
        for t in tickets[:limit]
    ]
    more = f"\n_…and more; showing the first {limit}._" if len(tickets) > limit else ""
    body = f"*{escape(title)}*\n" + ("\n".join(lines) if lines else "_None — nice!_") + more
    return build_notice(clip(body, 3000))
