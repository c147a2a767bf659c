"""Tokens and secrets never appear in logs, error messages or anything people see (at LOG_LEVEL=DEBUG too).

The scenario drives the bot through its ordinary paths plus its error paths — a Slack API error
(invalid_auth), unhandled errors with tracebacks (views.open failing, an id the database rejects), a request
without a signature — with every logger at DEBUG. Then it looks for the bot token, the app-level token, the
signing secret, Slack's verification token and anything shaped like a Slack token in: every log record
(message, arguments, extras, formatted traceback), the production formatters' output (text and JSON, as
`setup_logging` installs them), every HTTP answer, and everything visible in the stand-in's workspace.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator

import aiohttp
import pytest

from bot.logs import JsonFormatter, RedactingFormatter, redact, setup_logging
from bot.sandbox.demo import ACME_CHANNEL, L1_CHANNEL
from models import Ticket
from tests.harness import SIGNING_SECRET, TOKEN, Harness, serving, start_harness

ANNA, JO = "U0L1ANNA", "U0ACMEJO"
APP_TOKEN = "xapp-1-A0BOT-7000000000000-secretappleveltoken"
VERIFICATION_TOKEN = "standin-verification-token"  # Slack's legacy verification token, sent in every body
SLACK_TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]{4,}")
SECRETS = {"bot token": TOKEN, "app token": APP_TOKEN, "signing secret": SIGNING_SECRET}


def find_secrets(text: str, *, verification_token: bool = False) -> list[str]:
    """Which secrets (or token-shaped strings) a text contains."""
    found = [name for name, value in SECRETS.items() if value in text]
    if verification_token and VERIFICATION_TOKEN in text:
        found.append("verification token")
    found += [f"token-shaped {m!r}" for m in SLACK_TOKEN.findall(text)]
    return found


def record_text(record: logging.LogRecord) -> str:
    """Everything a log record carries: message, raw arguments, extras and the formatted traceback."""
    parts = [record.getMessage(), repr(record.args)]
    parts += [
        repr(v)
        for k, v in vars(record).items()
        if k not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__
    ]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def visible_texts(bot: Harness) -> Iterator[str]:
    """Every string anyone can see in the stand-in: messages, threads, ephemerals, DMs, modals, Home tabs."""
    ws = bot.ws
    for messages in ws.messages.values():
        for msg in messages:
            yield "\n".join(ws.visible_strings(msg))
    for eph in ws.ephemerals:
        yield "\n".join(ws.visible_strings(eph))
    for view in ws.views.values():
        yield "\n".join(ws.visible_strings(view))


async def run_scenario(bot: Harness) -> list[str]:
    """Ordinary work plus every kind of failure; returns the bodies of the bot's HTTP answers."""
    answers: list[str] = []
    await bot.driver.post_message(JO, ACME_CHANNEL, "VPN drops every ten minutes")
    await bot.settle()
    ticket = await Ticket.get()
    key = f"SUP-{ticket.id}"
    # A Slack API error on an outbound post (the outbox gives up on invalid_auth).
    bot.standin.faults.error("chat.postMessage", "invalid_auth", times=1)
    answers.append((await bot.driver.slash_command(ANNA, L1_CHANNEL, "/ticket", f"note {key} checked")).text)
    await bot.settle()
    # Unhandled errors with tracebacks: views.open refused (token revoked), then failing with a 500.
    bot.standin.faults.error("views.open", "invalid_auth", times=1)
    answers.append((await bot.driver.slash_command(ANNA, L1_CHANNEL, "/resolve", key)).text)
    bot.standin.faults.server_error("views.open", status=500, times=1)
    answers.append((await bot.driver.slash_command(ANNA, L1_CHANNEL, "/resolve", key)).text)
    await bot.settle()
    # A button whose value the database cannot take (a tampered client; a traceback through the driver).
    card = bot.ws.channel_messages(L1_CHANNEL)[0]
    for block in card.blocks:
        for element in block.get("elements") or []:
            if element.get("action_id") == "card.claim":
                element["value"] = "9" * 20
    await bot.driver.click(ANNA, "card.claim", message=card)
    await bot.settle()
    # Requests without a valid signature, and a signed one that is not parseable.
    body = json.dumps({"type": "event_callback", "token": VERIFICATION_TOKEN, "event": {"type": "message"}})
    answers.append((await bot.driver.send_raw(body.encode(), sign=False)).text)
    answers.append((await bot.driver.send_raw(body.encode(), signature="v0=" + "0" * 64)).text)
    answers.append((await bot.driver.send_raw(b"{not json")).text)
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/metrics"):
            async with session.get(f"{bot.bot_url}{path}") as resp:
                answers.append(await resp.text())
    await bot.settle()
    return answers


