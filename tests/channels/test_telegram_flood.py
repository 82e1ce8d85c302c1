"""The bot-wide budget on the wire: every call that reaches a chat fits any sliding second."""

from __future__ import annotations

from pathlib import Path

from bench.metrics import peak_per_s
from tests.channels.test_telegram_e2e import running_bridge
from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import FakeTelegram, TgUser

SETUP = {"getUpdates", "getMe", "setMyCommands", "deleteMyCommands", "deleteWebhook"}
BUDGET = 5


async def test_texts_actions_and_button_answers_share_one_sliding_budget(tmp_path: Path):
    users = [TgUser(id=20_000 + i, first_name=f"U{i}") for i in range(16)]
    early, late = users[:3], users[3:]
    async with (
        FakeTelegram() as tg,
        FakeClickAI(deltas=3, delta_delay=0.05, first_token_delay=0.3) as clickai,
    ):
        env = {
            "BRIDGE_TELEGRAM__GLOBAL_PER_SECOND": str(BUDGET),
            "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "1.0",
        }
        async with running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
            for user in early:
                tg.push(tg.text(user.id, user, f"hello {user.id}"))
            await b.settle()
            answers = [tg.chat(u.id).bot_messages()[-1] for u in early]
            # all at the same instant: 13 new chats (typing, first texts, finals) and 3
            # button presses whose spinners must be answered
            for user in late:
                tg.push(tg.text(user.id, user, f"hello {user.id}"))
            for user, msg in zip(early, answers, strict=True):
                tg.push(tg.callback(user.id, user, msg.message_id, "fb:like"))
            await b.settle()
        for user in users:
            assert tg.chat(user.id).texts() == [f"You said: hello {user.id}"]
        reaching = [c for c in tg.calls if c.method not in SETUP]
        methods = {c.method for c in reaching}
        assert {"sendMessage", "answerCallbackQuery"} <= methods
        assert peak_per_s([c.at for c in reaching]) <= BUDGET
