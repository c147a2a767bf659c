"""The sandbox page in headless Chromium: a person plays customer and L1 agent; screenshots per step.

Screenshots go to artifacts/sandbox/ (gitignored). Skipped when Chromium or Playwright is missing:
`apt-get install chromium chromium-driver` and `pip install playwright` (never `playwright install`).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.runner import Sandbox
from tests.sandbox import start_sandbox

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "sandbox"
WAIT_MS = 20_000

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the browser test needs Playwright's Python package: .venv/bin/pip install playwright",
    ),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"the browser test needs Chromium at {CHROMIUM}: apt-get install chromium chromium-driver",
    ),
]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A running sandbox with fresh demo data."""
    sb = await start_sandbox(tmp_path / "data")
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    """A 1280×800 page in headless Chromium (the system's, not a downloaded build)."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(WAIT_MS)
        try:
            yield page
        finally:
            await browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def shot(page: Any, name: str) -> None:
    """Save a screenshot of the current step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def act_as(page: Any, person: str) -> None:
    """Pick a person in 'Acting as' and wait until the page shows them."""
    await page.select_option("[data-testid=acting-as]", person)
    await page.wait_for_function(
        f"window.sandbox.state.data && window.sandbox.state.data.me.id === '{person}'"
    )


async def open_channel(page: Any, name: str) -> None:
    """Click a channel in the sidebar."""
    await page.click(f"[data-testid='channel-{name}']")
    await page.wait_for_selector(f".pane-title:has-text('{name}')")


async def send(page: Any, selector: str, text: str) -> None:
    """Type into a composer and press Enter."""
    await page.fill(selector, text)
    await page.press(selector, "Enter")


