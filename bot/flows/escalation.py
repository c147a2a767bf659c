"""Escalation workflows: each one checks permissions, changes the ticket through the service and records
its Slack notifications (cards, pings, customer updates, DMs) in the same transaction."""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.transactions import in_transaction

from bot.errors import NotFoundError, PermissionDeniedError, UsageError
from bot.flows import csat as csat_flows
from bot.flows import kb as kb_flows
from bot.flows.cards import (
    active_card,
    post_card,
    post_in_card_thread,
    post_to_customer,
    refresh_active_card,
    refresh_all_cards,
    refresh_card,
    stream_of,
)
from bot.runtime import Runtime
from bot.services import escalation as svc
from bot.services.permissions import Action, Actor, decide
from bot.services.sla.engine import SlaEvent, on_ticket_event
from bot.slack import outbox
from bot.slack.blocks.customer import build_customer_reply, build_customer_update, build_resolution_message
from bot.slack.blocks.escalation import build_draft_review, build_internal_line
from bot.slack.text import escape, mention, quote, slack_date
from models import DraftKind, OutboxMessage, RelayDraft, Ticket, TicketCard, TicketStatus, TimelineEntry
from models.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- who is acting


async def actor_for(rt: Runtime, *, user_id: str, team_id: str | None) -> Actor:
    """The acting person with their levels (from level channel membership) and lead flag.

    The team comes from Slack's own record of the user (users.info), not from the payload; the payload's
    team is used only when Slack cannot tell.
    """
    team_id = await rt.user_team(user_id) or team_id
    if rt.is_external_team(team_id):
        return Actor(user_id=user_id, team_id=team_id, is_external=True)
    levels = set()
    for level, lc in rt.config.levels.items():
        if user_id in await rt.channel_members(lc.channel):
            levels.add(level)
    if "L3" not in levels:
        for route in rt.config.routes:
            if user_id in await rt.channel_members(route.channel):
                levels.add("L3")
                break
    return Actor(
        user_id=user_id,
        team_id=team_id,
        is_external=False,
        levels=frozenset(levels),
        is_lead=user_id in rt.config.leads,
    )


def require(actor: Actor, action: Action, ticket: Ticket | None = None) -> None:
    """Raise PermissionDeniedError (a polite ephemeral) unless the matrix allows it."""
    decision = decide(
        actor,
        action,
        ticket_level=ticket.level if ticket else None,
        ticket_team_id=ticket.customer.team_id if ticket else None,
    )
    if not decision.allowed:
        raise PermissionDeniedError(decision.reason)


async def load_for(rt: Runtime, ticket_id: int, actor: Actor) -> Ticket:
    """The ticket, if it exists and the actor may see it (customers: only their organisation's)."""
    key = rt.key(ticket_id)
    ticket = await svc.load(ticket_id, key)
    if actor.is_external and ticket.customer.team_id != actor.team_id:
        raise NotFoundError(f"I couldn't find ticket {key}.")
    return ticket


# ---------------------------------------------------------------- cards and messages


def _language(rt: Runtime, ticket: Ticket) -> str:
    return ticket.customer.language or rt.config.defaults.language


def _when(now: datetime) -> str:
    return slack_date(now.timestamp(), "{time}", fallback=now.strftime("%H:%M UTC"))


async def _sla(
    ticket: Ticket,
    event: str,
    rt: Runtime,
    now: datetime,
    level: str | None = None,
    actor_id: str | None = None,
    cards_follow: bool = False,
) -> None:
    """The SLA side of a change, called after the ticket itself changed. With cards_follow the flow renders
    the ticket's active card after this call in the same transaction, so the card shows the timers' new
    state and the SLA tick need not render it again."""
    await on_ticket_event(
        ticket,
        SlaEvent[event],
        at=now,
        config=rt.config,
        level=level,
        actor_id=actor_id,
        cards_follow=cards_follow,
    )


async def _done(rt: Runtime) -> None:
    rt.sender.wake()


# ---------------------------------------------------------------- workflows


