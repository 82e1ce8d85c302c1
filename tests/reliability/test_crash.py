"""Exactly one outcome per accepted message across ``kill -9`` and restart (promise 1).

The bridge runs as a real child process (``python -m bridge run``) against the fakes hosted
here on 127.0.0.1, with a SQLite store in ``tmp_path``. It is SIGKILLed while answers stream,
restarted on the same store, and the platform redelivers what it would redeliver. Each test then
looks at what every chat/thread finally shows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import Events, FakeSlack
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.harness import (
    WEBHOOK_SECRET,
    BridgeProcess,
    Child,
    events,
    eventually,
    free_port,
    post_event,
    slack_env,
    telegram_env,
)
from tests.reliability.outcomes import classify, default_answer, slack_texts, telegram_texts

USERS = [TgUser(id=100 + i, first_name=f"U{i}", language_code="en") for i in range(4)]
FORUM = -100777
SLOW_DELTAS, SLOW_DELAY = 30, 0.25  # ~7.5 s per answer: killed mid-stream


def slow(clickai: FakeClickAI) -> None:
    clickai.deltas, clickai.delta_delay = SLOW_DELTAS, SLOW_DELAY


def fast(clickai: FakeClickAI) -> None:
    clickai.deltas, clickai.delta_delay = 3, 0.0


def query(n: int) -> str:
    return f"question number {n} about the reliability of bridges, asked slowly"


# --- Telegram polling -------------------------------------------------------------------------
async def test_telegram_polling_kill_mid_stream_then_restart_and_redelivery(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    db = tmp_path / "bridge.db"
    port = free_port()
    child = Child(telegram_env(tg, clickai, db, port), tmp_path, port, "telegram")
    children.append(child)
    await child.start()
    slow(clickai)
    topic = tg.topic(FORUM, "Reliability")
    pushed: list[dict[str, Any]] = []
    for i, user in enumerate(USERS[:3]):
        pushed.append(tg.push(tg.text(user.id, user, query(i))))
    mention = f"@{tg.bot.username} {query(3)}"
    pushed.append(tg.push(tg.text(FORUM, USERS[3], mention, thread_id=topic, topic=True)))
    places = [(u.id, None) for u in USERS[:3]] + [(FORUM, topic)]

    def streaming() -> bool:
        return all(telegram_texts(tg, chat, thread) for chat, thread in places)

    await eventually(streaming, 20, "every chat shows a partial answer")
    await child.runs[-1].kill()
    accepted = events(db)
    ids = [f"telegram:upd:{u['update_id']}" for u in pushed]
    assert all(accepted.get(i) == "accepted" for i in ids), accepted

    # Telegram redelivers what was not confirmed; here: everything again, as the worst case.
    fast(clickai)
    for update in pushed:
        tg.push(update)
    await child.start()
    await eventually(lambda: all(events(db).get(i) == "done" for i in ids), 20, "recovered")
    await eventually(lambda: not tg.updates, 10, "redelivered updates confirmed")
    # A new message after the restart is answered normally.
    tg.push(tg.text(USERS[0].id, USERS[0], "after the restart"))
    await eventually(
        lambda: default_answer("after the restart") in telegram_texts(tg, USERS[0].id), 20
    )
    await asyncio.sleep(0.5)  # let any (wrong) second answer arrive before looking

    for n, (chat, thread) in enumerate(places):
        texts = [x for x in telegram_texts(tg, chat, thread) if "after the restart" not in x]
        outcome = classify(texts, default_answer(query(n)))
        assert outcome.interrupted == 1 and outcome.answers == 0, (chat, texts)
    assert len(clickai.calls("chat-messages")) == len(places) + 1  # nothing was run twice


class KillOnConfirm(FakeTelegram):
    """Kills the bridge the moment it confirms (getUpdates offset past) a watched update, and
    records what the store said about that update at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.watch: int | None = None
        self.victim: BridgeProcess | None = None
        self.db: Path | None = None
        self.at_confirm: str | None = "never confirmed"

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        if self.watch is not None and offset > self.watch and self.victim is not None:
            assert self.db is not None
            self.at_confirm = events(self.db).get(f"telegram:upd:{self.watch}")
            self.watch = None
            victim, self.victim = self.victim, None
            if victim.proc is not None:
                victim.proc.kill()  # SIGKILL, synchronously, before the confirmation returns
        return await super()._m_getUpdates(params)