async def test_customer_to_l1_agent_journey(sandbox: Sandbox, browser_page: Any) -> None:
    from playwright.async_api import expect

    page = browser_page
    await page.goto(sandbox.url + "/")
    await expect(page.get_by_test_id("banner")).to_contain_text("Local sandbox — nothing here reaches Slack")

    # 1. A customer of Acme describes a problem in the shared channel.
    await act_as(page, "U0ACMEJO")
    channels = await page.locator(".chan").evaluate_all("nodes => nodes.map(n => n.dataset.channel)")
    assert channels == ["app", "C0ACME"]  # a customer sees the app and their shared channel, nothing else
    await send(page, "[data-testid=composer]", "Our VPN drops every 10 minutes since 9am")
    customer_msg = page.locator("#messages .msg", has_text="Our VPN drops")
    await expect(customer_msg).to_be_visible()
    await expect(customer_msg.locator(".thread-link")).to_contain_text("1 reply")  # the bot's acknowledgement
    await shot(page, "01-customer-posted")

    # 2. An L1 agent sees the ticket card with its buttons in #support-l1.
    await act_as(page, "U0L1ANNA")
    await open_channel(page, "support-l1")
    card = page.locator("#messages .msg.from-app", has_text="SUP-1")
    await expect(card.locator(".bk-header")).to_contain_text("SUP-1 · Acme Corp")
    await expect(card.locator(".bk-btn", has_text="Claim")).to_be_visible()
    await expect(card.locator(".bk-btn", has_text="Escalate")).to_be_visible()
    await expect(card).to_contain_text("@Jo Miller")  # <@U…> rendered as the person's name
    await shot(page, "02-l1-sees-card")

    # 3. The agent looks the ticket up with the slash command; the answer is only visible to her.
    await page.fill("[data-testid=composer]", "/tic")
    await expect(page.locator(".command-item", has_text="/ticket")).to_be_visible()
    await send(page, "[data-testid=composer]", "/ticket SUP-1")
    ephemeral = page.locator("[data-testid=ephemeral]", has_text="SUP-1")
    await expect(ephemeral).to_contain_text("Only visible to you")
    await shot(page, "03-l1-ticket-command")

    # 4. The shortcut opens the bot's modal; an empty problem is refused under the field.
    await open_channel(page, "acme-support")
    message = page.locator("#messages .msg", has_text="Our VPN drops")
    await message.hover()
    await message.get_by_label("More actions").click()
    await page.locator(".menu-item", has_text="Create support ticket").click()
    modal = page.get_by_test_id("modal")
    await expect(modal.locator(".modal-title")).to_have_text("Create support ticket")
    await expect(modal.locator("textarea")).to_have_value("Our VPN drops every 10 minutes since 9am")
    await modal.locator("textarea").fill("")
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal.locator(".bk-error").first).to_be_visible()
    await shot(page, "04-l1-shortcut-modal")
    await modal.get_by_label("Close").click()
    await expect(modal).to_have_count(0)

    # 5. The customer replies in the ticket's thread.
    await act_as(page, "U0ACMEJO")
    await page.locator("#messages .msg", has_text="Our VPN drops").locator(".thread-link").click()
    await expect(page.locator("#thread-messages")).to_contain_text("SUP-1")
    await send(page, "[data-testid=thread-composer]", "It happens on Wi-Fi too")
    await expect(page.locator("#thread-messages .msg", has_text="It happens on Wi-Fi too")).to_be_visible()
    await shot(page, "05-customer-replies-in-thread")

    # 6. The L1 agent sees the reply mirrored into the card's thread, live.
    await act_as(page, "U0L1ANNA")
    await open_channel(page, "support-l1")
    card = page.locator("#messages .msg.from-app", has_text="SUP-1")
    await expect(card.locator(".thread-link")).to_be_visible()
    await card.locator(".thread-link").click()
    mirrored = page.locator("#thread-messages .msg", has_text="It happens on Wi-Fi too")
    await expect(mirrored).to_contain_text("(customer)")
    await shot(page, "06-l1-sees-mirrored-reply")

    # 7. Clicking a card button sends block_actions; whatever the bot answers appears for the agent only.
    before = await page.locator("[data-testid=ephemeral]").count()
    await page.locator("#messages .msg.from-app .bk-btn", has_text="Claim").click()
    await page.wait_for_function(
        "(n) => document.querySelectorAll('[data-testid=ephemeral]').length !== n"
        " || document.querySelector('.msg.from-app .mention-me') !== null",
        arg=before,
    )
    await shot(page, "07-l1-clicked-claim")


async def test_customer_text_is_shown_as_text_never_as_html(sandbox: Sandbox, browser_page: Any) -> None:
    from playwright.async_api import expect

    page = browser_page
    await page.goto(sandbox.url + "/#as=U0ACMEJO")
    await page.wait_for_function(
        "window.sandbox.state.data && window.sandbox.state.data.me.id === 'U0ACMEJO'"
    )
    evil = (
        '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> *bold* <javascript:alert(1)|x>'
    )
    await send(page, "[data-testid=composer]", evil)
    message = page.locator("#messages .msg", has_text="onerror")
    await expect(message).to_contain_text('<img src=x onerror="window.__xss=1">')
    await expect(message.locator(".thread-link")).to_be_visible()
    assert await message.locator("img, script").count() == 0
    await act_as(page, "U0L1ANNA")
    await open_channel(page, "support-l1")
    card = page.locator("#messages .msg.from-app", has_text="SUP-1")
    await expect(card).to_contain_text("<script>window.__xss=2</script>")
    assert await card.locator(".msg-body img, .msg-body script, a[href^='javascript']").count() == 0
    assert await page.evaluate("window.__xss") is None
    await shot(page, "08-hostile-text-rendered-as-text")


