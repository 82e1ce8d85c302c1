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
from tests.fakes.clickai import FakeClickAI
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
    async with running_bridge(
        tg, chatflow, tmp_path / "b.db", BRIDGE_CLICKAI__APP_MODE="auto"
    ) as b:
        await b.send(tg.document(BINH.id, BINH, b"hello", name="a.txt", mime="text/plain"))
        assert tg.chat(BINH.id).texts() == [t("vi", "err_too_many_files", limit="3")]
        assert len(chatflow.calls("chat-messages")) == 1


async def test_a_voice_note_the_app_refuses_names_the_file(
    tg: FakeTelegram, chatflow: FakeClickAI, tmp_path: Path
) -> None:
    chatflow.script(captures.replay("121-audio-disallowed-streaming"))
    async with running_bridge(
        tg, chatflow, tmp_path / "b.db", BRIDGE_CLICKAI__APP_MODE="auto"
    ) as b:
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
    async with running_bridge(
        tg, chatflow, tmp_path / "b.db", BRIDGE_CLICKAI__APP_MODE="auto"
    ) as b:
        await b.send(tg.text(ANN.id, ANN, "run it"))
        assert tg.chat(ANN.id).texts() == [t("en", "err_missing_input", name="query")]
