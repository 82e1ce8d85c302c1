"""MaiAgentBackend: chatbot completions (SSE deltas) and attachments; no message ids, no rating."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from bridge.backends.base import (
    BackendEvent,
    BackendTurn,
    Capabilities,
    Finished,
    Started,
    TextDelta,
    UploadRef,
)
from bridge.backends.common import HttpBackend
from bridge.backends.http import is_event_stream, parse_body, sse_data
from bridge.backends.maiagent.errors import maiagent_error
from bridge.config import BackendConfig
from bridge.errors import BackendError

log = logging.getLogger(__name__)

_TYPES: dict[str, str] = {"image": "image", "audio": "audio", "document": "other"}
"""Our attachment kinds → MaiAgent's ``type`` (video and sticker are "not supported yet")."""


class MaiAgentBackend(HttpBackend):
    """One MaiAgent chatbot (``chatbot_id``) reached with an ``Api-Key``."""

    kind = "maiagent"
    capabilities = Capabilities(
        streaming=True,
        feedback=False,
        attachments=frozenset({"image", "audio", "document"}),
        stop="local",
        conversation_id_early=True,
    )

    platform = "MaiAgent"
    map_error = staticmethod(maiagent_error)

    @classmethod
    def auth(cls, config: BackendConfig) -> Mapping[str, str]:
        return {"Authorization": f"Api-Key {config.api_key.get_secret_value()}"}

    async def run(self, turn: BackendTurn) -> AsyncIterator[BackendEvent]:
        message: dict[str, Any] = {"content": turn.query}
        if turn.files:
            message["attachments"] = [dict(f.handle) for f in turn.files]
        body = {
            "conversation": turn.conversation_id or None,
            "message": message,
            "isStreaming": self._streaming,
        }

        async def attempt() -> AsyncIterator[BackendEvent]:
            async with self._http.open_stream(
                "POST",
                f"chatbots/{self.app_id}/completions/",
                json_body=body,
                conversation_scoped=bool(turn.conversation_id),
            ) as response:
                if not is_event_stream(response):
                    payload = parse_body(await response.aread())
                    for event in _blocking(payload, turn.conversation_id):
                        yield event
                    return
                async for event in self._frames(response, turn.conversation_id or ""):
                    yield event

        async for event in self._http.retrying(attempt):
            yield event

    async def _frames(
        self, response: httpx.Response, conversation_id: str
    ) -> AsyncIterator[BackendEvent]:
        started = False
        async for data in sse_data(
            response, idle_timeout_s=self._config.idle_timeout_s, platform="MaiAgent"
        ):
            if data.strip() == "[DONE]":
                break
            try:
                frame = json.loads(data)
            except ValueError:
                log.warning("maiagent: ignoring a frame that is not JSON")
                continue
            if not isinstance(frame, Mapping):
                continue
            conversation_id = _conversation(frame) or conversation_id
            if not started:
                started = True
                yield Started(conversation_id, "", "")
            content = frame.get("content")
            if isinstance(content, str) and content and not frame.get("done"):
                yield TextDelta(content)
            if frame.get("done"):
                if isinstance(content, str) and content:
                    yield TextDelta(content)
                break
        yield Finished(message_id="", conversation_id=conversation_id)

    async def upload(
        self, *, data: bytes, filename: str, mime_type: str, kind: str, user: str
    ) -> UploadRef:
        """One-step upload; the answer object goes unchanged into ``message.attachments``."""
        body = await self._http.call(
            "POST", "attachments-upload/", files={"file": (filename, data, mime_type)}
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise BackendError("upstream", "MaiAgent's upload answer has no id")
        handle = {
            "id": body["id"],
            "type": body.get("type") or _TYPES.get(kind, "other"),
            "filename": body.get("filename") or filename,
            "file": body.get("file", ""),
        }
        return UploadRef(kind=kind, handle=handle)

    async def health(self) -> None:
        """List one conversation: proves the key (the chatbot id is proven by the first turn)."""
        await self._http.call("GET", "conversations/", params={"pageSize": 1}, retry=False)


def _conversation(frame: Mapping[str, Any]) -> str:
    value = frame.get("conversationId") or frame.get("conversation_id") or ""
    return str(value)


def _blocking(payload: Any, conversation_id: str | None) -> list[BackendEvent]:
    """``isStreaming: false``: ``{"conversationId", "content"}`` (the whole answer)."""
    if not isinstance(payload, Mapping):
        raise BackendError("upstream", "MaiAgent answered without a JSON object")
    cid = _conversation(payload) or conversation_id or ""
    return [
        Started(cid, "", ""),
        Finished(message_id="", conversation_id=cid, answer=str(payload.get("content") or "")),
    ]
