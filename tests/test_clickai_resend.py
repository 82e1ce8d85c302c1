"""A turn ClickAI accepted is never POSTed again, and a stream the bridge abandons is stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bridge.clickai import ClickAIClient, Started, StreamEvent, TextDelta, TurnRequest
from bridge.errors import ClickAIError
from tests.fakes.clickai import FakeClickAI, HttpFailure, RawFrames, Reply
from tests.test_clickai_client import Sleeper

USER = "telegram:7"


@pytest.fixture
async def chatflow() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(mode="advanced-chat", ping_interval=0.05) as fake:
        yield fake


def client_for(fake: FakeClickAI, sleeper: Sleeper, **kw: float) -> ClickAIClient:
    return ClickAIClient(
        base_url=fake.base_url,
        api_key=fake.key,
        max_retries=3,
        idle_timeout_s=kw.get("idle_timeout_s", 5.0),
        sleep=sleeper,
    )


def turn(query: str = "hello") -> TurnRequest:
    return TurnRequest(mode="chat", streaming=True, query=query, user=USER)


async def drain(
    client: ClickAIClient, into: list[StreamEvent], texting: asyncio.Event | None = None
) -> None:
    async for event in client.run(turn()):
        into.append(event)
        if texting is not None and isinstance(event, TextDelta):
            texting.set()


async def test_pings_past_the_idle_timeout_are_posted_once(chatflow: FakeClickAI) -> None:
    # The stream opens with 200 and then only pings: ClickAI has the request and runs it, so
    # sending it again would cost a second answer and a second history entry.
    chatflow.script(*[Reply(hang=True, hang_seconds=3.0)] * 4)
    sleeper = Sleeper()
    async with client_for(chatflow, sleeper, idle_timeout_s=0.3) as client:
        with pytest.raises(ClickAIError) as info:
            await drain(client, [])
    assert info.value.kind == "timeout"
    assert len(chatflow.calls("/v1/chat-messages")) == 1
    assert sleeper.delays == []
    assert chatflow.stops == []  # no data frame carried a task id: nothing to stop


async def test_an_empty_200_stream_is_not_posted_again() -> None:
    async with FakeClickAI() as fake:
        fake.script(RawFrames(["event: ping\n\n"]), Reply(answer="second"))
        async with client_for(fake, Sleeper()) as client:
            with pytest.raises(ClickAIError) as info:
                await drain(client, [])
        assert info.value.kind == "upstream"
        assert len(fake.calls("/v1/chat-messages")) == 1


async def test_idle_timeout_after_the_task_started_stops_it_with_the_same_user(
    chatflow: FakeClickAI,
) -> None:
    # workflow_started (a data frame with the task id), then pings only for 30 s.
    chatflow.script(Reply(first_token_delay=30.0), Reply())
    seen: list[StreamEvent] = []
    async with client_for(chatflow, Sleeper(), idle_timeout_s=0.3) as client:
        with pytest.raises(ClickAIError) as info:
            await drain(client, seen)
    assert info.value.kind == "timeout"
    started = seen[0]
    assert isinstance(started, Started) and started.task_id
    assert len(chatflow.calls("/v1/chat-messages")) == 1
    assert chatflow.stops == [(started.task_id, USER)]
    assert chatflow.calls(f"/v1/chat-messages/{started.task_id}/stop", "POST")


async def test_cancelling_a_running_turn_stops_its_task(chatflow: FakeClickAI) -> None:
    chatflow.script(Reply(deltas=4, delta_delay=30.0))
    seen: list[StreamEvent] = []
    async with client_for(chatflow, Sleeper()) as client:
        texting = asyncio.Event()
        task = asyncio.create_task(drain(client, seen, texting))
        await texting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    started = seen[0]
    assert isinstance(started, Started)
    assert chatflow.stops == [(started.task_id, USER)]
    assert len(chatflow.calls("/v1/chat-messages", "POST")) == 1


async def test_closing_the_iterator_early_stops_the_task(chatflow: FakeClickAI) -> None:
    chatflow.script(Reply(deltas=4, delta_delay=30.0))
    async with client_for(chatflow, Sleeper()) as client:
        events = client.run(turn())
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    break
        task_id = chatflow.running_tasks or [s[0] for s in chatflow.stops]
    assert [s[1] for s in chatflow.stops] == [USER]
    assert chatflow.stops[0][0] == task_id[0]


async def test_a_finished_turn_is_not_stopped(chatflow: FakeClickAI) -> None:
    async with client_for(chatflow, Sleeper()) as client:
        await drain(client, [])
    assert chatflow.stops == []


async def test_a_reset_after_sending_is_not_retried() -> None:
    # The request went out; the server may be running it, so it is not sent again.
    async with FakeClickAI() as fake:
        fake.reset_next(path="chat-messages")
        async with client_for(fake, Sleeper()) as client:
            with pytest.raises(ClickAIError):
                await drain(client, [])
        assert len(fake.calls("/v1/chat-messages")) == 1


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(status=429, code="too_many_requests"),
        HttpFailure(status=503, code=None, body="Service Unavailable"),
        HttpFailure(
            status=400,
            code="invalid_param",
            message="Too many requests. Please try again later. The current maximum concurrent "
            "requests allowed for app is 1.",
        ),
    ],
)
async def test_refused_before_any_body_is_retried(failure: HttpFailure) -> None:
    async with FakeClickAI() as fake:
        fake.script(failure)
        sleeper = Sleeper()
        async with client_for(fake, sleeper) as client:
            seen: list[StreamEvent] = []
            await drain(client, seen)
        assert len(fake.calls("/v1/chat-messages")) == 2
        assert len(sleeper.delays) == 1
