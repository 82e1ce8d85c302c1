"""End to end on real Dify answers: a Telegram user's turn whose ClickAI answer is a capture.

The real BridgeApp and Telegram channel run against the fake Bot API; the fake ClickAI replays
the bytes a real Dify 1.14.2 server sent (``shared/reference/dify-real``), and the tests assert
what the user finally sees and what ClickAI received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from bridge.i18n import t
from tests.channels.test_telegram_e2e import ANN, BINH, Bridge, running_bridge
from tests.fakes import captures
from tests.fakes.clickai import AppMode, FakeClickAI
from tests.fakes.telegram import FakeTelegram


def bridge(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> AbstractAsyncContextManager[Bridge]:
    """The bridge, with the app's mode read from ``/info`` as in production."""
    return running_bridge(tg, clickai, tmp_path / "b.db", BRIDGE_CLICKAI__APP_MODE="auto")


@pytest.fixture
async def chatflow() -> AsyncIterator[FakeClickAI]:
    captures.require()
    async with FakeClickAI(mode="advanced-chat") as fake:
        yield fake


async def test_too_many_files_is_told_once_in_the_users_language(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    chatflow.script(*[captures.replay("126-chatflow-4files-streaming")] * 4)
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.document(BINH.id, BINH, b"hello", name="a.txt", mime="text/plain"))
        assert tg.chat(BINH.id).texts() == [t("vi", "err_too_many_files", limit="3")]
        assert len(chatflow.calls("chat-messages")) == 1


async def test_a_voice_note_the_app_refuses_names_the_file(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    chatflow.script(captures.replay("121-audio-disallowed-streaming"))
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(
            tg.document(ANN.id, ANN, b"OggS", name="voice.oga", mime="audio/ogg", kind="voice")
        )
        [notice] = tg.chat(ANN.id).texts()
        assert notice.startswith("📎 The assistant does not accept the file")
        assert len(chatflow.calls("chat-messages")) == 1


async def test_a_missing_input_tells_the_user_to_ask_the_operator(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    chatflow.script(captures.replay("125-wf-missing-input-streaming"))
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(ANN.id, ANN, "run it"))
        assert tg.chat(ANN.id).texts() == [t("en", "err_missing_input", name="query")]


@pytest.mark.parametrize(
    "name", ["04-unknown-conv-stream", "06-conv-other-user", "34-continue-deleted"]
)
async def test_a_chatflow_that_silently_starts_a_new_conversation_says_so(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path, name: str
) -> None:
    capture = captures.load(name)
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(ANN.id, ANN, "one"))
        [first] = chatflow.calls("chat-messages")
        old = chatflow.conversations(first.json["user"])[0]["id"]
        chatflow.script(captures.replay(capture))
        await b.send(tg.text(ANN.id, ANN, "x"))
        assert chatflow.calls("chat-messages")[1].json["conversation_id"] == old
        new = capture.body.split(b'"conversation_id":"', 1)[1][:36].decode()
        second = tg.chat(ANN.id).bot_messages()[1]
        assert second.text.startswith("You said:") and new in second.text
        assert second.text.endswith(t("en", "conversation_reset"))
        await b.send(tg.text(ANN.id, ANN, "three"))
        assert chatflow.calls("chat-messages")[2].json["conversation_id"] == new


async def test_a_deleted_chatflow_conversation_is_replaced_and_the_user_told(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(BINH.id, BINH, "one"))
        user = chatflow.calls("chat-messages")[0].json["user"]
        [old] = chatflow.conversations(user)
        assert b.app.clickai is not None
        await b.app.clickai.delete_conversation(old["id"], user=user)
        await b.send(tg.text(BINH.id, BINH, "two"))
        [new] = chatflow.conversations(user)
        assert new["id"] != old["id"]
        second = tg.chat(BINH.id).bot_messages()[1]
        assert second.text.startswith("You said: two")
        assert second.text.endswith(t("vi", "conversation_reset"))
        await b.send(tg.text(BINH.id, BINH, "three"))
        assert chatflow.calls("chat-messages")[2].json["conversation_id"] == new["id"]
        assert len(tg.chat(BINH.id).bot_messages()) == 3