async def test_telegram_polling_confirms_an_update_only_after_it_was_claimed(
    clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    """PTB confirms an offset on its next getUpdates; if that could happen before the store
    claimed the update, a crash in between would lose the message (Telegram never resends)."""
    tg = KillOnConfirm()
    await tg.start()
    try:
        db = tmp_path / "bridge.db"
        port = free_port()
        child = Child(telegram_env(tg, clickai, db, port), tmp_path, port, "telegram")
        children.append(child)
        tg.db, tg.victim = db, await child.start()
        slow(clickai)
        update = tg.push(tg.text(USERS[0].id, USERS[0], query(0)))
        tg.watch = update["update_id"]
        await child.runs[-1].wait(20)  # killed by the fake at the confirmation
        assert tg.at_confirm == "accepted"
        fast(clickai)
        await child.start()
        done = f"telegram:upd:{update['update_id']}"
        await eventually(lambda: events(db).get(done) == "done", 20, "recovered")
        await asyncio.sleep(0.5)
        outcome = classify(telegram_texts(tg, USERS[0].id), default_answer(query(0)))
        assert outcome.final == 1, telegram_texts(tg, USERS[0].id)
    finally:
        await tg.stop()


# --- Telegram webhook -------------------------------------------------------------------------
async def test_telegram_webhook_kill_mid_stream_then_telegram_resends(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    db = tmp_path / "bridge.db"
    port = free_port()
    env = telegram_env(tg, clickai, db, port, webhook=True)
    child = Child(env, tmp_path, port, "telegram")
    children.append(child)
    await child.start()
    assert tg.webhook_url and tg.webhook_secret == WEBHOOK_SECRET
    slow(clickai)
    updates = [tg.text(u.id, u, query(i)) for i, u in enumerate(USERS[:3])]
    for update in updates:
        assert await tg.post_webhook(update) == 200
        # A 200 means Telegram forgets the update: the store must know it by then.
        assert events(db).get(f"telegram:upd:{update['update_id']}") == "accepted"
    await eventually(lambda: all(telegram_texts(tg, u.id) for u in USERS[:3]), 20, "streaming")
    await child.runs[-1].kill()

    fast(clickai)
    await child.start()
    for update in updates:  # Telegram's retry of a delivery it believes failed
        assert await tg.post_webhook(update) == 200
    ids = [f"telegram:upd:{u['update_id']}" for u in updates]
    await eventually(lambda: all(events(db).get(i) == "done" for i in ids), 20, "recovered")
    await asyncio.sleep(0.5)
    for n, user in enumerate(USERS[:3]):
        outcome = classify(telegram_texts(tg, user.id), default_answer(query(n)))
        assert outcome.interrupted == 1 and outcome.answers == 0, telegram_texts(tg, user.id)
    assert len(clickai.calls("chat-messages")) == 3


# --- Slack HTTP -------------------------------------------------------------------------------
class KillOnUsersInfo(FakeSlack):
    """Kills the bridge when it asks ``users.info``: the delivery is being handled but the
    message has not reached the core yet (Slack has no 200, so it will retry)."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: BridgeProcess | None = None

    async def _api(self, request: Any) -> Any:
        if request.match_info["method"] == "users.info" and self.victim is not None:
            victim, self.victim = self.victim, None
            if victim.proc is not None:
                victim.proc.kill()
        return await super()._api(request)


async def test_slack_kill_mid_stream_and_before_the_claim_then_slack_retries(
    clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    slack = KillOnUsersInfo()
    await slack.start()
    session = ClientSession()
    try:
        db = tmp_path / "bridge.db"
        port = free_port()
        child = Child(slack_env(slack, clickai, db, port), tmp_path, port, "slack")
        children.append(child)
        first = await child.start()
        url = f"{first.base}/slack/events"
        ev = Events()
        slow(clickai)
        # The first delivery is killed before it reaches the core (at users.info).
        early = ev.envelope(ev.mention(query(9), channel="C9"))
        slack.victim = first
        assert await post_event(session, url, early) in (0, 500, 503)
        await first.wait(10)
        assert events(db) == {}
        second = await child.start()
        mentions = [ev.mention(query(i), channel=f"C{i % 2 + 1}") for i in range(3)]
        envelopes = [ev.envelope(m) for m in mentions]
        for env_, m in zip(envelopes, mentions, strict=True):
            assert await post_event(session, url, env_) == 200
            assert events(db).get(f"slack:{m['channel']}:{m['ts']}") == "accepted"

        def streaming() -> bool:
            return all(slack_texts(slack, m["channel"], m["ts"]) for m in mentions)

        await eventually(streaming, 20, "every thread shows a partial answer")
        await second.kill()

        fast(clickai)
        await child.start()
        for env_ in [early, *envelopes]:  # Slack's retries of deliveries it saw fail
            assert await post_event(session, url, env_, retry=1) == 200
        ids = [f"slack:{m['channel']}:{m['ts']}" for m in [early["event"], *mentions]]
        await eventually(lambda: all(events(db).get(i) == "done" for i in ids), 20, "settled")
        await asyncio.sleep(0.5)
        e = early["event"]
        outcome = classify(slack_texts(slack, e["channel"], e["ts"]), default_answer(query(9)))
        assert outcome.answers == 1 and outcome.final == 1, slack_texts(slack, "C9", e["ts"])
        for n, m in enumerate(mentions):
            texts = slack_texts(slack, m["channel"], m["ts"])
            outcome = classify(texts, default_answer(query(n)))
            assert outcome.interrupted == 1 and outcome.answers == 0, texts
        assert len(clickai.calls("chat-messages")) == 4
    finally:
        await session.close()
        await slack.close()
