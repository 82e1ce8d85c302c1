"""ClickAIClient.run against FakeClickAI: request bodies, modes, retries, idle timeout, budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bridge.clickai import (
    ClickAIClient,
    FileRef,
    Finished,
    Started,
    StreamEvent,
    TextDelta,
    TextReplace,
    TurnRequest,
)
from bridge.errors import ClickAIError
from tests.fakes.clickai import FakeClickAI, HttpFailure, Reply


class Sleeper:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


def make_client(fake: FakeClickAI, sleeper: Sleeper, **overrides: Any) -> ClickAIClient:
    options: dict[str, Any] = {
        "base_url": fake.base_url,
        "api_key": fake.key,
        "max_retries": 3,
        "idle_timeout_s": 5.0,
        "sleep": sleeper,
    }
    options.update(overrides)
    return ClickAIClient(**options)


@pytest.fixture
async def client(fake: FakeClickAI, sleeper: Sleeper) -> AsyncIterator[ClickAIClient]:
    async with make_client(fake, sleeper) as c:
        yield c


def chat(query: str = "hello", **kw: Any) -> TurnRequest:
    return TurnRequest(
        mode=kw.pop("mode", "chat"),
        streaming=kw.pop("streaming", True),
        query=query,
        user=kw.pop("user", "telegram:1"),
        **kw,
    )


async def collect(
    client: ClickAIClient, turn: TurnRequest, into: list[StreamEvent] | None = None
) -> list[StreamEvent]:
    events: list[StreamEvent] = [] if into is None else into
    async for event in client.run(turn):
        events.append(event)
    return events


def text_of(events: list[StreamEvent]) -> str:
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, TextReplace):
            text = event.text
    return text


async def test_streaming_chat_turn_and_wire_body(fake: FakeClickAI, client: ClickAIClient) -> None:
    events = await collect(client, chat("hello", inputs={"lang": "en"}))
    assert isinstance(events[0], Started)
    assert text_of(events) == "You said: hello"
    assert isinstance(events[-1], Finished)
    assert events[-1].conversation_id == events[0].conversation_id
    assert events[-1].usage["total_tokens"] > 0
    (request,) = fake.calls("/v1/chat-messages")
    assert request.headers["Authorization"] == "Bearer app-test"
    assert request.json == {
        "inputs": {"lang": "en"},
        "user": "telegram:1",
        "response_mode": "streaming",
        "files": [],
        "query": "hello",
        "auto_generate_name": True,
    }


async def test_follow_up_turn_sends_the_conversation_id(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    first = await collect(client, chat("one"))
    assert isinstance(first[0], Started)
    cid = first[0].conversation_id
    second = await collect(client, chat("two", conversation_id=cid, auto_generate_name=False))
    assert isinstance(second[0], Started)
    assert second[0].conversation_id == cid
    body = fake.calls("/v1/chat-messages")[1].json
    assert body["conversation_id"] == cid
    assert body["auto_generate_name"] is False
    assert [m["query"] for m in fake.messages("telegram:1")] == ["one", "two"]


async def test_blocking_chat_yields_the_same_sequence(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    events = await collect(client, chat("block", streaming=False))
    assert [type(e) for e in events] == [Started, TextDelta, Finished]
    assert isinstance(events[-1], Finished)
    assert events[-1].answer == "You said: block"
    assert fake.calls("/v1/chat-messages")[0].json["response_mode"] == "blocking"


@pytest.mark.parametrize("streaming", [True, False])
async def test_completion_turn_puts_the_query_in_inputs(sleeper: Sleeper, streaming: bool) -> None:
    async with FakeClickAI(mode="completion") as fake, make_client(fake, sleeper) as client:
        turn = chat(
            "write a poem",
            mode="completion",
            streaming=streaming,
            inputs={"tone": "calm"},
            query_variable="topic",
        )
        events = await collect(client, turn)
        assert isinstance(events[0], Started)
        assert events[0].conversation_id == ""
        assert text_of(events) == "You said: write a poem"
        body = fake.calls("/v1/completion-messages")[0].json
        assert body["inputs"] == {"tone": "calm", "topic": "write a poem"}
        assert body["query"] == "write a poem"
        assert "conversation_id" not in body


@pytest.mark.parametrize("streaming", [True, False])
async def test_workflow_turn(sleeper: Sleeper, streaming: bool) -> None:
    async with FakeClickAI(mode="workflow") as fake, make_client(fake, sleeper) as client:
        events = await collect(client, chat("summarise", mode="workflow", streaming=streaming))
        assert text_of(events) == "You said: summarise"
        body = fake.calls("/v1/workflows/run")[0].json
        assert body["inputs"] == {"query": "summarise"}
        assert "query" not in body


async def test_blocking_workflow_failure_raises_without_retry(sleeper: Sleeper) -> None:
    async with FakeClickAI(mode="workflow") as fake, make_client(fake, sleeper) as client:
        fake.script(Reply(run_status="failed"))
        with pytest.raises(ClickAIError) as info:
            await collect(client, chat("x", mode="workflow", streaming=False))
        assert info.value.kind == "upstream"
        assert len(fake.calls("/v1/workflows/run")) == 1


async def test_files_are_sent_as_local_file_refs(fake: FakeClickAI, client: ClickAIClient) -> None:
    uploaded = await client.upload_file(
        data=b"%PDF-1.4", filename="a.pdf", mime_type="application/pdf", user="telegram:1"
    )
    events = await collect(client, chat("read this", files=[FileRef("document", uploaded.id)]))
    assert isinstance(events[-1], Finished)
    assert fake.calls("/v1/chat-messages")[0].json["files"] == [
        {"type": "document", "transfer_method": "local_file", "upload_file_id": uploaded.id}
    ]


async def test_agent_chatflow_and_scripted_variants(sleeper: Sleeper) -> None:
    async with FakeClickAI(mode="advanced-chat") as fake, make_client(fake, sleeper) as client:
        fake.script(Reply(chatflow_order="legacy"), Reply(outputs_only=True, answer="Only here"))
        legacy = await collect(client, chat("a"))
        assert text_of(legacy) == "You said: a"
        outputs_only = await collect(client, chat("b"))
        assert isinstance(outputs_only[-1], Finished)
        assert outputs_only[-1].answer == "Only here"
        fake.script(Reply(run_status="failed", trailing_error=True))
        with pytest.raises(ClickAIError) as info:
            await collect(client, chat("c"))
        assert info.value.kind == "upstream"
        assert len(fake.calls("/v1/chat-messages")) == 3


async def test_message_replace_and_mid_stream_error(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    fake.script(Reply(replace="[removed]"), Reply(error="completion_request_error", error_after=2))
    assert text_of(await collect(client, chat("bad"))) == "[removed]"
    seen: list[StreamEvent] = []
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat("boom"), into=seen)
    assert (info.value.kind, info.value.code) == ("upstream", "completion_request_error")
    assert text_of(seen) == "You said: boom"[: len(text_of(seen))]
    assert len(fake.calls("/v1/chat-messages")) == 2  # mid-stream errors are not retried


# -- retries -----------------------------------------------------------------------------------


async def test_retry_before_the_first_event(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper
) -> None:
    fake.script(HttpFailure(status=500))
    events = await collect(client, chat("again"))
    assert text_of(events) == "You said: again"
    assert len(fake.calls("/v1/chat-messages")) == 2
    assert len(sleeper.delays) == 1


async def test_retry_after_is_honoured_through_the_injected_sleep(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper
) -> None:
    fake.script(HttpFailure(status=429, code="too_many_requests", headers={"Retry-After": "7"}))
    await collect(client, chat())
    assert sleeper.delays == [7.0]


async def test_backoff_grows_and_gives_up_after_max_retries(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper
) -> None:
    fake.script(*[HttpFailure(status=502, code=None, body="Bad Gateway")] * 4)
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat())
    assert (info.value.kind, info.value.status) == ("upstream", 502)
    assert len(fake.calls("/v1/chat-messages")) == 4
    assert len(sleeper.delays) == 3
    assert sleeper.delays[0] < sleeper.delays[1] < sleeper.delays[2]


async def test_too_long_retry_after_is_not_waited_for(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper
) -> None:
    fake.script(HttpFailure(status=429, code="too_many_requests", headers={"Retry-After": "3600"}))
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat())
    assert info.value.retry_after == 3600.0
    assert sleeper.delays == []


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (HttpFailure(status=401, code="unauthorized", message="Access token is invalid"), "auth"),
        (HttpFailure(status=403, code="forbidden", message="disabled"), "forbidden"),
        (
            HttpFailure(status=400, code="invalid_param", message="query is required"),
            "bad_request",
        ),
        (HttpFailure(status=400, code="provider_quota_exceeded", message="quota"), "quota"),
    ],
)
async def test_non_retryable_kinds_are_not_retried(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper, failure: HttpFailure, kind: str
) -> None:
    fake.script(failure)
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat())
    assert info.value.kind == kind
    assert len(fake.calls("/v1/chat-messages")) == 1
    assert sleeper.delays == []


async def test_conversation_gone_is_not_retried_and_ignores_the_suffix(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    gone = "0b7c1c59-9d0e-4b8e-8f0e-2f4f6f1d2a3b"
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat(conversation_id=gone))
    assert info.value.kind == "conversation_gone"
    assert "did you mean" in info.value.message  # the fake adds the flask-restx suffix
    assert len(fake.calls("/v1/chat-messages")) == 1


async def test_no_retry_after_the_first_event(
    fake: FakeClickAI, client: ClickAIClient, sleeper: Sleeper
) -> None:
    fake.script(Reply(cut_after=1, deltas=4))
    seen: list[StreamEvent] = []
    with pytest.raises(ClickAIError) as info:
        await collect(client, chat("cut"), into=seen)
    assert info.value.kind == "upstream"
    assert [type(e) for e in seen] == [Started, TextDelta]
    assert len(fake.calls("/v1/chat-messages")) == 1
    assert sleeper.delays == []


# -- idle timeout ------------------------------------------------------------------------------


async def test_data_frames_rearm_the_idle_timeout(fake: FakeClickAI, sleeper: Sleeper) -> None:
    # 8 deltas 0.1 s apart outlast the 0.5 s idle limit only if data frames re-arm it.
    fake.script(Reply(deltas=8, delta_delay=0.1))
    async with make_client(fake, sleeper, idle_timeout_s=0.5, max_retries=0) as client:
        events = await collect(client, chat("slow but steady"))
    assert isinstance(events[-1], Finished)


async def test_slow_first_token_times_out(fake: FakeClickAI, sleeper: Sleeper) -> None:
    fake.script(Reply(first_token_delay=2.0))
    async with make_client(fake, sleeper, idle_timeout_s=0.2, max_retries=0) as client:
        with pytest.raises(ClickAIError) as info:
            await collect(client, TurnRequest(mode="chat", streaming=True, query="q", user="u"))
    assert info.value.kind == "timeout"


# -- request budget ----------------------------------------------------------------------------


async def test_request_budget_queues_instead_of_sending(
    fake: FakeClickAI, sleeper: Sleeper
) -> None:
    async with make_client(fake, sleeper, requests_per_minute=2) as client:
        calls = [asyncio.create_task(client.info()) for _ in range(3)]
        await fake.wait_for_requests(2)
        await asyncio.sleep(0.3)
        assert len(fake.requests) == 2
        done = [c for c in calls if c.done()]
        assert len(done) == 2
        pending = next(c for c in calls if not c.done())
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending


async def test_every_retry_attempt_takes_a_budget_token(
    fake: FakeClickAI, sleeper: Sleeper
) -> None:
    fake.fail_next(HttpFailure(status=500), times=5)
    async with make_client(fake, sleeper, requests_per_minute=2, max_retries=5) as client:
        call = asyncio.create_task(client.parameters())
        await fake.wait_for_requests(2)
        await asyncio.sleep(0.3)
        assert len(fake.requests) == 2
        assert not call.done()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


async def test_connection_refused_is_upstream_and_retried(sleeper: Sleeper) -> None:
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("Connection refused")

    transport = httpx.MockTransport(handler)
    async with ClickAIClient(
        base_url="http://127.0.0.1:9/v1",
        api_key="k",
        transport=transport,
        max_retries=2,
        sleep=sleeper,
    ) as client:
        with pytest.raises(ClickAIError) as info:
            await collect(client, chat())
    assert (info.value.kind, info.value.status) == ("upstream", 0)
    assert len(attempts) == 3
