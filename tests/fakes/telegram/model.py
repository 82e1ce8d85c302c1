"""The fake Telegram's chat model: constants, messages, chats, flood limits, faults, users."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BOT_ID = 7000001
BOT_USERNAME = "ClickAITestBot"
TOKEN = f"{BOT_ID}:FAKE-token-abcdefghijklmnop"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024

# Update types Telegram leaves out when allowed_updates is empty.
_OPT_IN_UPDATES = {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
    "stopped_message_generation",  # Bot API 10.3: delivered only when listed
}
# Methods that count towards the flood limits (chat actions and callback answers only when
# the limits are ``strict``).
_COUNTED = {
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "sendPhoto",
    "sendDocument",
    "sendMessageDraft",
}
_STRICT_COUNTED = _COUNTED | {"sendChatAction", "answerCallbackQuery", "deleteMessage"}
_INT_PARAMS = {
    "chat_id",
    "message_id",
    "message_thread_id",
    "draft_id",
    "offset",
    "limit",
    "timeout",
    "max_connections",
}
_JSON_PARAMS = {
    "reply_markup",
    "allowed_updates",
    "commands",
    "scope",
    "reply_parameters",
    "entities",
    "caption_entities",
    "link_preview_options",
}


# --- the chat model ----------------------------------------------------------------------------


@dataclass
class Sent:
    """A message in a chat (the bot's or a user's)."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str = ""
    raw: str = ""
    parse_mode: str | None = None
    entities: list[tuple[str, int, int]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    thread_id: int | None = None
    reply_to: int | None = None
    kind: str = "text"
    file_name: str = ""
    file_data: bytes = b""
    caption: str = ""
    deleted: bool = False
    edits: list[str] = field(default_factory=list)

    def buttons(self) -> list[str]:
        if not self.reply_markup:
            return []
        return [b["text"] for row in self.reply_markup.get("inline_keyboard", []) for b in row]

    def callback_data(self) -> list[str]:
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard", [])
        return [b.get("callback_data", "") for row in rows for b in row]


@dataclass
class LiveDraft:
    """The draft a private chat shows right now (until a real message or a stop press)."""

    draft_id: int
    text: str
    thread_id: int | None = None
    can_stop: bool = False
    keep_on_stop: bool = False


@dataclass
class Chat:
    """One chat as the fake sees it."""

    id: int
    type: str
    title: str = ""
    is_forum: bool = False
    topics: set[int] = field(default_factory=set)
    messages: dict[int, Sent] = field(default_factory=dict)
    actions: list[tuple[str, int | None]] = field(default_factory=list)
    drafts: list[tuple[int, str]] = field(default_factory=list)
    live_draft: LiveDraft | None = None
    blocked: bool = False
    migrated_to: int | None = None
    next_id: int = 10  # ids 1.. are history before the test (and 1 is General in forums)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.title or "User"
        else:
            data["title"] = self.title or "Group"
        if self.is_forum:
            data["is_forum"] = True
        return data

    def bot_messages(self) -> list[Sent]:
        """What the chat shows from the bot, oldest first (deleted messages excluded)."""
        return [
            m for m in self.messages.values() if m.from_bot and not m.deleted and m.kind != "topic"
        ]

    def texts(self) -> list[str]:
        return [m.text for m in self.bot_messages() if m.kind == "text"]


@dataclass
class FloodLimits:
    """Telegram's flood rules (defaults as documented); scale them for fast tests.

    ``strict`` is the strictest reading of the bot-wide limit: at most ``global_per_second``
    calls in *any* sliding 1-second window (not a bucket that starts full), chat actions and
    callback answers included. Without it the bot-wide limit is a token bucket with a burst of
    one second's rate, counting only message methods.
    """

    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30
    strict: bool = True

    def counts(self, method: str) -> bool:
        return method in (_STRICT_COUNTED if self.strict else _COUNTED)


@dataclass
class Fault:
    method: str
    status: int
    description: str
    parameters: dict[str, Any] | None = None
    chat_id: int | None = None
    delay: float = 0.0


@dataclass
class Call:
    """One recorded Bot API request."""

    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = 0.0


class _Flood:
    """Per-chat and bot-wide token buckets (a burst, then the steady rate), a per-group minute
    window, and Telegram's penalty: once a 429 is given, that scope is refused until it ends."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._buckets: dict[int, tuple[float, float]] = {}
        self._group: dict[int, deque[float]] = {}
        self._global = (float(limits.global_per_second), 0.0)
        self._penalty: dict[int, float] = {}
        self._global_penalty = 0.0
        self._window: deque[float] = deque()  # strict: the bot-wide calls of the last second

    @staticmethod
    def _take(bucket: tuple[float, float], rate: float, burst: float, now: float) -> float:
        tokens, at = bucket
        return min(burst, tokens + (now - at) * rate) if at else burst

    def check(self, chat_id: int, now: float, *, message: bool = True) -> int:
        """0 if allowed (and charged), else seconds to wait. Calls without a chat (callback
        answers) count only bot-wide; only ``message`` calls count towards a group's minute."""
        lim = self.limits
        if self._global_penalty > now:
            return math.ceil(self._global_penalty - now)
        if self._penalty.get(chat_id, 0.0) > now:
            return math.ceil(self._penalty[chat_id] - now)
        burst = float(lim.chat_burst)
        bucket = self._buckets.get(chat_id, (burst, 0.0))
        tokens = self._take(bucket, lim.chat_per_second, burst, now)
        g_rate = float(lim.global_per_second)
        g_tokens = self._take(self._global, g_rate, g_rate, now)
        waits: list[float] = []
        if tokens < 1.0 and chat_id:
            waits.append((1.0 - tokens) / lim.chat_per_second)
        minute = chat_id < 0 and message
        if minute:
            window = self._group.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= lim.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        global_wait = (1.0 - g_tokens) / g_rate if g_tokens < 1.0 else 0.0
        if lim.strict:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            full = len(self._window) >= lim.global_per_second
            global_wait = self._window[0] + 1.0 - now if full else 0.0
        if waits or global_wait:
            retry = max(1, math.ceil(max([*waits, global_wait])))
            if global_wait and not waits:
                self._global_penalty = now + retry
            else:
                self._penalty[chat_id] = now + retry
            return retry
        if chat_id:
            self._buckets[chat_id] = (tokens - 1.0, now)
        self._global = (g_tokens - 1.0, now)
        self._window.append(now)
        if minute:
            self._group[chat_id].append(now)
        return 0


class BotApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass
class TgUser:
    """A Telegram user for building updates."""

    id: int
    first_name: str = "Ann"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


BOT_USER = TgUser(id=BOT_ID, first_name="ClickAI", username=BOT_USERNAME, is_bot=True)
