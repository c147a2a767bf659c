"""Customer satisfaction surveys: whom to ask (sampling and a per-user cooldown), ratings and comments.

No Slack here: the flow (bot/flows/csat.py) sends the survey and the leads' ping through the outbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from bot.errors import NotFoundError, PermissionDeniedError, UsageError
from config.support import CsatSettings
from models import CsatSurvey, Ticket

LOW_RATING = 2
"""Ratings at or below this ping the level's leads."""
MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class Rated:
    """A rating recorded on a survey; `ping_leads` is true the first time a survey gets a low rating."""

    survey: CsatSurvey
    ping_leads: bool


async def should_ask(*, user_id: str, now: datetime, settings: CsatSettings, rng: random.Random) -> bool:
    """True when the customer user was not asked within the cooldown and the sample picks this one."""
    if settings.sample_rate <= 0:
        return False
    if await CsatSurvey.filter(user_id=user_id, asked_at__gt=now - settings.cooldown_delta).exists():
        return False
    return settings.sample_rate >= 1 or rng.random() < settings.sample_rate


async def create_survey(*, ticket: Ticket, user_id: str, team_id: str | None, at: datetime) -> CsatSurvey:
    """Record that the customer user is asked to rate the ticket's resolution."""
    return await CsatSurvey.create(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,  # type: ignore[attr-defined]
        user_id=user_id,
        team_id=team_id,
        level=ticket.resolved_level or ticket.level,
        priority=ticket.priority,
        asked_at=at,
    )


async def _survey_for(*, survey_id: int, team_id: str | None) -> CsatSurvey:
    """The survey, if the person belongs to the customer organisation that was asked."""
    survey = await CsatSurvey.get_or_none(id=survey_id).prefetch_related("customer", "ticket")
    if survey is None:
        raise NotFoundError("This survey doesn't exist anymore.")
    if not team_id or team_id != survey.customer.team_id:
        raise PermissionDeniedError("Only the customer can answer this survey.")
    return survey


async def record_rating(
    *, survey_id: int, rating: int, user_id: str, team_id: str | None, at: datetime
) -> Rated:
    """Store a 1-5 rating (a later click changes it); only people of the asked customer organisation."""
    if not 1 <= rating <= 5:
        raise UsageError("Ratings go from 1 to 5.")
    survey = await _survey_for(survey_id=survey_id, team_id=team_id)
    survey.rating, survey.rated_by, survey.rated_at = rating, user_id, at
    ping = rating <= LOW_RATING and survey.leads_pinged_at is None
    if ping:
        ping = bool(
            await CsatSurvey.filter(id=survey.id, leads_pinged_at__isnull=True).update(leads_pinged_at=at)
        )
        survey.leads_pinged_at = at
    await survey.save(update_fields=["rating", "rated_by", "rated_at"])
    return Rated(survey=survey, ping_leads=ping)


async def record_comment(
    *, survey_id: int, comment: str, user_id: str, team_id: str | None, at: datetime
) -> CsatSurvey:
    """Store the customer's comment on their rating."""
    text = (comment or "").strip()
    if not text:
        raise UsageError("Write a comment, or close the form.")
    survey = await _survey_for(survey_id=survey_id, team_id=team_id)
    survey.comment, survey.commented_at = text[:MAX_COMMENT_CHARS], at
    if survey.rated_by is None:
        survey.rated_by = user_id
    await survey.save(update_fields=["comment", "commented_at", "rated_by"])
    return survey
