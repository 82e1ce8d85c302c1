"""A turn ends once (issue 9 item 3): streaming → delivered → recorded → done.

A final answer that reached the chat is never sent again, never gets an "interrupted" or
"something went wrong" note, and keeps its feedback buttons: not when the shutdown grace ends
while the final send is under way, and not when the store fails right after the delivery.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bridge.i18n import t
from tests.channels import test_slack_e2e as slack_e2e
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import eventually

ANSWER = "The whole answer, complete and final."


def all_notes(slack: FakeSlack, channel: str, thread: str) -> str:
    return " ".join(" ".join([m.body, *m.notices]) for m in slack.thread(channel, thread))


async def test_shutdown_whose_grace_ends_during_the_final_send_keeps_the_answer_whole(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    clickai.script(Reply(answer=ANSWER, deltas=3))
    env = {"BRIDGE_BRIDGE__SHUTDOWN_GRACE_S": "0"}
    async with slack_e2e.running_bridge(slack, clickai, tmp_path / "b.db", **env) as b:
        assert b.app.relay is not None
        final = slack.hold("chat.stopStream")
        mention = b.events.mention("a question", user="U1")
        await b.send_only(mention)
        await eventually(lambda: bool(slack.calls_to("chat.stopStream")), within_s=10)
        stopping = asyncio.create_task(b.app.stop())  # SIGTERM: the grace (0 s) ends now
        await eventually(lambda: b.app.relay is None or b.app.relay._aborting, within_s=10)
        final.set()  # the final send completes after the turn was cut
        await asyncio.wait_for(stopping, 30)
    [answer] = slack.thread("C1", mention["ts"])
    assert answer.body == ANSWER
    assert answer.feedback is not None
    assert t("en", "restarting") not in all_notes(slack, "C1", mention["ts"])
    assert len(slack.calls_to("chat.stopStream")) == 1


async def test_a_store_failure_after_delivery_adds_no_error_to_the_finished_answer(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    clickai.script(Reply(answer=ANSWER, deltas=3))
    db = tmp_path / "b.db"
    env = {"BRIDGE_STORE__BUSY_TIMEOUT_S": "0.1"}
    async with slack_e2e.running_bridge(slack, clickai, db, **env) as b:
        final = slack.hold("chat.stopStream")
        mention = b.events.mention("a question", user="U1")
        await b.send_only(mention)
        await eventually(lambda: bool(slack.calls_to("chat.stopStream")), within_s=10)
        locker = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")  # the reply map cannot be written
            final.set()
            assert b.app.relay is not None
            await asyncio.wait_for(b.app.relay.wait_idle(), 20)
            locker.execute("ROLLBACK")
        finally:
            locker.close()
        await b.settle()
    [answer] = slack.thread("C1", mention["ts"])
    assert answer.body == ANSWER
    assert answer.feedback is not None
    assert t("en", "err_internal") not in all_notes(slack, "C1", mention["ts"])
    assert len(slack.calls_to("chat.stopStream")) == 1