async def test_mrkdwn_rendering_escapes_first_then_formats(sandbox: Sandbox, browser_page: Any) -> None:
    page = browser_page
    await page.goto(sandbox.url + "/")
    await page.wait_for_function("window.sandbox.state.data !== null")
    cases = {
        "*bold* _italic_ ~strike~ `co<de>`": '<b>bold</b> <i>italic</i> <s>strike</s> <code class="mk-code">co&lt;de&gt;</code>',
        "a &lt;b&gt; &amp; c": "a &lt;b&gt; &amp; c",
        "<@U0L1ANNA> and <!subteam^S0L1>": '@Anna Lindqvist</span> and <span class="mention mention-group">@l1-team</span>',
        "<https://example.com|Example> <javascript:alert(1)|bad>": ">Example</a> bad",
        "> quoted\nplain": '<blockquote class="mk-quote">quoted</blockquote>plain',
        "<!date^43200^{date_num}|fallback>": "1970-01-01",
        "<!date^1700000000^{nonsense}|the fallback>": "the fallback",
        "snake_case_word and 2*3*4": "snake_case_word and 2*3*4",
    }
    for source, expected in cases.items():
        html = await page.evaluate(
            "(text) => window.sandbox.mrkdwn(text, {users: window.sandbox.state.data.users, groups: window.sandbox.state.data.groups})",
            source,
        )
        assert expected in html, f"{source!r} rendered as {html!r}"
    hostile = await page.evaluate("() => window.sandbox.mrkdwn('<img src=x onerror=alert(1)> \"quote\"')")
    assert "<img" not in hostile and "&lt;img" not in hostile  # a <…> control sequence, shown as its label
    assert "&quot;quote&quot;" in hostile
    raw = await page.evaluate("() => window.sandbox.mrkdwn('&lt;img src=x onerror=alert(1)&gt;')")
    assert raw == "&lt;img src=x onerror=alert(1)&gt;"


