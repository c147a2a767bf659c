"""Escalation over real HTTP: L1 → L2 → L3 and back, resolution, confirmation, L3 relay, refusals."""

from __future__ import annotations

import asyncio
import json

from bot.sandbox.demo import (
    ACME_CHANNEL,
    GLOBEX_CHANNEL,
    L1_CHANNEL,
    L2_CHANNEL,
    L3_NETWORK,
    L3_SPECIALISTS,
)
from models import DraftStatus, RelayDraft, Ticket, TimelineEntry
from tests.harness import Harness

ANNA, BEN, CARL, EMIL, LEAD = "U0L1ANNA", "U0L1BEN", "U0L2CARL", "U0L3EMIL", "U0LEAD"
JO, MAX = "U0ACMEJO", "U0GLOBMAX"
L2_CONTEXT = {
    "tried": "Restarted the VPN client, reinstalled it",
    "impact": "12 users in Berlin office",
    "reproduce": "Connect, wait ten minutes",
}
L3_EXTRA = {"evidence": "vpn.log shows IKE rekey failures at 10 min", "hypothesis": "Rekey lifetime mismatch"}


def strings(ws, message) -> str:
    return "\n".join(ws.visible_strings(message))


def ctx_values(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    return {f"ctx_{k}": {"field.input": v} for k, v in fields.items()}


async def open_ticket(
    bot: Harness, text: str = "VPN drops every ten minutes", user: str = JO, channel: str = ACME_CHANNEL
) -> tuple[Ticket, str]:
    sent = await bot.driver.post_message(user, channel, text)
    await bot.settle()
    ticket = await Ticket.get(channel_id=channel, source_ts=sent.ts)
    return ticket, sent.ts


def last_view(bot: Harness, user: str):
    views = bot.ws.open_views(user)
    assert views, f"no modal open for {user}"
    return views[-1]


async def escalate_via_modal(
    bot: Harness, user: str, key: str, reason: str, fields: dict[str, str], component: str | None = None
) -> None:
    await bot.command(user, L1_CHANNEL, "/escalate", key)
    await bot.settle()
    view = last_view(bot, user)
    assert view.callback_id == "ticket.escalate"
    values = {"escalate_reason": {"escalate.reason": reason}, **ctx_values(fields)}
    if component:
        values["escalate_component"] = {"escalate.component": component}
    result = await bot.driver.submit_view(user, view.id, values)
    assert result.status == 200 and not result.view_errors, result.text
    await bot.settle()


async def test_full_path_l1_l2_l3_handback_resolve_confirm(bot: Harness) -> None:
    for user in L3_SPECIALISTS:
        bot.standin.mark_internal_user(user)
    ticket, ts = await open_ticket(bot)
    key = f"SUP-{ticket.id}"

    # L1 claims from the card, then escalates to L2 through the modal.
    card_l1 = bot.ws.channel_messages(L1_CHANNEL)[0]
    await bot.driver.click(ANNA, "card.claim", message=card_l1)
    await bot.settle()
    assert (await Ticket.get(id=ticket.id)).assignee_id == ANNA
    assert any(key in m.text for m in bot.ws.dm_messages(ANNA))
    await escalate_via_modal(bot, ANNA, key, "Needs log analysis", L2_CONTEXT)
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.level, ticket.status, ticket.assignee_id) == ("L2", "open", None)
    card_l1 = bot.ws.channel_messages(L1_CHANNEL)[0]
    l1_text = strings(bot.ws, card_l1)
    assert "Escalated to *L2*" in l1_text and not any(b["type"] == "actions" for b in card_l1.blocks)
    card_l2 = bot.ws.channel_messages(L2_CHANNEL)[0]
    l2_text = strings(bot.ws, card_l2)
    assert "Restarted the VPN client" in l2_text and "12 users" in l2_text and "<!subteam^S0L2>" in l2_text
    assert "Needs log analysis" in l2_text

    # L2 escalates to L3, routed by component to the network channel with its specialist pinged.
    await bot.driver.click(CARL, "card.escalate", message=card_l2)
    await bot.settle()
    view = last_view(bot, CARL)
    values = {
        "escalate_reason": {"escalate.reason": "Looks like a gateway bug"},
        **ctx_values(L3_EXTRA),
        "escalate_component": {"escalate.component": "network"},
    }
    result = await bot.driver.submit_view(CARL, view.id, values)
    assert result.status == 200 and not result.view_errors
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.level, ticket.component) == ("L3", "network")
    card_l3 = bot.ws.channel_messages(L3_NETWORK)[0]
    assert f"<@{EMIL}>" in strings(bot.ws, card_l3) and "IKE rekey" in strings(bot.ws, card_l3)

    # The customer saw neutral updates only.
    customer_thread = "\n".join(strings(bot.ws, m) for m in bot.ws.thread_replies(ACME_CHANNEL, ts))
    assert "forwarded to our specialists" in customer_thread
    assert "gateway bug" not in customer_thread and "Emil" not in customer_thread

    # L3 hands back to L2 with a summary in the L2 card thread.
    await bot.command(
        EMIL, L3_NETWORK, "/deescalate", f"{key} Gateway patched; please verify with the customer"
    )
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.level == "L2"
    card_l2 = bot.ws.channel_messages(L2_CHANNEL)[0]
    assert "Handed back from L3" in strings(bot.ws, card_l2)
    assert any("Gateway patched" in m.text for m in bot.ws.thread_replies(L2_CHANNEL, card_l2.ts))
    assert "Handed back to *L2*" in strings(bot.ws, bot.ws.channel_messages(L3_NETWORK)[0])

    # L2 resolves with the modal; the customer gets the solution and confirms.
    await bot.driver.click(CARL, "card.resolve", message=card_l2)
    await bot.settle()
    view = last_view(bot, CARL)
    result = await bot.driver.submit_view(
        CARL,
        view.id,
        {
            "resolve_solution": {"resolve.solution": "We fixed a gateway setting. Please reconnect the VPN."},
            "resolve_internal": {"resolve.internal": "IKE lifetime 600s -> 28800s on gw-2"},
            "resolve_publish": {"resolve.publish": ["publish"]},
        },
    )
    assert result.status == 200 and not result.view_errors
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.status, ticket.resolved_level, ticket.publish_to_kb) == ("resolved", "L2", True)
    resolution = [m for m in bot.ws.thread_replies(ACME_CHANNEL, ts) if "solved" in m.text][-1]
    assert "reconnect the VPN" in resolution.text and "IKE lifetime" not in strings(bot.ws, resolution)
    await bot.driver.click(JO, "customer.confirm", message=resolution)
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.status == "closed"
    kinds = await TimelineEntry.filter(ticket_id=ticket.id).values_list("kind", flat=True)
    assert ["created", "claimed", "escalated", "escalated", "handed_back", "resolved", "confirmed"] == [
        k for k in kinds if k in {"created", "claimed", "escalated", "handed_back", "resolved", "confirmed"}
    ]


