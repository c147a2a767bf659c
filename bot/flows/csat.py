"""CSAT workflows: ask after a confirmed resolution, record a rating (a low one pings the leads), record a
comment. Messages go through the outbox in the transaction of the change they follow."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from bot.flows.cards import post_to_customer, stream_of
from bot.runtime import Runtime
from bot.services import csat as svc
from bot.services.permissions import Actor
from bot.slack import outbox
from bot.slack.blocks.csat import (
    build_comment_note,
    build_csat_survey,
    build_csat_thanks,
    build_low_rating_ping,
)
from models import CsatSurvey, OutboxMessage, Ticket, TicketCard

# The sample's random source; tests replace it with a seeded one (or use sample_rate 0.0 / 1.0).
RNG = random.Random()


def _language(rt: Runtime, ticket: Ticket) -> str:
    return ticket.customer.language or rt.config.defaults.language


def leads_of(rt: Runtime, level: str) -> tuple[str, ...]:
    """Who hears about a low rating at a level: [sla.leads] for the level, else the top-level leads."""
    return tuple(rt.config.sla.leads.get(level) or rt.config.leads)  # type: ignore[call-overload]


async def ask_after_confirm(rt: Runtime, ticket: Ticket, *, actor: Actor, now: datetime) -> CsatSurvey | None:
    """Ask the customer who confirmed a resolution for a rating, when sampled and not in their cooldown
    (call it inside the confirmation's transaction: the survey is sent only if the confirmation commits)."""
    if not actor.is_external:
        return None
    if not await svc.should_ask(user_id=actor.user_id, now=now, settings=rt.config.csat, rng=RNG):
        return None
    survey = await svc.create_survey(ticket=ticket, user_id=actor.user_id, team_id=actor.team_id, at=now)
    payload = build_csat_survey(language=_language(rt, ticket), key=rt.key(ticket.id), survey_id=survey.id)
    await post_to_customer(rt, ticket, payload, now)
    return survey


async def _card_thread(ticket: Ticket, level: str) -> tuple[str | None, OutboxMessage | None]:
    """The channel and root message of the ticket's card at a level (latest), if any."""
    card = await TicketCard.filter(ticket_id=ticket.id, level=level).order_by("-id").first()
    if card is None:
        card = await TicketCard.filter(ticket_id=ticket.id).order_by("-id").first()
    if card is None:
        return None, None
    return card.channel_id, await OutboxMessage.get_or_none(id=card.outbox_id)


async def _internal(rt: Runtime, ticket: Ticket, level: str, payload: dict[str, Any], now: datetime) -> None:
    """A line in the ticket card's thread at the level (also shown in the channel), else in the channel."""
    channel, parent = await _card_thread(ticket, level)
    if channel is None or parent is None:
        channel, parent = rt.config.levels[level].channel, None  # type: ignore[index]
    else:
        payload = {**payload, "reply_broadcast": True}
    await outbox.enqueue(
        stream=stream_of(ticket),
        method="chat.postMessage",
        channel_id=channel,
        payload=payload,
        thread_parent=parent,
        now=now,
    )


async def rate(rt: Runtime, *, survey_id: int, rating: int, actor: Actor) -> dict[str, Any]:
    """Record a rating from the customer organisation that was asked; a rating of 1 or 2 pings the level's
    leads in the level channel (once per survey). Returns the survey message as it should read now."""
    now = rt.clock.now()
    async with in_transaction():
        rated = await svc.record_rating(
            survey_id=survey_id,
            rating=rating,
            user_id=actor.user_id,
            team_id=actor.team_id if actor.is_external else None,
            at=now,
        )
        survey = rated.survey
        ticket = await Ticket.get(id=survey.ticket_id).prefetch_related("customer")
        if rated.ping_leads:
            ping = build_low_rating_ping(
                key=rt.key(ticket.id),
                customer_name=ticket.customer.name,
                rating=rating,
                level=survey.level,
                leads=leads_of(rt, survey.level),
            )
            await _internal(rt, ticket, survey.level, ping, now)
    rt.sender.wake()
    return build_csat_thanks(
        language=_language(rt, ticket),
        key=rt.key(ticket.id),
        survey_id=survey.id,
        rating=rating,
        commented=survey.comment is not None,
    )


async def comment(rt: Runtime, *, survey_id: int, text: str, actor: Actor) -> CsatSurvey:
    """Record the customer's comment and show it to the team in the ticket card's thread."""
    now = rt.clock.now()
    async with in_transaction():
        survey = await svc.record_comment(
            survey_id=survey_id,
            comment=text,
            user_id=actor.user_id,
            team_id=actor.team_id if actor.is_external else None,
            at=now,
        )
        ticket = await Ticket.get(id=survey.ticket_id).prefetch_related("customer")
        note = build_comment_note(
            key=rt.key(ticket.id), rating=survey.rating, author_id=actor.user_id, comment=survey.comment or ""
        )
        channel, parent = await _card_thread(ticket, survey.level)
        await outbox.enqueue(
            stream=stream_of(ticket),
            method="chat.postMessage",
            channel_id=channel or rt.config.levels[survey.level].channel,  # type: ignore[index]
            payload=note,
            thread_parent=parent,
            now=now,
        )
    rt.sender.wake()
    return survey


async def survey_language(rt: Runtime, *, survey_id: int) -> str:
    """The language of the customer a survey belongs to (for the comment form)."""
    survey = await CsatSurvey.get_or_none(id=survey_id).prefetch_related("customer")
    if survey is None:
        return rt.config.defaults.language
    return survey.customer.language or rt.config.defaults.language
