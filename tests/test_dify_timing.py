"""Real silences, replayed with their timing compressed 20×: a 25 s wait for the first token
(capture 151) and a 25 s gap mid-answer (capture 150), both with pings about every 10 s.

Pings prove the connection is alive, not that the run moves, so they do not re-arm the idle
timeout: ``clickai.idle_timeout_s`` (90 s by default) must outlast the longest silence."""

from __future__ import annotations

import pytest

from bridge.clickai import ClickAIClient, Finished, StreamEvent, TurnRequest
from bridge.errors import ClickAIError
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI
from tests.test_clickai_client import text_of

SCALE = 0.05  # 25 s → 1.25 s
USER = "telegram:4"


async def run(fake: FakeClickAI, idle_timeout_s: float, into: list[StreamEvent]) -> None:
    async with ClickAIClient(
        base_url=fake.base_url, api_key=fake.key, idle_timeout_s=idle_timeout_s, max_retries=3
    ) as client:
        turn = TurnRequest(mode="chat", streaming=True, query="q", user=USER)
        async for event in client.run(turn):
            into.append(event)


@pytest.mark.parametrize("name", ["151-basicchat-25s-ttft", "150-chatflow-25s-gap"])
async def test_a_timeout_longer_than_the_silence_gets_the_whole_answer(name: str) -> None:
    async with FakeClickAI() as fake:
        fake.script(captures.replay(name, time_scale=SCALE))
        events: list[StreamEvent] = []
        await run(fake, 5.0, events)
    assert isinstance(events[-1], Finished) and text_of(events)


async def test_a_first_token_later_than_the_timeout_fails_once_without_a_task_to_stop() -> None:
    async with FakeClickAI() as fake:
        fake.script(*[captures.replay("151-basicchat-25s-ttft", time_scale=SCALE)] * 4)
        with pytest.raises(ClickAIError) as info:
            await run(fake, 0.2, [])
        assert len(fake.calls("chat-messages")) == 1
        assert fake.stops == []  # no data frame yet: the task id is unknown
    assert info.value.kind == "timeout"


async def test_a_gap_longer_than_the_timeout_stops_the_run_with_the_same_user() -> None:
    async with FakeClickAI(mode="advanced-chat") as fake:
        fake.script(captures.replay("150-chatflow-25s-gap", time_scale=SCALE))
        events: list[StreamEvent] = []
        with pytest.raises(ClickAIError) as info:
            await run(fake, 0.4, events)
        task_id = captures.load("150-chatflow-25s-gap").body.split(b'"task_id":"')[1][:36]
        assert fake.stops == [(task_id.decode(), USER)]
        assert len(fake.calls("chat-messages")) == 1
    assert info.value.kind == "timeout" and text_of(events)
