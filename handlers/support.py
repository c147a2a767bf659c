"""`/support report` for agents and leads, and the customer satisfaction survey's buttons and comment form."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.errors import PermissionDeniedError, UsageError
from bot.flows import csat
from bot.flows import reports as report_flows
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.blocks.csat import build_csat_comment_modal
from bot.slack.blocks.customer import text as customer_text
from bot.slack.blocks.tickets import build_notice
from bot.slack.budget import ack_first, budgeted
from bot.slack.ids import CSAT_RATINGS, ActionId, BlockId, CallbackId, Command, any_of
from bot.slack.modals import form_opener
from handlers.actors import actor_of

SUPPORT_USAGE = "*/support* — for the support team\n• " + report_flows.USAGE
_RATING_OF = {action_id.value: rating for rating, action_id in CSAT_RATINGS.items()}


def _int(value: Any) -> int:
    return payload.required_id(value, "This button is out of date.", big=True)  # survey ids are 64-bit


async def handle_support_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/support report [today|week|month] [level|customer] | help`."""
    rt: Runtime = context["rt"]
    sub, _, rest = (command.get("text") or "").strip().partition(" ")
    if rt.is_external_team(command.get("team_id")):
        customer = rt.config.customer_by_team(command.get("team_id"))
        language = (customer.language if customer else None) or rt.config.defaults.language
        raise PermissionDeniedError(customer_text(language, "not_for_customers"))
    if sub.lower() in ("", "help"):
        await ack(**build_notice(SUPPORT_USAGE))
        return
    if sub.lower() != "report":
        raise UsageError(SUPPORT_USAGE)
    actor = await actor_of(rt, command)
    await ack(**await report_flows.show_report(rt, actor=actor, args=rest))


async def handle_csat_rating(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """A customer rates the resolution 1-5: record it and turn the survey into a thank-you."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    rating = _RATING_OF.get(str(action.get("action_id")), 0)
    answer = await csat.rate(rt, survey_id=_int(action.get("value")), rating=rating, actor=actor)
    await respond(replace_original=True, **answer)


async def handle_csat_comment_button(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    """'Add a comment' opens the comment form (for the customer organisation that was asked)."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    if not actor.is_external:
        raise PermissionDeniedError("Only the customer can answer this survey.")
    survey_id = _int(action.get("value"))
    async with form_opener(context, body) as form:
        language = await csat.survey_language(rt, survey_id=survey_id)
        await form.show(build_csat_comment_modal(language=language, survey_id=survey_id))


async def handle_csat_comment_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """The comment form was sent: store the comment (problems show on the field)."""
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    survey_id = payload.record_id(payload.metadata(view).get("survey"), big=True)
    if survey_id is None:
        await ack(response_action="errors", errors={BlockId.CSAT_COMMENT: "This form is out of date."})
        return
    text = payload.string(
        payload.input_value(view, BlockId.CSAT_COMMENT, ActionId.CSAT_COMMENT_TEXT).get("value")
    )
    try:
        await csat.comment(rt, survey_id=survey_id, text=text, actor=actor)
    except UsageError as exc:
        await ack(response_action="errors", errors={BlockId.CSAT_COMMENT: exc.message[:150]})
        return
    await ack()


COMMANDS = {Command.SUPPORT: ack_first(handle_support_command)}  # its listener: handlers/slash.py


def register(app: AsyncApp) -> None:
    """Attach the CSAT listeners (/support is in COMMANDS)."""
    app.action(any_of(*CSAT_RATINGS.values()))(budgeted(handle_csat_rating))
    app.action(ActionId.CSAT_COMMENT)(budgeted(handle_csat_comment_button))
    app.view(CallbackId.MODAL_CSAT_COMMENT)(budgeted(handle_csat_comment_submission))
