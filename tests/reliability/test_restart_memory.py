"""Nothing a restart forgets (issue 9 item 7): threads, open streams, partial replies.

The bridge is restarted on the same store; what it decides after the restart comes from the
store, never from memory the old process had.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiohttp import ClientSession

from bridge.i18n import t
from tests.channels import test_slack_e2e as slack_e2e
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import Events, FakeSlack
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.harness import (
    Child,
    events,
    eventually,
    free_port,
    post_event,
    slack_env,
    telegram_env,
)
from tests.reliability.outcomes import slack_texts, telegram_texts

ANN = TgUser(id=321, first_name="Ann", language_code="en")


def reply_noted(db: Path, event_id: str) -> bool:
    """The store has noted the reply message the turn opened (what recovery closes)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT reply_id FROM event WHERE event_id = ?", (event_id,))
        return any(row[0] for row in rows)
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


async def test_slack_thread_follow_ups_are_answered_after_a_restart(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    async with slack_e2e.running_bridge(slack, clickai, db) as b:
        mention = b.events.mention("first", user="U1")
        await b.send(mention)
    async with slack_e2e.running_bridge(slack, clickai, db) as again:
        # A mention-less reply in the thread the bot answered in: Slack names the thread's
        # starter (the user, not the bot) as parent_user_id.
        follow_up = again.events.message(
            "second, after the restart",
            ts="1700000050.000001",
            thread_ts=mention["ts"],
            user="U1",
            parent_user_id="U1",
        )
        assert await again.send(follow_up) == 200
        other = again.events.message(
            "a thread the bot never joined",
            ts="1700000060.000001",
            thread_ts="1699999999.000100",
            parent_user_id="U1",
        )
        assert await again.send(other) == 200
    bodies = [m.body for m in slack.thread("C1", mention["ts"])]
    assert bodies == ["You said: first", "You said: second, after the restart"]
    first, second = clickai.calls("chat-messages")
    assert second.json["conversation_id"] == clickai.conversations(first.json["user"])[0]["id"]
    assert slack.thread("C1", "1699999999.000100") == []


async def test_a_slack_stream_left_open_by_a_crash_is_closed_with_the_notice(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    db, port = tmp_path / "bridge.db", free_port()
    child = Child(slack_env(slack, clickai, db, port), tmp_path, port, "slack")
    children.append(child)
    first = await child.start()
    clickai.deltas, clickai.delta_delay = 40, 0.25  # ~10 s: killed mid-stream
    events_ = Events()
    mention = events_.mention("tell me slowly", channel="C4")
    async with ClientSession() as session:
        assert (
            await post_event(session, f"{first.base}/slack/events", events_.envelope(mention))
            == 200
        )

        def streaming() -> bool:
            return any(m.streaming and m.body for m in slack.thread("C4", mention["ts"]))

        await eventually(streaming, 20, "a native stream shows part of the answer")
        event_id = f"slack:C4:{mention['ts']}"
        await eventually(lambda: reply_noted(db, event_id), 10, "the stream noted")
        [partial] = slack.thread("C4", mention["ts"])
        await first.kill()
        assert slack.message(partial.ts).streaming  # left open by the crash
        await child.start()
        await eventually(lambda: events(db).get(event_id) == "done", 20, "recovered")
    stops = [c for c in slack.calls_to("chat.stopStream") if c.get("ts") == partial.ts]
    assert len(stops) == 1
    assert not slack.message(partial.ts).streaming
    texts = slack_texts(slack, "C4", mention["ts"])
    assert texts[-1] == t("en", "interrupted")
    assert len(clickai.calls("chat-messages")) == 1


async def test_a_telegram_partial_reply_left_by_a_crash_is_marked_incomplete(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, children: list[Child]
) -> None:
    db, port = tmp_path / "bridge.db", free_port()
    child = Child(telegram_env(tg, clickai, db, port), tmp_path, port, "telegram")
    children.append(child)
    first = await child.start()
    clickai.deltas, clickai.delta_delay = 40, 0.25
    update = tg.push(tg.text(ANN.id, ANN, "tell me slowly"))
    await eventually(lambda: bool(telegram_texts(tg, ANN.id)), 20, "a partial answer")
    event_id = f"telegram:upd:{update['update_id']}"
    await eventually(lambda: reply_noted(db, event_id), 10, "the partial reply noted")
    await first.kill()
    [partial] = tg.chat(ANN.id).bot_messages()
    assert partial.buttons() == []
    await child.start()
    await eventually(lambda: events(db).get(event_id) == "done", 20, "recovered")
    await eventually(lambda: len(tg.chat(ANN.id).bot_messages()) == 2, 10, "the notice")
    partial_now, notice = tg.chat(ANN.id).bot_messages()
    assert partial_now.message_id == partial.message_id
    assert partial_now.buttons() == [t("en", "interrupted_mark")]
    assert notice.text == t("en", "interrupted")
    assert len(clickai.calls("chat-messages")) == 1
