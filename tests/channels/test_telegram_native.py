"""Telegram's native controls end to end: the draft stop button and suggested questions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.i18n import t
from tests.channels.test_telegram_e2e import ANN, BINH, running_bridge
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.telegram import FakeTelegram, eventually

DRAFTS = {"BRIDGE_TELEGRAM__DRAFTS": "true"}
QUESTIONS = ["What about Lyon?", "And Nice?"]


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=4, suggested_after_answer=QUESTIONS) as fake:
        yield fake


async def test_the_draft_stop_button_stops_clickai_and_keeps_the_partial_answer(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    answer = " ".join(f"word{i}" for i in range(40))
    clickai.script(Reply(answer=answer, deltas=40, delta_delay=0.1))
    async with running_bridge(tg, clickai, tmp_path / "b.db", **DRAFTS) as b:
        tg.push(tg.text(ANN.id, ANN, "count slowly"))
        chat = tg.chat(ANN.id)
        await eventually(lambda: chat.live_draft is not None and "word3" in chat.live_draft.text)
        assert "stopped_message_generation" in (tg.allowed_updates or [])
        assert chat.live_draft is not None and chat.live_draft.can_stop
        await b.send(tg.stop_draft(ANN.id))

        user = f"telegram:{ANN.id}"
        [(task_id, stop_user)] = clickai.stops
        assert stop_user == user and task_id
        [saved] = clickai.messages(user)
        partial = saved["answer"]
        assert partial and partial != answer and answer.startswith(partial)
        [msg] = chat.bot_messages()
        assert msg.text == f"{partial.strip()}\n\n{t('en', 'stopped')}"
        assert msg.buttons() == ["👍", "👎"]  # a stopped answer offers no suggestions
        assert chat.live_draft is None  # no draft is left over the final message
        drafts = tg.calls_to("sendMessageDraft")
        assert drafts and all(c.params.get("can_stop") is True for c in drafts)
        assert clickai.calls("suggested") == []

        await b.send(tg.callback(ANN.id, ANN, msg.message_id, "fb:dislike"))
        assert clickai.messages(user)[0]["feedback"]["rating"] == "dislike"


async def test_a_finished_draft_leaves_only_the_real_message(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    async with running_bridge(tg, clickai, tmp_path / "b.db", **DRAFTS) as b:
        await b.send(tg.text(ANN.id, ANN, "hello"))
        chat = tg.chat(ANN.id)
        assert chat.drafts and chat.live_draft is None
        assert chat.texts() == ["You said: hello"]
        assert clickai.stops == []


async def test_stop_buttons_can_be_switched_off(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    env = {**DRAFTS, "BRIDGE_TELEGRAM__STOP_BUTTON": "false"}
    async with running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
        await b.send(tg.text(ANN.id, ANN, "hello"))
        assert "stopped_message_generation" not in (tg.allowed_updates or [])
        drafts = tg.calls_to("sendMessageDraft")
        assert drafts and all("can_stop" not in c.params for c in drafts)


async def test_a_server_without_stop_buttons_still_streams_drafts(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    tg.fail("sendMessageDraft", 400, "Bad Request: unknown parameter can_stop")
    caplog.set_level(logging.WARNING)
    async with running_bridge(tg, clickai, tmp_path / "b.db", **DRAFTS) as b:
        await b.send(tg.text(ANN.id, ANN, "hello"))
        await b.send(tg.text(ANN.id, ANN, "again"))
        assert tg.chat(ANN.id).texts() == ["You said: hello", "You said: again"]
        ok = [c for c in tg.calls_to("sendMessageDraft") if c.status == 200]
        assert ok and all("can_stop" not in c.params for c in ok)
    refused = [r for r in caplog.records if "stop buttons refused" in r.getMessage()]
    assert len(refused) == 1


async def test_suggested_questions_are_buttons_and_a_double_tap_asks_once(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(ANN.id, ANN, "tell me about Paris"))
        [first] = tg.chat(ANN.id).bot_messages()
        assert first.buttons() == ["👍", "👎", *QUESTIONS]
        user = f"telegram:{ANN.id}"
        [suggested] = clickai.calls("suggested")
        assert suggested.query["user"] == user

        tap = tg.callback(ANN.id, ANN, first.message_id, "sq:0")
        again = tg.callback(ANN.id, ANN, first.message_id, "sq:0")
        tg.push(tap)
        await b.send(again)

        _, two = clickai.calls("chat-messages")
        assert two.json["query"] == "What about Lyon?" and two.json["user"] == user
        [conversation] = clickai.conversations(user)
        assert two.json["conversation_id"] == conversation["id"]
        first_answer, second_answer = tg.chat(ANN.id).bot_messages()
        assert second_answer.text == "You said: What about Lyon?"
        await eventually(lambda: first_answer.buttons() == ["👍", "👎", "✓ What about Lyon?"])
        answers = [a.get("text") for a in tg.callback_answers]
        assert answers.count(t("en", "suggestion_asked")) == 1

        # Rating keeps the asked question on the message.
        await b.send(tg.callback(ANN.id, ANN, first.message_id, "fb:like"))
        await eventually(lambda: first_answer.buttons() == ["👍 ✓", "👎", "✓ What about Lyon?"])


async def test_start_shows_the_opening_statement_and_its_questions(
    tg: FakeTelegram, tmp_path: Path
):
    opening = ["What are your opening hours?", "Giá bao nhiêu?"]
    async with (
        FakeClickAI(opening_statement="Xin chào, tôi là ACME.", suggested_questions=opening) as ai,
        running_bridge(tg, ai, tmp_path / "b.db") as b,
    ):
        await b.send(tg.text(BINH.id, BINH, "/start"))
        [hello] = tg.chat(BINH.id).bot_messages()
        assert hello.text == "Xin chào, tôi là ACME." and hello.buttons() == opening
        await b.send(tg.callback(BINH.id, BINH, hello.message_id, "sq:1"))
        [ask] = ai.calls("chat-messages")
        assert ask.json["query"] == "Giá bao nhiêu?" and ask.json["user"] == f"telegram:{BINH.id}"
        assert tg.chat(BINH.id).texts()[-1] == "You said: Giá bao nhiêu?"


async def test_no_suggestions_when_the_operator_or_the_app_turns_them_off(
    tg: FakeTelegram, tmp_path: Path
):
    async with FakeClickAI(suggested_after_answer=None) as ai:  # the app has them off
        async with running_bridge(tg, ai, tmp_path / "a.db") as b:
            await b.send(tg.text(ANN.id, ANN, "hi"))
        assert ai.calls("suggested") == []
    async with FakeClickAI(suggested_after_answer=QUESTIONS) as ai:
        env = {"BRIDGE_BRIDGE__SUGGESTED_QUESTIONS": "false"}
        async with running_bridge(tg, ai, tmp_path / "b.db", **env) as b:
            await b.send(tg.text(BINH.id, BINH, "hi"))
        assert ai.calls("suggested") == []
    assert [m.buttons() for m in tg.chat(ANN.id).bot_messages()] == [["👍", "👎"]]
    assert [m.buttons() for m in tg.chat(BINH.id).bot_messages()] == [["👍", "👎"]]
