"""FakeMaiAgent: MaiAgent's chatbot completions, one-step attachment upload and conversations.

Built from the documented shapes (seed reference page, the vendor's examples); the DRF error
bodies follow Django REST Framework's defaults::

    async with FakeMaiAgent() as fake:             # key "mai-test", chatbot "bot-1"
        fake.script(MaiReply(answer="Hi!", snake_case=True, done_marker=True))
        assert fake.calls("/completions/")[0].json["isStreaming"] is True
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.wire import WireFake


@dataclass(frozen=True, kw_only=True)
class MaiReply:
    """How the next completion answers: ``snake_case`` spells ``conversation_id``;
    ``done_marker`` adds ``data: [DONE]``; ``cut_after`` closes the connection after that many
    deltas without a ``done`` frame."""

    answer: str | None = None
    deltas: int = 3
    delay: float = 0.0
    snake_case: bool = False
    done_marker: bool = False
    cut_after: int | None = None


@dataclass
class MaiConversation:
    id: str
    messages: list[dict[str, Any]] = field(default_factory=list)


class FakeMaiAgent(WireFake):
    def __init__(self, *, key: str = "mai-test", chatbot_id: str = "bot-1") -> None:
        super().__init__()
        self.key, self.chatbot_id = key, chatbot_id
        self.conversations: dict[str, MaiConversation] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self._scripts: list[MaiReply] = []

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1"

    def script(self, *replies: MaiReply) -> None:
        self._scripts.extend(replies)

    def forget(self, conversation_id: str) -> None:
        """The conversation was deleted on the platform."""
        del self.conversations[conversation_id]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/chatbots/{bot}/completions/", self._complete)
        app.router.add_post("/api/v1/attachments-upload/", self._upload)
        app.router.add_get("/api/v1/conversations/", self._list)

    def _refuse(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth:
            detail = "Authentication credentials were not provided."
            return web.json_response({"detail": detail}, status=401)
        if auth != f"Api-Key {self.key}":
            return web.json_response({"detail": "Invalid API key format."}, status=401)
        return None

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        if request.match_info["bot"] != self.chatbot_id:
            return web.json_response({"detail": "Not found."}, status=404)
        body = self.recorded(request).json
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not message.get("content"):
            return web.json_response(
                {"message": {"content": ["This field is required."]}}, status=400
            )
        for att in message.get("attachments") or []:
            if not isinstance(att, dict) or att.get("id") not in self.uploads:
                return web.json_response({"message": {"attachments": ["Invalid."]}}, status=400)
        cid = body.get("conversation")
        if cid:
            if cid not in self.conversations:
                error = {"conversation": [f'Invalid pk "{cid}" - object does not exist.']}
                return web.json_response(error, status=400)
        else:
            cid = str(uuid.uuid4())
            self.conversations[cid] = MaiConversation(cid)
        reply = self._scripts.pop(0) if self._scripts else MaiReply()
        answer = reply.answer if reply.answer is not None else f"You said: {message['content']}"
        self.conversations[cid].messages.append(message)
        key = "conversation_id" if reply.snake_case else "conversationId"
        if not (body.get("isStreaming") or body.get("is_streaming")):
            return web.json_response({key: cid, "content": answer, "done": True})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        size = -(-len(answer) // max(1, reply.deltas)) or 1
        for i, start in enumerate(range(0, len(answer), size)):
            if reply.cut_after is not None and i == reply.cut_after:
                assert request.transport is not None
                request.transport.close()
                return response
            frame = {key: cid, "content": answer[start : start + size], "done": False}
            await response.write(f"data: {json.dumps(frame)}\n\n".encode())
            if reply.delay:
                await asyncio.sleep(reply.delay)
        final = {key: cid, "content": "", "done": True}
        await response.write(f"data: {json.dumps(final)}\n\n".encode())
        if reply.done_marker:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        files = self.recorded(request).files
        if "file" not in files:
            return web.json_response({"file": ["This field is required."]}, status=400)
        name, _data = files["file"]
        upload_id = str(uuid.uuid4())
        kind = "image" if name.lower().endswith((".png", ".jpg", ".jpeg")) else "other"
        self.uploads[upload_id] = {
            "id": upload_id,
            "type": kind,
            "filename": name,
            "file": f"{self.origin}/media/{upload_id}/{name}",
        }
        return web.json_response(self.uploads[upload_id], status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        rows = [{"id": c} for c in self.conversations]
        return web.json_response({"next": None, "previous": None, "results": rows})
