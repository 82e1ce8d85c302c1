"""The newer protocol: the agent mode's final ``message``, and Dify's two kinds of 429."""

from __future__ import annotations

import json

import pytest

from bridge.clickai import ClickAIClient, StreamEvent, TextDelta, TextReplace, TurnRequest
from bridge.errors import ClickAIError
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI, HttpFailure, RawFrames
from tests.test_clickai_client import Sleeper


def shown(events: list[StreamEvent]) -> tuple[str, int]:
    text, replaced = "", 0
    for event in events:
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, TextReplace):
            text, replaced = event.text, replaced + 1
    return text, replaced


def agent_mode_stream() -> tuple[RawFrames, str]:
    """Capture 91 (agent_message deltas) as Dify's "agent" mode sends it: one ``message`` with
    the whole answer before ``message_end``."""
    frames = captures.sse_frames("91-llm-agent-stream")
    deltas = [json.loads(d) for _, d in frames if '"agent_message"' in d]
    whole = "".join(f["answer"] for f in deltas)
    final = {**deltas[-1], "event": "message", "answer": whole}
    body = b""
    for _, data in frames:
        if '"message_end"' in data:
            body += b"data: " + json.dumps(final).encode() + b"\n\n"
        body += b"data: " + data.encode() + b"\n\n"
    return RawFrames([body]), whole


async def run(fake: FakeClickAI, sleeper: Sleeper | None = None) -> list[StreamEvent]:
    async with ClickAIClient(
        base_url=fake.base_url, api_key=fake.key, max_retries=3, sleep=sleeper or Sleeper()
    ) as client:
        turn = TurnRequest(mode="chat", streaming=True, query="time?", user="telegram:1")
        return [event async for event in client.run(turn)]


async def test_the_agent_modes_final_message_is_the_answer_not_more_of_it() -> None:
    stream, whole = agent_mode_stream()
    async with FakeClickAI(mode="agent-chat") as fake:
        fake.script(stream)
        events = await run(fake)
    text, replaced = shown(events)
    assert text == whole and whole.count(whole[:10]) == 1
    assert replaced == 0  # the deltas already made the whole answer: nothing to redo


async def test_a_plan_quota_429_is_not_retried() -> None:
    async with FakeClickAI() as fake:
        fake.script(HttpFailure(status=429, code="rate_limit_error", message="Rate Limit Error"))
        sleeper = Sleeper()
        with pytest.raises(ClickAIError) as info:
            await run(fake, sleeper)
        assert len(fake.calls("chat-messages")) == 1
    assert info.value.kind == "quota" and sleeper.delays == []


@pytest.mark.parametrize("name", ["106-concurrency-first", "107-concurrency-second"])
async def test_the_concurrency_cap_is_waited_out_and_retried(name: str) -> None:
    async with FakeClickAI() as fake:
        fake.script(captures.replay(name))
        sleeper = Sleeper()
        events = await run(fake, sleeper)
        assert len(fake.calls("chat-messages")) == 2
    assert shown(events)[0] == "You said: time?"
    assert len(sleeper.delays) == 1
