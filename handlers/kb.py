"""Knowledge-base listeners: /kb, suggestion and offer buttons, sharing, capture, review, the article modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.errors import UserFacingError
from bot.flows import kb as kb_flows
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.blocks.customer import strip_actions
from bot.slack.blocks.kb import build_article_modal, mark_review_item
from bot.slack.budget import budgeted
from bot.slack.ids import ActionId, BlockId, CallbackId, Command, any_of
from bot.slack.modals import form_opener, open_modal
from handlers.actors import actor_of


def _int(value: Any, *, big: bool = False) -> int:
    return payload.required_id(value, "This button is broken or out of date.", big=big)


def _components(rt: Runtime) -> list[tuple[str, str]]:
    return [(r.component, r.label or r.component) for r in rt.config.routes]


async def handle_kb_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
    """`/kb <question> | add | help`: results only the asker sees, or the new-article modal."""
    rt: Runtime = context["rt"]
    text = payload.string(command.get("text"))
    actor = await actor_of(rt, command)
    if text.strip().lower() == "add":
        form = kb_flows.new_form(rt, actor=actor)
        await ack()
        await open_modal(
            rt.client,
            trigger_id=command.get("trigger_id"),
            view=build_article_modal(form, components=_components(rt)),
        )
        return
    answer = await kb_flows.search_for_person(
        rt, actor=actor, channel_id=payload.ident(command.get("channel_id")), query=text
    )
    await ack(**answer)


async def handle_suggestion_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Helped / Not relevant / Send to customer on a suggested article in a card thread."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    suggestion_id = _int(action.get("value"), big=True)
    name = action.get("action_id")
    if name == ActionId.KB_SEND:
        notice = await kb_flows.send_to_customer(rt, suggestion_id=suggestion_id, actor=actor)
    else:
        notice = await kb_flows.rate_suggestion(
            rt, suggestion_id=suggestion_id, actor=actor, helped=name == ActionId.KB_HELPED
        )
    await respond(text=notice, response_type="ephemeral", replace_original=False)


async def handle_customer_offer_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """The customer's 'This solved it' / 'I still need help' on an offered article."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    note = await kb_flows.customer_verdict(
        rt,
        suggestion_id=_int(action.get("value"), big=True),
        actor=actor,
        solved=action.get("action_id") == ActionId.KB_CUSTOMER_SOLVED,
    )
    await respond(replace_original=True, **strip_actions(payload.obj(body.get("message")), note))


async def handle_share_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """'Share in channel' on a /kb result: the article is posted where /kb was run."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    channel = payload.channel_of(body)
    message = await kb_flows.share_article(
        rt, actor=actor, channel_id=channel, article_id=_int(action.get("value"))
    )
    await respond(**message)


async def handle_write_button(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    """'Write KB article' in the resolver's DM: the article modal, prefilled from the ticket."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    async with form_opener(context, body) as opener:
        form = await kb_flows.capture_form(rt, ticket_id=_int(action.get("value")), actor=actor)
        await opener.show(build_article_modal(form, components=_components(rt)))


async def handle_review_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Still correct / Edit / Retire in the weekly review reminder."""
    await ack()
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    article_id = _int(action.get("value"))
    name = action.get("action_id")
    if name == ActionId.KB_REVIEW_EDIT:
        async with form_opener(context, body) as opener:
            form = await kb_flows.review_edit_form(rt, article_id=article_id, actor=actor)
            await opener.show(build_article_modal(form, components=_components(rt)))
        return
    note = await kb_flows.review_action(
        rt, article_id=article_id, actor=actor, retire=name == ActionId.KB_REVIEW_RETIRE
    )
    await respond(
        replace_original=True,
        **mark_review_item(payload.obj(body.get("message")), article_id=article_id, note=note),
    )


async def handle_article_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """The article modal: checked per field, then saved (an edit keeps the old version)."""
    rt: Runtime = context["rt"]
    fields = kb_flows.ArticleFields(
        title=payload.input_text(view, BlockId.KB_TITLE, ActionId.KB_TITLE),
        problem=payload.string(
            payload.input_value(view, BlockId.KB_PROBLEM, ActionId.KB_PROBLEM).get("value")
        ),
        solution=payload.string(
            payload.input_value(view, BlockId.KB_SOLUTION, ActionId.KB_SOLUTION).get("value")
        ),
        tags=payload.string(payload.input_value(view, BlockId.KB_TAGS, ActionId.KB_TAGS).get("value")),
        component=payload.selected(view, BlockId.KB_COMPONENT, ActionId.KB_COMPONENT),
        visibility=payload.selected(view, BlockId.KB_VISIBILITY, ActionId.KB_VISIBILITY) or "internal",
    )
    errors = {}
    if not fields.title:
        errors[BlockId.KB_TITLE] = "Give the article a title people would search for."
    if not fields.solution.strip():
        errors[BlockId.KB_SOLUTION] = "Write the solution."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    meta = payload.metadata(view)
    actor = await actor_of(rt, body)
    work = kb_flows.save_from_form(
        rt,
        actor=actor,
        fields=fields,
        article_id=payload.record_id(meta.get("article")),
        ticket_id=payload.record_id(meta.get("ticket")),
    )
    try:
        await work  # not bounded here: `budgeted` answers Slack in time and never cancels the work
    except UserFacingError as exc:
        await ack(response_action="errors", errors={BlockId.KB_TITLE: exc.message[:150]})
        return
    await ack()


COMMANDS = {Command.KB: budgeted(handle_kb_command)}  # its listener: handlers/slash.py


def register(app: AsyncApp) -> None:
    """Attach the knowledge-base listeners (/kb is in COMMANDS)."""
    app.action(any_of(ActionId.KB_HELPED, ActionId.KB_NOT_RELEVANT, ActionId.KB_SEND))(
        budgeted(handle_suggestion_button)
    )
    app.action(any_of(ActionId.KB_CUSTOMER_SOLVED, ActionId.KB_CUSTOMER_NEED_HELP))(
        budgeted(handle_customer_offer_button)
    )
    app.action(ActionId.KB_SHARE)(budgeted(handle_share_button))
    app.action(ActionId.KB_WRITE)(budgeted(handle_write_button))
    app.action(any_of(ActionId.KB_REVIEW_CONFIRM, ActionId.KB_REVIEW_EDIT, ActionId.KB_REVIEW_RETIRE))(
        budgeted(handle_review_button)
    )
    app.view(CallbackId.MODAL_KB_ARTICLE)(budgeted(handle_article_submission))
