"""Drives N chats × M messages through the fake Telegram: one message in flight per chat."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from bench.fakes import BenchTelegram, answer_for, visible
from tests.fakes.telegram import TgUser

CHAT_BASE = 100_000


@dataclass(slots=True)
class Turn:
    """One user message and what became of its reply."""

    chat_id: int
    index: int
    query: str
    expected: str
    sent_at: float
    first_at: float | None = None
    final_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class DriveConfig:
    """How many chats and messages, and the timing of the user side."""

    chats: int
    messages: int
    tokens: int
    ramp_s: float
    think_s: float
    reply_timeout_s: float
    seed: int = 1


class Driver:
    """Injects updates, watches the fake's shown texts, and records every turn."""

    def __init__(self, tg: BenchTelegram, cfg: DriveConfig) -> None:
        self.tg, self.cfg = tg, cfg
        self.turns: list[Turn] = []
        self.timeouts = 0
        self.stray_texts = 0
        self._inflight: dict[int, Turn] = {}
        self._rng = random.Random(cfg.seed)
        tg.on_text = self._on_text

    def chat_ids(self) -> list[int]:
        return [CHAT_BASE + i for i in range(self.cfg.chats)]

    async def run(self) -> tuple[float, float]:
        """Run every chat to the end; returns (start, end) monotonic times."""
        start = time.monotonic()
        offsets = [self._rng.uniform(0.0, self.cfg.ramp_s) for _ in range(self.cfg.chats)]
        await asyncio.gather(
            *(self._chat(c, o) for c, o in zip(self.chat_ids(), offsets, strict=True))
        )
        return start, time.monotonic()

    async def _chat(self, chat_id: int, offset: float) -> None:
        await asyncio.sleep(offset)
        user = TgUser(id=chat_id, first_name=f"U{chat_id}")
        for k in range(self.cfg.messages):
            query = f"bench c{chat_id} m{k}"
            turn = Turn(
                chat_id,
                k,
                query,
                visible(answer_for(query, self.cfg.tokens)),
                time.monotonic(),
            )
            self.turns.append(turn)
            self._inflight[chat_id] = turn
            self.tg.push(self.tg.text(chat_id, user, query))
            try:
                await asyncio.wait_for(turn.done.wait(), self.cfg.reply_timeout_s)
            except TimeoutError:
                self.timeouts += 1
                return
            if k + 1 < self.cfg.messages:
                await asyncio.sleep(self.cfg.think_s * self._rng.uniform(0.5, 1.5))

    def _on_text(self, chat_id: int, at: float, method: str, message_id: int, text: str) -> None:
        turn = self._inflight.get(chat_id)
        if turn is None or turn.final_at is not None:
            self.stray_texts += 1
            return
        if not text.strip():
            return
        if turn.first_at is None:
            turn.first_at = at
        if method != "sendMessageDraft" and visible(text) == turn.expected:
            turn.final_at = at
            turn.done.set()

    def shown_counts(self) -> dict[str, int]:
        """How many bot messages in the chats show each expected answer (for lost/duplicates)."""
        counts = {t.query: 0 for t in self.turns}
        by_text = {t.expected: t.query for t in self.turns}
        for chat in self.tg.chats.values():
            for msg in chat.bot_messages():
                query = by_text.get(visible(msg.text))
                if query is not None:
                    counts[query] += 1
        return counts
