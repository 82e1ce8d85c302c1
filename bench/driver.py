"""Drives N chats × M messages through the fake Telegram: one message in flight per chat.

Private chats ask directly; ``groups`` group chats mention the bot. With ``ramp_s`` 0 every
chat's first message reaches the fake in the same request (a flood onset).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from bench.fakeproc import digest
from bench.fakes import answer_for
from bench.remote import Fakes
from tests.fakes.telegram import BOT_USERNAME

CHAT_BASE = 100_000
GROUP_USER_BASE = 500_000


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
    groups: int = 0
    seed: int = 1


class Driver:
    """Injects updates, follows the fake's shown texts, and records every turn."""

    def __init__(self, fakes: Fakes, cfg: DriveConfig) -> None:
        self.fakes, self.cfg = fakes, cfg
        self.turns: list[Turn] = []
        self.timeouts = 0
        self.stray_texts = 0
        self._inflight: dict[int, Turn] = {}
        self._rng = random.Random(cfg.seed)
        fakes.follow(self._on_text)

    def chat_ids(self) -> list[int]:
        private = [CHAT_BASE + i for i in range(self.cfg.chats)]
        return private + [-(CHAT_BASE + i) for i in range(self.cfg.groups)]

    async def run(self) -> tuple[float, float]:
        """Run every chat to the end; returns (start, end) monotonic times."""
        start = time.monotonic()
        chats = self.chat_ids()
        offsets = [self._rng.uniform(0.0, self.cfg.ramp_s) for _ in chats]
        await asyncio.gather(*(self._chat(c, o) for c, o in zip(chats, offsets, strict=True)))
        return start, time.monotonic()

    async def _chat(self, chat_id: int, offset: float) -> None:
        await asyncio.sleep(offset)
        user = chat_id if chat_id > 0 else GROUP_USER_BASE - chat_id
        for k in range(self.cfg.messages):
            query = f"bench c{chat_id} m{k}"
            expected = digest(answer_for(query, self.cfg.tokens))
            turn = Turn(chat_id, k, query, expected, time.monotonic())
            self.turns.append(turn)
            self._inflight[chat_id] = turn
            text = query if chat_id > 0 else f"@{BOT_USERNAME} {query}"
            self.fakes.say(chat_id, user, text)
            try:
                await asyncio.wait_for(turn.done.wait(), self.cfg.reply_timeout_s)
            except TimeoutError:
                self.timeouts += 1
                return
            if k + 1 < self.cfg.messages:
                await asyncio.sleep(self.cfg.think_s * self._rng.uniform(0.5, 1.5))

    def _on_text(
        self, chat_id: int, at: float, method: str, message_id: int, shown: str, nonblank: bool
    ) -> None:
        turn = self._inflight.get(chat_id)
        if turn is None or turn.final_at is not None:
            self.stray_texts += 1
            return
        if not nonblank:
            return
        if turn.first_at is None:
            turn.first_at = at
        if method != "sendMessageDraft" and shown == turn.expected:
            turn.final_at = at
            turn.done.set()

    def shown_counts(self, shown: dict[int, list[str]]) -> dict[str, int]:
        """How many bot messages in the chats show each expected answer (for lost/duplicates)."""
        counts = {t.query: 0 for t in self.turns}
        by_digest = {t.expected: t.query for t in self.turns}
        for messages in shown.values():
            for d in messages:
                query = by_digest.get(d)
                if query is not None:
                    counts[query] += 1
        return counts
