"""A small HTTP control API for a standalone fake Telegram: act as a user, read what chats show.

``POST /chats/{chat_id}/messages`` ``{"text": "hi", "user_id": 7, "name": "Ann"}``
delivers a user's message (through getUpdates, or the webhook when one is set);
``POST /chats/{chat_id}/press`` ``{"button": "👍"}`` (or ``{"data": …, "message_id": …}``) presses
an inline button; ``GET /chats/{chat_id}`` lists what the chat shows (the bot's messages with
their buttons and edit counts, and the users' messages), ``GET /chats`` every chat id.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.telegram.model import Sent, TgUser
from tests.fakes.telegram.server import FakeTelegram

USAGE = """fake Telegram control API
POST /chats/{chat_id}/messages  {"text": "hello", "user_id": 7, "name": "Ann", "language": "en"}
POST /chats/{chat_id}/press     {"button": "👍"}  (the newest bot message with that button)
GET  /chats/{chat_id}           what the chat shows
GET  /chats                     the chats so far
Private chats have positive ids (the user id defaults to the chat id); groups negative ones.
"""


class TelegramControl:
    """Serves the control API for ``fake`` on its own port."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/", self._usage)
        app.router.add_get("/chats", self._chats)
        app.router.add_get("/chats/{chat_id}", self._show)
        app.router.add_post("/chats/{chat_id}/messages", self._message)
        app.router.add_post("/chats/{chat_id}/press", self._press)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _usage(self, request: web.Request) -> web.Response:
        return web.Response(text=USAGE)

    async def _chats(self, request: web.Request) -> web.Response:
        return _json({"chats": sorted(self.fake.chats)})

    async def _show(self, request: web.Request) -> web.Response:
        chat_id = _chat_id(request)
        chat = self.fake.chats.get(chat_id)
        messages = [] if chat is None else [m for m in chat.messages.values() if not m.deleted]
        return _json({"chat_id": chat_id, "messages": [shown(m) for m in messages]})

    async def _message(self, request: web.Request) -> web.Response:
        chat_id, body = _chat_id(request), await _body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise web.HTTPBadRequest(text='give the message as {"text": "…"}')
        update = self.fake.text(chat_id, _user(chat_id, body), text)
        await self._deliver(update)
        message = update["message"]
        return _json({"update_id": update["update_id"], "message_id": message["message_id"]})

    async def _press(self, request: web.Request) -> web.Response:
        chat_id, body = _chat_id(request), await _body(request)
        chat = self.fake.chats.get(chat_id)
        if chat is None:
            raise web.HTTPNotFound(text=f"no chat {chat_id}")
        target, data = _button(chat.bot_messages(), body)
        update = self.fake.callback(chat_id, _user(chat_id, body), target.message_id, data)
        await self._deliver(update)
        return _json({"update_id": update["update_id"], "message_id": target.message_id})

    async def _deliver(self, update: dict[str, Any]) -> None:
        if self.fake.webhook_url:
            await self.fake.post_webhook(update)
        else:
            self.fake.push(update)


def shown(message: Sent) -> dict[str, Any]:
    """A chat message as the control API shows it."""
    return {
        "message_id": message.message_id,
        "from": "bot" if message.from_bot else "user",
        "kind": message.kind,
        "text": message.text or message.caption,
        "buttons": message.buttons(),
        "edits": len(message.edits),
        "file": message.file_name or None,
    }


def _button(messages: list[Sent], body: dict[str, Any]) -> tuple[Sent, str]:
    wanted_id = body.get("message_id")
    for message in reversed(messages):
        if wanted_id is not None and message.message_id != wanted_id:
            continue
        pairs = list(zip(message.buttons(), message.callback_data(), strict=True))
        for label, data in pairs:
            if body.get("button") in (label, None) and body.get("data") in (data, None):
                return message, data
    raise web.HTTPNotFound(text="no bot message with that button")


def _user(chat_id: int, body: dict[str, Any]) -> TgUser:
    user_id = body.get("user_id", chat_id if chat_id > 0 else 7)
    return TgUser(
        id=int(user_id),
        first_name=str(body.get("name") or "Demo"),
        language_code=str(body.get("language") or "en"),
    )


def _chat_id(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError as exc:
        raise web.HTTPBadRequest(text="chat ids are integers") from exc


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text="the body must be JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _json(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, dumps=lambda v: json.dumps(v, ensure_ascii=False))
