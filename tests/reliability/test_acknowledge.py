"""One acknowledgement rule for every transport (issue 9 item 1): ack only what was claimed.

The store really fails here: a second SQLite connection holds an exclusive write lock longer
than the bridge's busy timeout, so the claim ends in "database is locked". Each transport must
then leave the delivery unacknowledged, so the platform delivers it again, and answer it once
after the lock is released.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.model import InboundMessage, IntakeResult
from tests.channels import test_slack_e2e as slack_e2e
from tests.channels import test_telegram_e2e as tg_e2e
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import (
    APP_TOKEN,
    FakeSlack,
    RecordingIntake,
    form_body,
    running_slack,
    signed_headers,
)
from tests.fakes.telegram import FakeTelegram, TgUser, eventually

ANN = TgUser(id=111, first_name="Ann", language_code="en")
HOOK_SECRET = "hook-Secret_42"
FAST_BUSY = {"BRIDGE_STORE__BUSY_TIMEOUT_S": "0.1"}


@contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """Another process holds the database's write lock until the block ends."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def test_telegram_webhook_answers_503_while_the_store_is_locked_then_answers_once(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    env = FAST_BUSY | {
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": HOOK_SECRET,
    }
    async with tg_e2e.running_bridge(tg, clickai, db, **env) as b:
        update = tg.text(ANN.id, ANN, "while locked")
        with write_locked(db):
            assert await tg.post_webhook(update, url=b.webhook_url) == 503
            assert await tg.post_webhook(update, url=b.webhook_url) == 503  # Telegram retries
        assert clickai.calls("chat-messages") == []
        assert await tg.post_webhook(update, url=b.webhook_url) == 200
        await b.settle()
        assert await tg.post_webhook(update, url=b.webhook_url) == 200  # now a duplicate
        await b.settle()
        assert tg.chat(ANN.id).texts() == ["You said: while locked"]
        assert len(clickai.calls("chat-messages")) == 1


async def test_telegram_webhook_refused_at_shutdown_is_not_acknowledged(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    env = {
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": HOOK_SECRET,
    }
    async with tg_e2e.running_bridge(tg, clickai, tmp_path / "b.db", **env) as b:
        assert b.app.relay is not None
        b.app.relay.stop_intake()  # shutdown began; the channel still takes the request
        update = tg.text(ANN.id, ANN, "too late")
        assert await tg.post_webhook(update, url=b.webhook_url) == 503
        assert clickai.calls("chat-messages") == []


async def test_telegram_polling_never_confirms_an_update_whose_claim_failed(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    async with tg_e2e.running_bridge(tg, clickai, db, **FAST_BUSY) as b:
        with write_locked(db):
            update = tg.push(tg.text(ANN.id, ANN, "polled while locked"))
            first = len(tg.calls_to("getUpdates"))
            # The update is fetched, its claim fails, and it is fetched again (not confirmed).
            await eventually(lambda: len(tg.calls_to("getUpdates")) >= first + 2, within_s=20)
            offsets = [int(c.params.get("offset") or 0) for c in tg.calls_to("getUpdates")]
            assert max(offsets) <= update["update_id"]
            assert tg.updates == [update]  # Telegram still holds it
        await b.settle()
        assert tg.chat(ANN.id).texts() == ["You said: polled while locked"]
        assert len(clickai.calls("chat-messages")) == 1


async def test_slack_http_gives_no_200_before_the_claim(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    async with slack_e2e.running_bridge(slack, clickai, db, **FAST_BUSY) as b:
        mention = b.events.mention("locked store", user="U1")
        with write_locked(db):
            assert await b.send(mention, event_id="Ev1") == 503
        assert clickai.calls("chat-messages") == []
        assert await b.send(mention, event_id="Ev1", retry=1) == 200
        assert await b.send(mention, event_id="Ev1", retry=2) == 200  # duplicate: acked
        [answer] = slack.thread("C1", mention["ts"])
        assert answer.body == "You said: locked store"


async def test_slack_socket_mode_acks_only_after_the_claim(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    env = FAST_BUSY | {"BRIDGE_SLACK__MODE": "socket", "BRIDGE_SLACK__APP_TOKEN": APP_TOKEN}
    async with slack_e2e.running_bridge(slack, clickai, db, **env) as b:
        assert await slack.socket_connected()
        mention = b.events.mention("over the socket", user="U7")
        envelope = b.events.envelope(mention, event_id="EvS")
        users_info = slack.hold("users.info")
        ack = await slack.socket_push(envelope)
        await eventually(lambda: bool(slack.calls_to("users.info")), within_s=10)
        await asyncio.sleep(0.2)  # an ack sent before users.info would have arrived by now
        assert not ack.done()  # a crash here leaves the envelope to be redelivered
        with write_locked(db):
            users_info.set()
            await b.channel.idle()
            assert not ack.done()  # the claim failed: still not acknowledged
        assert clickai.calls("chat-messages") == []
        again = await slack.socket_send(envelope, retry=1)  # Slack's redelivery
        assert again["envelope_id"].startswith("env-")
        await b.settle()
        [answer] = slack.thread("C1", mention["ts"])
        assert answer.body == "You said: over the socket"
        assert not ack.done()


class RaisingIntake(RecordingIntake):
    """A core whose claim blows up (a bug, not a store error): the handler raises."""

    async def submit(self, msg: InboundMessage) -> IntakeResult:
        self.messages.append(msg)
        raise RuntimeError("claim blew up")


async def test_slack_http_a_handler_that_raised_is_not_acknowledged() -> None:
    async with running_slack(start=False) as h:
        intake = RaisingIntake()
        await h.channel.start(intake)
        status = await h.send(h.events.mention("boom"), event_id="EvBoom")
        assert status == 503  # Slack retries it
        assert len(intake.messages) == 1


async def test_slack_a_button_click_is_acknowledged_without_waiting_for_its_work() -> None:
    """Only a message's claim holds the ack; a click's slow follow-up work does not."""
    async with running_slack() as h:
        h.intake.known_replies.add(("C1", "1.1"))
        note = h.fake.hold("chat.postEphemeral")  # the click's confirmation hangs
        body = form_body(h.events.feedback_click("like", message_ts="1.1"))
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        status, _ = await h.post(body, headers)
        assert status == 200  # before its confirmation was even posted
        assert h.fake.ephemerals == []
        note.set()
        await h.channel.idle()
        assert len(h.intake.feedback_calls) == 1 and len(h.fake.ephemerals) == 1