async def test_required_context_missing_gives_field_errors(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    await bot.command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id}")
    await bot.settle()
    view = last_view(bot, ANNA)
    result = await bot.driver.submit_view(
        ANNA, view.id, {"escalate_reason": {"escalate.reason": ""}, **ctx_values({"tried": "rebooted"})}
    )
    assert result.response_action == "errors"
    assert set(result.view_errors) == {"escalate_reason", "ctx_impact", "ctx_reproduce"}
    assert (await Ticket.get(id=ticket.id)).level == "L1"


async def test_a_form_that_lacks_a_required_field_is_replaced_not_given_errors_slack_cannot_show(
    bot: Harness,
) -> None:
    """A form opened before the configuration asked for more context (or forged) lacks a block the next level
    needs: Slack shows errors only on blocks a form has, so the form says it is out of date instead."""
    ticket, _ = await open_ticket(bot)
    await bot.command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id}")
    await bot.settle()
    view = last_view(bot, ANNA)
    view.view["blocks"] = [b for b in view.view["blocks"] if b.get("block_id") != "ctx_impact"]
    result = await bot.driver.submit_view(
        ANNA,
        view.id,
        {"escalate_reason": {"escalate.reason": "needs L2"}, **ctx_values({"tried": "rebooted"})},
    )
    assert result.status == 200 and result.response_action == "update", result.text
    assert not result.view_errors
    assert "no longer fits" in json.dumps(last_view(bot, ANNA).view)
    assert (await Ticket.get(id=ticket.id)).level == "L1"


