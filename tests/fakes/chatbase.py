"""FakeChatbase: Chatbase API v2 at the wire (chat SSE, blocking chat, feedback, conversations).

Built from the documented shapes (the official SDKs' stream parser and the v2 reference); the
HTTP status of each error code is not documented, so the fake's choices are marked below::

    async with FakeChatbase() as fake:             # key "cb-test", agent "agent-1"
        fake.script(CbReply(answer="Hi!", deltas=2, variant="message-metadata"))
        ...
        assert fake.calls("/chat")[0].json["userId"] == "telegram.42"
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.wire import WireFake

Variant = Literal["finish", "message-metadata", "legacy"]


@dataclass(frozen=True, kw_only=True)
class CbReply:
    """How the next chat request answers.

    ``variant``: ``finish`` (metadata in ``finish.messageMetadata``), ``message-metadata`` (a
    separate event after ``finish``), ``legacy`` (``message-start`` and ``finish.metadata``).
    ``error_after``: send an ``error`` frame after that many deltas. ``done=False`` omits
    ``[DONE]``. ``hang`` keeps the stream open without data after the deltas.
    """

    answer: str | None = None
    deltas: int = 3
    delay: float = 0.0
    variant: Variant = "finish"
    error_after: int | None = None
    done: bool = True
    hang: bool = False
    finish_reason: str = "stop"


@dataclass
class CbMessage:
    id: str
    role: str
    text: str
    feedback: str | None = None


@dataclass
class CbConversation:
    id: str
    user_id: str
    status: str = "ongoing"
    messages: list[CbMessage] = field(default_factory=list)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


class FakeChatbase(WireFake):
    def __init__(self, *, key: str = "cb-test", agent_id: str = "agent-1") -> None:
        super().__init__()
        self.key, self.agent_id = key, agent_id
        self.conversations: dict[str, CbConversation] = {}
        self._scripts: list[CbReply] = []

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v2"

    def script(self, *replies: CbReply) -> None:
        self._scripts.extend(replies)

    def end_conversation(self, conversation_id: str) -> None:
        """A human took over / the conversation ended: new messages are refused."""
        self.conversations[conversation_id].status = "ended"

    def routes(self, app: web.Application) -> None:
        base = "/api/v2/agents/{agent}"
        app.router.add_post(f"{base}/chat", self._chat)
        app.router.add_get(f"{base}/conversations", self._list)
        app.router.add_patch(f"{base}/conversations/{{cid}}/messages/{{mid}}/feedback", self._rate)

    def _refuse(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return _error(401, "AUTH_MISSING_API_KEY", "Missing API key")
        if auth != f"Bearer {self.key}":
            return _error(401, "AUTH_INVALID_API_KEY", "Invalid API key")
        if request.match_info["agent"] != self.agent_id:
            return _error(404, "AGENT_NOT_FOUND", "Agent not found")
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        body = self.recorded(request).json
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return _error(400, "VALIDATION_INVALID_BODY", "message: Required")
        cid = body.get("conversationId")
        if cid is not None:
            conversation = self.conversations.get(cid)
            if conversation is None:
                return _error(404, "RESOURCE_NOT_FOUND", "Conversation not found")  # status: ours
            if conversation.status != "ongoing":
                # The status code is not documented; the code is.
                return _error(400, "CHAT_CONVERSATION_NOT_ONGOING", "Conversation is not ongoing")
        else:
            cid = f"conv_{uuid.uuid4().hex[:12]}"
            conversation = CbConversation(cid, str(body.get("userId") or ""))
            self.conversations[cid] = conversation
        reply = self._scripts.pop(0) if self._scripts else CbReply()
        answer = reply.answer if reply.answer is not None else f"You said: {body['message']}"
        user_msg = CbMessage(f"msg_{uuid.uuid4().hex[:10]}", "user", body["message"])
        bot_msg = CbMessage(f"msg_{uuid.uuid4().hex[:10]}", "assistant", answer)
        conversation.messages += [user_msg, bot_msg]
        meta = {
            "conversationId": cid,
            "messageId": bot_msg.id,
            "userMessageId": user_msg.id,
            "userId": conversation.user_id,
            "usage": {"credits": 1},
        }
        if body.get("stream") is False:
            data = {
                "id": bot_msg.id,
                "role": "assistant",
                "parts": [{"type": "text", "text": answer}],
                "metadata": {**meta, "finishReason": reply.finish_reason},
            }
            return web.json_response({"data": data})
        return await self._stream(request, reply, answer, bot_msg.id, meta)

    async def _stream(
        self,
        request: web.Request,
        reply: CbReply,
        answer: str,
        message_id: str,
        meta: dict[str, Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "x-vercel-ai-ui-message-stream": "v1"}
        )
        await response.prepare(request)

        async def send(frame: dict[str, Any] | str) -> None:
            data = frame if isinstance(frame, str) else json.dumps(frame)
            await response.write(f"data: {data}\n\n".encode())
            if reply.delay:
                await asyncio.sleep(reply.delay)

        legacy = reply.variant == "legacy"
        await send({"type": "message-start" if legacy else "start", "messageId": message_id})
        await send({"type": "text-start", "id": "t1"})
        pieces = _split(answer, reply.deltas)
        for i, piece in enumerate(pieces):
            if reply.error_after is not None and i == reply.error_after:
                await send({"type": "error", "errorText": "The model provider failed"})
                await response.write_eof()
                return response
            await send({"type": "text-delta", "id": "t1", "delta": piece})
        if reply.hang:
            await asyncio.sleep(300)
        await send({"type": "text-end", "id": "t1"})
        finish: dict[str, Any] = {"type": "finish", "finishReason": reply.finish_reason}
        if reply.variant == "finish":
            finish["messageMetadata"] = meta
        elif legacy:
            finish["metadata"] = meta
        await send(finish)
        if reply.variant == "message-metadata":
            await send({"type": "message-metadata", "messageMetadata": meta})
        if reply.done:
            await send("[DONE]")
        await response.write_eof()
        return response

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        rows = [{"id": c.id, "status": c.status} for c in self.conversations.values()]
        limit = int(request.query.get("limit", "20"))
        return web.json_response(
            {"data": rows[:limit], "pagination": {"cursor": None, "hasMore": False}}
        )

    async def _rate(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        conversation = self.conversations.get(request.match_info["cid"])
        if conversation is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Conversation not found")
        message = next(
            (m for m in conversation.messages if m.id == request.match_info["mid"]), None
        )
        if message is None:
            return _error(404, "RESOURCE_MESSAGE_NOT_FOUND", "Message not found")
        if message.role != "assistant":
            return _error(400, "RESOURCE_MESSAGE_NOT_ASSISTANT", "Not an assistant message")
        body = self.recorded(request).json
        value = body.get("feedback") if isinstance(body, dict) else "missing"
        if value not in ("positive", "negative", None):
            return _error(400, "VALIDATION_INVALID_BODY", "feedback: Invalid enum value")
        message.feedback = value
        return web.json_response(
            {"data": {"id": message.id, "role": "assistant", "feedback": value}}
        )

    def feedback(self) -> dict[str, str | None]:
        """Assistant message id → its current feedback."""
        return {
            m.id: m.feedback
            for c in self.conversations.values()
            for m in c.messages
            if m.role == "assistant"
        }


def _split(text: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(text) or 1))
    size = -(-len(text) // parts) or 1
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
