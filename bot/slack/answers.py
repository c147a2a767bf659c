"""Private answers to one person: through response_url when Slack gave a usable one, else an ephemeral in the
request's channel, else a direct message.

Interactive answers stay direct (not the outbox). A payload without a usable response_url (a Home tab or modal
button, a forged or broken request) or a channel the bot is not in must not turn an answer into a crash: the
next way is tried, and a person no way reaches is logged (never silently dropped).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack import payload

log = logging.getLogger(__name__)

# What a failed answer can raise: Slack's refusal, a URL aiohttp rejects (a ValueError), the network.
_SEND_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError, ValueError)


async def tell_privately(
    client: AsyncWebClient | None,
    *,
    user_id: str,
    channel_id: str = "",
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> bool:
    """An ephemeral for the person in the channel, or a DM when that fails; False when neither worked."""
    user_id, channel_id = payload.ident(user_id), payload.ident(channel_id)
    if client is None or not user_id:
        log.info("no one to tell (no user id): %.120s", text)
        return False
    if channel_id and not channel_id.startswith("D"):
        try:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=blocks)
            return True
        except _SEND_ERRORS as exc:
            log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel_id, _reason(exc))
    try:
        await client.chat_postMessage(channel=user_id, text=text, blocks=blocks)
        return True
    except _SEND_ERRORS as exc:
        log.warning("could not tell %s privately: %s", user_id, _reason(exc))
        return False


async def tell(
    client: AsyncWebClient | None,
    body: Any,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    respond: Any = None,
) -> bool:
    """Answer the person behind an interactive payload or command, only them, the best way available."""
    if respond is not None and payload.response_url(body):
        try:
            sent = await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            if _accepted(sent):
                return True
            log.info("response_url refused the answer (HTTP %s); answering privately", sent.status_code)
        except _SEND_ERRORS as exc:
            log.info("answer through response_url failed (%s); answering privately", _reason(exc))
    user_id = payload.user_of(body)[0] or payload.ident(payload.obj(body).get("user_id"))
    return await tell_privately(
        client, user_id=user_id, channel_id=payload.channel_of(body), text=text, blocks=blocks
    )


class SafeRespond:
    """Bolt's respond() for listeners and the error handler, safe when the payload has no usable
    response_url (or Slack refuses it): the answer then goes to the person privately (see tell_privately).
    Replacing or deleting the original message is only possible through response_url.

    It also keeps the request's answers in order: an interim notice ("taking longer than usual", `notice`)
    is sent only while nothing else has been answered, and an answer sent meanwhile waits for it. Every
    answer of a request goes through here (listeners, `ack` after the ack, the error handler), so a notice
    can never arrive after the answer it announces, even when the answer was already on its way."""

    # Built for every request before its ack, used by few of them before the ack: what it needs is worked
    # out when it is first used.
    __slots__ = ("original", "client", "_user_id", "_channel_id", "answered", "_lock")

    def __init__(self, original: AsyncRespond, client: AsyncWebClient, *, user_id: Any, channel_id: Any):
        self.original, self.client = original, client
        self._user_id, self._channel_id = user_id, channel_id
        self.answered = False
        self._lock: asyncio.Lock | None = None

    @property
    def response_url(self) -> str | None:
        url = self.original.response_url
        return url if payload.is_url(url) else None

    @property
    def user_id(self) -> str:
        return payload.ident(self._user_id)

    @property
    def channel_id(self) -> str:
        return payload.ident(self._channel_id)

    @property
    def _order(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def __call__(self, text: str = "", blocks: Any = None, **kwargs: Any) -> Any:
        """Post to response_url; fall back to an ephemeral or DM with the same text and blocks."""
        async with self._order:
            self.answered = True
            return await self._answer(text, blocks, kwargs)

    async def notice(self, text: str) -> bool:
        """An interim ephemeral notice, unless the request has been answered already (True if sent)."""
        async with self._order:
            if self.answered:
                return False
            await self._answer(text, None, {"response_type": "ephemeral", "replace_original": False})
            return True

    async def _answer(self, text: str, blocks: Any, kwargs: dict[str, Any]) -> Any:
        response_url = self.response_url
        if response_url is not None:
            try:
                sent = await self._post(response_url, text, blocks, kwargs)
                if _accepted(sent):
                    return sent
                log.info("response_url refused the answer (HTTP %s); answering privately", sent.status_code)
            except _SEND_ERRORS as exc:
                log.info("response_url answer failed (%s); answering privately", _reason(exc))
        if kwargs.get("delete_original") and not (text or blocks):
            return None
        await tell_privately(
            self.client, user_id=self.user_id, channel_id=self.channel_id, text=text, blocks=blocks
        )
        return None

    async def _post(self, response_url: str, text: str, blocks: Any, kwargs: dict[str, Any]) -> Any:
        """To response_url over the bot's pooled HTTP session: Bolt's respond() opens a new session, and so a
        new connection, for every answer (a burst's answers then cost more CPU than the acks before them)."""
        session = getattr(self.client, "session", None)
        if session is None or session.closed or not _WEBHOOK_ARGS.issuperset(kwargs):
            return await self.original(text=text, blocks=blocks, **kwargs)
        webhook = AsyncWebhookClient(
            url=response_url, session=session, proxy=self.original.proxy, ssl=self.original.ssl
        )
        return await webhook.send(text=text, blocks=blocks, **kwargs)


# What respond() may pass on to slack_sdk's webhook client (anything else goes through Bolt's respond()).
_WEBHOOK_ARGS = frozenset(
    {
        "attachments",
        "response_type",
        "replace_original",
        "delete_original",
        "unfurl_links",
        "unfurl_media",
        "metadata",
    }
)


def _accepted(sent: Any) -> bool:
    """True unless response_url answered with an HTTP error (expired, used up): Bolt does not raise then."""
    status = getattr(sent, "status_code", 200)
    return not isinstance(status, int) or status < 400


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return payload.api_error(exc)
    return type(exc).__name__
