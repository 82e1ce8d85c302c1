"""Telegram-side faults through the real BridgeApp and Telegram channel: the faulty chat ends up
with its whole answer exactly once (or, when the bot is blocked, the bridge stops and says so
once in the log), and a healthy chat served at the same time gets its full answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.telegram import FakeTelegram, Fault, TgUser, eventually
from tests.reliability.helpers_faults import Bridge, running, wait_requests

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")
HEALTHY = "The healthy chat gets every word of this answer."
ANSWER = "one two three four five six seven eight"


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


async def both_chats(b: Bridge, tg: FakeTelegram, clickai: FakeClickAI, *, slow: bool) -> None:
    """The healthy chat (Ann) and the faulty one (Bình) ask at the same time."""
    clickai.script(
        Reply(answer=HEALTHY, deltas=6, delta_delay=0.1),
        Reply(answer=ANSWER, deltas=8, delta_delay=0.25 if slow else 0.05),
    )
    tg.push(tg.text(ANN.id, ANN, "healthy"))
    await wait_requests(clickai, "chat-messages", 1)
    tg.push(tg.text(BINH.id, BINH, "faulty"))


def visible(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in tg.chat(chat_id).bot_messages() if not m.deleted]


async def assert_once(b: Bridge, tg: FakeTelegram) -> None:
    await b.settle()
    assert visible(tg, ANN.id) == [HEALTHY]
    assert visible(tg, BINH.id) == [ANSWER]
    [answer] = [m for m in tg.chat(BINH.id).bot_messages() if not m.deleted]
    assert answer.buttons() == ["👍", "👎"]
    assert await b.app_store_pending() == []


@pytest.mark.parametrize("method", ["sendMessage", "editMessageText"])
async def test_429_with_retry_after_is_waited_out_and_nothing_doubles(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, method: str
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        tg.flood(method, 1, chat_id=BINH.id)
        await both_chats(b, tg, clickai, slow=True)
        await assert_once(b, tg)
    assert tg.rate_limited == 1
    assert [c.status for c in tg.calls_to(method) if c.status == 429] == [429]


@pytest.mark.parametrize(
    ("method", "status", "description"),
    [
        ("sendMessage", 502, "Bad Gateway"),
        ("sendMessage", 500, "Internal Server Error"),
        ("editMessageText", 502, "Bad Gateway"),
    ],
)
async def test_5xx_is_retried_and_the_answer_arrives_once(
    tg: FakeTelegram,
    clickai: FakeClickAI,
    tmp_path: Path,
    method: str,
    status: int,
    description: str,
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        tg.fail(method, status, description, chat_id=BINH.id)
        await both_chats(b, tg, clickai, slow=True)
        await assert_once(b, tg)
    assert [c.status for c in tg.calls_to(method) if c.status >= 500] == [status]


async def test_edit_timeouts_are_retried_without_doubling(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg, tg_request_timeout_s=0.5) as b:
        tg.faults.append(Fault("editMessageText", 0, "", chat_id=BINH.id, delay=1.2))
        await both_chats(b, tg, clickai, slow=True)
        await assert_once(b, tg)


async def test_a_reply_deleted_by_the_user_while_streaming_is_sent_anew(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        await both_chats(b, tg, clickai, slow=True)
        await eventually(lambda: bool(tg.chat(BINH.id).bot_messages()), within_s=10)
        [first] = tg.chat(BINH.id).bot_messages()
        tg.delete_by_user(BINH.id, first.message_id)
        await assert_once(b, tg)
        [answer] = [m for m in tg.chat(BINH.id).bot_messages() if not m.deleted]
        assert answer.message_id != first.message_id


async def test_a_group_migrated_while_answering_gets_the_answer_in_the_new_chat(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    old, new = -4242, -1004242
    tg.chat(old, type="group")
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        clickai.script(Reply(answer=ANSWER, deltas=8, delta_delay=0.25))
        tg.push(tg.text(old, BINH, "@ClickAITestBot question"))
        await eventually(lambda: bool(tg.chat(old).bot_messages()), within_s=10)
        tg.chat(old).migrated_to = new
        tg.chat(new, type="supergroup")
        tg.push(tg.text(ANN.id, ANN, "healthy"))
        await b.settle()
        assert [m.text for m in tg.chat(new).bot_messages()] == [ANSWER]
        assert visible(tg, ANN.id) == ["You said: healthy"]
        assert await b.app_store_pending() == []
        # the conversation follows the chat
        tg.push(tg.text(new, BINH, "@ClickAITestBot again"))
        await b.settle()
    first, _, third = clickai.calls("chat-messages")
    assert third.json["user"] == first.json["user"] == f"telegram:{old}"
    assert third.json["conversation_id"]


async def test_a_blocked_bot_stops_and_logs_once_per_chat(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tg.chat(BINH.id).blocked = True
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        for i in range(3):
            tg.push(tg.text(BINH.id, BINH, f"message {i}"))
            tg.push(tg.text(ANN.id, ANN, f"healthy {i}"))
            await b.settle()
        assert visible(tg, ANN.id) == [f"You said: healthy {i}" for i in range(3)]
        assert tg.chat(BINH.id).bot_messages() == []
        assert await b.app_store_pending() == []
    unreachable = [
        r
        for r in caplog.records
        if "unreachable" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert len(unreachable) == 1 and str(BINH.id) in unreachable[0].getMessage()
    assert not [r for r in caplog.records if "unexpected failure" in r.getMessage()]
    # a 403 is never retried: at most one refused call per reply operation of each message
    refused = [c for c in tg.calls if c.params.get("chat_id") == BINH.id]
    assert refused and all(c.status == 403 for c in refused)
    assert len([c for c in refused if c.method == "sendMessage"]) <= 3 * 2


async def test_a_failed_intermediate_update_is_not_an_unhandled_task_error(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg.chat(BINH.id).blocked = True
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        tg.push(tg.text(BINH.id, BINH, "hello"))
        await b.settle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