async def test_a_workflow_file_reaches_telegram_under_its_own_name(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    captures.require()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 61
    async with FakeClickAI(mode="workflow") as workflow:
        workflow.serve_file("/files/62601442-5bbc-412c-9def-6d6516d53ecd/file-preview", png, "")
        workflow.script(captures.replay("132-file-workflow-stream", origin=workflow.origin))
        async with bridge(tg, workflow, tmp_path) as b:
            await b.send(tg.text(ANN.id, ANN, "make a file"))
            photos = [m for m in tg.chat(ANN.id).bot_messages() if m.kind == "photo"]
        assert [(p.file_name, p.file_data) for p in photos] == [("dot.png", png)]
        assert len(workflow.calls("file-preview", "GET")) == 1  # one file, though listed twice


async def test_rating_a_message_clickai_no_longer_has_says_it_cannot_be_rated(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(BINH.id, BINH, "rate me"))
        [answer] = tg.chat(BINH.id).bot_messages()
        chatflow.fail_next(captures.failure("16-feedback-unknown", path="feedbacks"))
        await b.send(tg.callback(BINH.id, BINH, answer.message_id, "fb:like"))
        assert tg.callback_answers[-1]["text"] == t("vi", "feedback_unknown")
        assert len(chatflow.calls("feedbacks")) == 1


async def test_a_dropped_chatflow_stream_continues_in_the_same_reply(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    head, tail = captures.cut("50-slow-stream", after='"event":"message"', nth=2)
    chatflow.script(head)
    chatflow.script_resume(tail)
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(ANN.id, ANN, "slow please"))
        [reply] = tg.chat(ANN.id).bot_messages()
        # the capture's whole answer, rendered from its Markdown
        assert reply.text == (
            "Working on: slow one\n\n• step one: slept 4.0s\n• step two: slept 4.0s\n\nDone."
        )
        assert reply.buttons() == ["👍", "👎"]
        assert len(chatflow.calls("chat-messages")) == 1


async def test_a_dropped_stream_the_server_cannot_reopen_keeps_the_partial_with_a_note(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    head, _ = captures.cut("50-slow-stream", after='"event":"message"', nth=2)
    chatflow.script(head)
    async with bridge(tg, chatflow, tmp_path) as b:
        await b.send(tg.text(BINH.id, BINH, "slow please"))
        [reply] = tg.chat(BINH.id).bot_messages()
        assert reply.text.startswith("Working on: slow one")
        assert reply.text.endswith(t("vi", "err_stream_dropped"))
        assert len(chatflow.calls("chat-messages")) == 1
        assert len(chatflow.stops) == 1


@pytest.mark.parametrize(
    ("name", "app", "shown"),
    [
        ("100-moderation-output", "chat", "Output blocked by moderation."),
        ("101-moderation-input", "chat", "Input blocked by moderation."),
        ("90-llm-chat-stream", "chat", "Echo from a fake LLM, streamed word by word: hello llm"),
        ("91-llm-agent-stream", "agent-chat", "The tool said: 2026-12-05 22:14:39"),
        (
            "143-completion-stream",
            "completion",
            "Echo from a fake LLM, streamed word by word: Answer: complete me",
        ),
        (
            "131-llm-chatflow-stream",
            "advanced-chat",
            "Echo from a fake LLM, streamed word by word: hello llm chatflow",
        ),
    ],
)
async def test_a_real_answer_reaches_the_user_as_the_server_meant_it(
    tg: FakeTelegram, tmp_path: Path, name: str, app: AppMode, shown: str
) -> None:
    captures.require()
    async with FakeClickAI(mode=app) as clickai:
        clickai.script(captures.replay(name))
        async with bridge(tg, clickai, tmp_path) as b:
            await b.send(tg.text(ANN.id, ANN, "hello"))
        [reply] = tg.chat(ANN.id).bot_messages()
    assert reply.text == shown
    assert reply.buttons() == ["👍", "👎"]  # every one has a message id to rate
