"""Block Kit and text validation (Slack's limits and error shapes) plus the leak guard.

Validation is two-pass: an explicit walker checks what Slack rejects and reports precise json-pointers
in Slack's wording; blocks that pass it are then validated with slack_sdk's own models
(`Block.parse(d).to_dict()` validates nested elements too), which catches what the walker misses.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from .workspace import INTERACTIVE_ELEMENT_TYPES, Channel, JsonDict, SlackError, Workspace, iter_strings

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_ATTACHMENTS = 100
MAX_ID = 255
MAX_VIEW_BYTES = 250_000
MAX_PRIVATE_METADATA = 3000
MAX_MODAL_TITLE = 24

BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
        "call",
    }
)
_SELECTS_WITH_OPTIONS = frozenset({"static_select", "multi_static_select"})
_OPTION_LISTS = {"checkboxes": 10, "radio_buttons": 10, "overflow": 5}


class _Report:
    """Collects Slack-style error strings: '<message> [json-pointer:/path]'."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def add(self, message: str, pointer: str) -> None:
        """Record one error at a json-pointer."""
        self.errors.append(f"{message} [json-pointer:{pointer}]")


def _check_len(report: _Report, value: Any, pointer: str, max_len: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            report.add("missing required field", pointer)
        return
    if not isinstance(value, str):
        report.add("must provide a string", pointer)
    elif required and not value:
        report.add("must be more than 0 characters", pointer)
    elif len(value) > max_len:
        report.add(f"must be less than {max_len + 1} characters", pointer)


def _check_text(
    report: _Report,
    obj: Any,
    pointer: str,
    max_len: int,
    *,
    plain_only: bool = False,
    required: bool = True,
) -> None:
    """Validate a composition text object (plain_text / mrkdwn)."""
    if obj is None:
        if required:
            report.add(
                f"missing required field: {pointer.rsplit('/', 1)[-1]}", pointer.rsplit("/", 1)[0] or "/"
            )
        return
    inner = _Report()
    if not isinstance(obj, dict):
        inner.add("must provide an object", pointer)
    else:
        kind = obj.get("type")
        if kind not in ("plain_text", "mrkdwn") or (plain_only and kind != "plain_text"):
            inner.add("must be a valid enum value", f"{pointer}/type")
        if kind == "mrkdwn" and "emoji" in obj:
            inner.add("invalid additional property: emoji", pointer)
        _check_len(inner, obj.get("text"), f"{pointer}/text", max_len, required=True)
    if inner.errors:
        report.add("failed to match all allowed schemas", pointer)
        report.errors.extend(inner.errors)


def _check_action_id(report: _Report, element: JsonDict, pointer: str, seen: set[str]) -> None:
    action_id = element.get("action_id")
    if action_id is None:
        return
    _check_len(report, action_id, f"{pointer}/action_id", MAX_ID)
    if isinstance(action_id, str):
        if action_id in seen:
            report.add(f"duplicate action_id: {action_id}", f"{pointer}/action_id")
        seen.add(action_id)


def _check_confirm(report: _Report, confirm: Any, pointer: str) -> None:
    if confirm is None:
        return
    if not isinstance(confirm, dict):
        report.add("must provide an object", pointer)
        return
    _check_text(report, confirm.get("title"), f"{pointer}/title", 100, plain_only=True)
    _check_text(report, confirm.get("text"), f"{pointer}/text", 300)
    _check_text(report, confirm.get("confirm"), f"{pointer}/confirm", 30, plain_only=True)
    _check_text(report, confirm.get("deny"), f"{pointer}/deny", 30, plain_only=True)


def _check_options(
    report: _Report, options: Any, pointer: str, max_items: int, *, min_items: int = 1
) -> None:
    if not isinstance(options, list):
        report.add("must provide an array", pointer)
        return
    if len(options) > max_items:
        report.add(f"no more than {max_items} items allowed", pointer)
    elif len(options) < min_items:
        report.add(f"must provide at least {min_items} items", pointer)
    for i, option in enumerate(options):
        opt_ptr = f"{pointer}/{i}"
        if not isinstance(option, dict):
            report.add("must provide an object", opt_ptr)
            continue
        _check_text(report, option.get("text"), f"{opt_ptr}/text", 75)
        _check_len(report, option.get("value"), f"{opt_ptr}/value", 150)
        _check_text(report, option.get("description"), f"{opt_ptr}/description", 75, required=False)


def _check_element(report: _Report, element: Any, pointer: str, seen_actions: set[str]) -> None:
    """Validate one block element (button, select, input…)."""
    if not isinstance(element, dict):
        report.add("must provide an object", pointer)
        return
    kind = element.get("type")
    if kind == "image":
        _check_len(report, element.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)
        return
    if kind not in INTERACTIVE_ELEMENT_TYPES:
        report.add(f"unsupported type: {kind}", f"{pointer}/type")
        return
    _check_action_id(report, element, pointer, seen_actions)
    _check_confirm(report, element.get("confirm"), f"{pointer}/confirm")
    _check_text(
        report, element.get("placeholder"), f"{pointer}/placeholder", 150, plain_only=True, required=False
    )
    if kind in ("button", "workflow_button"):
        _check_text(report, element.get("text"), f"{pointer}/text", 75, plain_only=True)
        _check_len(report, element.get("value"), f"{pointer}/value", 2000)
        _check_len(report, element.get("url"), f"{pointer}/url", 3000)
    elif kind in _SELECTS_WITH_OPTIONS:
        if element.get("options") is None and element.get("option_groups") is None:
            report.add("missing required field: options", pointer)
        if element.get("options") is not None:
            _check_options(report, element["options"], f"{pointer}/options", 100)
        for g, group in enumerate(element.get("option_groups") or []):
            if isinstance(group, dict):
                _check_text(
                    report, group.get("label"), f"{pointer}/option_groups/{g}/label", 75, plain_only=True
                )
                _check_options(report, group.get("options"), f"{pointer}/option_groups/{g}/options", 100)
    elif kind in _OPTION_LISTS:
        _check_options(report, element.get("options"), f"{pointer}/options", _OPTION_LISTS[kind])
    elif kind == "plain_text_input":
        max_length = element.get("max_length")
        if isinstance(max_length, int) and max_length > 3000:
            report.add("must be less than 3001", f"{pointer}/max_length")
        _check_len(report, element.get("initial_value"), f"{pointer}/initial_value", 3000)


def _check_block(report: _Report, block: Any, pointer: str) -> None:
    """Validate one layout block against Slack's limits."""
    if not isinstance(block, dict):
        report.add("must provide an object", pointer)
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        report.add("failed to match all allowed schemas", pointer)
        report.add(f"unsupported type: {kind}", f"{pointer}/type")
        return
    block_id = block.get("block_id")
    if block_id is not None:
        _check_len(report, block_id, f"{pointer}/block_id", MAX_ID)
        if isinstance(block_id, str):
            if block_id in report.block_ids:
                report.add(f"duplicate block_id: {block_id}", f"{pointer}/block_id")
            report.block_ids.add(block_id)
    seen_actions: set[str] = set()
    if kind == "section":
        if block.get("text") is None and block.get("fields") is None:
            report.add("must provide either text or fields", pointer)
        _check_text(report, block.get("text"), f"{pointer}/text", 3000, required=False)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                report.add("must provide an array", f"{pointer}/fields")
            else:
                if len(fields) > 10:
                    report.add("no more than 10 items allowed", f"{pointer}/fields")
                for i, item in enumerate(fields):
                    _check_text(report, item, f"{pointer}/fields/{i}", 2000)
        if block.get("accessory") is not None:
            _check_element(report, block["accessory"], f"{pointer}/accessory", seen_actions)
    elif kind == "header":
        _check_text(report, block.get("text"), f"{pointer}/text", 150, plain_only=True)
    elif kind == "markdown":
        _check_len(report, block.get("text"), f"{pointer}/text", 12_000, required=True)
    elif kind in ("actions", "context"):
        elements = block.get("elements")
        limit = 25 if kind == "actions" else 10
        if not isinstance(elements, list) or not elements:
            report.add("must provide at least 1 items", f"{pointer}/elements")
            return
        if len(elements) > limit:
            report.add(f"no more than {limit} items allowed", f"{pointer}/elements")
        for i, element in enumerate(elements):
            el_ptr = f"{pointer}/elements/{i}"
            if kind == "context":
                if isinstance(element, dict) and element.get("type") == "image":
                    _check_element(report, element, el_ptr, seen_actions)
                else:
                    _check_text(report, element, el_ptr, 3000)
            else:
                _check_element(report, element, el_ptr, seen_actions)
    elif kind == "input":
        _check_text(report, block.get("label"), f"{pointer}/label", 2000, plain_only=True)
        _check_text(report, block.get("hint"), f"{pointer}/hint", 2000, plain_only=True, required=False)
        if block.get("element") is None:
            report.add("missing required field: element", pointer)
        else:
            _check_element(report, block["element"], f"{pointer}/element", seen_actions)
    elif kind == "image":
        _check_len(report, block.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)
        _check_len(report, block.get("image_url"), f"{pointer}/image_url", 3000)
        _check_text(report, block.get("title"), f"{pointer}/title", 2000, plain_only=True, required=False)


def _check_with_sdk(report: _Report, block: JsonDict, pointer: str) -> None:
    """Second pass: slack_sdk's models (validates nested objects through to_dict())."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = Block.parse(block)
            if parsed is not None:
                parsed.to_dict()
    except SlackObjectFormationError as exc:
        report.add(str(exc), pointer)
    except (TypeError, KeyError, AttributeError, ValueError):
        report.add("failed to match all allowed schemas", pointer)


def block_errors(blocks: Any, *, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Return Slack-style errors for a list of blocks (empty list when valid)."""
    report = _Report()
    if not isinstance(blocks, list):
        report.add("must provide an array", pointer)
        return report.errors
    if len(blocks) > max_blocks:
        report.add(f"no more than {max_blocks} items allowed", pointer)
    for i, block in enumerate(blocks):
        before = len(report.errors)
        _check_block(report, block, f"{pointer}/{i}")
        if len(report.errors) == before and isinstance(block, dict):
            _check_with_sdk(report, block, f"{pointer}/{i}")
    return report.errors


def check_message_content(
    *,
    text: Any,
    blocks: Any,
    attachments: Any,
    require_content: bool = True,
) -> None:
    """Validate chat.* / response_url content; raise SlackError like Slack does."""
    if text is not None and not isinstance(text, str):
        raise SlackError("invalid_arguments", details=["must provide a string [json-pointer:/text]"])
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    if require_content and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if blocks:
        errors = block_errors(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
        if errors:
            raise SlackError("invalid_blocks", details=errors)
    if attachments:
        if len(attachments) > MAX_ATTACHMENTS:
            raise SlackError("too_many_attachments")
        errors = []
        for i, attachment in enumerate(attachments):
            if not isinstance(attachment, dict):
                errors.append(f"must provide an object [json-pointer:/attachments/{i}]")
            elif attachment.get("blocks") is not None:
                errors.extend(
                    block_errors(
                        attachment["blocks"],
                        max_blocks=MAX_MESSAGE_BLOCKS,
                        pointer=f"/attachments/{i}/blocks",
                    )
                )
        if errors:
            raise SlackError("invalid_attachments", details=errors)


def check_view(view: Any, *, allowed_types: Iterable[str] = ("modal",)) -> None:
    """Validate a view payload; raise invalid_arguments / view_too_large like Slack's views.* do."""
    if not isinstance(view, dict):
        raise SlackError(
            "invalid_arguments",
            details=["must provide an object [json-pointer:/view]"],
            details_in_errors=False,
        )
    if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
        raise SlackError("view_too_large")
    report = _Report()
    kind = view.get("type")
    if kind not in allowed_types:
        report.add(f"must be one of: {', '.join(allowed_types)}", "/view/type")
    if kind == "modal":
        _check_text(report, view.get("title"), "/view/title", MAX_MODAL_TITLE, plain_only=True)
        _check_text(
            report, view.get("submit"), "/view/submit", MAX_MODAL_TITLE, plain_only=True, required=False
        )
        _check_text(
            report, view.get("close"), "/view/close", MAX_MODAL_TITLE, plain_only=True, required=False
        )
        blocks = view.get("blocks") or []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            report.add("must define `submit` to use an `input` block in modals", "/view/submit")
    _check_len(report, view.get("private_metadata"), "/view/private_metadata", MAX_PRIVATE_METADATA)
    _check_len(report, view.get("callback_id"), "/view/callback_id", MAX_ID)
    _check_len(report, view.get("external_id"), "/view/external_id", MAX_ID)
    if view.get("blocks") is None:
        report.add("missing required field: blocks", "/view")
    else:
        report.errors.extend(block_errors(view["blocks"], max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks"))
    if not report.errors:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                View(**view).to_dict()
        except SlackObjectFormationError as exc:
            report.add(str(exc), "/view")
        except TypeError:
            report.add("failed to match all allowed schemas", "/view")
    if report.errors:
        details = ["failed to match all allowed schemas [json-pointer:/view]", *report.errors]
        raise SlackError("invalid_arguments", details=details, details_in_errors=False)


# ---------------------------------------------------------------------- leak guard

_BROADCAST_EVERYWHERE = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(\|[^>]*)?>")
_USER_REF_KEYS = ("user_id", "initial_user", "initial_users", "user")


@dataclass(frozen=True)
class Leak:
    """One violation found by the leak guard."""

    method: str
    channel: str | None
    viewer: str | None
    rule: str
    needle: str
    excerpt: str

    def __str__(self) -> str:
        where = f"channel {self.channel}" if self.channel else f"user {self.viewer}"
        return f"[{self.rule}] {self.method} -> {where}: {self.needle!r} in …{self.excerpt}…"


def _excerpt(haystack: str, start: int, end: int, width: int = 40) -> str:
    return haystack[max(0, start - width) : end + width].replace("\n", " ")


def _referenced_users(obj: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in _USER_REF_KEYS and isinstance(value, str):
                found.add(value)
            elif key in _USER_REF_KEYS and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            else:
                found |= _referenced_users(value)
    elif isinstance(obj, list):
        for value in obj:
            found |= _referenced_users(value)
    return found


class LeakGuard:
    """Flags internal content that reaches people of external teams, and broadcast mentions."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.internal_texts: list[str] = []
        self.internal_users: set[str] = set()
        self.leaks: list[Leak] = []
        self.on_leak: Callable[[Leak], None] | None = None

    def mark_internal(self, text: str) -> None:
        """Register a string that must never reach an external audience."""
        if text and text not in self.internal_texts:
            self.internal_texts.append(text)

    def mark_internal_user(self, user_id: str) -> None:
        """Register a user whose mention or name must never reach an external audience."""
        self.internal_users.add(user_id)

    def check(
        self,
        *,
        method: str,
        content: Any,
        extra_strings: Iterable[str] = (),
        channel: Channel | None = None,
        viewer: str | None = None,
    ) -> list[Leak]:
        """Check content written by the bot; viewer is set for ephemerals and views (one person sees it)."""
        ws = self.workspace
        if viewer is not None:
            external = ws.is_external_user(viewer)
        else:
            external = channel is not None and ws.has_external_audience(channel)
        strings = [*iter_strings(content), *extra_strings]
        haystack = "\n".join(s for s in strings if s)
        channel_id = channel.id if channel else None
        found: list[Leak] = []

        def flag(rule: str, needle: str, start: int, end: int) -> None:
            found.append(Leak(method, channel_id, viewer, rule, needle, _excerpt(haystack, start, end)))

        for match in _BROADCAST_EVERYWHERE.finditer(haystack):
            flag("broadcast_mention", match.group(0), match.start(), match.end())
        if external:
            for match in _SUBTEAM.finditer(haystack):
                flag("subteam_mention_external", match.group(0), match.start(), match.end())
            lowered = haystack.lower()
            for text in self.internal_texts:
                pos = lowered.find(text.lower())
                if pos >= 0:
                    flag("internal_text", text, pos, pos + len(text))
            referenced = _referenced_users(content)
            for user_id in sorted(self.internal_users):
                user = ws.users.get(user_id)
                patterns = [re.escape(f"<@{user_id}")]
                if user is not None:
                    patterns += [rf"(?<!\w){re.escape(n)}(?!\w)" for n in {user.name, user.real_name} if n]
                for pattern in patterns:
                    match = re.search(pattern, haystack, flags=re.IGNORECASE)
                    if match:
                        flag("internal_user", match.group(0), match.start(), match.end())
                        break
                else:
                    if user_id in referenced:
                        flag("internal_user", user_id, 0, 0)
        self.leaks.extend(found)
        if self.on_leak is not None:
            for leak in found:
                self.on_leak(leak)
        return found
