"""Workspace model of the Slack stand-in: teams, users, channels, messages, ephemerals, views, files.

The model answers two kinds of callers: the Web API handlers (which raise `SlackError` with real Slack
error codes) and tests/the driver (which read "what a person would see" and act as people).
"""

from __future__ import annotations

import copy
import itertools
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JsonDict = dict[str, Any]

#: Element types that carry an `action_id` and send `block_actions` / view state.
INTERACTIVE_ELEMENT_TYPES = frozenset(
    {
        "button",
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
    }
)

#: Keys whose string values are identifiers or styling, never shown to a person.
NON_VISIBLE_KEYS = frozenset(
    {"type", "block_id", "action_id", "callback_id", "external_id", "private_metadata", "style", "id"}
)

_MENTION_RE = re.compile(r"<(@[UW][A-Z0-9]+|#[CGD][A-Z0-9]+(?:\|[^>]*)?|![^>]+|https?://[^>|]+(?:\|[^>]*)?)>")


class SlackError(Exception):
    """A Slack Web API failure answer (`{"ok": false, "error": ...}`)."""

    def __init__(
        self,
        error: str,
        *,
        details: list[str] | None = None,
        details_in_errors: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(error if not details else f"{error}: {'; '.join(details)}")
        self.error = error
        self.details = list(details or [])
        self.details_in_errors = details_in_errors
        self.extra = extra

    def to_response(self) -> JsonDict:
        """Render the JSON body Slack would answer with."""
        body: JsonDict = {"ok": False, "error": self.error, **self.extra}
        if self.details:
            if self.details_in_errors:
                body["errors"] = list(self.details)
            body["response_metadata"] = {"messages": [f"[ERROR] {d}" for d in self.details]}
        return body


@dataclass
class Team:
    """A Slack workspace: the home team the bot is installed in, or an external (customer) team."""

    id: str
    name: str
    domain: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None


@dataclass
class User:
    """A person (or bot user) in some team."""

    id: str
    team_id: str
    name: str
    real_name: str
    is_bot: bool = False
    tz: str = "UTC"
    is_admin: bool = False
    is_owner: bool = False
    email: str | None = None
    title: str = ""
    is_restricted: bool = False
    deleted: bool = False
    visible: bool = True
    bot_id: str | None = None

    def tz_offset(self) -> int:
        """Current UTC offset of the user's time zone in seconds."""
        try:
            offset = datetime.now(ZoneInfo(self.tz)).utcoffset()
        except ZoneInfoNotFoundError:
            return 0
        return int(offset.total_seconds()) if offset else 0


@dataclass
class Channel:
    """A conversation: public/private channel, Slack Connect channel, DM (`D…`) or group DM."""

    id: str
    name: str
    home_team_id: str
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    ext_shared_with: list[str] = field(default_factory=list)
    host_team_id: str | None = None
    created: int = 0
    creator: str | None = None
    topic: str = ""
    purpose: str = ""
    im_user: str | None = None

    @property
    def is_ext_shared(self) -> bool:
        """True for Slack Connect channels shared with at least one external team."""
        return bool(self.ext_shared_with)

    @property
    def conversation_host_id(self) -> str:
        """Team that hosts the channel."""
        return self.host_team_id or self.home_team_id

    @property
    def connected_team_ids(self) -> list[str]:
        """All teams connected to the channel (host first)."""
        teams = [self.conversation_host_id, self.home_team_id, *self.ext_shared_with]
        return list(dict.fromkeys(teams))

    @property
    def channel_type(self) -> str:
        """Event `channel_type`: channel, group, im or mpim."""
        if self.is_im:
            return "im"
        if self.is_mpim:
            return "mpim"
        return "group" if self.is_private else "channel"


@dataclass
class Message:
    """A stored message (top-level or thread reply) in a channel."""

    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    team: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    blocks: list[JsonDict] = field(default_factory=list)
    attachments: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None
    parent_user_id: str | None = None
    subtype: str | None = None
    edited: JsonDict | None = None
    reactions: list[JsonDict] = field(default_factory=list)
    metadata: JsonDict | None = None
    file_ids: list[str] = field(default_factory=list)
    deleted: bool = False
    client_msg_id: str | None = None
    reply_broadcast: bool = False
    source: str = "person"
    history: list[JsonDict] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        """True for thread replies (not the thread parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def is_from_bot(self) -> bool:
        """True when an app/bot posted the message."""
        return self.bot_id is not None


@dataclass
class Ephemeral:
    """An ephemeral message shown to one user in one channel."""

    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[JsonDict] = field(default_factory=list)
    attachments: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    deleted: bool = False
    history: list[JsonDict] = field(default_factory=list)


@dataclass
class StoredView:
    """A modal or Home tab view as Slack keeps it for one user."""

    id: str
    type: str
    user_id: str
    team_id: str
    view: JsonDict
    hash: str
    root_view_id: str | None = None
    previous_view_id: str | None = None
    external_id: str | None = None
    state_values: dict[str, dict[str, JsonDict]] = field(default_factory=dict)
    is_open: bool = True
    history: list[JsonDict] = field(default_factory=list)

    @property
    def callback_id(self) -> str:
        """The view's callback_id ('' when unset)."""
        return str(self.view.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        """The view's private_metadata ('' when unset)."""
        return str(self.view.get("private_metadata") or "")

    @property
    def blocks(self) -> list[JsonDict]:
        """The view's blocks."""
        return list(self.view.get("blocks") or [])


@dataclass
class StoredFile:
    """A file uploaded through files.getUploadURLExternal + completeUploadExternal."""

    id: str
    name: str
    length: int
    user: str
    created: int
    title: str = ""
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    completed: bool = False
    shares: list[tuple[str, str]] = field(default_factory=list)

    @property
    def uploaded(self) -> bool:
        """True once bytes were posted to the upload URL."""
        return self.content is not None


def iter_strings(obj: Any, *, skip_keys: frozenset[str] = NON_VISIBLE_KEYS) -> Iterator[str]:
    """Yield every string inside a JSON-like value, skipping identifier keys."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key not in skip_keys:
                yield from iter_strings(value, skip_keys=skip_keys)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from iter_strings(value, skip_keys=skip_keys)


def iter_interactive_elements(blocks: Iterable[JsonDict]) -> Iterator[tuple[JsonDict, JsonDict]]:
    """Yield (block, element) for every interactive element in blocks (accessory, actions, input)."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates: list[Any] = []
        if block.get("type") == "actions":
            candidates.extend(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        if isinstance(block.get("element"), dict):
            candidates.append(block["element"])
        for element in candidates:
            if isinstance(element, dict) and element.get("type") in INTERACTIVE_ELEMENT_TYPES:
                yield block, element


def rich_text_from(text: str, block_id: str) -> JsonDict:
    """Build the rich_text block Slack attaches to a person's message."""
    elements: list[JsonDict] = []
    pos = 0
    for match in _MENTION_RE.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": text[pos : match.start()]})
        token = match.group(1)
        if token.startswith("@"):
            elements.append({"type": "user", "user_id": token[1:]})
        elif token.startswith("#"):
            elements.append({"type": "channel", "channel_id": token[1:].split("|")[0]})
        elif token.startswith("!"):
            name = token[1:].split("|")[0]
            if name.startswith("subteam^"):
                elements.append({"type": "usergroup", "usergroup_id": name.split("^", 1)[1]})
            else:
                elements.append({"type": "broadcast", "range": name})
        else:
            url, _, label = token.partition("|")
            link: JsonDict = {"type": "link", "url": url}
            if label:
                link["text"] = label
            elements.append(link)
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    return {
        "type": "rich_text",
        "block_id": block_id,
        "elements": [{"type": "rich_text_section", "elements": elements}],
    }


class Workspace:
    """In-memory Slack workspace as seen by the bot's installation (the home team)."""

    def __init__(
        self,
        *,
        home: Team,
        bot_user: User,
        bot_id: str,
        app_id: str,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
    ) -> None:
        self.home_team_id = home.id
        self.bot_user_id = bot_user.id
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self.teams: dict[str, Team] = {home.id: home}
        self.users: dict[str, User] = {bot_user.id: bot_user}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, StoredView] = {}
        self.files: dict[str, StoredFile] = {}
        self._home_views: dict[str, str] = {}
        self._dms: dict[str, str] = {}
        self._last_micros = 0
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ builder API

    @classmethod
    def create(
        cls,
        *,
        home_team_id: str = "T0HOME",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0BOT",
        team_name: str = "Home IT",
        domain: str | None = None,
        bot_name: str = "supportbot",
        clock: Callable[[], float] = time.time,
        seed: int = 0,
    ) -> Workspace:
        """Create a workspace with the home team and the bot user installed in it."""
        home = Team(id=home_team_id, name=team_name, domain=domain or _domain_of(team_name))
        bot_user = User(
            id=bot_user_id,
            team_id=home_team_id,
            name=bot_name,
            real_name=bot_name,
            is_bot=True,
            bot_id=bot_id,
        )
        return cls(home=home, bot_user=bot_user, bot_id=bot_id, app_id=app_id, clock=clock, seed=seed)

    def add_team(
        self,
        team_id: str,
        *,
        name: str | None = None,
        domain: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
    ) -> Team:
        """Add an external (customer) team."""
        team = Team(
            id=team_id,
            name=name or team_id,
            domain=domain or _domain_of(name or team_id),
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
        )
        self.teams[team_id] = team
        return team

    def add_user(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        name: str | None = None,
        real_name: str | None = None,
        is_bot: bool = False,
        tz: str = "UTC",
        is_admin: bool = False,
        is_owner: bool = False,
        email: str | None = None,
        title: str = "",
        is_restricted: bool = False,
        visible: bool = True,
    ) -> User:
        """Add a user; team_id defaults to the home team."""
        team = team_id or self.home_team_id
        if team not in self.teams:
            raise KeyError(f"unknown team {team!r}: call add_team() first")
        login = name or user_id.lower()
        user = User(
            id=user_id,
            team_id=team,
            name=login,
            real_name=real_name or login,
            is_bot=is_bot,
            tz=tz,
            is_admin=is_admin,
            is_owner=is_owner,
            email=email if email is not None else f"{login}@{self.teams[team].domain}.example.com",
            title=title,
            is_restricted=is_restricted,
            visible=visible,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        ext_shared_with: Iterable[str] = (),
        host_team_id: str | None = None,
        is_archived: bool = False,
        topic: str = "",
        purpose: str = "",
    ) -> Channel:
        """Add a channel; include the bot user id in members for the bot to be able to post."""
        member_list = list(dict.fromkeys(members))
        for uid in member_list:
            if uid not in self.users:
                raise KeyError(f"unknown user {uid!r}: call add_user() first")
        shared = [t for t in ext_shared_with if t != self.home_team_id]
        for team_id in shared:
            if team_id not in self.teams:
                raise KeyError(f"unknown team {team_id!r}: call add_team() first")
        channel = Channel(
            id=channel_id,
            name=name,
            home_team_id=self.home_team_id,
            members=member_list,
            is_private=is_private,
            is_archived=is_archived,
            ext_shared_with=shared,
            host_team_id=host_team_id,
            created=int(self.clock()),
            creator=member_list[0] if member_list else None,
            topic=topic,
            purpose=purpose,
        )
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def archive_channel(self, channel_id: str) -> None:
        """Archive a channel (posting then fails with is_archived)."""
        self.channels[channel_id].is_archived = True

    # ------------------------------------------------------------------ ids and time

    def next_ts(self) -> str:
        """Return a unique, strictly increasing message ts like '1732700000.000100'."""
        micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """Return a new Slack-style id with the given prefix (V, F, D, G…)."""
        return f"{prefix}0{next(self._ids):08d}"

    def short_id(self, length: int = 5) -> str:
        """Return a short random id like Slack's generated block_id/action_id."""
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def new_hash(self) -> str:
        """Return a view hash like '1732700000.1a2b3c4d'."""
        return f"{int(self.clock())}.{self._rng.getrandbits(32):08x}"

    # ------------------------------------------------------------------ lookups

    @property
    def home_team(self) -> Team:
        """The team the bot is installed in."""
        return self.teams[self.home_team_id]

    @property
    def bot_user(self) -> User:
        """The bot's user."""
        return self.users[self.bot_user_id]

    def require_user(self, user_id: str | None) -> User:
        """Return the user or raise user_not_found."""
        user = self.users.get(user_id or "")
        if user is None:
            raise SlackError("user_not_found")
        return user

    def require_channel(self, channel_id: str | None) -> Channel:
        """Return a channel the bot can see (private ones only when it is a member) or raise."""
        channel = self.channels.get(channel_id or "")
        if channel is None:
            by_name = (channel_id or "").lstrip("#")
            channel = next((c for c in self.channels.values() if c.name == by_name and not c.is_im), None)
        if channel is None or (
            (channel.is_private or channel.is_im or channel.is_mpim)
            and self.bot_user_id not in channel.members
        ):
            raise SlackError("channel_not_found")
        return channel

    def require_postable(self, channel_id: str | None) -> Channel:
        """Return a channel the bot may post in: exists, not archived, bot is a member."""
        if channel_id and channel_id.startswith(("U", "W")) and channel_id in self.users:
            return self.open_dm(channel_id)
        channel = self.require_channel(channel_id)
        if channel.is_archived:
            raise SlackError("is_archived")
        if self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def message(self, channel_id: str, ts: str) -> Message | None:
        """Return the stored message (deleted ones included) or None."""
        for msg in self.messages.get(channel_id, []):
            if msg.ts == ts:
                return msg
        return None

    def require_message(self, channel_id: str, ts: str | None) -> Message:
        """Return a non-deleted message or raise message_not_found."""
        msg = self.message(channel_id, ts or "")
        if msg is None or msg.deleted:
            raise SlackError("message_not_found")
        return msg

    def is_external_user(self, user_id: str) -> bool:
        """True when the user belongs to another team than the home team."""
        user = self.users.get(user_id)
        return user is not None and user.team_id != self.home_team_id

    def has_external_audience(self, channel: Channel) -> bool:
        """True when people of an external team can read the channel (Connect channel or DM/MPIM)."""
        if channel.is_ext_shared:
            return True
        return any(self.is_external_user(uid) for uid in channel.members)

    def is_stranger(self, user_id: str) -> bool:
        """True for external users who share no channel with the bot."""
        if not self.is_external_user(user_id):
            return False
        return not any(
            user_id in c.members and self.bot_user_id in c.members and c.is_ext_shared
            for c in self.channels.values()
        )

    # ------------------------------------------------------------------ writes

    def add_message(
        self,
        channel_id: str,
        *,
        text: str = "",
        user: str | None = None,
        blocks: list[JsonDict] | None = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        subtype: str | None = None,
        metadata: JsonDict | None = None,
        file_ids: list[str] | None = None,
        reply_broadcast: bool = False,
        as_bot: bool = False,
        source: str = "person",
    ) -> Message:
        """Store a message as Slack would (no permission checks)."""
        author = self.users.get(user or self.bot_user_id) if not as_bot else self.bot_user
        msg = Message(
            channel=channel_id,
            ts=self.next_ts(),
            text=text,
            user=self.bot_user_id if as_bot else user,
            team=author.team_id if author else self.home_team_id,
            bot_id=self.bot_id if as_bot else None,
            app_id=self.app_id if as_bot else None,
            blocks=copy.deepcopy(blocks or []),
            attachments=copy.deepcopy(attachments or []),
            thread_ts=thread_ts,
            subtype=subtype or ("thread_broadcast" if reply_broadcast and thread_ts else None),
            metadata=copy.deepcopy(metadata),
            file_ids=list(file_ids or []),
            client_msg_id=None if as_bot else str(uuid.UUID(int=self._rng.getrandbits(128))),
            reply_broadcast=reply_broadcast,
            source=source,
        )
        if thread_ts:
            parent = self.message(channel_id, thread_ts)
            if parent is not None and not parent.is_reply:
                parent.thread_ts = parent.ts
                msg.parent_user_id = parent.user
        if not as_bot and not msg.blocks and text:
            msg.blocks = [rich_text_from(text, self.short_id())]
        self.messages.setdefault(channel_id, []).append(msg)
        return msg

    def post_as_user(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        subtype: str | None = None,
    ) -> Message:
        """Store a person's message; raises AssertionError if that person could not post there."""
        user = self.users.get(user_id)
        channel = self.channels.get(channel_id)
        if user is None or channel is None:
            raise AssertionError(f"unknown user {user_id!r} or channel {channel_id!r}")
        if user_id not in channel.members and subtype != "channel_join":
            raise AssertionError(f"{user_id} is not a member of {channel_id} and cannot post there")
        if channel.is_archived:
            raise AssertionError(f"{channel_id} is archived")
        if thread_ts is not None:
            parent = self.message(channel_id, thread_ts)
            if parent is None or parent.deleted or parent.is_reply:
                raise AssertionError(f"no thread parent {thread_ts} in {channel_id}")
        return self.add_message(channel_id, text=text, user=user_id, thread_ts=thread_ts, subtype=subtype)

    def edit_message(self, channel_id: str, ts: str, *, editor: str, **changes: Any) -> JsonDict:
        """Apply an edit (text/blocks/attachments/metadata/file_ids); return the previous API rendering."""
        msg = self.require_message(channel_id, ts)
        previous = self.render_message(msg)
        msg.history.append(previous)
        for key, value in changes.items():
            setattr(msg, key, copy.deepcopy(value))
        msg.edited = {"user": editor, "ts": self.next_ts()}
        if msg.user != self.bot_user_id and "text" in changes and "blocks" not in changes:
            msg.blocks = [rich_text_from(msg.text, self.short_id())]
        return previous

    def delete_message(self, channel_id: str, ts: str) -> JsonDict:
        """Mark a message deleted; return its last API rendering."""
        msg = self.require_message(channel_id, ts)
        previous = self.render_message(msg)
        msg.deleted = True
        return previous

    def add_reaction(self, channel_id: str, ts: str, user_id: str, name: str) -> Message:
        """Add a reaction by a user; raises already_reacted on duplicates."""
        msg = self.require_message(channel_id, ts)
        for reaction in msg.reactions:
            if reaction["name"] == name:
                if user_id in reaction["users"]:
                    raise SlackError("already_reacted")
                reaction["users"].append(user_id)
                reaction["count"] += 1
                return msg
        msg.reactions.append({"name": name, "users": [user_id], "count": 1})
        return msg

    def join_channel(self, channel_id: str, user_id: str) -> Channel:
        """Add a member to a channel (idempotent)."""
        channel = self.channels[channel_id]
        if user_id not in channel.members:
            channel.members.append(user_id)
        return channel

    def open_dm(self, user_id: str) -> Channel:
        """Return the bot's DM channel with a user, creating it (`D…`) if needed."""
        existing = self._dms.get(user_id)
        if existing:
            return self.channels[existing]
        self.require_user(user_id)
        channel = Channel(
            id=self.new_id("D"),
            name=user_id,
            home_team_id=self.home_team_id,
            members=[user_id, self.bot_user_id] if user_id != self.bot_user_id else [user_id],
            is_private=True,
            is_im=True,
            created=int(self.clock()),
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        self._dms[user_id] = channel.id
        return channel

    def open_mpim(self, user_ids: list[str]) -> Channel:
        """Return the bot's group DM with these users, creating it if needed."""
        wanted = sorted({*user_ids, self.bot_user_id})
        for channel in self.channels.values():
            if channel.is_mpim and sorted(channel.members) == wanted:
                return channel
        names = "--".join(self.users[u].name for u in wanted)
        channel = Channel(
            id=self.new_id("G"),
            name=f"mpdm-{names}-1",
            home_team_id=self.home_team_id,
            members=wanted,
            is_private=True,
            is_mpim=True,
            created=int(self.clock()),
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def add_ephemeral(
        self,
        channel_id: str,
        user_id: str,
        *,
        text: str = "",
        blocks: list[JsonDict] | None = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        source: str = "chat.postEphemeral",
    ) -> Ephemeral:
        """Store an ephemeral message for one user."""
        eph = Ephemeral(
            ts=self.next_ts(),
            channel=channel_id,
            user=user_id,
            text=text,
            blocks=copy.deepcopy(blocks or []),
            attachments=copy.deepcopy(attachments or []),
            thread_ts=thread_ts,
            source=source,
        )
        self.ephemerals.append(eph)
        return eph

    # ------------------------------------------------------------------ views

    def open_view(self, user_id: str, view: JsonDict, *, push_onto: StoredView | None = None) -> StoredView:
        """Open a modal for a user (a new stack, or pushed onto an open one)."""
        if push_onto is None:
            for old in self.open_views(user_id):
                old.is_open = False
        stored = self._new_view(user_id, view)
        if push_onto is not None:
            stored.root_view_id = push_onto.root_view_id
            stored.previous_view_id = push_onto.id
        return stored

    def update_view(self, stored: StoredView, view: JsonDict) -> StoredView:
        """Replace a view's content, keeping its id and the input state of unchanged elements."""
        stored.history.append(copy.deepcopy(stored.view))
        stored.view = copy.deepcopy(view)
        stored.hash = self.new_hash()
        if view.get("external_id"):
            stored.external_id = view["external_id"]
        still_there = {
            (b.get("block_id"), e.get("action_id")) for b, e in iter_interactive_elements(stored.blocks)
        }
        stored.state_values = {
            block_id: {a: v for a, v in actions.items() if (block_id, a) in still_there}
            for block_id, actions in stored.state_values.items()
        }
        return stored

    def publish_home(self, user_id: str, view: JsonDict) -> StoredView:
        """Create or replace the user's Home tab view."""
        existing = self.home_view(user_id)
        if existing is not None:
            return self.update_view(existing, view)
        stored = self._new_view(user_id, view)
        stored.root_view_id = None
        self._home_views[user_id] = stored.id
        return stored

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> list[StoredView]:
        """Close a modal (or its whole stack); return the views that were closed."""
        stored = self.views[view_id]
        stack = self.open_views(stored.user_id)
        if whole_stack:
            targets = [v for v in stack if v.root_view_id == stored.root_view_id]
        else:
            targets = [v for v in stack if v.id == view_id]
        for view in targets:
            view.is_open = False
        return targets

    def find_view(self, *, view_id: str | None = None, external_id: str | None = None) -> StoredView | None:
        """Find a stored view by id or external_id."""
        if view_id:
            return self.views.get(view_id)
        if external_id:
            return next((v for v in self.views.values() if v.external_id == external_id), None)
        return None

    def _new_view(self, user_id: str, view: JsonDict) -> StoredView:
        view_id = self.new_id("V")
        stored = StoredView(
            id=view_id,
            type=str(view.get("type")),
            user_id=user_id,
            team_id=self.users[user_id].team_id if user_id in self.users else self.home_team_id,
            view=copy.deepcopy(view),
            hash=self.new_hash(),
            root_view_id=view_id,
            external_id=view.get("external_id") or None,
        )
        self.views[view_id] = stored
        return stored

    # ------------------------------------------------------------------ rendering (API shapes)

    def render_message(self, msg: Message) -> JsonDict:
        """Render a message the way conversations.history / chat.postMessage return it."""
        data: JsonDict = {"type": "message", "text": msg.text, "ts": msg.ts}
        if msg.subtype:
            data["subtype"] = msg.subtype
        if msg.user:
            data["user"] = msg.user
        if msg.team:
            data["team"] = msg.team
        if msg.client_msg_id:
            data["client_msg_id"] = msg.client_msg_id
        if msg.bot_id:
            data.update(bot_id=msg.bot_id, app_id=msg.app_id, bot_profile=self.bot_profile())
        if msg.blocks:
            data["blocks"] = copy.deepcopy(msg.blocks)
        if msg.attachments:
            data["attachments"] = copy.deepcopy(msg.attachments)
        if msg.file_ids:
            data["files"] = [self.render_file(self.files[f]) for f in msg.file_ids if f in self.files]
            data["upload"] = True
        if msg.metadata:
            data["metadata"] = copy.deepcopy(msg.metadata)
        if msg.edited:
            data["edited"] = dict(msg.edited)
        if msg.reactions:
            data["reactions"] = copy.deepcopy(msg.reactions)
        if msg.thread_ts:
            data["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                data["parent_user_id"] = msg.parent_user_id
            else:
                replies = self.thread_replies(msg.channel, msg.ts)
                reply_users = list(dict.fromkeys(r.user for r in replies if r.user))
                data.update(
                    reply_count=len(replies),
                    reply_users_count=len(reply_users),
                    reply_users=reply_users,
                    latest_reply=replies[-1].ts if replies else msg.ts,
                    is_locked=False,
                    subscribed=False,
                )
        return data

    def bot_profile(self) -> JsonDict:
        """The bot_profile object Slack attaches to app messages."""
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.bot_user.name,
            "icons": {"image_36": "", "image_48": "", "image_72": ""},
            "deleted": False,
            "updated": 1700000000,
            "team_id": self.home_team_id,
        }

    def render_channel(self, channel: Channel, *, include_num_members: bool = False) -> JsonDict:
        """Render conversations.info's channel object (with Slack Connect fields)."""
        if channel.is_im:
            return {
                "id": channel.id,
                "created": channel.created,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": self.home_team_id,
                "user": channel.im_user,
                "is_user_deleted": False,
                "priority": 0,
                "is_archived": False,
            }
        data: JsonDict = {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "created": channel.created,
            "creator": channel.creator or "",
            "is_archived": channel.is_archived,
            "is_general": False,
            "unlinked": 0,
            "is_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_ext_shared": channel.is_ext_shared,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "pending_connected_team_ids": [],
            "shared_team_ids": channel.connected_team_ids if channel.is_ext_shared else [self.home_team_id],
            "connected_team_ids": channel.connected_team_ids if channel.is_ext_shared else [],
            "internal_team_ids": [self.home_team_id] if channel.is_ext_shared else [],
            "conversation_host_id": channel.conversation_host_id,
            "context_team_id": self.home_team_id,
            "is_member": self.bot_user_id in channel.members,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
            "updated": channel.created * 1000,
        }
        if include_num_members:
            data["num_members"] = len(channel.members)
        return data

    def render_user(self, user: User) -> JsonDict:
        """Render users.info's user object, with is_stranger for external users."""
        first, _, last = user.real_name.partition(" ")
        profile: JsonDict = {
            "title": user.title,
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "first_name": first,
            "last_name": last,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": "g0000000000",
            "image_72": "https://a.slack-edge.com/avatar-72.png",
            "team": user.team_id,
        }
        external = self.is_external_user(user.id)
        if user.email and not external:
            profile["email"] = user.email
        if user.is_bot:
            profile.update(bot_id=user.bot_id, api_app_id=self.app_id, always_active=True)
        data: JsonDict = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz,
            "tz_offset": user.tz_offset(),
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": False,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "is_email_confirmed": not user.is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }
        if external:
            data["is_stranger"] = self.is_stranger(user.id)
        return data

    def render_view(self, stored: StoredView) -> JsonDict:
        """Render a view object as views.open/update/publish and interaction payloads carry it."""
        view = stored.view
        data: JsonDict = {
            "id": stored.id,
            "team_id": stored.team_id,
            "type": stored.type,
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": stored.private_metadata,
            "callback_id": stored.callback_id,
            "state": {"values": copy.deepcopy(stored.state_values)},
            "hash": stored.hash,
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": stored.root_view_id,
            "previous_view_id": stored.previous_view_id,
            "app_id": self.app_id,
            "external_id": stored.external_id or "",
            "app_installed_team_id": self.home_team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if view.get(key) is not None:
                data[key] = copy.deepcopy(view[key])
        if stored.type == "modal":
            data["submit_disabled"] = bool(view.get("submit_disabled", False))
        return data

    def render_file(self, f: StoredFile) -> JsonDict:
        """Render a file object (files.completeUploadExternal / message `files`)."""
        ext = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "text"
        domain = self.home_team.domain
        public: dict[str, list[JsonDict]] = {}
        private: dict[str, list[JsonDict]] = {}
        for channel_id, ts in f.shares:
            channel = self.channels.get(channel_id)
            share = {"ts": ts, "channel_name": channel.name if channel else "", "team_id": self.home_team_id}
            target = private if channel is None or channel.is_private else public
            target.setdefault(channel_id, []).append(share)
        return {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.name,
            "title": f.title or f.name,
            "mimetype": _mimetype(ext),
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": f.user,
            "user_team": self.home_team_id,
            "editable": False,
            "size": len(f.content) if f.content is not None else f.length,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(public),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "alt_txt": f.alt_txt or "",
            "url_private": f"https://files.slack.com/files-pri/{self.home_team_id}-{f.id}/{f.name}",
            "url_private_download": f"https://files.slack.com/files-pri/{self.home_team_id}-{f.id}/download/{f.name}",
            "permalink": f"https://{domain}.slack.com/files/{f.user}/{f.id}/{f.name}",
            "permalink_public": f"https://slack-files.com/{self.home_team_id}-{f.id}-0000000000",
            "shares": {k: v for k, v in (("public", public), ("private", private)) if v},
            "channels": [c for c in public],
            "groups": [c for c in private if not c.startswith("D")],
            "ims": [c for c in private if c.startswith("D")],
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def permalink(self, channel_id: str, ts: str) -> str:
        """Permalink of a message, with thread_ts/cid for thread replies like Slack."""
        msg = self.require_message(channel_id, ts)
        link = f"https://{self.home_team.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={channel_id}"
        return link

    # ------------------------------------------------------------------ read helpers for tests

    def channel_messages(self, channel_id: str) -> list[Message]:
        """Top-level (and broadcast) messages a member of the channel sees, oldest first."""
        return [
            m
            for m in self.messages.get(channel_id, [])
            if not m.deleted and (not m.is_reply or m.subtype == "thread_broadcast")
        ]

    def thread_replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        """Visible replies in a thread (parent excluded), oldest first."""
        return [
            m
            for m in self.messages.get(channel_id, [])
            if not m.deleted and m.thread_ts == thread_ts and m.ts != thread_ts
        ]

    def find_messages(self, channel_id: str, *, contains: str = "") -> list[Message]:
        """Visible messages (top-level and replies) whose text, blocks, attachments or files contain a string."""
        return [
            m
            for m in self.messages.get(channel_id, [])
            if not m.deleted and contains in "\n".join(self.visible_strings(m))
        ]

    def ephemerals_for(self, user_id: str, channel_id: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages currently shown to a user (optionally in one channel)."""
        return [
            e
            for e in self.ephemerals
            if e.user == user_id and not e.deleted and (channel_id is None or e.channel == channel_id)
        ]

    def open_views(self, user_id: str) -> list[StoredView]:
        """The user's open modal stack, root first."""
        return [v for v in self.views.values() if v.user_id == user_id and v.type == "modal" and v.is_open]

    def view(self, view_id: str) -> StoredView:
        """Return a stored view by id."""
        return self.views[view_id]

    def home_view(self, user_id: str) -> StoredView | None:
        """The user's published Home tab, if any."""
        view_id = self._home_views.get(user_id)
        return self.views[view_id] if view_id else None

    def dm_channel(self, user_id: str) -> Channel | None:
        """The bot's DM channel with a user, if one was opened."""
        channel_id = self._dms.get(user_id)
        return self.channels[channel_id] if channel_id else None

    def dm_messages(self, user_id: str) -> list[Message]:
        """Top-level messages in the bot's DM with a user."""
        channel = self.dm_channel(user_id)
        return self.channel_messages(channel.id) if channel else []

    def visible_strings(self, item: Message | Ephemeral | StoredView | JsonDict) -> list[str]:
        """All human-visible strings of a message, ephemeral or view (text, blocks, attachments, files)."""
        if isinstance(item, StoredView):
            return list(iter_strings(item.view))
        if isinstance(item, dict):
            return list(iter_strings(item))
        out = [item.text, *iter_strings(item.blocks), *iter_strings(item.attachments)]
        if isinstance(item, Message):
            for file_id in item.file_ids:
                f = self.files.get(file_id)
                if f is not None:
                    out.extend([f.name, f.title, f.alt_txt or ""])
        return out


def _domain_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workspace"


def _mimetype(ext: str) -> str:
    return {
        "txt": "text/plain",
        "text": "text/plain",
        "csv": "text/csv",
        "json": "application/json",
        "pdf": "application/pdf",
        "png": "image/png",
        "jpg": "image/jpeg",
        "md": "text/markdown",
    }.get(ext, "application/octet-stream")
