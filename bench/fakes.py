"""The test fakes, instrumented: upstream token/end times and platform-visible text times."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.clickai import FakeClickAI, Reply, _Turn, _Writer
from tests.fakes.telegram import FakeTelegram

TextHook = Callable[[int, float, str, int, str], None]


def answer_for(query: str, tokens: int) -> str:
    """The deterministic answer to a bench query: a unique head, then ``tokens`` words."""
    words = [f"**w{i}**" if i % 10 == 9 else f"w{i}" for i in range(max(1, tokens))]
    return f"Answer to {query}: " + " ".join(words)


def visible(text: str) -> str:
    """What a chat shows of ``text``, normalised (Markdown marks and spacing ignored)."""
    return " ".join(text.replace("*", "").replace("`", "").split())


class BenchClickAI(FakeClickAI):
    """FakeClickAI whose answers follow the bench knobs; records first-delta and end times."""

    def __init__(self, *, ttft_s: float, tokens_per_s: float, tokens: int) -> None:
        super().__init__(deltas=tokens, ping_interval=60.0)
        self.ttft_s, self.tokens = ttft_s, tokens
        self.gap_s = 1.0 / tokens_per_s if tokens_per_s > 0 else 0.0
        self.first_at: dict[str, float] = {}
        self.end_at: dict[str, float] = {}

    async def _generate(
        self, request: web.Request, key: str, mode: Any, endpoint: Any
    ) -> web.StreamResponse:
        body = self._body(request)
        query = str(body.get("query") or "")
        reply = Reply(
            answer=answer_for(query, self.tokens),
            deltas=self.tokens,
            delta_delay=self.gap_s,
            first_token_delay=self.ttft_s,
        )
        self._scripts.insert(0, reply)  # consumed before super() first awaits
        return await super()._generate(request, key, mode, endpoint)

    def _delta(self, turn: _Turn, chunk: str) -> dict[str, Any]:
        self.first_at.setdefault(turn.query, time.monotonic())
        return super()._delta(turn, chunk)

    async def _terminal(
        self,
        turn: _Turn,
        reply: Reply,
        w: _Writer,
        text: str,
        files: list[dict[str, Any]],
        stopped: bool,
    ) -> None:
        await super()._terminal(turn, reply, w, text, files, stopped)
        self.end_at[turn.query] = time.monotonic()


@dataclass(slots=True)
class TextCall:
    """A successful text-bearing Bot API call: when, where and what the message shows now."""

    at: float
    chat_id: int
    method: str
    message_id: int
    text: str


class BenchTelegram(FakeTelegram):
    """FakeTelegram that reports every shown text to a hook and notes the first poll."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.polled_at: float | None = None
        self.texts: list[TextCall] = []
        self.on_text: TextHook | None = None

    def _note(self, chat_id: int, method: str, message_id: int, text: str) -> None:
        now = time.monotonic()
        self.texts.append(TextCall(now, chat_id, method, message_id, text))
        if self.on_text is not None:
            self.on_text(chat_id, now, method, message_id, text)

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.polled_at is None:
            self.polled_at = time.monotonic()
        return await super()._m_getUpdates(params)

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._m_sendMessage(params)
        self._note(int(params["chat_id"]), "sendMessage", result["message_id"], result["text"])
        return result

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._m_editMessageText(params)
        self._note(int(params["chat_id"]), "editMessageText", result["message_id"], result["text"])
        return result

    def _m_sendMessageDraft(self, params: dict[str, Any]) -> bool:
        result = super()._m_sendMessageDraft(params)
        chat = self.chats[int(params["chat_id"])]
        self._note(chat.id, "sendMessageDraft", 0, chat.drafts[-1][1])
        return result