async def test_escalate_at_once_when_reason_and_context_are_there(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    await (await Ticket.get(id=ticket.id)).update_from_dict({"context": L2_CONTEXT}).save()
    answer = await bot.command(ANNA, L1_CHANNEL, "/escalate", f"#{ticket.id} customer is blocked")
    assert answer.status == 200 and "Escalated" in answer.text
    await bot.settle()
    assert (await Ticket.get(id=ticket.id)).level == "L2" and not bot.ws.open_views(ANNA)


async def test_double_submit_escalates_once(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    await bot.driver.click(ANNA, "card.escalate", message=card)
    await bot.settle()
    view = last_view(bot, ANNA)
    values = {"escalate_reason": {"escalate.reason": "stuck"}, **ctx_values(L2_CONTEXT)}
    # A double click on Submit: Slack delivers the same submission twice, concurrently.
    results = await asyncio.gather(*(bot.driver.submit_view(ANNA, view.id, values) for _ in range(2)))
    await bot.settle()
    # One closes the form; the other is told on the form (a field error when both checked the ticket before
    # either moved it, else the form turns into "escalated meanwhile").
    assert sorted(r.response_action or "close" for r in results) in (["close", "errors"], ["close", "update"])
    assert await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").count() == 1
    assert len(bot.ws.channel_messages(L2_CHANNEL)) == 1


async def test_stale_card_button_refreshes_instead_of_acting(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    stale_blocks = card.blocks
    await (await Ticket.get(id=ticket.id)).update_from_dict({"context": L2_CONTEXT}).save()
    await bot.command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id} needs L2")
    await bot.settle()
    card.blocks = stale_blocks  # someone still has the old card with buttons on screen
    result = await bot.driver.click("U0L1BEN", "card.claim", message=card)
    await bot.settle()
    assert result.status == 200
    assert (await Ticket.get(id=ticket.id)).assignee_id is None
    notes = [e.text for e in bot.ws.ephemerals_for("U0L1BEN")]
    assert any("out of date" in n for n in notes)
    assert not any(b["type"] == "actions" for b in bot.ws.channel_messages(L1_CHANNEL)[0].blocks)


async def test_stale_hand_back_and_resolve_forms_say_who_moved_the_ticket(bot: Harness) -> None:
    """A resolve or hand-back form opened before someone else moved the ticket changes nothing and says who."""
    ticket, _ = await open_ticket(bot)
    key = f"SUP-{ticket.id}"
    await (await Ticket.get(id=ticket.id)).update_from_dict({"context": L2_CONTEXT}).save()

    async def submit_stale(user: str, form_id: str, values: dict, expected: str) -> None:
        entries = await TimelineEntry.filter(ticket_id=ticket.id).count()
        result = await bot.driver.submit_view(user, form_id, values)
        await bot.settle()
        assert result.status == 200 and result.response_action == "update", result.text
        assert result.applied_error is None, result.applied_error
        shown = " ".join(bot.ws.visible_strings(bot.ws.view(form_id)))
        assert f"{key} {expected} — nothing was changed." in shown, shown
        assert await TimelineEntry.filter(ticket_id=ticket.id).count() == entries

    # Ben's resolve form was opened at L1; Anna escalates meanwhile.
    await bot.command(BEN, L1_CHANNEL, "/resolve", key)
    resolve_form = last_view(bot, BEN)
    await bot.command(ANNA, L1_CHANNEL, "/escalate", f"{key} needs L2")
    solution = {"resolve_solution": {"resolve.solution": "Reboot"}}
    await submit_stale(BEN, resolve_form.id, solution, f"was escalated to L2 meanwhile by <@{ANNA}>")
    assert (await Ticket.get(id=ticket.id)).status == "open"

    # Carl's hand-back form was opened at L2; the lead hands the ticket back first.
    await bot.command(CARL, L2_CHANNEL, "/deescalate", key)
    handback_form = last_view(bot, CARL)
    await bot.command(LEAD, L2_CHANNEL, "/deescalate", f"{key} was a local DNS issue")
    assert (await Ticket.get(id=ticket.id)).level == "L1"
    summary = {"text": {"text.input": "back to you"}}
    await submit_stale(CARL, handback_form.id, summary, f"was handed back to L1 meanwhile by <@{LEAD}>")

    # Anna and Ben both open the resolve form; Ben's goes through first.
    await bot.command(ANNA, L1_CHANNEL, "/resolve", key)
    anna_form = last_view(bot, ANNA)
    await bot.command(BEN, L1_CHANNEL, "/resolve", key)
    result = await bot.driver.submit_view(
        BEN, last_view(bot, BEN).id, {"resolve_solution": {"resolve.solution": "Flushed DNS"}}
    )
    await bot.settle()
    assert result.status == 200 and not result.view_errors, result.text
    await submit_stale(ANNA, anna_form.id, solution, f"was resolved meanwhile by <@{BEN}>")
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.status, ticket.resolution, ticket.resolved_by_id) == ("resolved", "Flushed DNS", BEN)


async def test_customers_are_refused_and_learn_nothing(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    key = f"SUP-{ticket.id}"
    for command, text in (
        ("/escalate", key),
        ("/assign", f"{key} <@{JO}>"),
        ("/claim", key),
        ("/resolve", key),
    ):
        answer = await bot.command(JO, ACME_CHANNEL, command, text)
        assert answer.status == 200 and "only our support team" in answer.text.lower()
    other = await bot.command(MAX, GLOBEX_CHANNEL, "/ticket", key)
    assert "couldn't find" in other.text and "VPN" not in other.text
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.level, ticket.assignee_id, ticket.status) == ("L1", None, "new")


async def test_l1_agent_cannot_act_at_l2_and_non_agents_cannot_assign(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    await (await Ticket.get(id=ticket.id)).update_from_dict({"level": "L2"}).save()
    answer = await bot.command(ANNA, L1_CHANNEL, "/claim", f"SUP-{ticket.id}")
    assert "only L2 (or higher)" in answer.text
    answer = await bot.command(CARL, L2_CHANNEL, "/assign", f"SUP-{ticket.id} <@{JO}|jo>")
    assert "isn't in a support level channel" in answer.text
    assert (await Ticket.get(id=ticket.id)).assignee_id is None


async def test_l3_draft_is_relayed_only_after_l2_approval(bot: Harness) -> None:
    for user in L3_SPECIALISTS:
        bot.standin.mark_internal_user(user)
    ticket, ts = await open_ticket(bot)
    await (
        (await Ticket.get(id=ticket.id))
        .update_from_dict(
            {"level": "L3", "component": "network", "status": "open", "context": {**L2_CONTEXT, **L3_EXTRA}}
        )
        .save()
    )
    key = f"SUP-{ticket.id}"
    secret_note = "internal: gw-2 firmware 7.1 has CVE-2026-1234"
    bot.standin.mark_internal(secret_note)
    await bot.command(EMIL, L3_NETWORK, "/ticket", f"note {key} {secret_note}")
    answer = await bot.command(EMIL, L3_NETWORK, "/ticket", f"reply {key} Please update the client to 5.2")
    assert "2nd level for review" in answer.text
    await bot.settle()
    assert not any("update the client" in m.text for m in bot.ws.thread_replies(ACME_CHANNEL, ts))
    review = [m for m in bot.ws.channel_messages(L2_CHANNEL) if "drafted" in m.text][-1]
    review_blocks = review.blocks
    await bot.driver.click(CARL, "draft.approve", message=review)
    await bot.settle()
    thread = bot.ws.thread_replies(ACME_CHANNEL, ts)
    assert any("update the client to 5.2" in m.text for m in thread)
    assert (await RelayDraft.get()).status == DraftStatus.APPROVED
    # A second click on a stale copy of the review message does not send twice.
    assert not any(b["type"] == "actions" for b in review.blocks)
    review.blocks = review_blocks
    await bot.driver.click("U0LEAD", "draft.approve", message=review)
    await bot.settle()
    assert sum("update the client to 5.2" in m.text for m in bot.ws.thread_replies(ACME_CHANNEL, ts)) == 1

    # A rejected draft never reaches the customer.
    rejected_text = "Tell them to factory reset the gateway"
    bot.standin.mark_internal(rejected_text)
    await bot.command(EMIL, L3_NETWORK, "/ticket", f"reply {key} {rejected_text}")
    await bot.settle()
    review = [m for m in bot.ws.channel_messages(L2_CHANNEL) if "factory reset" in strings(bot.ws, m)][-1]
    await bot.driver.click(CARL, "draft.reject", message=review)
    await bot.settle()
    assert await RelayDraft.filter(status=DraftStatus.REJECTED).count() == 1
    assert "Rejected" in strings(bot.ws, bot.ws.channel_messages(L2_CHANNEL)[-1]) or any(
        "Rejected" in strings(bot.ws, m) for m in bot.ws.channel_messages(L2_CHANNEL)
    )


async def test_l3_resolution_goes_through_l2_then_customer_rejects_and_it_reopens_at_l3(bot: Harness) -> None:
    ticket, ts = await open_ticket(bot)
    await (
        (await Ticket.get(id=ticket.id))
        .update_from_dict(
            {"level": "L3", "component": "network", "status": "open", "context": {**L2_CONTEXT, **L3_EXTRA}}
        )
        .save()
    )
    await bot.command(EMIL, L3_NETWORK, "/resolve", f"SUP-{ticket.id}")
    await bot.settle()
    view = last_view(bot, EMIL)
    await bot.driver.submit_view(EMIL, view.id, {"resolve_solution": {"resolve.solution": "Gateway fixed."}})
    await bot.settle()
    assert (await Ticket.get(id=ticket.id)).status == "open"  # not yet: 2nd level reviews first
    review = [m for m in bot.ws.channel_messages(L2_CHANNEL) if "drafted a resolution" in m.text][-1]
    await bot.driver.click(CARL, "draft.approve", message=review)
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.status, ticket.resolved_level, ticket.resolved_by_id) == ("resolved", "L3", EMIL)
    resolution = [m for m in bot.ws.thread_replies(ACME_CHANNEL, ts) if "Gateway fixed" in m.text][-1]
    await bot.driver.click(JO, "customer.reject", message=resolution)
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.status, ticket.level, ticket.reopen_count) == ("open", "L3", 1)
    assert any("reopened" in m.text for m in bot.ws.thread_replies(ACME_CHANNEL, ts))


