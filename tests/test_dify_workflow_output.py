"""``clickai.workflow_output`` holds while streaming: a real workflow's other End outputs (debug
values, files as Markdown) stream as ``text_chunk`` too, and only the configured one is shown."""

from __future__ import annotations

import json

from bridge.clickai import (
    ClickAIClient,
    Finished,
    StreamEvent,
    StreamInterpreter,
    TextDelta,
    TextReplace,
    TurnRequest,
)
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI
from tests.test_clickai_client import text_of as shown

CAPTURE = "132-file-workflow-stream"  # outputs: answer="here is a file", files=[dot.png]


async def turn(client: ClickAIClient, output: str) -> list[StreamEvent]:
    request = TurnRequest(
        mode="workflow", streaming=True, query="q", user="telegram:3", workflow_output=output
    )
    return [event async for event in client.run(request)]


async def test_only_the_configured_output_is_shown_and_then_streamed() -> None:
    captures.require()
    async with FakeClickAI(mode="workflow") as fake:
        fake.script(*[captures.replay(CAPTURE)] * 3)
        async with ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client:
            everything = await turn(client, "")
            first = await turn(client, "answer")
            second = await turn(client, "answer")
    assert shown(everything).startswith("here is a file\n![dot.png](")
    # First turn: which chunks feed "answer" is unknown, so nothing streams before the end.
    assert shown(first) == "here is a file"
    assert [type(e) for e in first[-2:]] == [TextDelta, Finished]
    assert shown(second) == "here is a file"
    assert not any(isinstance(e, TextReplace) for e in second)


def test_after_the_first_turn_the_answer_streams_as_it_comes() -> None:
    captures.require()
    selectors: dict[str, tuple[str, ...]] = {}
    for turn_no in (1, 2):
        interpreter = StreamInterpreter(workflow_output="answer", selectors=selectors)
        texts = []
        for i, (event, data) in enumerate(captures.sse_frames(CAPTURE)):
            for out in interpreter.feed(event, data)[0]:
                if isinstance(out, TextDelta):
                    texts.append((i, out.text, json.loads(data)["event"]))
        [(_, text, event)] = texts
        assert text == "here is a file"
        # turn 1: at the final frame; turn 2: as the text_chunk arrives
        assert event == ("workflow_finished" if turn_no == 1 else "text_chunk")
    assert selectors == {"answer": ("start", "query")}


async def test_a_stale_guess_is_corrected_by_the_final_value() -> None:
    captures.require()
    async with FakeClickAI(mode="workflow") as fake:
        fake.script(captures.replay(CAPTURE), captures.replay(CAPTURE))
        async with ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client:
            await turn(client, "answer")
            # The same variable now feeds another output: what streamed is replaced.
            events = await turn(client, "files")
    assert isinstance(events[-2], TextDelta | TextReplace)
    assert "dot.png" in shown(events)
