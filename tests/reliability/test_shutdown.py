"""Graceful shutdown on SIGTERM/SIGINT (promise 2), with the bridge as a real child process.

In-flight turns finish within ``bridge.shutdown_grace_s``; the rest end with the "restarting,
please resend" notice; the process exits 0 with no pending event in the store; messages arriving
meanwhile are not taken (Telegram polling: left unconfirmed; HTTP deliveries: 503) and are
answered after the restart.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import Events, FakeSlack
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.harness import (
    BridgeProcess,
    events,
    eventually,
    free_port,
    slack_env,
    telegram_env,
)
from tests.reliability.outcomes import classify, default_answer, slack_texts, telegram_texts
from tests.reliability.test_crash import post_event

GRACE_S = 3.0
SHORT = "A short answer that finishes within the grace period."
LONG = " ".join(f"word{i}" for i in range(80))
USERS = [TgUser(id=300 + i, first_name=f"S{i}", language_code="en") for i in range(3)]


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=3) as fake:
        yield fake


def script(clickai: FakeClickAI) -> None:
    clickai.script(
        Reply(answer=SHORT, deltas=4, delta_delay=0.3),  # ~1.2 s: done within the grace
        Reply(answer=LONG, deltas=80, delta_delay=0.3),  # ~24 s: cut at the grace
    )


def store_is_clean(db: Path) -> None:
    assert events(db) and set(events(db).values()) == {"done"}, events(db)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_telegram_polling_shutdown_finishes_cuts_and_leaves_new_updates_unconfirmed(
    sig: int, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with FakeTelegram() as tg:
        db, port = tmp_path / "bridge.db", free_port()
        env = telegram_env(tg, clickai, db, port, grace_s=GRACE_S)
        first = BridgeProcess(env, tmp_path, port, "run1")
        second = BridgeProcess(env, tmp_path, port, "run2")
        try:
            await first.start("telegram")
            script(clickai)
            short, long_, late = USERS
            tg.push(tg.text(short.id, short, "short please"))
            await eventually(lambda: len(clickai.calls("chat-messages")) == 1, 10)
            tg.push(tg.text(long_.id, long_, "long please"))
            await eventually(lambda: len(clickai.calls("chat-messages")) == 2, 10)
            await eventually(lambda: bool(telegram_texts(tg, long_.id)), 10, "long streams")
            first.signal(sig)
            await asyncio.sleep(0.5)
            arrived = tg.push(tg.text(late.id, late, "during shutdown"))
            assert await first.wait(GRACE_S + 30) == 0, first.output()

            assert classify(telegram_texts(tg, short.id), SHORT).answers == 1
            cut = classify(telegram_texts(tg, long_.id), LONG)
            assert cut.restarting == 1 and cut.answers == 0, telegram_texts(tg, long_.id)
            assert telegram_texts(tg, late.id) == []
            assert [u["update_id"] for u in tg.updates] == [arrived["update_id"]]  # unconfirmed
            long_post = clickai.calls("chat-messages")[1].json
            assert [user for _, user in clickai.stops] == [long_post["user"]]  # cut → stopped
            store_is_clean(db)

            await second.start("telegram")
            reply = default_answer("during shutdown")
            await eventually(lambda: reply in telegram_texts(tg, late.id), 20, "late answered")
            await eventually(lambda: not tg.updates, 10)
            await asyncio.sleep(0.5)
            assert classify(telegram_texts(tg, late.id), reply).answers == 1
            assert len(telegram_texts(tg, late.id)) == 1
            assert len(telegram_texts(tg, short.id)) == 1  # no recovery notice: nothing pending
            assert len(telegram_texts(tg, long_.id)) == 1
            assert len(clickai.calls("chat-messages")) == 3
        finally:
            await first.close()
            await second.close()


async def test_slack_shutdown_finishes_cuts_and_answers_503_meanwhile(
    clickai: FakeClickAI, tmp_path: Path
) -> None:
    slack = FakeSlack()
    await slack.start()
    session = ClientSession()
    db, port = tmp_path / "bridge.db", free_port()
    env = slack_env(slack, clickai, db, port, grace_s=GRACE_S)
    first = BridgeProcess(env, tmp_path, port, "run1")
    second = BridgeProcess(env, tmp_path, port, "run2")
    try:
        await first.start("slack")
        url = f"{first.base}/slack/events"
        ev = Events()
        script(clickai)
        short, long_ = ev.mention("short please", channel="C1"), ev.mention("long", channel="C2")
        assert await post_event(session, url, ev.envelope(short)) == 200
        await eventually(lambda: len(clickai.calls("chat-messages")) == 1, 10)
        assert await post_event(session, url, ev.envelope(long_)) == 200
        await eventually(lambda: bool(slack_texts(slack, "C2", long_["ts"])), 10, "streams")
        first.signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        late = ev.mention("during shutdown", channel="C3")
        late_envelope = ev.envelope(late)
        assert await post_event(session, url, late_envelope) == 503
        assert await first.wait(GRACE_S + 30) == 0, first.output()

        assert classify(slack_texts(slack, "C1", short["ts"]), SHORT).answers == 1
        cut = classify(slack_texts(slack, "C2", long_["ts"]), LONG)
        assert cut.restarting == 1 and cut.answers == 0, slack_texts(slack, "C2", long_["ts"])
        long_post = clickai.calls("chat-messages")[1].json
        assert [user for _, user in clickai.stops] == [long_post["user"]]  # cut → stopped
        store_is_clean(db)

        await second.start("slack")
        assert await post_event(session, url, late_envelope, retry=1) == 200
        reply = default_answer("during shutdown")
        await eventually(
            lambda: reply in slack_texts(slack, "C3", late["ts"]), 20, "late answered"
        )
        await asyncio.sleep(0.5)
        assert slack_texts(slack, "C3", late["ts"]) == [reply]
        assert len(slack_texts(slack, "C1", short["ts"])) == 1
        assert len(slack_texts(slack, "C2", long_["ts"])) == 1
        assert len(clickai.calls("chat-messages")) == 3
    finally:
        await first.close()
        await second.close()
        await session.close()
        await slack.close()