async def escalate(
    rt: Runtime,
    *,
    ticket_id: int,
    actor: Actor,
    reason: str,
    context: dict[str, str],
    component: str | None,
    expected_level: str | None = None,
    loaded: Ticket | None = None,
) -> Ticket:
    """Move a ticket one level up with the context the next level needs. `loaded`: the ticket as the caller
    has just read it with `load_for` (the conditional update still refuses a ticket that moved since)."""
    ticket = loaded if loaded is not None and loaded.id == ticket_id else await load_for(rt, ticket_id, actor)
    require(actor, Action.ESCALATE, ticket)
    key = rt.key(ticket.id)
    if expected_level and ticket.level != expected_level:
        raise UsageError(f"{key} is now at {ticket.level}; it was escalated or handed back in the meantime.")
    if not reason.strip():
        raise UsageError("Add a reason: what should the next level do?")
    now = rt.clock.now()
    async with in_transaction():
        old_card = await active_card(ticket)
        from_level, to_level = await svc.escalate(
            ticket=ticket,
            key=key,
            actor_id=actor.user_id,
            reason=reason,
            context=context,
            component=component,
            config=rt.config,
            at=now,
        )
        await _sla(ticket, "ESCALATED", rt, now, level=to_level, actor_id=actor.user_id, cards_follow=True)
        if old_card is not None:
            old_card.active = False
            old_card.note = f"⬆️ Escalated to *{to_level}* by {mention(actor.user_id)} · {_when(now)}"
            await old_card.save(update_fields=["active", "note"])
            await refresh_card(rt, ticket, old_card, now)
        route = rt.config.route(ticket.component) if to_level == "L3" else None
        channel = route.channel if route else rt.config.levels[to_level].channel  # type: ignore[index]
        pings = tuple(route.ping if route else rt.config.levels[to_level].ping)  # type: ignore[index]
        note = f"⬆️ Escalated from {from_level} by {mention(actor.user_id)} · {_when(now)}"
        await post_card(
            rt, ticket, level=to_level, channel=channel, pings=pings, now=now, note=note, reason=reason
        )
        if await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").count() == 1:
            # The customer hears once that specialists took over; further internal moves are not news to them.
            await post_to_customer(
                rt,
                ticket,
                build_customer_update(language=_language(rt, ticket), name="forwarded", key=key),
                now,
            )
        await kb_flows.suggest_for_ticket(rt, ticket, stage=f"escalated_{to_level}", now=now)
    await _done(rt)
    return ticket


async def auto_escalate(rt: Runtime, *, ticket_id: int, reason: str) -> bool:
    """Escalate on an SLA breach; False when the next level needs context the ticket doesn't have."""
    ticket = await Ticket.get_or_none(id=ticket_id).prefetch_related("customer")
    if ticket is None or ticket.status not in OPEN_STATUSES or ticket.level not in svc.NEXT_LEVEL:
        return False
    to_level = svc.NEXT_LEVEL[ticket.level]
    if svc.missing_context(ticket.context or {}, svc.context_fields(rt.config, to_level)):
        return False
    if (
        to_level == "L3"
        and rt.config.escalation.require_component
        and rt.config.routes
        and not ticket.component
    ):
        return False
    bot = Actor(user_id=rt.bot_user_id or "bot", team_id=rt.home_team_id, is_external=False, is_lead=True)
    try:
        await escalate(
            rt,
            ticket_id=ticket_id,
            actor=bot,
            reason=reason,
            context={},
            component=ticket.component,
            expected_level=ticket.level,
        )
    except (UsageError, svc.InvalidTransitionError):  # changed meanwhile
        return False
    return True


