"""CSAT over real HTTP: the survey after a confirmed resolution, who may rate, a low rating pings the lead in
the level channel, the comment form, sampling (0.0 / 1.0 / seeded) and the per-user cooldown."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.errors import PermissionDeniedError
from bot.flows import csat as csat_flows
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL, LEAD, build_demo_workspace
from bot.sandbox.standin import SlackStandIn
from bot.sandbox.standin.workspace import Message
from bot.services import csat as csat_service
from bot.slack.ids import ActionId, BlockId
from config.support import CsatSettings
from models import CsatSurvey, Ticket
from tests.harness import TOKEN, Harness, serving, start_harness, stop_harness

ANNA, JO, KIM, MAX = "U0L1ANNA", "U0ACMEJO", "U0ACMEKIM", "U0GLOBMAX"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def csat_bot(database_url: str, clock: FrozenClock, **csat: Any) -> Harness:
    standin = SlackStandIn(build_demo_workspace(clock=lambda: clock.now().timestamp()), bot_token=TOKEN)
    await standin.start()
    return await start_harness(database_url, clock=clock, standin=standin, config_overrides={"csat": csat})


@pytest.fixture
async def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def bot(database_url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    async with serving(await csat_bot(database_url, clock, sample_rate=1.0, cooldown="24h")) as h:
        yield h


def strings(h: Harness, item: Any) -> str:
    return "\n".join(h.ws.visible_strings(item))


async def resolve_and_confirm(
    h: Harness, user: str = JO, text: str = "The printer prints blank pages"
) -> Ticket:
    """A customer's ticket, resolved by L1 and confirmed by the customer."""
    sent = await h.driver.post_message(user, ACME_CHANNEL, text)
    await h.settle()
    ticket = await Ticket.get(channel_id=ACME_CHANNEL, source_ts=sent.ts)
    await h.command(ANNA, L1_CHANNEL, "/resolve", f"SUP-{ticket.id}")
    view = h.ws.open_views(ANNA)[-1]
    result = await h.driver.submit_view(
        ANNA, view.id, {BlockId.RESOLVE_SOLUTION: {ActionId.RESOLVE_SOLUTION: "We replaced the toner."}}
    )
    assert result.status == 200
    await h.settle()
    resolution = [m for m in h.ws.thread_replies(ACME_CHANNEL, sent.ts) if "solved" in m.text][-1]
    await h.driver.click(user, ActionId.CUSTOMER_CONFIRM, message=resolution)
    await h.settle()
    assert (await Ticket.get(id=ticket.id)).status == "closed"
    return ticket


def survey_message(h: Harness, ticket: Ticket) -> Message | None:
    for message in h.ws.thread_replies(ACME_CHANNEL, ticket.source_ts):
        if (
            any(b.get("block_id") == BlockId.CSAT_ACTIONS for b in message.blocks)
            and "How happy" in message.text
        ):
            return message
    return None


async def test_low_rating_pings_the_lead_and_a_comment_reaches_the_card_thread(bot: Harness) -> None:
    h = bot
    h.standin.mark_internal("We replaced the toner internally")  # nothing internal in the customer thread
    ticket = await resolve_and_confirm(h)
    survey = survey_message(h, ticket)
    assert survey is not None
    assert f"SUP-{ticket.id}" in survey.text and "1 = very unhappy" in strings(h, survey)
    row = await CsatSurvey.get(ticket_id=ticket.id)
    assert (row.user_id, row.level, row.rating) == (JO, "L1", None)

    # Neither an agent nor another customer organisation can rate.
    await h.driver.click(ANNA, ActionId.CSAT_RATE_1, channel=ACME_CHANNEL, ts=survey.ts)
    await h.settle()
    assert (await CsatSurvey.get(id=row.id)).rating is None
    assert "Only the customer" in "\n".join(e.text for e in h.ws.ephemerals_for(ANNA))

    # Another organisation cannot either (Globex's people don't see Acme's channel; the service refuses).
    with pytest.raises(PermissionDeniedError):
        await csat_service.record_rating(survey_id=row.id, rating=1, user_id=MAX, team_id="T0GLOBEX", at=T0)

    # Someone else of the customer's organisation may answer for the person who was asked.
    card = h.ws.channel_messages(L1_CHANNEL)[0]
    before = len(h.ws.thread_replies(L1_CHANNEL, card.ts))
    await h.driver.click(KIM, ActionId.CSAT_RATE_2, channel=ACME_CHANNEL, ts=survey.ts)
    await h.settle()
    row = await CsatSurvey.get(id=row.id)
    assert (row.rating, row.rated_by) == (2, KIM) and row.leads_pinged_at is not None
    thanks = h.ws.message(ACME_CHANNEL, survey.ts)
    assert "★★☆☆☆ (2/5)" in thanks.text and "Add a comment" in strings(h, thanks)
    assert "csat.rate" not in str(thanks.blocks)  # rated: the buttons are gone
    pings = [m for m in h.ws.thread_replies(L1_CHANNEL, card.ts)[before:] if "low satisfaction" in m.text]
    assert len(pings) == 1 and f"<@{LEAD}>" in pings[0].text and f"SUP-{ticket.id}" in pings[0].text
    assert pings[0].reply_broadcast  # also shown in the L1 channel

    # Rating again through the service (a second click racing the first) does not ping twice.
    again = await csat_service.record_rating(survey_id=row.id, rating=1, user_id=JO, team_id="T0ACME", at=T0)
    assert not again.ping_leads

    await h.driver.click(JO, ActionId.CSAT_COMMENT, channel=ACME_CHANNEL, ts=survey.ts)
    await h.settle()
    form = h.ws.open_views(JO)[-1]
    result = await h.driver.submit_view(
        JO, form.id, {BlockId.CSAT_COMMENT: {ActionId.CSAT_COMMENT_TEXT: "It took <@U0LEAD> three days"}}
    )
    assert result.status == 200 and not result.view_errors
    await h.settle()
    assert (await CsatSurvey.get(id=row.id)).comment == "It took <@U0LEAD> three days"
    notes = [m for m in h.ws.thread_replies(L1_CHANNEL, card.ts) if "Satisfaction comment" in m.text]
    assert len(notes) == 1 and "three days" in notes[0].text and "&lt;@U0LEAD&gt;" in notes[0].text