async def test_waiting_priority_notes_and_list(bot: Harness) -> None:
    ticket, ts = await open_ticket(bot)
    key = f"SUP-{ticket.id}"
    note = "customer's admin password is in the vault entry 17"
    bot.standin.mark_internal(note)
    for text in (f"priority {key} P1", f"wait {key}", f"note {key} {note}"):
        answer = await bot.command(ANNA, L1_CHANNEL, "/ticket", text)
        assert answer.status == 200 and key in answer.text
    await bot.settle()
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.priority, ticket.status) == ("P1", "waiting")
    await bot.driver.post_message(JO, ACME_CHANNEL, "Here is the screenshot", thread_ts=ts)
    await bot.settle()
    assert (await Ticket.get(id=ticket.id)).status == "open"
    listing = await bot.command(ANNA, L1_CHANNEL, "/ticket", "list level")
    assert key in listing.text and "P1" in listing.text
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    assert any("vault entry 17" in m.text for m in bot.ws.thread_replies(L1_CHANNEL, card.ts))


async def test_escalate_with_hostile_or_garbage_input(bot: Harness) -> None:
    ticket, _ = await open_ticket(bot)
    await (await Ticket.get(id=ticket.id)).update_from_dict({"context": L2_CONTEXT}).save()
    for text in ("garbage words", "SUP-999999 reason", "NOPE-1 x", "💥" * 50, "x" * 10_000, "help"):
        answer = await bot.command(ANNA, L1_CHANNEL, "/escalate", text)
        assert answer.status == 200 and answer.text, text
        assert "<!channel>" not in answer.text
    evil = f"SUP-{ticket.id} <!channel> <!here> please <@U0LEAD> look " + "ü" * 3000
    answer = await bot.command(ANNA, L1_CHANNEL, "/escalate", evil)
    assert answer.status == 200
    await bot.settle()
    card = strings(bot.ws, bot.ws.channel_messages(L2_CHANNEL)[0])
    assert "<!channel>" not in card and "<!here>" not in card and "&lt;!channel&gt;" in card


