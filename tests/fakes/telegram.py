"""A fake Telegram Bot API on 127.0.0.1 that models chats and enforces Telegram's limits.

Real python-telegram-bot code talks to it over HTTP (``base_url=f"{fake.url}/bot"``,
``base_file_url=f"{fake.url}/file/bot"``). It keeps a model of every chat (what the bot sent,
every edit, chat actions, drafts, files), serves ``getUpdates`` with long-poll semantics and
``allowed_updates`` filtering, and answers like Telegram: 429 with ``retry_after`` on flood,
"message is not modified", "message is too long", "can't parse entities", "message to edit not
found", "message thread not found", 403 for a blocked bot, ``migrate_to_chat_id`` for an
upgraded group, and injectable faults. Every call is recorded in :attr:`FakeTelegram.calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

BOT_ID = 7000001
BOT_USERNAME = "ClickAITestBot"
TOKEN = f"{BOT_ID}:FAKE-token-abcdefghijklmnop"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024

# Update types Telegram leaves out when allowed_updates is empty.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
# Methods that count towards the flood limits (chat actions and callback answers do not).
_COUNTED = {
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "sendPhoto",
    "sendDocument",
    "sendMessageDraft",
}
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
_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's unit for entities and limits)."""
    return len(text.encode("utf-16-le")) // 2


class EntityError(ValueError):
    """Invalid HTML for parse_mode=HTML."""