async def hand_back(
    rt: Runtime, *, ticket_id: int, actor: Actor, summary: str, expected_level: str | None = None
) -> Ticket:
    """Return a ticket one level down with a hand-back summary in that level's card thread."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.HAND_BACK, ticket)
    key = rt.key(ticket.id)
    if expected_level and ticket.level != expected_level:
        raise UsageError(f"{key} is now at {ticket.level}; it was moved in the meantime.")
    now = rt.clock.now()
    async with in_transaction():
        upper = await active_card(ticket)
        from_level, to_level = await svc.hand_back(
            ticket=ticket, key=key, actor_id=actor.user_id, summary=summary, at=now
        )
        await _sla(ticket, "HANDED_BACK", rt, now, level=to_level, actor_id=actor.user_id, cards_follow=True)
        if upper is not None:
            upper.active = False
            upper.note = f"⬇️ Handed back to *{to_level}* by {mention(actor.user_id)} · {_when(now)}"
            await upper.save(update_fields=["active", "note"])
            await refresh_card(rt, ticket, upper, now)
        lower = await TicketCard.filter(ticket_id=ticket.id, level=to_level).order_by("-id").first()
        if lower is None:
            lc = rt.config.levels[to_level]  # type: ignore[index]
            lower = await post_card(
                rt, ticket, level=to_level, channel=lc.channel, pings=tuple(lc.ping), now=now
            )
        lower.active = True
        lower.note = f"⬇️ Handed back from {from_level} by {mention(actor.user_id)} · {_when(now)}"
        await lower.save(update_fields=["active", "note"])
        await refresh_card(rt, ticket, lower, now)
        await post_in_card_thread(
            rt,
            ticket,
            lower,
            f"⬇️ *Hand-back from {from_level}* by {mention(actor.user_id)}:\n{quote(summary, 2800)}",
            now,
        )
    await _done(rt)
    return ticket


async def assign(rt: Runtime, *, ticket_id: int, actor: Actor, assignee_id: str | None) -> Ticket:
    """Claim (assignee = actor), assign to someone, or unassign (None); DMs the new assignee."""
    ticket = await load_for(rt, ticket_id, actor)
    action = Action.CLAIM if assignee_id == actor.user_id else Action.ASSIGN
    require(actor, action, ticket)
    key = rt.key(ticket.id)
    if assignee_id and assignee_id != actor.user_id:
        target = await actor_for(rt, user_id=assignee_id, team_id=None)
        if target.is_external or not target.is_agent:
            raise UsageError(
                f"{mention(assignee_id)} isn't in a support level channel, so I can't assign {key} to them."
            )
    now = rt.clock.now()
    async with in_transaction():
        await svc.assign(ticket=ticket, key=key, actor_id=actor.user_id, assignee_id=assignee_id, at=now)
        if assignee_id:
            await _sla(
                ticket, "CLAIMED", rt, now, level=ticket.level, actor_id=actor.user_id, cards_follow=True
            )
        await refresh_active_card(rt, ticket, now)
        if assignee_id:
            text = (
                f"🎫 You now own *{key}* ({escape(ticket.customer.name)}, {ticket.priority}, {ticket.level})"
                f"{'' if assignee_id == actor.user_id else ' — assigned by ' + mention(actor.user_id)}:\n"
                f"{quote(ticket.text, 1500)}"
            )
            await outbox.enqueue(
                stream=stream_of(ticket),
                method="chat.postMessage",
                channel_id=assignee_id,
                payload=build_internal_line(text),
                now=now,
            )
    await _done(rt)
    return ticket


async def set_waiting(rt: Runtime, *, ticket_id: int, actor: Actor, waiting: bool = True) -> Ticket:
    """Waiting on the customer starts (the SLA clocks pause), or ends without their reply (an agent says so:
    the paused clocks run again)."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.WAIT, ticket)
    now = rt.clock.now()
    change, event = (svc.set_waiting, "WAITING") if waiting else (svc.end_waiting, "RESUMED")
    async with in_transaction():
        await change(ticket=ticket, key=rt.key(ticket.id), actor_id=actor.user_id, at=now)
        await _sla(ticket, event, rt, now, actor_id=actor.user_id, cards_follow=True)
        await refresh_active_card(rt, ticket, now)
    await _done(rt)
    return ticket