KITCHEN_SINK = [
    {"type": "header", "text": {"type": "plain_text", "text": "Kitchen sink :tada:"}},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*bold* <@U0L1ANNA> <!subteam^S0L2> <#C0L1>\n> a quote\n```pre block```",
        },
        "accessory": {
            "type": "overflow",
            "action_id": "ks.overflow",
            "options": [{"text": {"type": "plain_text", "text": "Reassign"}, "value": "re"}],
        },
    },
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "With an image"},
        "accessory": {"type": "image", "image_url": "https://example.invalid/x.png", "alt_text": "logo"},
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Due <!date^1700000000^{date_short}|soon>"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ks.reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Reject this?"},
                    "text": {"type": "mrkdwn", "text": "This *cannot* be undone."},
                    "confirm": {"type": "plain_text", "text": "Yes, reject"},
                    "deny": {"type": "plain_text", "text": "Keep"},
                },
            },
            {
                "type": "static_select",
                "action_id": "ks.priority",
                "placeholder": {"type": "plain_text", "text": "Priority"},
                "options": [{"text": {"type": "plain_text", "text": "P1"}, "value": "P1"}],
            },
        ],
    },
    {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_list",
                "style": "ordered",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "text", "text": "Restart the client"}],
                    }
                ],
            }
        ],
    },
    {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": "*Level*\nL2"}, {"type": "mrkdwn", "text": "*SLA*\n12m"}],
    },
]
KITCHEN_MODAL = {
    "type": "modal",
    "callback_id": "ks.modal",
    "title": {"type": "plain_text", "text": "Escalate SUP-1"},
    "submit": {"type": "plain_text", "text": "Escalate"},
    "blocks": [
        {
            "type": "input",
            "block_id": "summary",
            "label": {"type": "plain_text", "text": "Summary"},
            "element": {"type": "plain_text_input", "action_id": "v", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "component",
            "label": {"type": "plain_text", "text": "Component"},
            "element": {
                "type": "static_select",
                "action_id": "v",
                "options": [{"text": {"type": "plain_text", "text": "Network & VPN"}, "value": "network"}],
            },
        },
        {
            "type": "input",
            "block_id": "who",
            "optional": True,
            "label": {"type": "plain_text", "text": "Hand to"},
            "element": {"type": "users_select", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "where",
            "optional": True,
            "label": {"type": "plain_text", "text": "Channel"},
            "element": {"type": "conversations_select", "action_id": "v", "initial_conversation": "C0L1"},
        },
        {
            "type": "input",
            "block_id": "flags",
            "optional": True,
            "label": {"type": "plain_text", "text": "Flags"},
            "element": {
                "type": "checkboxes",
                "action_id": "v",
                "options": [{"text": {"type": "plain_text", "text": "VIP"}, "value": "vip"}],
            },
        },
        {
            "type": "input",
            "block_id": "urgency",
            "label": {"type": "plain_text", "text": "Urgency"},
            "element": {
                "type": "radio_buttons",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "Normal"}, "value": "normal"},
                    {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "v"},
        },
    ],
}


async def test_block_kit_the_bot_sends_is_rendered_generically(sandbox: Sandbox, browser_page: Any) -> None:
    """Blocks and a modal the bot does not use yet (posted through the stand-in's Web API) render and work."""
    import aiohttp
    from playwright.async_api import expect

    assert sandbox.standin is not None
    auth = {"Authorization": f"Bearer {sandbox.standin.bot_token}"}
    async with aiohttp.ClientSession(headers=auth) as api:
        posted = await api.post(f"{sandbox.standin.api_url}chat.postMessage", json={
            "channel": "C0L1", "text": "kitchen sink", "blocks": KITCHEN_SINK,
        })  # fmt: skip
        assert (await posted.json())["ok"]
        trigger = sandbox.standin.issue_trigger_id("U0L1ANNA")
        opened = await api.post(
            f"{sandbox.standin.api_url}views.open", json={"trigger_id": trigger, "view": KITCHEN_MODAL}
        )
        assert (await opened.json())["ok"]

    page = browser_page
    submits: list[str] = []
    page.on("request", lambda r: submits.append(r.url) if r.url.endswith("/sandbox/submit") else None)
    await page.goto(sandbox.url + "/#as=U0L1ANNA&c=C0L1")
    modal = page.get_by_test_id("modal")
    await expect(modal.locator(".modal-title")).to_have_text("Escalate SUP-1")
    await expect(modal.locator("textarea")).to_be_visible()
    await expect(modal.locator("[data-block=who] select")).to_contain_text("Anna Lindqvist")
    await expect(modal.locator("[data-block=where] select")).to_have_value("C0L1")
    await expect(modal.locator("[data-block=flags] input[type=checkbox]")).to_have_count(1)
    await expect(modal.locator("[data-block=urgency] input[type=radio]")).to_have_count(2)
    await expect(modal.locator("[data-block=due] input[type=date]")).to_be_visible()
    # required fields are checked in the page first, as Slack's client does
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal.locator("[data-block=summary] .bk-error")).to_have_text("Please fill out this field.")
    await expect(modal.locator("[data-block=urgency] .bk-error")).to_be_visible()
    assert submits == []
    await modal.locator("[data-block=summary] textarea").fill("Tried a reboot")
    await expect(modal.locator("[data-block=summary] .bk-error")).to_be_hidden()  # editing clears the error
    await modal.locator("[data-block=component] select").select_option("network")
    await modal.locator("[data-block=urgency] input[value=high]").check()
    await shot(page, "09-block-kit-modal")
    # the bot has no handler for this modal: it answers anyway (the form closes) and says it is out of date
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)
    assert len(submits) == 1
    assert any(
        "form is out of date" in m.text
        for c in sandbox.standin.workspace.channels
        for m in sandbox.standin.workspace.channel_messages(c)
    ) or any("form is out of date" in e.text for e in sandbox.standin.workspace.ephemerals_for("U0L1ANNA"))

    message = page.locator("#messages .msg.from-app", has_text="Kitchen sink")
    await expect(message.locator(".bk-header")).to_have_text("Kitchen sink 🎉")
    await expect(message.locator(".mention-me")).to_have_text("@Anna Lindqvist")
    await expect(message.locator(".mention-group")).to_have_text("@l2-team")
    await expect(message.locator(".channel-mention")).to_have_text("#support-l1")
    await expect(message.locator("blockquote")).to_have_text("a quote")
    await expect(message.locator("pre")).to_have_text("pre block")
    await expect(message.locator(".img-missing")).to_contain_text("logo")  # offline: the alt text is shown
    await expect(message.locator(".bk-context")).to_contain_text("2023")
    await expect(message.locator("ol li")).to_have_text("Restart the client")
    await expect(message.locator(".bk-fields")).to_contain_text("Level")
    await message.hover()
    await message.get_by_label("More options").click()
    await expect(page.locator(".menu-item", has_text="Reassign")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.mouse.click(5, 795)
    await message.locator(".bk-btn", has_text="Reject").click()
    dialog = page.locator(".modal-confirm")
    await expect(dialog).to_contain_text("This cannot be undone.")
    await shot(page, "10-block-kit-confirm")
    await dialog.locator(".btn", has_text="Keep").click()
    await expect(dialog).to_have_count(0)
    await shot(page, "11-block-kit-message")


# ---------------------------------------------------------------------- the escalation journey

ACME_JO, ANNA, CARL, EMIL = "U0ACMEJO", "U0L1ANNA", "U0L2CARL", "U0L3EMIL"


async def journey_shot(page: Any, step: int, name: str) -> None:
    """Save the journey's numbered screenshot (artifacts/sandbox/journey-NN-name.png).

    The mouse is moved off the messages first, so no hover toolbar covers what the step shows.
    """
    await page.mouse.move(640, 20)
    await shot(page, f"journey-{step:02d}-{name}")


def ticket_card(page: Any, key: str = "SUP-1") -> Any:
    """The ticket card in the open channel (an app message whose header names the ticket)."""
    return page.locator("#messages .msg.from-app").filter(
        has=page.locator(".bk-header", has_text=f"{key} · Acme Corp")
    )


def modal_field(modal: Any, block_id: str) -> Any:
    """The text field (multi-line or one-line) of one of the modal's input blocks."""
    return modal.locator(f"[data-block={block_id}]").locator("textarea, input").first


async def show_top(locator: Any) -> None:
    """Scroll a (long) message so that its first line is at the top of its list."""
    await locator.evaluate("node => node.scrollIntoView({block: 'start'})")


async def test_escalation_journey_customer_l1_l2_l3_review_and_confirm(
    sandbox: Sandbox, browser_page: Any
) -> None:
    """The issue's journey, one screenshot per step: a customer posts a problem; L1 escalates through
    the modal (a required field left empty first); L2 escalates to the network specialists; L3 resolves;
    the resolution reaches 2nd level as a draft, which L2 approves; the customer confirms; closed."""
    from playwright.async_api import expect

    page = browser_page
    await page.goto(sandbox.url + "/")
    await expect(page.get_by_test_id("banner")).to_be_visible()
    modal = page.get_by_test_id("modal")

    # 1. Jo (Acme) describes a problem in the shared channel; the bot acknowledges in the thread.
    await act_as(page, ACME_JO)
    await send(page, "[data-testid=composer]", "Our VPN drops every 10 minutes since 9am")
    problem = page.locator("#messages .msg", has_text="Our VPN drops")
    await expect(problem.locator(".thread-link")).to_contain_text("1 reply")
    await problem.locator(".thread-link").click()
    await expect(page.locator("#thread-messages")).to_contain_text("logged it as SUP-1")
    await journey_shot(page, 1, "customer-posts-problem")

    # 2. Anna (L1) sees the ticket card in #support-l1.
    await act_as(page, ANNA)
    await open_channel(page, "support-l1")
    card = ticket_card(page)
    await expect(card).to_contain_text("Ticket for L1")
    await expect(card.locator(".bk-btn", has_text="Escalate")).to_be_visible()
    await journey_shot(page, 2, "l1-sees-card")

    # 3. She escalates through the modal; the required field she left empty is flagged on the field.
    await card.locator(".bk-btn", has_text="Escalate").click()
    await expect(modal.locator(".modal-title")).to_have_text("Escalate to L2")
    await modal_field(modal, "escalate_reason").fill("Drops are regular: looks like a gateway timeout")
    await modal_field(modal, "ctx_tried").fill("Restarted the VPN client, reinstalled it")
    await modal_field(modal, "ctx_impact").fill("12 users in the Berlin office")
    await modal.get_by_test_id("modal-submit").click()
    reproduce_error = modal.locator("[data-block=ctx_reproduce] .bk-error")
    await expect(reproduce_error).to_have_text("Please fill out this field.")
    await expect(reproduce_error).to_be_in_viewport()
    await expect(modal_field(modal, "ctx_reproduce")).to_be_focused()
    await expect(modal.locator(".bk-error:visible")).to_have_count(1)
    await journey_shot(page, 3, "l1-escalation-modal-field-error")

    # 4. With the field filled the escalation goes through; the L1 card says where the ticket went.
    await modal_field(modal, "ctx_reproduce").fill("Connect, wait ten minutes")
    await expect(reproduce_error).to_be_hidden()
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)
    await expect(card).to_contain_text("Escalated to L2 by @Anna Lindqvist")
    await expect(card.locator(".bk-btn")).to_have_count(0)
    await journey_shot(page, 4, "l1-card-escalated")

    # 5. Carl (L2) sees the L2 card in #support-l2 with the reason and the context L1 gave.
    await act_as(page, CARL)
    await open_channel(page, "support-l2")
    card = ticket_card(page)
    await expect(card).to_contain_text("Escalated from L1 by @Anna Lindqvist")
    await expect(card).to_contain_text("looks like a gateway timeout")
    await expect(card).to_contain_text("12 users in the Berlin office")
    await show_top(card)
    await journey_shot(page, 5, "l2-sees-card")

    # 6. He escalates to L3, component "network", through the modal (L1's context is prefilled).
    await card.locator(".bk-btn", has_text="Escalate").click()
    await expect(modal.locator(".modal-title")).to_have_text("Escalate to L3")
    await expect(modal_field(modal, "ctx_tried")).to_have_value("Restarted the VPN client, reinstalled it")
    await modal_field(modal, "escalate_reason").fill("IKE rekey fails on gw-2: needs the network team")
    await modal.locator("[data-block=escalate_component] select").select_option("network")
    await modal_field(modal, "ctx_evidence").fill("vpn.log shows IKE rekey failures at 10 min")
    await modal_field(modal, "ctx_hypothesis").fill("Rekey lifetime mismatch between client and gateway")
    await modal.locator(".modal-body").evaluate("body => { body.scrollTop = 0; }")
    await expect(modal).to_have_class(re.compile(r"\bmore-below\b"))  # a shadow: more fields below
    await expect(modal).not_to_have_class(re.compile(r"\bmore-above\b"))
    await journey_shot(page, 6, "l2-escalation-modal-to-l3")
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)
    await expect(card).to_contain_text("Escalated to L3 by @Carl Mendes")

    # 7. Emil (L3, network) sees the card in #l3-network.
    await act_as(page, EMIL)
    await open_channel(page, "l3-network")
    card = ticket_card(page)
    await expect(card).to_contain_text("Rekey lifetime mismatch")
    await expect(card.locator(".bk-btn", has_text="Resolve")).to_be_in_viewport()
    # the card is taller than the list, scrolled to its end: its header stays in view at the top
    await expect(card.locator(".bk-header")).to_be_in_viewport()
    await journey_shot(page, 7, "l3-sees-card")

    # 8. He resolves through the modal, which says his answer goes to 2nd level first.
    await card.locator(".bk-btn", has_text="Resolve").click()
    await expect(modal.locator(".modal-title")).to_have_text("Resolve SUP-1")
    await expect(modal).to_contain_text("goes to 2nd level for review")
    await modal_field(modal, "resolve_solution").fill(
        "We fixed a setting on our VPN gateway. Please reconnect the VPN once; the drops should stop."
    )
    await modal_field(modal, "resolve_internal").fill("IKE lifetime 600s -> 28800s on gw-2")
    await journey_shot(page, 8, "l3-resolution-modal")
    await modal.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)

    # 9. The ticket is not resolved yet: the card's thread says the draft went to 2nd level.
    await card.locator(".thread-link").click()
    await expect(page.locator("#thread-messages")).to_contain_text("draft to 2nd level for review")
    await expect(card).to_contain_text("Open")
    await journey_shot(page, 9, "l3-draft-sent-for-review")

    # 10. 3rd level answers customers only through 2nd level: Carl gets the draft to review.
    await act_as(page, CARL)
    await open_channel(page, "support-l2")
    review = page.locator("#messages .msg.from-app", has_text="drafted a resolution")
    await expect(review).to_contain_text("Please reconnect the VPN once")
    await expect(review).not_to_contain_text("IKE lifetime")  # internal notes stay out of the draft
    await expect(review.locator(".bk-btn", has_text="Approve and send")).to_be_visible()
    await journey_shot(page, 10, "l2-reviews-draft")

    # 11. He approves; the review message records the decision and loses its buttons.
    await review.locator(".bk-btn", has_text="Approve and send").click()
    await expect(review).to_contain_text("Approved and sent by @Carl Mendes")
    await expect(review.locator(".bk-btn")).to_have_count(0)
    await journey_shot(page, 11, "l2-approved-draft")

    # 12. Jo sees the solution in her thread, with "Did this solve it?"; nothing internal reaches her.
    await act_as(page, ACME_JO)
    await page.locator("#messages .msg", has_text="Our VPN drops").locator(".thread-link").click()
    solution = page.locator("#thread-messages .msg", has_text="Did this solve it?")
    await expect(solution).to_contain_text("Please reconnect the VPN once")
    await expect(solution.locator(".bk-btn", has_text="No, still a problem")).to_be_visible()
    for internal in ("IKE lifetime", "Emil", "gateway timeout", "draft"):
        await expect(page.locator("#thread-messages")).not_to_contain_text(internal)
    await journey_shot(page, 12, "customer-sees-solution")

    # 13. She confirms; the bot thanks her and closes the ticket.
    await solution.locator(".bk-btn", has_text="Yes, it's solved").click()
    await expect(page.locator("#thread-messages")).to_contain_text("thanks for confirming")
    await expect(solution.locator(".bk-btn", has_text="Yes, it's solved")).to_have_count(0)
    await journey_shot(page, 13, "customer-confirms")

    # 14. The ticket's current card (L3's, which Carl sees too) shows it closed.
    await act_as(page, CARL)
    await open_channel(page, "l3-network")
    card = ticket_card(page)
    await expect(card).to_contain_text("Closed: the customer confirmed the solution")
    await expect(card.locator(".bk-fields")).to_contain_text("Closed")
    await show_top(card)
    await journey_shot(page, 14, "l2-sees-ticket-closed")

    # 15. L1 looks the ticket up where it started: closed. (The bot updates only the ticket's current
    # card on closing; the L1 and L2 cards keep their "Escalated to …" state.)
    await act_as(page, ANNA)
    await open_channel(page, "support-l1")
    await send(page, "[data-testid=composer]", "/ticket SUP-1")
    ephemeral = page.locator("[data-testid=ephemeral]", has_text="SUP-1")
    await expect(ephemeral.locator(".bk-fields")).to_contain_text("Closed")
    await journey_shot(page, 15, "l1-ticket-shows-closed")
