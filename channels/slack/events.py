"""Normalisation of Slack events: which messages to answer, their text, scope and files."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bridge.config import SlackConfig
from bridge.model import Attachment, AttachmentKind, Command, InboundMessage, Sender, ThreadKey

CHANNEL = "slack"
K = TypeVar("K")
V = TypeVar("V")
RouteKind = Literal["mention", "dm", "followup"]
LocalCommand = Literal["help"]

# Plain user messages only; edits, deletions, joins and the rest are never answered.
ANSWERED_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})
_SKIPPED_FILE_MODES = frozenset({"tombstone", "hidden_by_limit"})
_COMMANDS: dict[str, Command] = {"new": "new", "/new": "new", "stop": "stop", "/stop": "stop"}
_LOCAL: dict[str, LocalCommand] = {"help": "help", "/help": "help"}

_USER_REF = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_REF = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who the bot is in its workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str
    team_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Why and where a message is answered."""

    kind: RouteKind
    channel_id: str
    user_id: str
    team_id: str
    ts: str
    thread_ts: str
    """The thread the event belongs to ("" for a top-level message)."""

    @property
    def is_dm(self) -> bool:
        return self.kind == "dm"


class Bounded(Generic[K, V]):
    """A small LRU map with a fixed capacity (in-memory state that must not grow forever)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._capacity:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


def text_of(event: Mapping[str, Any], key: str) -> str:
    """``event[key]`` as a string ("" when absent or not a string)."""
    value = event.get(key)
    return value if isinstance(value, str) else ""


def is_dm_channel(event: Mapping[str, Any]) -> bool:
    channel_type = text_of(event, "channel_type")
    return channel_type == "im" or (not channel_type and text_of(event, "channel").startswith("D"))


def mentions(text: str, user_id: str) -> bool:
    return any(m.group(1) == user_id for m in _USER_REF.finditer(text))


def route(
    event: Mapping[str, Any],
    *,
    via: Literal["app_mention", "message"],
    me: Identity,
    config: SlackConfig,
    active_thread: bool,
    envelope_team: str = "",
) -> Route | None:
    """Decide whether (and why) a user message is answered; ``None`` ignores it.

    Exactly one path handles each message: ``app_mention`` answers mentions outside DMs, and
    ``message`` answers DMs and mention-less follow-ups in threads the bot is active in.
    """
    if not is_user_message(event, me):
        return None
    channel, user, ts = text_of(event, "channel"), text_of(event, "user"), text_of(event, "ts")
    if not channel or not ts:
        return None
    thread_ts = text_of(event, "thread_ts")
    team = text_of(event, "user_team") or text_of(event, "team") or envelope_team
    common = {"channel_id": channel, "user_id": user, "team_id": team, "ts": ts}
    dm = is_dm_channel(event)
    if via == "app_mention":
        return None if dm else Route(kind="mention", thread_ts=thread_ts, **common)
    if dm:
        return Route(kind="dm", thread_ts=thread_ts, **common)
    if mentions(text_of(event, "text"), me.user_id):
        return None  # the app_mention event answers it
    if not thread_ts or thread_ts == ts or config.thread_requires_mention:
        return None
    if active_thread or text_of(event, "parent_user_id") == me.user_id:
        return Route(kind="followup", thread_ts=thread_ts, **common)
    return None


def is_user_message(event: Mapping[str, Any], me: Identity) -> bool:
    """A message a human wrote (not ours, not another bot's, not an edit or a join)."""
    if text_of(event, "subtype") not in ANSWERED_SUBTYPES or event.get("hidden"):
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    user = text_of(event, "user")
    return bool(user) and user != me.user_id


def conversation(route: Route, config: SlackConfig) -> tuple[ThreadKey, str]:
    """The conversation scope and the thread ts the answer goes to ("" = top level)."""
    thread = route.thread_ts or route.ts
    if not route.is_dm:
        return ThreadKey(channel=CHANNEL, chat_id=route.channel_id, thread_id=thread), thread
    if config.dm_scope == "thread":
        return ThreadKey(channel=CHANNEL, chat_id=route.channel_id, thread_id=thread), thread
    reply = thread if (route.thread_ts or config.dm_reply_in_thread) else ""
    return ThreadKey(channel=CHANNEL, chat_id=route.channel_id), reply


def clean_text(text: str, bot_user_id: str) -> str:
    """Slack's wire markup → plain text: bot mention removed, links and refs readable."""

    def user(m: re.Match[str]) -> str:
        return "" if m.group(1) == bot_user_id else f"@{m.group(1)}"

    def link(m: re.Match[str]) -> str:
        url, label = m.group(1), m.group(2)
        bare = url.split(":", 1)[1] if url.startswith(("mailto:", "tel:")) else url
        return bare if not label or label in (url, bare) else f"{label} ({bare})"

    out = _USER_REF.sub(user, text)
    out = _CHANNEL_REF.sub(lambda m: f"#{m.group(2) or m.group(1)}", out)
    out = _SPECIAL.sub(lambda m: f"@{m.group(1)}", out)
    out = _SUBTEAM.sub(lambda m: m.group(1) or "@team", out)
    out = _DATE.sub(lambda m: m.group(1), out)
    out = _LINK.sub(link, out)
    out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    out = re.sub(r"[ \t]{2,}", " ", out)
    return out.strip()


def parse_command(text: str) -> Command | None:
    return _COMMANDS.get(text.strip().lower())


def local_command(text: str) -> LocalCommand | None:
    return _LOCAL.get(text.strip().lower())


def kind_for(mime_type: str) -> AttachmentKind:
    major = mime_type.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    return "document"


def needs_file_info(file: Mapping[str, Any]) -> bool:
    """Slack Connect stubs carry only an id until ``files.info`` is called."""
    return text_of(file, "file_access") == "check_file_info" or (
        text_of(file, "mode") == "file_access"
    )


def attachment(file: Mapping[str, Any]) -> Attachment | None:
    """A ``files[]`` entry → Attachment (``ref`` is the private download URL, or the id)."""
    if text_of(file, "mode") in _SKIPPED_FILE_MODES:
        return None
    file_id = text_of(file, "id")
    ref = text_of(file, "url_private_download") or text_of(file, "url_private") or file_id
    if not ref:
        return None
    mime = text_of(file, "mimetype") or "application/octet-stream"
    size = file.get("size")
    return Attachment(
        ref=ref,
        name=text_of(file, "name") or text_of(file, "title") or file_id or "file",
        mime_type=mime,
        kind=kind_for(mime),
        size=size if isinstance(size, int) and size >= 0 else None,
    )


def inbound(
    route: Route,
    event: Mapping[str, Any],
    *,
    me: Identity,
    config: SlackConfig,
    language: str,
    attachments: tuple[Attachment, ...],
    display_name: str = "",
    is_admin: bool = False,
) -> InboundMessage:
    """Build the normalised message; ``event_id`` names the Slack message itself.

    ``slack:<channel>:<ts>`` is stable across redeliveries (``X-Slack-Retry-Num``) and across
    the two event types one message can produce, so the core's dedupe sees one message.
    """
    key, reply_thread = conversation(route, config)
    text = clean_text(text_of(event, "text"), me.user_id)
    return InboundMessage(
        key=key,
        event_id=f"{CHANNEL}:{route.channel_id}:{route.ts}",
        message_id=route.ts,
        sender=Sender(id=route.user_id, display_name=display_name, is_admin=is_admin),
        text=text,
        attachments=attachments,
        is_direct=True,
        command=parse_command(text) if not attachments else None,
        language=language,
        reply_thread=reply_thread,
    )