async def test_a_good_rating_pings_nobody(bot: Harness) -> None:
    ticket = await resolve_and_confirm(bot)
    survey = survey_message(bot, ticket)
    assert survey is not None
    await bot.driver.click(JO, ActionId.CSAT_RATE_5, channel=ACME_CHANNEL, ts=survey.ts)
    await bot.settle()
    assert (await CsatSurvey.get(ticket_id=ticket.id)).rating == 5
    assert not [m for m in bot.ws.channel_messages(L1_CHANNEL) if "low satisfaction" in m.text]
    assert "★★★★★ (5/5)" in bot.ws.message(ACME_CHANNEL, survey.ts).text


async def test_the_same_person_is_not_asked_twice_within_the_cooldown(
    bot: Harness, clock: FrozenClock
) -> None:
    first = await resolve_and_confirm(bot, text="The printer prints blank pages")
    clock.advance(timedelta(hours=3))
    second = await resolve_and_confirm(bot, text="The scanner does not send mail")
    third = await resolve_and_confirm(bot, user=KIM, text="Kim's monitor flickers")  # another person: asked
    assert survey_message(bot, first) is not None
    assert survey_message(bot, second) is None
    assert survey_message(bot, third) is not None
    clock.advance(timedelta(hours=21, minutes=1))  # 24h after the first survey
    fourth = await resolve_and_confirm(bot, text="The projector is dim")
    assert survey_message(bot, fourth) is not None
    assert await CsatSurvey.filter(user_id=JO).count() == 2


async def test_sample_rate_zero_never_asks(database_url: str, clock: FrozenClock) -> None:
    h = await csat_bot(database_url, clock, sample_rate=0.0)
    try:
        ticket = await resolve_and_confirm(h)
        assert survey_message(h, ticket) is None and await CsatSurvey.all().count() == 0
    finally:
        await stop_harness(h)
    h.standin.assert_no_leaks()


async def test_sampling_follows_the_seeded_random_source(bot: Harness, clock: FrozenClock) -> None:
    settings = CsatSettings(sample_rate=0.3, cooldown="1h")
    expected_rng = random.Random(7)
    expected = [expected_rng.random() < 0.3 for _ in range(40)]
    rng = random.Random(7)
    picked = [
        await csat_service.should_ask(user_id=f"U0CUST{i:03d}", now=clock.now(), settings=settings, rng=rng)
        for i in range(40)
    ]
    assert picked == expected and 0 < sum(picked) < 40


async def test_the_flow_samples_with_its_random_source(database_url: str, clock: FrozenClock) -> None:
    h = await csat_bot(database_url, clock, sample_rate=0.5)
    draws = random.Random(1)
    expected = [draws.random() < 0.5 for _ in range(2)]  # seed 1: asked, then not asked
    csat_flows.RNG = random.Random(1)
    try:
        first = await resolve_and_confirm(h, user=JO, text="The printer prints blank pages")
        second = await resolve_and_confirm(h, user=KIM, text="The monitor flickers")
        assert [survey_message(h, first) is not None, survey_message(h, second) is not None] == expected
        assert expected == [True, False]
    finally:
        csat_flows.RNG = random.Random()
        await stop_harness(h)
    h.standin.assert_no_leaks()
