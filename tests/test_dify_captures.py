"""Every capture of a real Dify 1.14.2 server is a fixture: the client parses each one, and the
fake ClickAI replays each one byte for byte (``shared/reference/dify-real``, beside the clone)."""

from __future__ import annotations

import json

import httpx
import pytest

from bridge.clickai import (
    ClickAIClient,
    Finished,
    StreamEvent,
    StreamInterpreter,
    TurnRequest,
    blocking_events,
    error_from_response,
)
from bridge.errors import ClickAIError
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI
from tests.test_clickai_client import text_of as shown

NAMES = captures.names()
needs_captures = pytest.mark.skipif(not NAMES, reason="real Dify captures not beside the clone")

# What each error answer means to the client (conversation-scoped requests: 23, 33, 70).
ERROR_KINDS = {
    "07-bad-conv-id": "bad_request",
    "104-llm-error-blocking": "bad_request",
    "106-concurrency-first": "rate_limited",
    "107-concurrency-second": "rate_limited",
    "111-exe-as-custom": "bad_request",
    "112-oga-as-audio-slowapp-disallowed": "bad_request",
    "114-file-to-workflow-app-no-upload": "bad_request",
    "115-4files-limit3": "bad_request",
    "122-audio-disallowed-blocking": "bad_request",
    "128-basic-audio-streaming": "bad_request",
    "142-chat-stop-on-workflow-app": "bad_request",
    "15-feedback-otheruser": "bad_request",
    "16-feedback-unknown": "bad_request",
    "23-messages-unknown-conv": "conversation_gone",
    "24-wrong-key": "auth",
    "25-no-key": "auth",
    "26-wrong-key-chat": "auth",
    "27-wrong-path": "bad_request",
    "33-delete-again": "conversation_gone",
    "37-chat-file-otheruser": "bad_request",
    "38-chat-file-unknown": "bad_request",
    "42-wf-missing-input": "bad_request",
    "45-wf-chat-messages": "bad_request",
    "46-chatflow-workflows-run": "bad_request",
    "47-chat-missing-user": "bad_request",
    "48-chat-empty-query": "bad_request",
    "49-chat-no-inputs": "bad_request",
    "70-basic-unknown-conv": "conversation_gone",
    "71-basic-stream-nomodel": "bad_request",
    "72-basic-blocking-nomodel": "bad_request",
    "73-agent-stream-nomodel": "bad_request",
    "74-agent-blocking": "bad_request",
    "75-completion-stream": "bad_request",
}
# Streams that end in an error frame: a request error before the run, or a model error in it.
STREAM_ERRORS = {
    "103-llm-error-midstream": "upstream",
    "121-audio-disallowed-streaming": "bad_request",
    "125-wf-missing-input-streaming": "bad_request",
    "126-chatflow-4files-streaming": "bad_request",
    "127-chatflow-badfile-streaming": "bad_request",
    "153-chatflow-empty-query-streaming": "bad_request",
}
SCOPED = {"23-messages-unknown-conv", "33-delete-again", "70-basic-unknown-conv"}


def interpret(name: str) -> tuple[list[StreamEvent], ClickAIError | None]:
    interpreter = StreamInterpreter()
    events: list[StreamEvent] = []
    try:
        for event, data in captures.sse_frames(name):
            events += interpreter.feed(event, data)[0]
        events += interpreter.eof()
    except ClickAIError as exc:
        return events, exc
    return events, None


@needs_captures
@pytest.mark.parametrize("name", NAMES)
def test_the_client_parses_every_capture(name: str) -> None:
    cap = captures.load(name)
    if cap.is_stream:
        events, error = interpret(name)
        if name in STREAM_ERRORS:
            assert error is not None and error.kind == STREAM_ERRORS[name]
        else:
            assert error is None, error
            assert isinstance(events[-1], Finished)
            assert shown(events) or events[-1].files or "stop" in name
    elif cap.status >= 400:
        error = error_from_response(cap.status, cap.body, {}, conversation_scoped=name in SCOPED)
        assert error.kind == ERROR_KINDS[name], error
        assert error.message
    elif _is_answer(body := json.loads(cap.body or b"{}")):
        [*_, finished] = blocking_events(body)
        assert isinstance(finished, Finished) and finished.answer
    else:
        assert cap.status in (200, 201, 204)
        assert isinstance(body, dict)


def _is_answer(body: object) -> bool:
    """A blocking generation answer (chat/completion message, or a workflow run)."""
    if not isinstance(body, dict):
        return False
    return ("answer" in body and "message_id" in body) or "workflow_run_id" in body


@needs_captures
@pytest.mark.parametrize("name", NAMES)
async def test_the_fake_replays_every_capture_byte_for_byte(name: str) -> None:
    cap = captures.load(name)
    async with FakeClickAI() as fake, httpx.AsyncClient() as http:
        fake.script(captures.replay(cap))
        response = await http.post(
            f"{fake.base_url}/chat-messages",
            json={"inputs": {}, "query": "q", "user": "u", "response_mode": "streaming"},
            headers={"Authorization": f"Bearer {fake.key}"},
        )
    assert response.status_code == cap.status
    assert response.content == cap.body
    assert response.headers["content-type"].split(";")[0] == cap.content_type.split(";")[0]
    if cap.verbatim:
        folder = captures.require()
        raw = next(p for p in folder.iterdir() if p.stem == name and p.suffix != ".headers")
        assert raw.read_bytes() == response.content


@needs_captures
@pytest.mark.parametrize("name", [n for n in NAMES if captures.load(n).is_stream])
async def test_the_client_reads_every_stream_off_the_wire_as_the_parser_does(name: str) -> None:
    expected, error = interpret(name)
    async with FakeClickAI() as fake:
        fake.script(captures.replay(name))
        async with ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client:
            turn = TurnRequest(mode="chat", streaming=True, query="q", user="u")
            seen: list[StreamEvent] = []
            if error is None:
                seen = [event async for event in client.run(turn)]
            else:
                with pytest.raises(ClickAIError) as info:
                    async for event in client.run(turn):
                        seen.append(event)
                assert info.value.kind == error.kind
    assert seen == expected