@pytest.fixture
async def bot_with_app_token(database_url: str) -> Iterator[Harness]:
    """The bot with an app-level token configured as well (so it is one more secret that must not leak)."""
    async with serving(
        await start_harness(database_url, settings_overrides={"slack_app_token": APP_TOKEN})
    ) as h:
        yield h


async def test_no_secret_in_log_records_answers_or_workspace(
    bot_with_app_token: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG: no record, answer or visible text contains a token or the signing secret."""
    bot = bot_with_app_token
    caplog.set_level(logging.DEBUG)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        answers = await run_scenario(bot)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    records = caplog.records
    errors = [r for r in records if r.name.startswith("bot") and "unhandled error" in r.getMessage()]
    assert errors and all(r.exc_info for r in errors), "the scenario must go through the unhandled-error path"
    assert any("invalid_auth" in record_text(r) for r in records), "the scenario must hit a Slack API error"
    assert any(r.levelno == logging.DEBUG for r in records)
    leaks = [(r.name, find_secrets(record_text(r))) for r in records if find_secrets(record_text(r))]
    assert not leaks, leaks
    for answer in answers:
        assert not find_secrets(answer, verification_token=True), answer[:300]
    for text in visible_texts(bot):
        assert not find_secrets(text, verification_token=True), text[:300]


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_production_log_output_has_no_secrets(bot: Harness, fmt: str) -> None:
    """What setup_logging(DEBUG) actually writes — formatted, filtered, with tracebacks — has no secret in it,
    not even Slack's verification token (every request body carries it)."""
    root = logging.getLogger()
    saved = (
        root.handlers[:],
        root.level,
        {n: logging.getLogger(n).level for n in logging.root.manager.loggerDict},
    )
    stream = io.StringIO()
    real_stderr, sys.stderr = sys.stderr, stream
    try:
        setup_logging("DEBUG", fmt)
        await run_scenario(bot)
    finally:
        sys.stderr = real_stderr
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    output = stream.getvalue()
    assert "unhandled error" in output and "Traceback" in output and "DEBUG" in output
    if fmt == "json":
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any("traceback" in line for line in lines)
    assert not find_secrets(output, verification_token=True), [
        line[:300] for line in output.splitlines() if find_secrets(line, verification_token=True)
    ][:5]


TOKENS = [
    "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxp-1234567890-1234567890-1234567890123-0123456789abcdef0123456789abcdef",
    "xapp-1-A0BOT-1234567890123-0123456789abcdef0123456789abcdef0123456789abcdef",
    TOKEN,
]


def _record_with_traceback(token: str) -> logging.LogRecord:
    try:
        try:
            raise ConnectionError(
                f"POST https://slack.com/api/auth.test failed with Authorization: Bearer {token}"
            )
        except ConnectionError as inner:
            raise RuntimeError(f"could not start (token={token!r})") from inner
    except RuntimeError:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "bot.server", logging.ERROR, __file__, 1, "start failed for %s", (token,), exc_info
    )


@pytest.mark.parametrize("token", TOKENS, ids=lambda t: t[:5])
def test_formatters_redact_tokens_in_messages_and_tracebacks(token: str) -> None:
    """JsonFormatter and RedactingFormatter hide tokens in the message, its arguments and the whole traceback."""
    json_line = JsonFormatter().format(_record_with_traceback(token))
    data = json.loads(json_line)  # still one valid JSON object
    assert "Traceback" in data["traceback"] and "ConnectionError" in data["traceback"]
    assert token not in json_line and token[:5] + "…redacted" in json_line
    text = RedactingFormatter("%(levelname)s %(name)s: %(message)s").format(_record_with_traceback(token))
    assert token not in text and "RuntimeError" in text and token[:5] + "…redacted" in text
    assert redact(f"a {token} b") == f"a {token[:5]}…redacted b"


def test_the_scanner_sees_tracebacks_and_arguments() -> None:
    """The checks above are not vacuous: a token only in a chained exception or in the arguments is found."""
    record = _record_with_traceback(TOKEN)
    record.msg, record.args = "start failed", ()
    assert "bot token" in find_secrets(record_text(record))
    record.exc_info = None
    assert not find_secrets(record_text(record))
    assert find_secrets(record_text(logging.LogRecord("x", 20, "", 0, "%s", (SIGNING_SECRET,), None)))


def test_settings_and_runtime_reprs_hide_secrets(bot: Harness) -> None:
    """repr(settings) / repr(runtime) end up in tracebacks with locals, error reports and test output
    (a failing hypothesis test prints its arguments); they must not show the token or the signing secret."""
    for text in (repr(bot.rt.settings), repr(bot.rt), str(bot.rt.settings)):
        assert not find_secrets(text), find_secrets(text)
