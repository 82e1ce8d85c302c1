"""The fake Telegram's state, test controls, update delivery and HTTP plumbing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from tests.fakes.telegram.markup import (
    EntityError,
    parse_html,
    utf16_len,
)
from tests.fakes.telegram.model import (
    _COUNTED,
    _INT_PARAMS,
    _JSON_PARAMS,
    _OPT_IN_UPDATES,
    BOT_ID,
    BOT_USERNAME,
    MAX_TEXT,
    TOKEN,
    BotApiError,
    Call,
    Chat,
    Fault,
    FloodLimits,
    Sent,
    TgUser,
    _bad,
    _Flood,
)


class _Base:
    """State and plumbing shared by the Bot API methods and the user-side builders."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        limits: FloodLimits | None = None,
        bot_username: str = BOT_USERNAME,
        first_update_id: int = 1000,
    ) -> None:
        self.token = token
        self.bot = TgUser(id=BOT_ID, first_name="ClickAI", username=bot_username, is_bot=True)
        self._flood = _Flood(limits) if limits is not None else None
        self.chats: dict[int, Chat] = {}
        self.calls: list[Call] = []
        self.rate_limited = 0
        self.faults: list[Fault] = []
        self.updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(first_update_id)
        self._new_update = asyncio.Event()
        self.allowed_updates: list[str] | None = None
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_calls: list[int] = []
        self.files: dict[str, tuple[bytes, str, int]] = {}
        self._file_ids = itertools.count(1)
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.admins: dict[int, set[int]] = {}
        """chat id → ids of its administrators (``getChatMember``)."""
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.url = ""

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
            if self._flood is not None and self._flood.limits.counts(method):
                self._charge(int(params.get("chat_id", 0)), message=method in _COUNTED)
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

    def _charge(self, chat_id: int, *, message: bool = True) -> None:
        if self._flood is None:
            return
        wait = self._flood.check(chat_id, time.monotonic(), message=message)
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
        draft = chat.live_draft
        if msg.from_bot and draft is not None and draft.thread_id == msg.thread_id:
            chat.live_draft = None  # a real message replaces the draft
        return msg

    def _editable(self, chat: Chat, params: dict[str, Any]) -> Sent:
        msg = chat.messages.get(int(params.get("message_id", 0)))
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return msg
