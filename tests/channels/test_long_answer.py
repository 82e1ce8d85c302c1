"""Long answers cost linear work and never hold the event loop for more than one render."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.longanswer import answer_of
from bridge.render import md_to_telegram_html, telegram_measure
from bridge.text import Fences, split_pieces, utf16_len
from tests.channels.test_telegram_e2e import ANN, running_bridge
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.telegram import FakeTelegram

LIMIT = 4096


class Counting:
    """telegram_measure, counting its calls and the characters it was given."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0
        self.longest = 0

    def __call__(self, md: str) -> int:
        self.calls += 1
        self.chars += len(md)
        self.longest = max(self.longest, len(md))
        return telegram_measure(md)


def test_splitting_a_long_answer_measures_only_each_window() -> None:
    text = answer_of(60_000)
    measure = Counting()
    pieces = split_pieces(text, LIMIT, measure=measure)
    assert all(utf16_len(md_to_telegram_html(p.text)) <= LIMIT for p in pieces)
    assert measure.longest <= 3 * LIMIT  # never the whole rest of the answer
    assert measure.chars <= 12 * len(text)  # linear: a few renders of each window
    assert measure.calls <= 10 * len(pieces)


def test_a_fence_scan_continued_over_a_grown_text_matches_a_fresh_one() -> None:
    text = answer_of(20_000) + "\n```\nopen fence\n"
    fences = Fences()
    for end in range(0, len(text), 997):
        assert fences.extend(text[:end]) is fences
    fences.extend(text)
    fresh = Fences(text)
    assert [fences.at(i) for i in range(0, len(text), 53)] == [
        fresh.at(i) for i in range(0, len(text), 53)
    ]
    assert fences.extend("rewritten " + text) is not fences


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as fake:
        yield fake


async def test_a_long_burst_answer_lets_other_work_run_between_renders(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    """Another task gets a turn between any two renders while a 40k answer is sent."""
    answer = answer_of(40_000)
    clickai.script(Reply(answer=answer, deltas=4))  # arrives faster than it can be shown
    renders_between_turns: list[int] = []

    async def other_work() -> None:
        seen = md_to_telegram_html.cache_info().misses
        while True:
            await asyncio.sleep(0)
            now = md_to_telegram_html.cache_info().misses
            renders_between_turns.append(now - seen)
            seen = now

    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        ticker = asyncio.create_task(other_work())
        try:
            await b.send(tg.text(ANN.id, ANN, "write a lot"))
        finally:
            ticker.cancel()
        messages = tg.chat(ANN.id).bot_messages()
    assert len(messages) >= 10
    assert all(utf16_len(m.raw) <= LIMIT for m in messages)
    shown = " ".join(" ".join(m.text.split()) for m in messages)
    assert shown.split()[-3:] == md_to_telegram_html(answer).split()[-3:]
    assert max(renders_between_turns) <= 2
