"""A small HTTP control API for a standalone fake Telegram: act as a user, read what chats show.

``POST /chats/{chat_id}/messages`` ``{"text": "hi", "user_id": 7, "name": "Ann"}``
delivers a user's message (through getUpdates, or the webhook when one is set), a document
with its text as the caption when it has a ``"file"``;
``POST /chats/{chat_id}/press`` ``{"button": "👍"}`` (or ``{"data": …, "message_id": …}``) presses
an inline button; ``GET /chats/{chat_id}`` lists what the chat shows (the bot's messages with
their buttons and edit counts, and the users' messages), ``GET /chats`` every chat id.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from aiohttp import ClientError, web

from tests.fakes.control import ControlServer, json_body, json_response
from tests.fakes.telegram.model import Sent, TgUser
from tests.fakes.telegram.server import FakeTelegram

REDELIVERY_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
"""Pauses before each new delivery of a webhook update the bridge did not acknowledge."""

USAGE = """fake Telegram control API
POST /chats/{chat_id}/messages  {"text": "hello", "user_id": 7, "name": "Ann", "language": "en"}
                                + "file": {"name": "a.txt", "content": "…", "mime": "text/plain"}
                                (or "base64" for "content"): a document, "text" its caption
POST /chats/{chat_id}/press     {"button": "👍"}  (the newest bot message with that button)
POST /chats/{chat_id}/stop      press the stop button of the streaming draft (telegram.drafts)
GET  /chats/{chat_id}           what the chat shows (with "draft": the answer streaming now)
GET  /chats                     the chats so far
With a webhook set, an update the bridge does not acknowledge (not 2xx) is delivered again
after 1, 2, 4, 8, 16 and 32 s, as Telegram does; "webhook_status" tells the first answer.
Private chats have positive ids (the user id defaults to the chat id); groups negative ones.
"""


class TelegramControl(ControlServer):
    """Serves the control API for ``fake`` on its own port."""

    usage = USAGE

    def __init__(
        self, fake: FakeTelegram, *, redelivery_s: tuple[float, ...] = REDELIVERY_S
    ) -> None:
        super().__init__()
        self.fake = fake
        self.redelivery_s = redelivery_s
        self._redeliveries: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in list(self._redeliveries):
            task.cancel()
        await super().stop()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chats", self._chats),
            web.get("/chats/{chat_id}", self._show),
            web.post("/chats/{chat_id}/messages", self._message),
            web.post("/chats/{chat_id}/press", self._press),
            web.post("/chats/{chat_id}/stop", self._stop),
        ]

    async def _chats(self, request: web.Request) -> web.Response:
        return json_response({"chats": sorted(self.fake.chats)})

    async def _show(self, request: web.Request) -> web.Response:
        chat_id = _chat_id(request)
        chat = self.fake.chats.get(chat_id)
        messages = [] if chat is None else [m for m in chat.messages.values() if not m.deleted]
        draft = None if chat is None else chat.live_draft
        return json_response(
            {
                "chat_id": chat_id,
                "messages": [shown(m) for m in messages],
                "draft": None
                if draft is None
                else {"text": draft.text, "stop_button": draft.can_stop},
            }
        )

    async def _message(self, request: web.Request) -> web.Response:
        chat_id, body = _chat_id(request), await json_body(request)
        text, file = body.get("text"), body.get("file")
        if file is not None:
            name, data, mime = _file(file)
            caption = text if isinstance(text, str) and text else None
            update = self.fake.document(
                chat_id, _user(chat_id, body), data, name=name, mime=mime, caption=caption
            )
            shown_as = self.fake.chats[chat_id].messages[update["message"]["message_id"]]
            shown_as.kind, shown_as.caption, shown_as.file_name = "document", caption or "", name
        elif isinstance(text, str) and text:
            update = self.fake.text(chat_id, _user(chat_id, body), text)
        else:
            raise web.HTTPBadRequest(text='give the message as {"text": "…"} and/or {"file": …}')
        status = await self._deliver(update)
        message = update["message"]
        return json_response(
            {"update_id": update["update_id"], "message_id": message["message_id"], **status}
        )

    async def _press(self, request: web.Request) -> web.Response:
        chat_id, body = _chat_id(request), await json_body(request)
        chat = self.fake.chats.get(chat_id)
        if chat is None:
            raise web.HTTPNotFound(text=f"no chat {chat_id}")
        target, data = _button(chat.bot_messages(), body)
        update = self.fake.callback(chat_id, _user(chat_id, body), target.message_id, data)
        status = await self._deliver(update)
        return json_response(
            {"update_id": update["update_id"], "message_id": target.message_id, **status}
        )

    async def _stop(self, request: web.Request) -> web.Response:
        chat_id = _chat_id(request)
        chat = self.fake.chats.get(chat_id)
        draft = None if chat is None else chat.live_draft
        if draft is None or not draft.can_stop:
            raise web.HTTPNotFound(text="no draft with a stop button in that chat")
        update = self.fake.stop_draft(chat_id)
        status = await self._deliver(update)
        return json_response({"update_id": update["update_id"], **status})

    async def _deliver(self, update: dict[str, Any]) -> dict[str, int]:
        """Queue ``update`` for getUpdates, or post it to the webhook (again later when the
        bridge does not acknowledge it); returns ``{"webhook_status": …}`` for a webhook."""
        if not self.fake.webhook_url:
            self.fake.push(update)
            return {}
        status = await self._post(update)
        if not 200 <= status < 300:
            task = asyncio.create_task(self._redeliver(update))
            self._redeliveries.add(task)
            task.add_done_callback(self._redeliveries.discard)
        return {"webhook_status": status}

    async def _post(self, update: dict[str, Any]) -> int:
        try:
            return await self.fake.post_webhook(update)
        except (ClientError, TimeoutError):
            return 0  # nothing answered: like a refused connection, delivered again

    async def _redeliver(self, update: dict[str, Any]) -> None:
        for pause in self.redelivery_s:
            await asyncio.sleep(pause)
            if 200 <= await self._post(update) < 300:
                return


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


def _file(file: Any) -> tuple[str, bytes, str]:
    """A control request's ``"file"``: its name, bytes and MIME type."""
    if not isinstance(file, dict) or not isinstance(file.get("name"), str) or not file["name"]:
        raise web.HTTPBadRequest(text='give the file as {"name": "…", "content": "…"}')
    mime = str(file.get("mime") or "application/octet-stream")
    if isinstance(file.get("base64"), str):
        try:
            return file["name"], base64.b64decode(file["base64"], validate=True), mime
        except binascii.Error as exc:
            raise web.HTTPBadRequest(text="the file's base64 is not valid") from exc
    if isinstance(file.get("content"), str):
        return file["name"], file["content"].encode(), mime
    raise web.HTTPBadRequest(text='give the file\'s "content" (text) or "base64"')


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
