"""Namespaced store rows end to end: two bots on one database, and an upgrade from schema v3."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.i18n import t
from bridge.store import SqliteStore
from bridge.store.migrations import SQLITE_MIGRATIONS
from tests.channels.test_telegram_e2e import ANN, running_bridge
from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import BOT_ID, FakeTelegram

OTHER_TOKEN = f"{BOT_ID + 1}:FAKE-other-token-abcdefghij"


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as fake:
        yield fake


async def test_two_bots_on_one_database_keep_their_updates_and_conversations(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    async with (
        FakeTelegram(token=OTHER_TOKEN) as other,
        running_bridge(tg, clickai, db) as first,
        running_bridge(other, clickai, db) as second,
    ):
        same_id = tg.next_update_id()
        await first.send({**tg.text(ANN.id, ANN, "to the first bot"), "update_id": same_id})
        await second.send({**other.text(ANN.id, ANN, "to the second bot"), "update_id": same_id})
        await first.send(tg.text(ANN.id, ANN, "first bot again"))
        await second.send(other.text(ANN.id, ANN, "second bot again"))
    # Same chat id, same update id: still two deliveries, each answered by its own bot.
    assert tg.chat(ANN.id).texts() == ["You said: to the first bot", "You said: first bot again"]
    assert other.chat(ANN.id).texts() == [
        "You said: to the second bot",
        "You said: second bot again",
    ]
    calls = clickai.calls("chat-messages")
    by_query = {c.json["query"]: c.json.get("conversation_id") or "" for c in calls}
    assert by_query["to the first bot"] == by_query["to the second bot"] == ""
    first_conv = by_query["first bot again"]
    second_conv = by_query["second bot again"]
    assert first_conv and second_conv and first_conv != second_conv
    assert len(clickai.conversations(f"telegram:{ANN.id}")) == 2


def write_v3_rows(db: Path, conversation_id: str, bot_message_id: int, update_id: int) -> None:
    """What a schema-v3 bridge left behind for Ann: her conversation, a reply, a done event."""
    now = time.time()
    conn = sqlite3.connect(db)
    try:
        with conn:
            user = f"telegram:{ANN.id}"
            conn.execute(
                'INSERT INTO conversation (scope, conversation_id, "user", created_at, '
                "updated_at) VALUES (?, ?, ?, ?, ?)",
                (user, conversation_id, user, now, now),
            )
            conn.execute(
                "INSERT INTO reply (channel, chat_id, message_id, clickai_message_id, "
                'conversation_id, "user", rating, created_at) '
                "VALUES ('telegram', ?, ?, ?, ?, ?, NULL, ?)",
                (str(ANN.id), str(bot_message_id), "m-old", conversation_id, user, now),
            )
            conn.execute(
                "INSERT INTO event (event_id, channel, scope, chat_id, thread, language, status, "
                "created_at, updated_at) VALUES (?, 'telegram', ?, ?, '', 'en', 'done', ?, ?)",
                (f"telegram:upd:{update_id}", user, str(ANN.id), now, now),
            )
    finally:
        conn.close()


async def test_a_v3_database_keeps_answering_old_chats_after_the_upgrade(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    # A conversation ClickAI knows, opened by an earlier bridge.
    async with running_bridge(tg, clickai, tmp_path / "scratch.db") as b:
        await b.send(tg.text(ANN.id, ANN, "remember me"))
    [conversation] = clickai.conversations(f"telegram:{ANN.id}")
    [old_answer] = tg.chat(ANN.id).bot_messages()
    [old_message] = clickai.messages(f"telegram:{ANN.id}")

    db = tmp_path / "v3.db"
    v3 = SqliteStore(db, migrations=SQLITE_MIGRATIONS[:3])
    await v3.open()
    await v3.close()
    old_update = tg.next_update_id()
    write_v3_rows(db, conversation["id"], old_answer.message_id, old_update)
    with sqlite3.connect(db) as conn:  # the reply row points at the real ClickAI message
        conn.execute("UPDATE reply SET clickai_message_id = ?", (old_message["id"],))
    conn.close()

    async with running_bridge(tg, clickai, db) as b:
        await b.send({**tg.text(ANN.id, ANN, "old update again"), "update_id": old_update})
        await b.send(tg.text(ANN.id, ANN, "after the upgrade"))
        await b.send(tg.callback(ANN.id, ANN, old_answer.message_id, "fb:like"))
    last = clickai.calls("chat-messages")[-1]
    assert last.json["query"] == "after the upgrade"
    assert last.json["conversation_id"] == conversation["id"]
    assert "old update again" not in [c.json["query"] for c in clickai.calls("chat-messages")]
    assert clickai.messages(f"telegram:{ANN.id}")[0]["feedback"]["rating"] == "like"
    assert tg.callback_answers[-1]["text"] == t("en", "feedback_like")
    with sqlite3.connect(db) as conn:
        bots = {row[0] for row in conn.execute("SELECT DISTINCT bot FROM conversation")}
    conn.close()
    assert bots == {f"telegram:{BOT_ID}"}
