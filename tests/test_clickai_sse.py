"""ClickAI SSE variants from verbatim wire frames, through ClickAIClient.run and MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from bridge.clickai import (
    ClickAIClient,
    FileProduced,
    Finished,
    RunMode,
    Started,
    StreamEvent,
    StreamInterpreter,
    TextDelta,
    TextReplace,
    ThoughtUpdate,
    TurnRequest,
    render_outputs,
)
from bridge.errors import ClickAIError

BASE = "https://api.clickai.test/v1"
IDS = '"conversation_id":"c-1","message_id":"m-1","created_at":1715500000,"task_id":"t-1"'

# Reference §4.4, byte for byte.
CHATBOT = (
    'data: {"event":"message","conversation_id":"c-1","message_id":"m-1","created_at":1715500000,'
    '"task_id":"t-1","id":"m-1","answer":"Hel","from_variable_selector":null}\n\n'
    'data: {"event":"message","conversation_id":"c-1","message_id":"m-1","created_at":1715500000,'
    '"task_id":"t-1","id":"m-1","answer":"lo!","from_variable_selector":null}\n\n'
    "event: ping\n\n"
    'data: {"event":"message_end","conversation_id":"c-1","message_id":"m-1","created_at":'
    '1715500000,"task_id":"t-1","id":"m-1","metadata":{"annotation_reply":null,'
    '"retriever_resources":[],"usage":{"prompt_tokens":9,"total_tokens":11,'
    '"total_price":"0.0000150","currency":"USD","latency":0.52}},"files":null}\n\n'
)
ERROR_FRAME = (
    'data: {"event":"error","conversation_id":"c-1","message_id":"m-1","created_at":1715500000,'
    '"code":"completion_request_error","status":400,"message":"[openai] Rate Limit Error"}\n\n'
)


def frame(event: str, ids: str = IDS, **fields: object) -> str:
    extra = json.dumps(fields, separators=(",", ":"))[1:-1]
    body = f'{{"event":"{event}",{ids}' + (f",{extra}" if extra else "") + "}"
    return f"data: {body}\n\n"


def wf(event: str, ids: str = IDS, **data: object) -> str:
    return frame(event, ids, workflow_run_id="r-1", data=data)


async def run(
    body: str,
    *,
    mode: RunMode = "chat",
    workflow_output: str = "",
    max_retries: int = 0,
    into: list[StreamEvent] | None = None,
) -> tuple[list[StreamEvent], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx.Response(200, headers=headers, content=body.encode())

    async def no_sleep(_: float) -> None:
        return None

    client = ClickAIClient(
        base_url=BASE,
        api_key="app-k",
        transport=httpx.MockTransport(handler),
        max_retries=max_retries,
        sleep=no_sleep,
    )
    turn = TurnRequest(
        mode=mode,
        streaming=True,
        query="hi",
        user="u-1",
        workflow_output=workflow_output,
    )
    events: list[StreamEvent] = [] if into is None else into
    try:
        async for event in client.run(turn):
            events.append(event)
    finally:
        await client.aclose()
    return events, seen


async def test_chatbot_reference_example() -> None:
    events, _ = await run(CHATBOT)
    usage = {
        "prompt_tokens": 9,
        "total_tokens": 11,
        "total_price": "0.0000150",
        "currency": "USD",
        "latency": 0.52,
    }
    assert events == [
        Started("c-1", "m-1", "t-1"),
        TextDelta("Hel"),
        TextDelta("lo!"),
        Finished("m-1", "c-1", None, (), usage),
    ]


async def test_legacy_spaced_json_with_escapes() -> None:
    body = (
        'data: {"event": "message", "conversation_id": "c-1", "message_id": "m-1", '
        '"created_at": 1715500000, "task_id": "t-1", "id": "m-1", "answer": "Xin ch\\u00e0o"}\n\n'
        'data: {"event": "message_end", "conversation_id": "c-1", "message_id": "m-1", '
        '"created_at": 1715500000, "task_id": "t-1", "id": "m-1", "metadata": {}}\n\n'
    )
    events, _ = await run(body)
    assert events[1] == TextDelta("Xin chào")
    assert isinstance(events[-1], Finished)


async def test_crlf_line_endings_are_accepted() -> None:
    events, _ = await run(CHATBOT.replace("\n", "\r\n"))
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hel"), TextDelta("lo!")]


async def test_error_frame_mid_stream_raises_after_the_text() -> None:
    body = frame("message", id="m-1", answer="Hel") + ERROR_FRAME
    seen: list[StreamEvent] = []
    with pytest.raises(ClickAIError) as info:
        await run(body, into=seen)
    assert info.value.kind == "upstream"
    assert info.value.status == 400
    assert info.value.code == "completion_request_error"
    assert "Rate Limit Error" in info.value.message
    assert seen == [Started("c-1", "m-1", "t-1"), TextDelta("Hel")]


async def test_error_frame_quota_code_maps_to_quota() -> None:
    body = ERROR_FRAME.replace("completion_request_error", "provider_quota_exceeded")
    with pytest.raises(ClickAIError) as info:
        await run(frame("message", answer="x") + body)
    assert info.value.kind == "quota"


async def test_agent_thoughts_are_upserts_yielded_each_time() -> None:
    body = (
        frame("agent_thought", id="th-1", position=1, thought="", tool="", observation="")
        + frame("agent_message", id="m-1", answer="Let me check. ")
        + frame(
            "agent_thought",
            id="th-1",
            position=1,
            thought="search",
            tool="web;calc",
            observation="",
            tool_input='{"web": {}}',
        )
        + frame(
            "agent_thought",
            id="th-1",
            position=1,
            thought="search",
            tool="web;calc",
            observation="found it",
        )
        + frame("agent_message", id="m-1", answer="Done.")
        + frame("message_end", id="m-1", metadata={"usage": {"total_tokens": 3}})
    )
    events, _ = await run(body)
    thoughts = [e for e in events if isinstance(e, ThoughtUpdate)]
    assert [t.id for t in thoughts] == ["th-1", "th-1", "th-1"]
    assert thoughts[-1] == ThoughtUpdate("th-1", 1, "search", "web;calc", "found it")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Let me check. ", "Done."]
    assert isinstance(events[-1], Finished)
    assert events[-1].usage == {"total_tokens": 3}


async def test_message_replace_discards_previous_text() -> None:
    body = (
        frame("message", answer="bad words")
        + frame("message_replace", answer="[moderated]", reason="output_moderation")
        + frame("message_end", id="m-1")
    )
    events, _ = await run(body)
    assert events[1:3] == [TextDelta("bad words"), TextReplace("[moderated]")]


async def test_message_file_with_url_and_the_answer_carrying_variant() -> None:
    body = (
        frame(
            "message_file",
            id="f-1",
            type="image",
            belongs_to="assistant",
            url="/files/tools/f-1.png?sign=x",
        )
        + frame("message_file", id="m-1", answer="Here is")
        + frame("message_file", id="m-1", answer=" your chart")
        + frame("message_end", id="m-1")
    )
    events, _ = await run(body)
    produced = FileProduced("f-1", "image", "/files/tools/f-1.png?sign=x", "assistant")
    assert events[1] == produced
    assert events[2:4] == [TextDelta("Here is"), TextDelta(" your chart")]
    assert isinstance(events[-1], Finished)
    assert events[-1].files == (produced,)


async def test_message_end_files_keep_only_assistant_files_deduplicated() -> None:
    user_file = {"id": "u-1", "type": "image", "belongs_to": "user", "url": "https://x/u.png"}
    mine = {"id": "f-1", "type": "image", "belongs_to": "assistant", "url": "https://x/f1.png"}
    other = {"id": "f-2", "type": "document", "belongs_to": "assistant", "url": "https://x/f2"}
    body = (
        frame("message_file", **mine)
        + frame("message", answer="ok")
        + frame("message_end", id="m-1", files=[user_file, mine, other])
    )
    events, _ = await run(body)
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert [f.id for f in finished.files] == ["f-1", "f-2"]
    assert [e for e in events if isinstance(e, FileProduced)] == [
        FileProduced("f-1", "image", "https://x/f1.png", "assistant")
    ]


def chatflow(order: str) -> str:
    head = (
        "event: ping\n\n"
        + wf("workflow_started", id="r-1", workflow_id="w-1", inputs={"sys.query": "hi"})
        + wf("node_started", id="n-1", node_id="llm", node_type="llm")
        + frame("message", id="m-1", answer="Hi ", from_variable_selector=["a", "answer"])
        + frame("message", id="m-1", answer="there")
        + wf("node_finished", id="n-1", status="succeeded", outputs={"text": "IGNORED"})
    )
    end = frame("message_end", id="m-1", metadata={"usage": {"total_tokens": 7}}, files=[])
    finished = wf(
        "workflow_finished",
        id="r-1",
        status="succeeded",
        outputs={"answer": "Hi there"},
        total_tokens=7,
        files=[],
    )
    return head + (end + finished if order == "current" else finished + end)


@pytest.mark.parametrize("order", ["current", "legacy"])
async def test_chatflow_success_in_both_orders(order: str) -> None:
    events, _ = await run(chatflow(order))
    assert events[0] == Started("c-1", "m-1", "t-1")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hi ", "there"]
    finished = [e for e in events if isinstance(e, Finished)]
    assert len(finished) == 1
    assert finished[0].answer is None
    assert finished[0].usage == {"total_tokens": 7}


@pytest.mark.parametrize("trailing_error", [False, True])
async def test_chatflow_failure_raises_upstream(trailing_error: bool) -> None:
    body = (
        "event: ping\n\n"
        + wf("workflow_started", id="r-1")
        + wf("workflow_finished", id="r-1", status="failed", error="LLM node exploded")
    )
    if trailing_error:
        body += frame("error", code="invalid_param", status=400, message="Run failed: x")
    with pytest.raises(ClickAIError) as info:
        await run(body)
    assert info.value.kind == "upstream"
    assert "LLM node exploded" in info.value.message


async def test_chatflow_stopped_by_user_finishes_normally() -> None:
    body = (
        wf("workflow_started", id="r-1")
        + frame("message", answer="partial")
        + wf("workflow_finished", id="r-1", status="stopped", error="Stopped by user.")
    )
    events, _ = await run(body)
    assert isinstance(events[-1], Finished)


async def test_answer_only_in_workflow_finished_outputs() -> None:
    body = (
        "event: ping\n\n"
        + wf("workflow_started", id="r-1")
        + wf("node_finished", id="n-1", outputs={"answer": "from node"})
        + wf(
            "workflow_finished",
            id="r-1",
            status="partial-succeeded",
            outputs={"answer": "The final answer"},
            files=[{"related_id": "f-9", "type": "image", "url": "https://x/9.png"}],
        )
    )
    events, _ = await run(body)
    assert events[1] == TextDelta("The final answer")
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.answer == "The final answer"
    assert finished.files == (FileProduced("f-9", "image", "https://x/9.png", "assistant"),)


WF_IDS = '"workflow_run_id":"r-1","task_id":"t-9"'


async def test_workflow_app_text_chunks_and_no_conversation() -> None:
    body = (
        "event: ping\n\n"
        + frame("workflow_started", WF_IDS, data={"id": "r-1"})
        + frame("text_chunk", WF_IDS, data={"text": "Hello "})
        + frame("text_chunk", WF_IDS, data={"text": "world"})
        + frame(
            "workflow_finished",
            WF_IDS,
            data={"status": "succeeded", "outputs": {"text": "Hello world"}},
        )
    )
    events, seen = await run(body, mode="workflow")
    assert seen[0].url.path == "/v1/workflows/run"
    assert events == [
        Started("", "", "t-9"),
        TextDelta("Hello "),
        TextDelta("world"),
        Finished("", "", None, (), {}),
    ]


async def test_workflow_output_name_and_json_fallback() -> None:
    finished = frame(
        "workflow_finished", WF_IDS, data={"status": "succeeded", "outputs": {"result": "R"}}
    )
    events, _ = await run(finished, mode="workflow", workflow_output="result")
    assert events[-1] == Finished("", "", "R", (), {})
    events, _ = await run(finished, mode="workflow")
    assert events[-1] == Finished("", "", '{"result": "R"}', (), {})


def test_render_outputs_preference_order() -> None:
    assert render_outputs({"text": "t", "answer": "a"}) == "a"
    assert render_outputs({"output": "o", "text": "t"}) == "t"
    assert render_outputs({"output": {"k": 1}}) == '{"k": 1}'
    assert render_outputs({"mine": "m", "answer": "a"}, "mine") == "m"
    assert render_outputs({}) == ""
    assert render_outputs(None) == ""


async def test_completion_frames_without_conversation_id() -> None:
    ids = '"message_id":"m-2","created_at":1,"task_id":"t-2"'
    body = frame("message", ids, id="m-2", answer="Poem") + frame("message_end", ids, id="m-2")
    events, seen = await run(body, mode="completion")
    assert seen[0].url.path == "/v1/completion-messages"
    assert events[0] == Started("", "m-2", "t-2")
    assert events[-1] == Finished("m-2", "", None, (), {})


async def test_tts_unknown_and_non_json_frames_are_ignored() -> None:
    body = (
        frame("message", answer="A")
        + frame("tts_message", audio="AAAA")
        + frame("iteration_started", data={})
        + "data: this is not json\n\n"
        + ": a comment line\n\n"
        + frame("message_end", id="m-1")
        + frame("tts_message_end", audio="")
    )
    events, _ = await run(body)
    assert events == [Started("c-1", "m-1", "t-1"), TextDelta("A"), Finished("m-1", "c-1")]


async def test_workflow_paused_ends_the_turn() -> None:
    body = (
        wf("workflow_started", id="r-1")
        + frame("message", answer="Need input")
        + wf("workflow_paused", id="r-1")
    )
    events, _ = await run(body)
    assert isinstance(events[-1], Finished)


async def test_eof_after_text_finishes_with_what_we_have() -> None:
    events, _ = await run(frame("message", answer="Half an ans"))
    assert events == [
        Started("c-1", "m-1", "t-1"),
        TextDelta("Half an ans"),
        Finished("m-1", "c-1"),
    ]


@pytest.mark.parametrize(
    "body", ["", "event: ping\n\n", "event: ping\n\n" + wf("workflow_started")]
)
async def test_eof_without_any_text_raises_upstream(body: str) -> None:
    with pytest.raises(ClickAIError) as info:
        await run(body)
    assert info.value.kind == "upstream"


async def test_frames_after_the_terminal_one_are_dropped() -> None:
    body = CHATBOT + frame("message", answer="late")
    events, _ = await run(body)
    assert TextDelta("late") not in events
    assert sum(isinstance(e, Finished) for e in events) == 1


def test_interpreter_reports_pings_as_non_data() -> None:
    interpreter = StreamInterpreter()
    assert interpreter.feed("ping", "") == ([], False)
    events, is_data = interpreter.feed("message", '{"event":"message","answer":"x"}')
    assert is_data
    assert events == [Started("", "", ""), TextDelta("x")]


async def test_chatflow_current_order_answer_only_in_outputs_waits_for_workflow_finished() -> None:
    body = (
        "event: ping\n\n"
        + wf("workflow_started", id="r-1")
        + frame("message_end", id="m-1", metadata={"usage": {"total_tokens": 5}}, files=[])
        + wf("workflow_finished", id="r-1", status="succeeded", outputs={"answer": "Late"})
    )
    events, _ = await run(body)
    assert events[1:] == [
        TextDelta("Late"),
        Finished("m-1", "c-1", "Late", (), {"total_tokens": 5}),
    ]


async def test_chatflow_message_end_then_eof_without_text_still_finishes() -> None:
    body = wf("workflow_started", id="r-1") + frame("message_end", id="m-1", files=[])
    events, _ = await run(body)
    assert events[-1] == Finished("m-1", "c-1")