def parse_html(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Telegram-style HTML → (visible text, [(tag, start, end)] in UTF-16 units)."""
    out: list[str] = []
    stack: list[tuple[str, int, int]] = []  # tag, start (utf16), byte offset
    entities: list[tuple[str, int, int]] = []
    pos = 0
    length = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            m = _TAG_RE.match(text, pos)
            offset = len(text[:pos].encode())
            if m is None:
                raise EntityError(f"Unexpected end of name token at byte offset {offset}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise EntityError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise EntityError(
                        f'Can\'t find end tag corresponding to start tag "{name}"'
                        if not stack
                        else f'Unmatched end tag at byte offset {offset}, expected "</'
                        f'{stack[-1][0]}>", found "</{name}>"'
                    )
                tag, start, _ = stack.pop()
                entities.append((tag, start, length))
            else:
                if name == "span" and "tg-spoiler" not in m.group(3):
                    raise EntityError('Tag "span" must have class "tg-spoiler"')
                stack.append((name, length, offset))
            pos = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, pos)
            if m is None:
                offset = len(text[:pos].encode())
                raise EntityError(f"Unsupported HTML entity at byte offset {offset}")
            piece = html.unescape(m.group(0))
            out.append(piece)
            length += utf16_len(piece)
            pos = m.end()
        elif ch == ">":
            raise EntityError(f"Unexpected > at byte offset {len(text[:pos].encode())}")
        else:
            out.append(ch)
            length += utf16_len(ch)
            pos += 1
    if stack:
        tag, _, offset = stack[-1]
        raise EntityError(
            f'Can\'t find end tag corresponding to start tag "{tag}" at byte offset {offset}'
        )
    return "".join(out), sorted(entities, key=lambda e: (e[1], e[2], e[0]))


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
    """Telegram's flood rules (defaults as documented); scale them for fast tests."""

    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30


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

    @staticmethod
    def _take(bucket: tuple[float, float], rate: float, burst: float, now: float) -> float:
        tokens, at = bucket
        return min(burst, tokens + (now - at) * rate) if at else burst

    def check(self, chat_id: int, now: float) -> int:
        """0 if allowed (and charged), else seconds to wait."""
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
        if tokens < 1.0:
            waits.append((1.0 - tokens) / lim.chat_per_second)
        if chat_id < 0:
            window = self._group.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= lim.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        global_wait = (1.0 - g_tokens) / g_rate if g_tokens < 1.0 else 0.0
        if waits or global_wait:
            retry = max(1, math.ceil(max([*waits, global_wait])))
            if global_wait and not waits:
                self._global_penalty = now + retry
            else:
                self._penalty[chat_id] = now + retry
            return retry
        self._buckets[chat_id] = (tokens - 1.0, now)
        self._global = (g_tokens - 1.0, now)
        if chat_id < 0:
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


# --- the server ---------------------------------------------------------------------------------


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


class FakeTelegram:
    """The fake Bot API server; ``async with FakeTelegram() as tg: tg.url``."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        limits: FloodLimits | None = None,
        bot_username: str = BOT_USERNAME,
    ) -> None:
        self.token = token
        self.bot = TgUser(id=BOT_ID, first_name="ClickAI", username=bot_username, is_bot=True)
        self._flood = _Flood(limits) if limits is not None else None
        self.chats: dict[int, Chat] = {}
        self.calls: list[Call] = []
        self.rate_limited = 0
        self.faults: list[Fault] = []
        self.updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self.allowed_updates: list[str] | None = None
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_calls: list[int] = []
        self.files: dict[str, tuple[bytes, str, int]] = {}
        self._file_ids = itertools.count(1)
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.url = ""

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test controls ------------------------------------------------------------------------
    def chat(self, chat_id: int, *, type: str | None = None, **kw: Any) -> Chat:
        """The chat with this id (created on first use; negative ids are supergroups)."""
        if chat_id not in self.chats:
            kind = type or ("private" if chat_id > 0 else "supergroup")
            self.chats[chat_id] = Chat(id=chat_id, type=kind, **kw)
        return self.chats[chat_id]

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        chat_id: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id``) fail this way."""
        for _ in range(times):
            self.faults.append(Fault(method, status, description, parameters, chat_id, delay))

    def flood(self, method: str, retry_after: int, *, chat_id: int | None = None) -> None:
        """The next ``method`` call answers 429 with exactly ``retry_after``."""
        self.fail(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            parameters={"retry_after": retry_after},
            chat_id=chat_id,
        )

    def delay(self, method: str, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(method, 0, "", delay=seconds))

    def add_file(self, data: bytes, path: str, *, size: int | None = None) -> str:
        """Store a user file; returns its file_id (``size`` may claim more than ``data``)."""
        file_id = f"FILE{next(self._file_ids):04d}"
        self.files[file_id] = (data, path, len(data) if size is None else size)
        return file_id

    def calls_to(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]

    def delete_by_user(self, chat_id: int, message_id: int) -> None:
        self.chats[chat_id].messages[message_id].deleted = True

    # --- delivering updates -------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for getUpdates (it gets an update_id if it has none)."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._new_update.set()
        return update

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def _allowed(self, update: dict[str, Any], allowed: Sequence[str] | None) -> bool:
        kind = next(k for k in update if k != "update_id")
        if allowed:
            return kind in allowed
        return kind not in _OPT_IN_UPDATES

    async def post_webhook(
        self, update: dict[str, Any], *, secret: str | None = None, url: str | None = None
    ) -> int:
        """Deliver ``update`` as Telegram would (with the registered secret unless given)."""
        update.setdefault("update_id", next(self._update_ids))
        if not self._allowed(update, self.allowed_updates):
            return 0
        headers = {"Content-Type": "application/json"}
        token = self.webhook_secret if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        async with (
            ClientSession(timeout=ClientTimeout(total=10)) as session,
            session.post(url or self.webhook_url, data=json.dumps(update), headers=headers) as r,
        ):
            self.webhook_calls.append(r.status)
            return r.status

    # --- HTTP plumbing ------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
                return params
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = (value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = value
        for key, value in list(params.items()):
            if not isinstance(value, str):
                continue
            if key in _INT_PARAMS:
                with contextlib.suppress(ValueError):
                    params[key] = int(value)
            elif key in _JSON_PARAMS or value in ("true", "false"):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method=method, params=params, at=time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        try:
            await self._apply_fault(method, params)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise BotApiError(404, "Not Found: method not found")
            if method in _COUNTED:
                self._charge(int(params.get("chat_id", 0)))
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except BotApiError as exc:
            call.status = exc.status
            if exc.status == 429:
                self.rate_limited += 1
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.status)
        return web.json_response({"ok": True, "result": result})

    async def _apply_fault(self, method: str, params: dict[str, Any]) -> None:
        for fault in self.faults:
            if fault.method != method:
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            self.faults.remove(fault)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                raise BotApiError(fault.status, fault.description, fault.parameters)
            return

    def _charge(self, chat_id: int) -> None:
        if self._flood is None:
            return
        wait = self._flood.check(chat_id, time.monotonic())
        if wait:
            raise BotApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for data, file_path, _ in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        return web.Response(status=404)

    # --- helpers for methods ------------------------------------------------------------------
    def _target(self, params: dict[str, Any]) -> Chat:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise _bad("chat not found")
        chat = self.chat(chat_id)
        if chat.migrated_to is not None:
            raise BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _thread(self, chat: Chat, params: dict[str, Any]) -> int | None:
        thread = params.get("message_thread_id")
        if thread is None:
            return None
        if thread == 1 or thread not in chat.topics:
            raise _bad("message thread not found")
        return int(thread)

    def _render(self, text: str, parse_mode: str | None) -> tuple[str, list[tuple[str, int, int]]]:
        entities: list[tuple[str, int, int]]
        if parse_mode is None:
            plain, entities = text, []
        elif parse_mode.upper() == "HTML":
            try:
                plain, entities = parse_html(text)
            except EntityError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        else:
            raise _bad(f"unsupported parse_mode {parse_mode!r} in this fake")
        if not plain.strip():
            raise _bad("message text is empty")
        if utf16_len(plain) > MAX_TEXT:
            raise _bad("message is too long")
        return plain, entities

    def _message_dict(self, chat: Chat, msg: Sent) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": (self.bot if msg.from_bot else TgUser(id=1)).to_dict(),
        }
        if msg.kind == "text":
            data["text"] = msg.text
        elif msg.kind == "photo":
            data["photo"] = [
                {
                    "file_id": f"SENT{msg.message_id}",
                    "file_unique_id": "u",
                    "width": 1,
                    "height": 1,
                }
            ]
        elif msg.kind == "document":
            data["document"] = {
                "file_id": f"SENT{msg.message_id}",
                "file_unique_id": "u",
                "file_name": msg.file_name,
            }
        if msg.caption:
            data["caption"] = msg.caption
        if msg.thread_id is not None:
            data["message_thread_id"] = msg.thread_id
            data["is_topic_message"] = True
        if msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        return data

    def _new_message(self, chat: Chat, **kw: Any) -> Sent:
        msg = Sent(message_id=chat.next_id, chat_id=chat.id, **kw)
        chat.next_id += 1
        chat.messages[msg.message_id] = msg
        return msg

    def _editable(self, chat: Chat, params: dict[str, Any]) -> Sent:
        msg = chat.messages.get(int(params.get("message_id", 0)))
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return msg

    # --- Bot API methods ----------------------------------------------------------------------
    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self.updates = [
                u
                for u in self.updates
                if u["update_id"] >= offset and self._allowed(u, self.allowed_updates)
            ]
            remaining = deadline - time.monotonic()
            if self.updates or remaining <= 0 or self._closing:
                return self.updates[:limit]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=remaining)

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params["url"])
        self.webhook_secret = params.get("secret_token")
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
            "allowed_updates": self.allowed_updates or [],
        }

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        thread = self._thread(chat, params)
        plain, entities = self._render(str(params.get("text", "")), params.get("parse_mode"))
        reply = params.get("reply_parameters") or {}
        msg = self._new_message(
            chat,
            from_bot=True,
            text=plain,
            raw=str(params["text"]),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            reply_markup=params.get("reply_markup"),
            thread_id=thread,
            reply_to=reply.get("message_id"),
        )
        msg.edits.append(plain)
        return self._message_dict(chat, msg)

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        msg = self._editable(chat, params)
        plain, entities = self._render(str(params.get("text", "")), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if (plain, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.text, msg.entities, msg.reply_markup = plain, entities, markup
        msg.raw, msg.parse_mode = str(params["text"]), params.get("parse_mode")
        msg.edits.append(plain)
        return self._message_dict(chat, msg)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        msg = self._editable(chat, params)
        markup = params.get("reply_markup")
        if markup == msg.reply_markup:
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.reply_markup = markup
        return self._message_dict(chat, msg)

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        msg = chat.messages.get(int(params.get("message_id", 0)))
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        msg.deleted = True
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        thread = self._thread(chat, params)
        chat.actions.append((str(params.get("action")), thread))
        return True

    def _m_sendMessageDraft(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        if chat.type != "private":
            raise _bad("method is available only in private chats")
        draft_id = int(params.get("draft_id") or 0)
        if draft_id == 0:
            raise _bad("draft_id must be non-zero")
        text = params.get("text")
        plain = ""
        if text:
            plain, _ = self._render(str(text), params.get("parse_mode"))
        chat.drafts.append((draft_id, plain))
        return True

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self._target(params)
        thread = self._thread(chat, params)
        value = params.get(kind)
        if not isinstance(value, tuple):
            raise _bad(f"there is no {kind} in the request")
        name, data, _ = value
        if kind == "photo" and len(data) > 10 * 1024 * 1024:
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        caption = str(params.get("caption") or "")
        msg = self._new_message(
            chat,
            from_bot=True,
            kind=kind,
            file_name=str(name),
            file_data=bytes(data),
            caption=caption,
            thread_id=thread,
        )
        return self._message_dict(chat, msg)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "photo")

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "document")

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.callback_answers.append(params)
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        scope = (params.get("scope") or {"type": "default"})["type"]
        self.commands[(scope, str(params.get("language_code") or ""))] = list(params["commands"])
        return True

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        scope = (params.get("scope") or {"type": "default"})["type"]
        self.commands.pop((scope, str(params.get("language_code") or "")), None)
        return True

    def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise _bad("invalid file_id")
        _, path, size = self.files[file_id]
        if size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": size,
            "file_path": path,
        }

    # --- building user-side updates (registered in the chat model, not queued) ---------------
    def _user_message(
        self,
        chat_id: int,
        user: TgUser | None,
        *,
        thread_id: int | None = None,
        topic: bool = False,
        reply_to: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        chat = self.chat(chat_id)
        sent = self._new_message(chat, from_bot=False, text=str(content.get("text", "")))
        data: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat.to_dict(),
            **content,
        }
        if user is not None:
            data["from"] = user.to_dict()
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            if topic:
                data["is_topic_message"] = True
        if reply_to is not None:
            data["reply_to_message"] = self._reply_target(chat, reply_to)
        return data

    def _reply_target(self, chat: Chat, message_id: int) -> dict[str, Any]:
        target = chat.messages[message_id]
        data = self._message_dict(chat, target)
        data.pop("reply_to_message", None)
        if target.kind == "topic":
            data.pop("text", None)
            data["forum_topic_created"] = {"name": target.caption, "icon_color": 7322096}
            data["message_thread_id"] = message_id
            data["is_topic_message"] = True
            data["from"] = (self.bot if target.from_bot else TgUser(id=1)).to_dict()
        return data

    def text(
        self,
        chat_id: int,
        user: TgUser,
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """A text message update (mention / command entities are found automatically)."""
        ents = auto_entities(text) if entities is None else entities
        content: dict[str, Any] = {"text": text}
        if ents:
            content["entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def topic(self, chat_id: int, name: str, *, by_bot: bool = True) -> int:
        """Create a forum topic; returns its message_thread_id (the root service message)."""
        chat = self.chat(chat_id, is_forum=True)
        chat.is_forum = True
        root = self._new_message(chat, from_bot=by_bot, kind="topic", caption=name)
        chat.topics.add(root.message_id)
        return root.message_id

    def photo(
        self, chat_id: int, user: TgUser, data: bytes, *, caption: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        sizes = []
        for i, (w, h) in enumerate(((90, 60), (320, 213), (1280, 853))):
            blob = data if i == 2 else data[: max(1, len(data) // (4 - i))]
            file_id = self.add_file(blob, f"photos/file_{len(self.files)}.jpg")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"U{file_id}",
                    "width": w,
                    "height": h,
                    "file_size": len(blob),
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
            if ents := auto_entities(caption):
                content["caption_entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def document(
        self,
        chat_id: int,
        user: TgUser,
        data: bytes,
        *,
        name: str = "report.pdf",
        mime: str = "application/pdf",
        caption: str | None = None,
        size: int | None = None,
        kind: str = "document",
        **kw: Any,
    ) -> dict[str, Any]:
        """A document (or ``kind`` = voice / audio / video) message update."""
        file_id = self.add_file(data, f"{kind}s/{name}", size=size)
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": len(data) if size is None else size,
            "mime_type": mime,
        }
        if kind in ("voice", "video"):
            media["duration"] = 3
        if kind == "video":
            media.update(width=640, height=360)
        if kind == "audio":
            media["duration"] = 3
        if kind in ("document", "audio", "video"):
            media["file_name"] = name
        content: dict[str, Any] = {kind: media}
        if caption is not None:
            content["caption"] = caption
            if ents := auto_entities(caption):
                content["caption_entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def sticker(self, chat_id: int, user: TgUser, **kw: Any) -> dict[str, Any]:
        sticker = {
            "file_id": "STK",
            "file_unique_id": "USTK",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return {"message": self._user_message(chat_id, user, sticker=sticker, **kw)}

    def migrate(self, chat_id: int, new_chat_id: int, user: TgUser) -> dict[str, Any]:
        """The service message a group gets when upgraded; sends to it then fail."""
        msg = self._user_message(chat_id, user, migrate_to_chat_id=new_chat_id)
        self.chat(chat_id).migrated_to = new_chat_id
        self.chat(new_chat_id, type="supergroup")
        return {"message": msg}

    def callback(self, chat_id: int, user: TgUser, message_id: int, data: str) -> dict[str, Any]:
        chat = self.chat(chat_id)
        return {
            "callback_query": {
                "id": f"cq{next(self._update_ids)}",
                "from": user.to_dict(),
                "chat_instance": f"ci{chat_id}",
                "data": data,
                "message": self._message_dict(chat, chat.messages[message_id]),
            }
        }

    def reaction(
        self,
        chat_id: int,
        user: TgUser,
        message_id: int,
        *,
        old: Iterable[str] = (),
        new: Iterable[str] = (),
    ) -> dict[str, Any]:
        return {
            "message_reaction": {
                "chat": self.chat(chat_id).to_dict(),
                "message_id": message_id,
                "user": user.to_dict(),
                "date": int(time.time()),
                "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
            }
        }

    def bot_added(self, chat_id: int, user: TgUser, status: str = "member") -> dict[str, Any]:
        return {
            "my_chat_member": {
                "chat": self.chat(chat_id).to_dict(),
                "from": user.to_dict(),
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self.bot.to_dict()},
                "new_chat_member": {"status": status, "user": self.bot.to_dict()},
            }
        }


def auto_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` at the start and every ``@mention``, with UTF-16 offsets."""
    found: list[dict[str, Any]] = []
    for m in re.finditer(r"(?:^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|(?:@[A-Za-z0-9_]{3,})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        found.append(
            {
                "type": kind,
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return found


# --- harness for channel tests ------------------------------------------------------------------


class RecordingIntake:
    """A hand-written ``bridge.model.Intake`` that records what the channel hands over.

    ``known`` holds the (chat_id, message_id) pairs that count as bot replies for feedback;
    ``feedback_ok=False`` makes every rating fail like a ClickAI outage.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.feedbacks: list[tuple[Any, Any, bool]] = []
        self.migrations: list[tuple[str, str, str]] = []
        self.opening = ""
        self.known: set[tuple[str, str]] = set()
        self.ratings: dict[tuple[str, str], Any] = {}
        self.feedback_ok = True
        self._seen: set[str] = set()
        self._changed = asyncio.Event()

    async def submit(self, msg: Any) -> bool:
        if msg.event_id in self._seen:
            return False
        self._seen.add(msg.event_id)
        self.messages.append(msg)
        self._changed.set()
        return True

    async def feedback(self, ref: Any, rating: Any, *, toggle: bool) -> Any:
        from bridge.model import FeedbackOutcome

        self.feedbacks.append((ref, rating, toggle))
        self._changed.set()
        key = (ref.chat_id, ref.message_id)
        if key not in self.known:
            return FeedbackOutcome(found=False)
        if not self.feedback_ok:
            return FeedbackOutcome(found=True, rating=self.ratings.get(key), ok=False)
        new = None if toggle and self.ratings.get(key) == rating else rating
        self.ratings[key] = new
        return FeedbackOutcome(found=True, rating=new)

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        self.migrations.append((channel, old_chat_id, new_chat_id))
        self._changed.set()

    async def opening_statement(self) -> str:
        return self.opening

    async def wait_for(self, check: Any, within_s: float = 5.0) -> None:
        """Wait until ``check()`` is true (re-checked whenever something is recorded)."""
        async with asyncio.timeout(within_s):
            while not check():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=0.05)


async def eventually(check: Any, within_s: float = 5.0) -> None:
    """Poll ``check()`` until it is true (for effects the intake does not see)."""
    for _ in range(int(within_s / 0.02) + 1):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within_s}s")


def telegram_config(fake: FakeTelegram, **overrides: Any) -> Any:
    """A valid ``TelegramConfig`` pointing at ``fake`` with the fastest allowed pacing."""
    from pydantic import SecretStr

    from bridge.config import TelegramConfig

    values: dict[str, Any] = {
        "enabled": True,
        "token": SecretStr(fake.token),
        "api_base_url": fake.url,
        "edit_interval_s": 0.2,
        "group_edit_interval_s": 0.5,
    }
    if overrides.get("mode") == "webhook":
        values["webhook_url"] = "https://bot.example.com/telegram/webhook"
        values["webhook_secret"] = SecretStr("s3cret-Token_1")
    values.update(overrides)
    return TelegramConfig(**values)


async def feed(channel: Any, fake: FakeTelegram, update: dict[str, Any]) -> None:
    """Run ``update`` through the channel's real PTB Application and wait for its side tasks.

    Uses ``Application.process_update`` (as PTB's own tests do), so the handler has finished
    when this returns; background answers (refusals, /help) are awaited too.
    """
    from telegram import Update

    update.setdefault("update_id", fake.next_update_id())
    app = channel._application
    await app.process_update(Update.de_json(update, app.bot))
    await channel._tasks.wait(10.0)
