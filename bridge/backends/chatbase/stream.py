"""Chatbase's UI-message stream (Vercel AI SDK v5 ``data: {"type": …}`` frames) as port events.

Tolerates the documented variants: ``start`` or ``message-start``; metadata in
``finish.messageMetadata``, ``finish.metadata`` or a ``message-metadata`` event (nested or
top-level); a missing ``[DONE]``. Tool (client action) frames are ignored: a bridge cannot
run them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from bridge.backends.base import BackendEvent, Finished, Started, TextDelta
from bridge.backends.chatbase.errors import frame_error
from bridge.errors import BackendError

log = logging.getLogger(__name__)


class ChatbaseStream:
    """Feed it each SSE ``data``; it returns the port events that frame produces."""

    def __init__(self, conversation_id: str | None) -> None:
        self.conversation_id = conversation_id or ""
        self.message_id = ""
        self.finish_reason = ""
        self.usage: dict[str, Any] = {}
        self.done = False
        self._started = False
        self._finished = False

    def feed(self, data: str) -> list[BackendEvent]:
        if data.strip() == "[DONE]":
            self.done = True
            return self.end()
        try:
            frame = json.loads(data)
        except ValueError:
            log.warning("chatbase: ignoring a frame that is not JSON")
            return []
        if not isinstance(frame, dict):
            return []
        kind = str(frame.get("type") or "")
        out: list[BackendEvent] = []
        if kind in ("start", "message-start"):
            self.message_id = str(frame.get("messageId") or self.message_id)
            self._metadata(frame.get("messageMetadata"))
            out += self._start()
        elif kind == "text-delta":
            out += self._start()
            delta = frame.get("delta", frame.get("textDelta", ""))
            if isinstance(delta, str) and delta:
                out.append(TextDelta(delta))
        elif kind == "finish":
            self.finish_reason = str(frame.get("finishReason") or self.finish_reason)
            self._metadata(frame.get("messageMetadata") or frame.get("metadata"))
            self._metadata(frame)
        elif kind == "message-metadata":
            self._metadata(frame.get("messageMetadata") or frame)
        elif kind == "error":
            raise frame_error(frame)
        return out

    def end(self) -> list[BackendEvent]:
        """The stream ended (``[DONE]`` or EOF): the final ids, once."""
        if self._finished:
            return []
        self._finished = True
        if self.finish_reason == "tool-calls":
            log.warning("chatbase: the agent asked for a client action, which a bridge cannot run")
        if self.finish_reason == "error":
            raise BackendError("upstream", "Chatbase ended the answer with an error")
        return [
            *self._start(),
            Finished(
                message_id=self.message_id,
                conversation_id=self.conversation_id,
                usage=dict(self.usage),
            ),
        ]

    def _start(self) -> list[BackendEvent]:
        if self._started:
            return []
        self._started = True
        return [Started(self.conversation_id, self.message_id, "")]

    def _metadata(self, meta: object) -> None:
        if not isinstance(meta, Mapping):
            return
        self.conversation_id = str(meta.get("conversationId") or self.conversation_id)
        self.message_id = str(meta.get("messageId") or self.message_id)
        self.finish_reason = str(meta.get("finishReason") or self.finish_reason)
        if isinstance(meta.get("usage"), Mapping):
            self.usage = dict(meta["usage"])


def blocking_events(payload: Any, conversation_id: str | None) -> list[BackendEvent]:
    """``stream: false`` answers: ``{"data": {"id", "parts": [...], "metadata": {...}}}``."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise BackendError("upstream", "Chatbase answered without a data object")
    parts = data.get("parts") or []
    text = "".join(
        str(p.get("text") or "") for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    cid = str(meta.get("conversationId") or conversation_id or "")
    usage: dict[str, Any] = meta["usage"] if isinstance(meta.get("usage"), dict) else {}
    return [
        Started(cid, str(data.get("id") or ""), ""),
        Finished(
            message_id=str(data.get("id") or ""), conversation_id=cid, answer=text, usage=usage
        ),
    ]
