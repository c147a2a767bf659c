"""Internal notices about outbound messages Slack refused for good (posted in a support level channel)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.slack.text import clip, escape, mention

# What the people in the level channel can do about each channel error the notice is sent for.
ADVICE = {
    "channel_not_found": (
        "The channel was deleted, or it is private and I am not in it: invite {bot} to it, or correct its "
        "id in the support configuration."
    ),
    "is_archived": (
        "The channel was archived: unarchive it, or put the customer's new channel in the support "
        "configuration."
    ),
    "not_in_channel": "I am not a member and could not join by myself: invite {bot} to the channel.",
}
DIRECT_ADVICE = "I cannot write to them directly; please tell them yourself."


def build_delivery_failure_notice(
    *,
    what: str,
    where: str,
    error: str,
    detail: str,
    key: str | None,
    bot_user_id: str | None,
    direct: bool,
    to_customer: bool,
    quiet_minutes: int,
) -> dict[str, Any]:
    """'I couldn't deliver <what> to <where>: Slack says <error>.' and what to do (for a level channel)."""
    bot = mention(bot_user_id) if bot_user_id else "the support bot"
    subject = f"{what} for *{key}*" if key else what
    why = f"`{escape(clip(error, 60))}`" + (f" ({escape(clip(detail, 120))})" if detail else "")
    advice = DIRECT_ADVICE if direct else ADVICE.get(error, "").format(bot=bot)
    head = f"⚠️ I couldn't deliver {subject} to {where}: Slack says {why}. {advice}".strip()
    if key and to_customer:
        head += (
            f"\nIt will not be sent again: if the customer needs it, tell them yourself "
            f"(`/ticket reply {key} …`)."
        )
    else:
        head += "\nIt will not be sent again."
    body = clip(head, 2900)
    footer = (
        f"Only the support team sees this. Further failures of this kind for that channel are not announced "
        f"again for {quiet_minutes} minutes."
    )
    return {
        "text": body,
        "blocks": [
            SectionBlock(text=MarkdownTextObject(text=body)).to_dict(),
            ContextBlock(elements=[MarkdownTextObject(text=footer)]).to_dict(),
        ],
        "unfurl_links": False,
    }
