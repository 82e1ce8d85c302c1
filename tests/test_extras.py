"""The app's extras through the relay: suggested questions, thread titles, a platform stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.extras import MAX_SUGGESTIONS, clean_questions
from bridge.i18n import t
from bridge.model import ThreadKey
from bridge.turn import TurnOptions
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.telegram import eventually
from tests.test_relay import Rig, make_rig

QUESTIONS = ["Why?", "How?", "  Why?  ", "", "x" * 400, "When?", "Where?", "Who?"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(suggested_after_answer=QUESTIONS) as server:
        yield server


async def rig_for(fake: FakeClickAI, db: Path, **options: bool) -> Rig:
    return await make_rig(fake, db, options=TurnOptions(**options))  # type: ignore[arg-type]


async def close(rig: Rig) -> None:
    await rig.relay.drain(5)
    await rig.pacer.stop()
    await rig.client.aclose()
    await rig.store.close()


def test_suggestions_are_cleaned_and_capped() -> None:
    assert clean_questions(QUESTIONS) == ("Why?", "How?", "When?", "Where?")
    assert len(clean_questions(QUESTIONS)) == MAX_SUGGESTIONS
    assert clean_questions("not a list") == ()


async def test_answers_carry_suggestions_and_a_new_conversation_titles_its_thread_once(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    rig = await rig_for(fake, tmp_path / "b.db")
    rig.channel.wants_title = True
    try:
        await rig.relay.submit(rig.channel.message("first question"))
        await asyncio.wait_for(rig.relay.wait_idle(), 10)
        await rig.relay.submit(rig.channel.message("second question"))
        await asyncio.wait_for(rig.relay.wait_idle(), 10)
        first, second = rig.channel.chat("42")
        assert first.suggestions == second.suggestions == ["Why?", "How?", "When?", "Where?"]
        assert [c.query["user"] for c in fake.calls("suggested")] == ["fake:42", "fake:42"]
        assert rig.channel.titles == [("42", "first question")]
        [rename] = fake.calls("/name")
        assert rename.json == {"name": None, "auto_generate": True, "user": "fake:42"}
    finally:
        await close(rig)


async def test_the_operator_switch_skips_the_suggestion_call(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    rig = await rig_for(fake, tmp_path / "b.db", suggestions=False)
    try:
        await rig.relay.submit(rig.channel.message("hi"))
        await asyncio.wait_for(rig.relay.wait_idle(), 10)
        [shown] = rig.channel.chat("42")
        assert shown.suggestions == [] and fake.calls("suggested") == []
        assert fake.calls("/name") == []  # the fake channel shows no titles by default
    finally:
        await close(rig)


async def test_a_platform_stop_stops_the_task_silently(fake: FakeClickAI, tmp_path: Path) -> None:
    rig = await rig_for(fake, tmp_path / "b.db")
    fake.script(Reply(answer=" ".join(f"w{i}" for i in range(50)), deltas=50, delta_delay=0.05))
    key = ThreadKey(channel="fake", chat_id="42")
    try:
        assert await rig.relay.stop_turn(key) is False
        assert rig.channel.chat("42") == []  # nothing ran: no "nothing to stop" notice either
        await rig.relay.submit(rig.channel.message("count"))
        await eventually(lambda: bool(fake.running_tasks))
        assert await rig.relay.stop_turn(key) is True
        await asyncio.wait_for(rig.relay.wait_idle(), 10)
        [(task, user)] = fake.stops
        assert task and user == "fake:42"
        [shown] = rig.channel.chat("42")
        assert shown.notice == t("en", "stopped") and shown.feedback
        assert shown.suggestions == [] and fake.calls("suggested") == []
    finally:
        await close(rig)