async def set_priority(rt: Runtime, *, ticket_id: int, actor: Actor, priority: str) -> Ticket:
    """Change the priority."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.PRIORITY, ticket)
    now = rt.clock.now()
    async with in_transaction():
        await svc.set_priority(
            ticket=ticket, key=rt.key(ticket.id), actor_id=actor.user_id, priority=priority, at=now
        )
        await _sla(ticket, "PRIORITY_CHANGED", rt, now, actor_id=actor.user_id, cards_follow=True)
        await refresh_active_card(rt, ticket, now)
    await _done(rt)
    return ticket


async def add_note(rt: Runtime, *, ticket_id: int, actor: Actor, text: str) -> Ticket:
    """An internal note, posted in the active card's thread (never to the customer)."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.NOTE, ticket)
    now = rt.clock.now()
    async with in_transaction():
        await svc.add_note(ticket=ticket, actor_id=actor.user_id, text=text, at=now)
        card = (
            await active_card(ticket) or await TicketCard.filter(ticket_id=ticket.id).order_by("-id").first()
        )
        if card is not None:
            await post_in_card_thread(
                rt, ticket, card, f"📝 *Internal note* by {mention(actor.user_id)}:\n{quote(text, 2800)}", now
            )
    await _done(rt)
    return ticket


def resolves_via_review(actor: Actor, ticket: Ticket) -> bool:
    """3rd level's answers reach the customer only through 2nd level review."""
    return not actor.is_lead and actor.levels <= {"L3"}


async def resolve(
    rt: Runtime, *, ticket_id: int, actor: Actor, solution: str, internal: str | None, publish: bool
) -> tuple[Ticket, RelayDraft | None]:
    """Resolve and send the solution with 'Did this solve it?'; 3rd level's goes to 2nd level review first."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.RESOLVE, ticket)
    if resolves_via_review(actor, ticket):
        draft = await create_draft(
            rt,
            ticket_id=ticket_id,
            actor=actor,
            text=solution,
            kind=DraftKind.RESOLUTION,
            internal=internal,
            publish=publish,
        )
        return ticket, draft
    now = rt.clock.now()
    async with in_transaction():
        await _resolve(
            rt, ticket, actor_id=actor.user_id, solution=solution, internal=internal, publish=publish, now=now
        )
    await _done(rt)
    return ticket, None


async def _resolve(
    rt: Runtime,
    ticket: Ticket,
    *,
    actor_id: str,
    solution: str,
    internal: str | None,
    publish: bool,
    now: datetime,
) -> None:
    key = rt.key(ticket.id)
    await svc.resolve(
        ticket=ticket,
        key=key,
        actor_id=actor_id,
        solution=solution,
        internal=internal,
        publish=publish,
        at=now,
    )
    await _sla(ticket, "RESOLVED", rt, now, actor_id=actor_id, cards_follow=True)
    card = await active_card(ticket)
    if card is not None:
        card.note = f"✅ Resolved by {mention(actor_id)} · {_when(now)} · waiting for the customer to confirm"
        await card.save(update_fields=["note"])
    await refresh_all_cards(rt, ticket, now)
    await post_to_customer(
        rt,
        ticket,
        build_resolution_message(
            language=_language(rt, ticket), key=key, ticket_id=ticket.id, solution=solution
        ),
        now,
    )
    await kb_flows.offer_capture(rt, ticket, resolver_id=actor_id, now=now)


async def reopen(rt: Runtime, *, ticket_id: int, actor: Actor, reason: str) -> Ticket:
    """Reopen at the level that resolved it (agents: /reopen; customers: 'No, still a problem')."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.CONFIRM if actor.is_external else Action.REOPEN, ticket)
    key = rt.key(ticket.id)
    now = rt.clock.now()
    async with in_transaction():
        level = await svc.reopen(
            ticket=ticket,
            key=key,
            actor_id=actor.user_id,
            reason=reason,
            at=now,
            by_customer=actor.is_external,
        )
        card = await TicketCard.filter(ticket_id=ticket.id, level=level).order_by("-id").first()
        await _sla(
            ticket, "REOPENED", rt, now, level=level, actor_id=actor.user_id, cards_follow=card is not None
        )
        if card is not None:
            await TicketCard.filter(ticket_id=ticket.id).update(active=False)
            card.active = True
            who = "the customer" if actor.is_external else mention(actor.user_id)
            card.note = f"🔁 Reopened by {who} · {_when(now)}"
            await card.save(update_fields=["active", "note"])
            await refresh_all_cards(rt, ticket, now)
            if reason.strip():
                await post_in_card_thread(
                    rt, ticket, card, f"🔁 *Reopened* by {who}:\n{quote(reason, 2800)}", now
                )
        await post_to_customer(
            rt, ticket, build_customer_update(language=_language(rt, ticket), name="reopened", key=key), now
        )
    await _done(rt)
    return ticket


