"""Each seed backend through the real Telegram channel: the same scenarios as for ClickAI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.i18n import t
from tests.channels.backend_kits import KINDS, Kit, kit_for
from tests.fakes.telegram import FakeTelegram, TgUser, eventually

ANN = TgUser(id=111, first_name="Ann", language_code="en")


@asynccontextmanager
async def running(tg: FakeTelegram, kit: Kit, db: Path) -> AsyncIterator[BridgeApp]:
    env = {
        **kit.env(),
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": tg.token,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "0.2",
    }
    app = BridgeApp(load_settings(None, env))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def send(app: BridgeApp, tg: FakeTelegram, update: dict[str, object]) -> None:
    tg.push(update)
    assert app.relay is not None
    await eventually(lambda: not tg.updates, within_s=20)
    for _ in range(2):
        for channel in app.channels:
            await channel.idle()  # type: ignore[attr-defined]
        await asyncio.wait_for(app.relay.wait_idle(), 30)


@pytest.fixture(params=KINDS)
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[Kit]:
    async with kit_for(request.param) as k:
        yield k


async def test_answer_follow_up_restart_feedback_and_files(kit: Kit, tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    async with FakeTelegram() as tg:
        async with running(tg, kit, db) as app:
            await send(app, tg, tg.text(ANN.id, ANN, "hello"))
            await send(app, tg, tg.text(ANN.id, ANN, "again"))
        async with running(tg, kit, db) as app:  # a restart keeps the conversation
            await send(app, tg, tg.text(ANN.id, ANN, "after restart"))
            first = tg.chat(ANN.id).bot_messages()[0]
            if kit.feedback:
                assert first.buttons() == ["👍", "👎"]
                await send(app, tg, tg.callback(ANN.id, ANN, first.message_id, "fb:like"))
                assert kit.ratings() == ["positive"]
                assert tg.callback_answers[-1]["text"] == t("en", "feedback_like")
            else:
                assert first.buttons() == []
            await send(
                app, tg, tg.document(ANN.id, ANN, b"%PDF-1.7 x", name="a.pdf", caption="read")
            )
        texts = tg.chat(ANN.id).texts()
    assert texts[:3] == [kit.answer(q) for q in ("hello", "again", "after restart")]
    sent = kit.conversation_sent()
    assert sent[1] is not None and sent[1] == sent[2]  # one conversation across the restart
    if kit.files:
        [upload] = kit.uploads()
        assert upload["filename"] == "a.pdf"
        assert texts[3] == kit.answer("read")
    else:
        assert texts[3] == t("en", "files_unsupported")
        assert len(sent) == 3  # the refused file never reached the backend


async def test_error_mid_answer_and_conversation_gone(kit: Kit, tmp_path: Path) -> None:
    async with FakeTelegram() as tg, running(tg, kit, tmp_path / "b.db") as app:
        await send(app, tg, tg.text(ANN.id, ANN, "one"))
        partial = kit.fail_mid_answer()
        await send(app, tg, tg.text(ANN.id, ANN, "two"))
        kit.lose_conversation()
        await send(app, tg, tg.text(ANN.id, ANN, "three"))
        texts = tg.chat(ANN.id).texts()
    assert texts[1].startswith(partial)
    assert texts[1].endswith(t("en", "err_upstream"))
    assert texts[2].startswith(kit.answer("three"))
    assert texts[2].endswith(t("en", "conversation_reset"))
    sent = kit.conversation_sent()
    assert sent[-1] != sent[1]  # a new conversation after the old one was gone
