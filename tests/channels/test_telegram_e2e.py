"""End to end: the real BridgeApp with the Telegram channel, the fake Bot API and FakeClickAI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.i18n import t
from channels.telegram import TelegramChannel
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.telegram import FakeTelegram, FloodLimits, TgUser, eventually

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")
GROUP = -1009000
SECRET = "hook-Secret_42"


@dataclass
class Bridge:
    app: BridgeApp
    tg: FakeTelegram
    clickai: FakeClickAI

    @property
    def channel(self) -> TelegramChannel:
        [channel] = self.app.channels
        assert isinstance(channel, TelegramChannel)
        return channel

    @property
    def webhook_url(self) -> str:
        assert self.app.server is not None
        return f"http://127.0.0.1:{self.app.server.bound_port}/telegram/webhook"

    async def settle(self) -> None:
        """Wait until every pushed update was fetched, handled, and its turn finished."""
        assert self.app.relay is not None
        await eventually(lambda: not self.tg.updates, within_s=20)
        for _ in range(2):
            await self.channel.idle()
            await asyncio.wait_for(self.app.relay.wait_idle(), 30)

    async def send(self, update: dict[str, Any]) -> None:
        self.tg.push(update)
        await self.settle()


def settings_env(tg: FakeTelegram, clickai: FakeClickAI, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "100000",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": tg.token,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "0.2",
        "BRIDGE_TELEGRAM__GROUP_EDIT_INTERVAL_S": "0.5",
    }


@asynccontextmanager
async def running_bridge(
    tg: FakeTelegram, clickai: FakeClickAI, db: Path, **env: str
) -> AsyncIterator[Bridge]:
    settings = load_settings(None, {**settings_env(tg, clickai, db), **env})
    app = BridgeApp(settings)
    await app.start()
    try:
        yield Bridge(app, tg, clickai)
    finally:
        await app.stop()


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=4) as fake:
        yield fake


async def test_a_private_answer_streams_into_one_message_and_buttons_rate_it(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    answer = "Paris is the **capital** of France. " * 8
    clickai.script(Reply(answer=answer, deltas=8, delta_delay=0.1))
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(ANN.id, ANN, "capital of France?"))
        [msg] = tg.chat(ANN.id).bot_messages()
        assert msg.text == answer.replace("**", "").strip()
        assert msg.parse_mode == "HTML" and "<b>capital</b>" in msg.raw
        assert len(msg.edits) >= 2 and msg.buttons() == ["👍", "👎"]
        assert ("typing", None) in tg.chat(ANN.id).actions
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == f"telegram:{ANN.id}"
        assert chat.json["query"] == "capital of France?"

        await b.send(tg.callback(ANN.id, ANN, msg.message_id, "fb:like"))
        [message] = clickai.messages(f"telegram:{ANN.id}")
        assert message["feedback"]["rating"] == "like"
        assert tg.callback_answers[-1]["text"] == t("en", "feedback_like")
        await eventually(lambda: msg.buttons() == ["👍 ✓", "👎"])

        await b.send(tg.reaction(ANN.id, ANN, msg.message_id, old=["👍"], new=["👎"]))
        assert clickai.messages(f"telegram:{ANN.id}")[0]["feedback"]["rating"] == "dislike"
        await b.send(tg.reaction(ANN.id, ANN, msg.message_id, old=["👎"], new=[]))
        assert clickai.messages(f"telegram:{ANN.id}")[0]["feedback"] is None
    assert tg.rate_limited == 0


async def test_a_pdf_reaches_clickai_with_the_conversations_user(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    pdf = b"%PDF-1.7\n" + b"0123456789" * 500
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.document(BINH.id, BINH, pdf, name="hop-dong.pdf", caption="tóm tắt"))
        user = f"telegram:{BINH.id}"
        [upload] = clickai.uploads(user)
        assert upload["name"] == "hop-dong.pdf" and upload["size"] == len(pdf)
        [request] = clickai.calls("files/upload")
        assert request.files["file"][2] == pdf and request.form["user"] == user
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == user and chat.json["query"] == "tóm tắt"
        assert [f["upload_file_id"] for f in chat.json["files"]] == [upload["id"]]
        assert tg.chat(BINH.id).texts() == ["You said: tóm tắt"]


async def test_too_large_files_are_refused_in_the_users_language(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        big = tg.document(
            BINH.id,
            BINH,
            b"x",
            name="phim.mp4",
            mime="video/mp4",
            size=30 * 1024 * 1024,
            kind="video",
        )
        await b.send(big)
        [notice] = tg.chat(BINH.id).texts()
        assert notice.startswith("📎") and "phim.mp4" in notice
        assert clickai.calls("files/upload") == [] and clickai.calls("chat-messages") == []
        assert tg.calls_to("getFile") == []


async def test_conversations_and_feedback_survive_a_restart(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    db = tmp_path / "b.db"
    async with running_bridge(tg, clickai, db) as b:
        await b.send(tg.text(ANN.id, ANN, "remember me"))
        [old] = tg.chat(ANN.id).bot_messages()
    async with running_bridge(tg, clickai, db) as again:
        await again.send(tg.callback(ANN.id, ANN, old.message_id, "fb:like"))
        await again.send(tg.text(ANN.id, ANN, "second turn"))
    user = f"telegram:{ANN.id}"
    first, second = clickai.messages(user)
    assert first["feedback"]["rating"] == "like" and second["feedback"] is None
    [conversation] = clickai.conversations(user)
    first_call, second_call = clickai.calls("chat-messages")
    assert "conversation_id" not in first_call.json or not first_call.json["conversation_id"]
    assert second_call.json["conversation_id"] == conversation["id"]
    assert tg.callback_answers[-1]["text"] == t("en", "feedback_like")


async def test_new_starts_over_and_groups_answer_in_their_topic(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        topic = tg.topic(GROUP, "Support")
        await b.send(tg.text(GROUP, ANN, "ignored chatter", thread_id=topic, topic=True))
        ask = tg.text(GROUP, ANN, "@ClickAITestBot hi", thread_id=topic, topic=True)
        await b.send(ask)
        await b.send(tg.text(GROUP, BINH, "/new", thread_id=topic, topic=True))
        answer, notice = tg.chat(GROUP).bot_messages()
        assert (answer.text, answer.thread_id) == ("You said: hi", topic)
        assert answer.reply_to == ask["message"]["message_id"]
        assert (notice.text, notice.thread_id) == (t("vi", "new_conversation"), topic)
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == f"telegram:{GROUP}:t:{topic}"


async def test_webhook_mode_through_the_real_http_server(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    env = {
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": SECRET,
    }
    async with running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
        assert tg.webhook_secret == SECRET and "message_reaction" in (tg.allowed_updates or [])
        update = tg.text(ANN.id, ANN, "over the webhook")
        assert await tg.post_webhook(update, url=b.webhook_url, secret="nope") == 403
        assert await tg.post_webhook(update, url=b.webhook_url) == 200
        assert await tg.post_webhook(update, url=b.webhook_url) == 200  # a redelivery
        await b.settle()
        assert tg.chat(ANN.id).texts() == ["You said: over the webhook"]
        assert len(clickai.calls("chat-messages")) == 1
    assert tg.calls_to("getUpdates") == []


async def test_a_hundred_chats_at_once_never_earn_a_429(tmp_path: Path):
    users = [TgUser(id=10_000 + i, first_name=f"U{i}") for i in range(100)]
    limits = FloodLimits()  # Telegram's documented limits: 1/s per chat, 30/s per bot
    async with (
        FakeTelegram(limits=limits) as tg,
        FakeClickAI(deltas=5, delta_delay=0.25) as clickai,  # streams for about a second
    ):
        env = {"BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "1.0"}
        async with running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
            for user in users:
                tg.push(tg.text(user.id, user, f"hello {user.id}"))
            await b.settle()
        assert tg.rate_limited == 0
        for user in users:
            assert tg.chat(user.id).texts() == [f"You said: hello {user.id}"]
        assert len(clickai.calls("chat-messages")) == 100
        assert all(c.status == 200 for c in tg.calls)


async def test_an_upgraded_group_keeps_its_conversation(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
):
    old, new = -4242, -1004242
    tg.chat(old, type="group")
    async with running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(old, ANN, "@ClickAITestBot first"))
        await b.send(tg.migrate(old, new, ANN))
        await b.send(tg.text(new, ANN, "@ClickAITestBot second"))
        assert tg.chat(new).texts() == ["You said: second"]
    first, second = clickai.calls("chat-messages")
    assert second.json["user"] == first.json["user"] == f"telegram:{old}"
    [conversation] = clickai.conversations(f"telegram:{old}")
    assert second.json["conversation_id"] == conversation["id"]
