"""A chatflow or workflow stream that drops mid-answer is reopened with
``GET /workflow/{run_id}/events`` (same ``user``) and the same reply continues; a server that
cannot reopen it leaves the partial answer with a note, and the run is stopped."""

from __future__ import annotations

import pytest

from bridge.clickai import (
    ClickAIClient,
    Finished,
    StreamEvent,
    TurnRequest,
)
from bridge.clickai.client import RunMode
from bridge.errors import ClickAIError
from tests.fakes import captures
from tests.fakes.clickai import AppMode, FakeClickAI, Reply
from tests.test_clickai_client import text_of as shown

USER = "telegram:9"


def answer_of(name: str) -> str:
    """What a reader of the whole capture would show."""
    from bridge.clickai import StreamInterpreter

    interpreter = StreamInterpreter()
    events: list[StreamEvent] = []
    for event, data in captures.sse_frames(name):
        events += interpreter.feed(event, data)[0]
    return shown(events)


async def run_turn(fake: FakeClickAI, mode: RunMode, into: list[StreamEvent]) -> list[StreamEvent]:
    async with ClickAIClient(base_url=fake.base_url, api_key=fake.key, max_retries=3) as client:
        turn = TurnRequest(mode=mode, streaming=True, query="q", user=USER)
        async for event in client.run(turn):
            into.append(event)
    return into


@pytest.mark.parametrize(
    ("name", "app", "mode", "after"),
    [
        ("01-stream", "advanced-chat", "chat", '"event":"message"'),
        ("131-llm-chatflow-stream", "advanced-chat", "chat", '"event":"message"'),
        ("40-wf-stream", "workflow", "workflow", '"event":"node_started"'),
    ],
)
async def test_a_dropped_stream_is_reopened_and_the_reply_continues(
    name: str, app: AppMode, mode: RunMode, after: str
) -> None:
    head, tail = captures.cut(name, after=after)
    async with FakeClickAI(mode=app) as fake:
        fake.script(head)
        fake.script_resume(tail)
        events = await run_turn(fake, mode, [])
        assert (
            len(fake.calls("/v1/" + ("chat-messages" if mode == "chat" else "workflows/run"))) == 1
        )
        [reopen] = fake.calls("/events", "GET")
    run_id = captures.load(name).body.split(b'"workflow_run_id":"', 1)[1][:36].decode()
    assert reopen.path == f"/v1/workflow/{run_id}/events"
    assert reopen.query["user"] == USER
    assert isinstance(events[-1], Finished)
    assert shown(events) == answer_of(name)
    assert fake.stops == []


async def test_a_reset_connection_is_reopened_too() -> None:
    _, tail = captures.cut("01-stream", after='"event":"message"', nth=2)
    async with FakeClickAI(mode="advanced-chat") as fake:
        fake.script(Reply(answer="You said: hello there", deltas=4, cut_after=1))
        fake.script_resume(tail)
        events = await run_turn(fake, "chat", [])
        assert len(fake.calls("/events", "GET")) == 1
    assert isinstance(events[-1], Finished)
    assert shown(events) == answer_of("01-stream")  # the final outputs fill the gap


async def test_a_server_that_cannot_reopen_keeps_the_partial_answer_and_stops_the_run() -> None:
    head, _ = captures.cut("50-slow-stream", after='"event":"message"', nth=2)
    async with FakeClickAI(mode="advanced-chat") as fake:
        fake.script(head)
        seen: list[StreamEvent] = []
        with pytest.raises(ClickAIError) as info:
            await run_turn(fake, "chat", seen)
        assert len(fake.calls("/events", "GET")) == 1  # answered 404: not supported
        assert len(fake.calls("/v1/chat-messages", "POST")) == 1
        task_id = captures.load("50-slow-stream").body.split(b'"task_id":"', 1)[1][:36].decode()
        assert fake.stops == [(task_id, USER)]
    assert info.value.code == "stream_dropped"
    assert shown(seen)  # the partial answer was streamed and is kept by the caller