async def confirm(rt: Runtime, *, ticket_id: int, actor: Actor) -> Ticket:
    """The customer confirms the solution: the ticket is closed."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.CONFIRM, ticket)
    if not actor.is_external:
        raise PermissionDeniedError("Only the customer can confirm that a solution worked.")
    key = rt.key(ticket.id)
    now = rt.clock.now()
    async with in_transaction():
        await svc.close(ticket=ticket, key=key, actor_id=actor.user_id, at=now)
        await _sla(ticket, "CLOSED", rt, now, actor_id=actor.user_id, cards_follow=True)
        card = await active_card(ticket)
        if card is not None:
            card.note = f"🔒 Closed: the customer confirmed the solution · {_when(now)}"
            await card.save(update_fields=["note"])
        await refresh_all_cards(rt, ticket, now)
        await post_to_customer(
            rt, ticket, build_customer_update(language=_language(rt, ticket), name="closed", key=key), now
        )
        await csat_flows.ask_after_confirm(rt, ticket, actor=actor, now=now)
    await _done(rt)
    return ticket


async def reply_to_customer(rt: Runtime, *, ticket_id: int, actor: Actor, text: str) -> RelayDraft | None:
    """Answer the customer through the bot; 3rd level's answer becomes a draft for 2nd level review."""
    ticket = await load_for(rt, ticket_id, actor)
    if not text.strip():
        raise UsageError("Write the message for the customer after the key.")
    if decide(actor, Action.REPLY, ticket_level=ticket.level).allowed:
        now = rt.clock.now()
        async with in_transaction():
            svc._require_open(ticket, rt.key(ticket.id))
            await post_to_customer(
                rt,
                ticket,
                build_customer_reply(language=_language(rt, ticket), key=rt.key(ticket.id), text=text),
                now,
            )
            from bot.services import tickets as ticket_service

            await ticket_service.record(ticket, kind="agent_reply_via_bot", actor_id=actor.user_id, at=now)
            await _sla(ticket, "AGENT_REPLY", rt, now, actor_id=actor.user_id)
        await _done(rt)
        return None
    return await create_draft(rt, ticket_id=ticket_id, actor=actor, text=text, kind=DraftKind.REPLY)


async def _l2_owner(ticket: Ticket) -> str | None:
    entries = await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").order_by("-id")
    for entry in entries:
        if (entry.data or {}).get("from") == "L2":
            return entry.actor_id
    return None


async def create_draft(
    rt: Runtime,
    *,
    ticket_id: int,
    actor: Actor,
    text: str,
    kind: DraftKind,
    internal: str | None = None,
    publish: bool = False,
) -> RelayDraft:
    """An L3 message for the customer, shown to 2nd level with Approve / Edit / Reject."""
    ticket = await load_for(rt, ticket_id, actor)
    require(actor, Action.DRAFT, ticket)
    key = rt.key(ticket.id)
    now = rt.clock.now()
    async with in_transaction():
        draft = await svc.create_draft(
            ticket=ticket,
            key=key,
            author_id=actor.user_id,
            text=text,
            kind=kind,
            at=now,
            internal=internal,
            publish=publish,
        )
        owner = await _l2_owner(ticket)
        message = await outbox.enqueue(
            stream=stream_of(ticket),
            method="chat.postMessage",
            channel_id=rt.config.levels["L2"].channel,
            payload=build_draft_review(
                draft_id=draft.id,
                key=key,
                author_id=actor.user_id,
                text=draft.text,
                kind=kind.value,
                owner_id=owner,
            ),
            now=now,
        )
        draft.review_outbox_id = message.id
        await draft.save(update_fields=["review_outbox_id"])
        card = await active_card(ticket)
        if card is not None:
            await post_in_card_thread(
                rt,
                ticket,
                card,
                f"✉️ {mention(actor.user_id)} sent a {kind.value} draft to 2nd level for review.",
                now,
            )
    await _done(rt)
    return draft


