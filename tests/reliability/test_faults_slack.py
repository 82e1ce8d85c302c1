"""Slack-side faults through the real BridgeApp and the HTTP-mode Slack channel: the faulty
thread ends up with its whole answer exactly once (a channel that is gone is logged once), and
a healthy thread served at the same time gets its full answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack
from tests.reliability.helpers_faults import Bridge, running, wait_requests

HEALTHY = "The healthy thread gets every word of this answer."
ANSWER = "one two three four five six seven eight"
GOOD, BAD = "C1", "C2"


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeClickAI]]:
    slack = FakeSlack()
    await slack.start()
    async with FakeClickAI() as clickai:
        yield slack, clickai
    await slack.close()


async def both_threads(b: Bridge, clickai: FakeClickAI) -> tuple[str, str]:
    """A healthy mention in C1 and the faulty one in C2, answered at the same time."""
    clickai.script(
        Reply(answer=HEALTHY, deltas=6, delta_delay=0.1),
        Reply(answer=ANSWER, deltas=8, delta_delay=0.2),
    )
    good = b.events.mention("healthy", channel=GOOD, user="U1")
    bad = b.events.mention("faulty", channel=BAD, user="U2")
    assert await b.slack_post(good) == 200
    await wait_requests(clickai, "chat-messages", 1)
    assert await b.slack_post(bad) == 200
    await b.settle()
    return str(good["ts"]), str(bad["ts"])


async def assert_once(b: Bridge, slack: FakeSlack, good: str, bad: str) -> None:
    assert [m.body for m in slack.thread(GOOD, good)] == [HEALTHY]
    [answer] = slack.thread(BAD, bad)
    assert answer.body == ANSWER
    assert answer.feedback is not None
    assert await b.app_store_pending() == []


FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("chat.startStream", {"error": "ratelimited", "retry_after": 1}),
    ("chat.appendStream", {"error": "ratelimited", "retry_after": 1}),
    ("chat.stopStream", {"error": "ratelimited", "retry_after": 1}),
    ("chat.appendStream", {"error": "internal_error", "status": 500}),
    ("chat.stopStream", {"error": "service_unavailable", "status": 503}),
    ("chat.stopStream", {"error": "request_timeout", "status": 200, "applied": True}),
]


@pytest.mark.parametrize(("method", "fault"), FAULTS, ids=[f"{m}-{f['error']}" for m, f in FAULTS])
async def test_streamed_answer_survives_429_5xx_and_lost_responses(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path, method: str, fault: dict[str, Any]
) -> None:
    slack, clickai = fakes
    slack.fail(method, channel=BAD, **fault)
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        good, bad = await both_threads(b, clickai)
        await assert_once(b, slack, good, bad)
    assert slack._faults[method] == []  # the fault was injected


EDIT_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("chat.postMessage", {"error": "ratelimited", "retry_after": 1}),
    ("chat.update", {"error": "ratelimited", "retry_after": 1}),
    ("chat.update", {"error": "internal_error", "status": 500}),
    ("chat.update", {"error": "request_timeout", "status": 200, "applied": True}),
    ("chat.update", {"error": "message_not_found"}),
]


@pytest.mark.parametrize(
    ("method", "fault"), EDIT_FAULTS, ids=[f"{m}-{f['error']}" for m, f in EDIT_FAULTS]
)
async def test_edited_answer_survives_429_5xx_lost_responses_and_deleted_replies(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path, method: str, fault: dict[str, Any]
) -> None:
    slack, clickai = fakes
    slack.fail(method, channel=BAD, **fault)
    env = {"BRIDGE_SLACK__NATIVE_STREAMING": "false"}
    async with running(clickai, tmp_path / "b.db", slack=slack, env=env) as b:
        good, bad = await both_threads(b, clickai)
        await assert_once(b, slack, good, bad)
    assert slack._faults[method] == []


async def test_a_channel_that_is_gone_is_logged_once_and_others_are_served(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slack, clickai = fakes
    caplog.set_level(logging.INFO)
    slack.gone[BAD] = "channel_not_found"
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        for i in range(3):
            assert await b.slack_post(b.events.mention(f"lost {i}", channel=BAD)) == 200
            good = b.events.mention(f"fine {i}", channel=GOOD)
            assert await b.slack_post(good) == 200
            await b.settle()
            assert [m.body for m in slack.thread(GOOD, str(good["ts"]))] == [f"You said: fine {i}"]
        assert slack.thread(BAD) == [] and await b.app_store_pending() == []
    unreachable = [
        r
        for r in caplog.records
        if "unreachable" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert len(unreachable) == 1 and BAD in unreachable[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