async def test_an_escalate_not_signed_by_slack_is_refused_and_changes_nothing(bot: Harness) -> None:
    """The server checks every request's signature on the raw bytes (Bolt's own check is off, it would be a
    second HMAC): a well-formed `/escalate` signed with another secret, or signed more than five minutes
    ago, gets 401 and changes nothing; the same command signed correctly escalates."""
    ticket, _ = await open_ticket(bot)
    ticket.context = dict(L2_CONTEXT)
    await ticket.save(update_fields=["context"])
    calls_before = len(bot.standin.calls)
    secret, clock = bot.driver.signing_secret, bot.driver.clock
    try:
        bot.driver.signing_secret = "not-the-app-secret"
        forged = await bot.driver.slash_command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id} forged")
        bot.driver.signing_secret, bot.driver.clock = secret, lambda: clock() - 301
        stale = await bot.driver.slash_command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id} stale")
    finally:
        bot.driver.signing_secret, bot.driver.clock = secret, clock
    await bot.settle()
    assert (forged.status, stale.status) == (401, 401)
    await ticket.refresh_from_db()
    assert ticket.level == "L1"
    assert not await TimelineEntry.filter(ticket_id=ticket.id, kind="escalated").exists()
    assert bot.standin.calls[calls_before:] == []  # no card, no answer, no update

    answer = await bot.command(ANNA, L1_CHANNEL, "/escalate", f"SUP-{ticket.id} signed correctly")
    await ticket.refresh_from_db()
    assert answer.status == 200 and ticket.level == "L2", answer.text
