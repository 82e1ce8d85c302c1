"""Nothing a restart forgets (issue 9 item 7): threads, open streams, partial replies.

The bridge is restarted on the same store; what it decides after the restart comes from the
store, never from memory the old process had.
"""

from __future__ import annotations

from pathlib import Path

from tests.channels import test_slack_e2e as slack_e2e
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import FakeSlack


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