async def review_draft(
    rt: Runtime, *, draft_id: int, actor: Actor, approve: bool, text: str | None = None
) -> RelayDraft:
    """2nd level approves (as is or edited) or rejects an L3 draft; approval posts it to the customer."""
    draft = await RelayDraft.get_or_none(id=draft_id).prefetch_related("ticket__customer")
    if draft is None:
        raise NotFoundError("That draft doesn't exist anymore.")
    ticket = draft.ticket
    if actor.is_external:
        raise PermissionDeniedError("That's something only our support team can do.")
    require(actor, Action.REVIEW_DRAFT, ticket)
    key = rt.key(ticket.id)
    now = rt.clock.now()
    async with in_transaction():
        draft = await svc.review_draft(
            draft_id=draft_id, reviewer_id=actor.user_id, approve=approve, at=now, text=text
        )
        ticket = draft.ticket
        if approve and draft.kind == DraftKind.RESOLUTION:
            await _resolve(
                rt,
                ticket,
                actor_id=draft.author_id,
                solution=draft.text,
                internal=draft.internal_notes,
                publish=draft.publish_to_kb,
                now=now,
            )
        elif approve:
            svc._require_open(ticket, key)
            await post_to_customer(
                rt,
                ticket,
                build_customer_reply(language=_language(rt, ticket), key=key, text=draft.text),
                now,
            )
            await _sla(ticket, "AGENT_REPLY", rt, now, actor_id=draft.author_id)
        verdict = "✅ Approved and sent" if approve else "❌ Rejected"
        edited = " (edited)" if approve and text is not None else ""
        if draft.review_outbox_id:
            target = await OutboxMessage.get(id=draft.review_outbox_id)
            await outbox.enqueue(
                stream=stream_of(ticket),
                method="chat.update",
                channel_id=target.channel_id,
                target=target,
                now=now,
                payload=build_draft_review(
                    draft_id=draft.id,
                    key=key,
                    author_id=draft.author_id,
                    text=draft.text,
                    kind=draft.kind.value,
                    owner_id=None,
                    decided=f"{verdict}{edited} by {mention(actor.user_id)} · {_when(now)}",
                ),
            )
        card = await TicketCard.filter(ticket_id=ticket.id, level="L3").order_by("-id").first()
        if card is not None:
            await post_in_card_thread(
                rt,
                ticket,
                card,
                f"{verdict}{edited}: your {draft.kind.value} draft, reviewed by {mention(actor.user_id)}.",
                now,
            )
    await _done(rt)
    return draft


async def tickets_at_levels(rt: Runtime, actor: Actor, limit: int = 100) -> list[tuple[int, str]]:
    """Open tickets at the actor's levels (or all for leads), for the ticket picker."""
    query = Ticket.filter(status__in=list(OPEN_STATUSES)).prefetch_related("customer").order_by("-id")
    if not actor.is_lead:
        query = query.filter(level__in=sorted(actor.levels) or ["-"])
    rows = await query.limit(limit)
    return [
        (t.id, f"{rt.key(t.id)} · {t.level} · {t.customer.name}: {' '.join(t.text.split())[:40]}")
        for t in rows
    ]


async def card_for_message(channel_id: str, message_ts: str) -> TicketCard | None:
    """The ticket card shown as this message (to detect stale cards)."""
    row = await OutboxMessage.filter(channel_id=channel_id, result_ts=message_ts).order_by("id").first()
    if row is None:
        return None
    return await TicketCard.get_or_none(outbox_id=row.id)


async def refresh_stale_card(rt: Runtime, card: TicketCard) -> Ticket:
    """Re-render a card someone clicked although the ticket moved on."""
    ticket = await Ticket.get(id=card.ticket_id).prefetch_related("customer")
    now = rt.clock.now()
    async with in_transaction():
        await refresh_card(rt, ticket, card, now)
    await _done(rt)
    return ticket


def is_stale(card: TicketCard | None, ticket: Ticket) -> bool:
    """True when the card no longer represents the ticket's current level and state."""
    if card is None:
        return False
    return not card.active or card.level != ticket.level or ticket.status not in OPEN_STATUSES


__all__ = ["TicketStatus"]
