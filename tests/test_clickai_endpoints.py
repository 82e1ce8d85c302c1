"""Upload, feedback, stop, conversations, messages, parameters, info, download: wire bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from bridge.clickai import (
    ClickAIClient,
    FileProduced,
    FileRef,
    Finished,
    RunMode,
    Started,
    StreamEvent,
    TextDelta,
    TurnRequest,
    UploadedFile,
)
from bridge.config import ClickAIConfig
from bridge.errors import ClickAIError
from bridge.fetch import FetchError
from tests.fakes.clickai import FakeClickAI, FakeFile, Reply

USER = "slack:T1:C1"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(
        opening_statement="Hi, I am the fake.",
        user_input_form=[{"text-input": {"variable": "lang", "label": "Lang", "required": False}}],
    ) as server:
        yield server


@pytest.fixture
async def client(fake: FakeClickAI) -> AsyncIterator[ClickAIClient]:
    async with ClickAIClient(base_url=fake.base_url, api_key=SecretStr(fake.key)) as c:
        yield c


async def turn(client: ClickAIClient, query: str, **kw: Any) -> list[StreamEvent]:
    request = TurnRequest(
        mode="chat", streaming=True, query=query, user=kw.pop("user", USER), **kw
    )
    return [event async for event in client.run(request)]


async def new_conversation(client: ClickAIClient, query: str = "hello") -> tuple[str, str]:
    events = await turn(client, query)
    assert isinstance(events[0], Started)
    return events[0].conversation_id, events[0].message_id


async def test_upload_file_sends_multipart_with_user(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    uploaded = await client.upload_file(
        data=b"\x89PNG....", filename="cat.png", mime_type="image/png", user=USER
    )
    assert uploaded == UploadedFile(uploaded.id, "cat.png", 8, "png", "image/png")
    (request,) = fake.calls("/v1/files/upload")
    assert request.form == {"user": USER}
    assert request.files["file"] == ("cat.png", "image/png", b"\x89PNG....")
    assert [u["id"] for u in fake.uploads(USER)] == [uploaded.id]


async def test_upload_too_large_is_bad_request_413() -> None:
    async with (
        FakeClickAI(upload_limit=4) as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        with pytest.raises(ClickAIError) as info:
            await client.upload_file(
                data=b"12345", filename="a.txt", mime_type="text/plain", user=USER
            )
    assert (info.value.kind, info.value.status, info.value.code) == (
        "bad_request",
        413,
        "file_too_large",
    )


async def test_another_users_upload_is_rejected(fake: FakeClickAI, client: ClickAIClient) -> None:
    uploaded = await client.upload_file(
        data=b"x", filename="a.txt", mime_type="text/plain", user="someone-else"
    )
    with pytest.raises(ClickAIError) as info:
        await turn(client, "see file", files=[FileRef("document", uploaded.id)])
    assert (info.value.kind, info.value.code) == ("bad_request", "invalid_param")


async def test_feedback_like_dislike_clear(fake: FakeClickAI, client: ClickAIClient) -> None:
    _, message_id = await new_conversation(client)
    await client.feedback(message_id, rating="like", user=USER, content="great")
    assert fake.messages(USER)[0]["feedback"] == {"rating": "like", "content": "great"}
    await client.feedback(message_id, rating="dislike", user=USER)
    assert fake.messages(USER)[0]["feedback"] == {"rating": "dislike", "content": None}
    await client.feedback(message_id, rating=None, user=USER)
    assert fake.messages(USER)[0]["feedback"] is None
    bodies = [r.json for r in fake.calls("/feedbacks")]
    assert bodies == [
        {"rating": "like", "user": USER, "content": "great"},
        {"rating": "dislike", "user": USER},
        {"rating": None, "user": USER},
    ]
    with pytest.raises(ClickAIError) as info:
        await client.feedback(message_id, rating=None, user=USER)
    assert (info.value.kind, info.value.code) == ("bad_request", "invalid_param")


async def test_feedback_by_another_user_is_404(fake: FakeClickAI, client: ClickAIClient) -> None:
    _, message_id = await new_conversation(client)
    with pytest.raises(ClickAIError) as info:
        await client.feedback(message_id, rating="like", user="intruder")
    assert (info.value.kind, info.value.status) == ("bad_request", 404)


async def test_stop_ends_the_stream_with_the_partial_answer(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    fake.script(Reply(answer="a b c d e f g h i j", deltas=10, delta_delay=0.2))
    events: list[StreamEvent] = []
    async for event in client.run(TurnRequest(mode="chat", streaming=True, query="q", user=USER)):
        events.append(event)
        if isinstance(event, TextDelta) and len(events) == 2:
            assert isinstance(events[0], Started)
            await client.stop(events[0].task_id, user=USER)
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Finished)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert 0 < len(text) < len("a b c d e f g h i j")
    (stop,) = fake.calls("/stop")
    assert stop.path == f"/v1/chat-messages/{events[0].task_id}/stop"
    assert stop.json == {"user": USER}
    assert fake.stops == [(events[0].task_id, USER)]
    assert fake.messages(USER)[0]["answer"] == text


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("completion", "/v1/completion-messages/t-1/stop"),
        ("workflow", "/v1/workflows/tasks/t-1/stop"),
    ],
)
async def test_stop_paths_per_mode(mode: RunMode, path: str) -> None:
    async with (
        FakeClickAI(mode=mode) as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        await client.stop("t-1", user=USER, mode=mode)
        (request,) = fake.calls("/stop")
    assert (request.path, request.json) == (path, {"user": USER})


async def test_conversations_paging_and_query(fake: FakeClickAI, client: ClickAIClient) -> None:
    ids = [(await new_conversation(client, f"topic {i}"))[0] for i in range(3)]
    page = await client.conversations(user=USER, limit=2)
    assert [c["id"] for c in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True
    rest = await client.conversations(user=USER, limit=2, last_id=ids[1])
    assert [c["id"] for c in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    oldest_first = await client.conversations(user=USER, sort_by="created_at")
    assert [c["id"] for c in oldest_first["data"]] == ids
    assert fake.calls("/v1/conversations")[1].query == {
        "user": USER,
        "limit": "2",
        "sort_by": "-updated_at",
        "last_id": ids[1],
    }
    assert (await client.conversations(user="nobody"))["data"] == []


async def test_rename_conversation(fake: FakeClickAI, client: ClickAIClient) -> None:
    cid, _ = await new_conversation(client, "What is the capital of France and why is it Paris?")
    renamed = await client.rename_conversation(cid, user=USER, name="Geography")
    assert renamed["name"] == "Geography"
    auto = await client.rename_conversation(cid, user=USER, auto_generate=True)
    assert auto["name"].startswith("What is the capital")
    assert fake.calls("/name")[0].json == {
        "name": "Geography",
        "auto_generate": False,
        "user": USER,
    }
    with pytest.raises(ClickAIError) as info:
        await client.rename_conversation(cid, user="intruder", name="x")
    assert info.value.kind == "conversation_gone"


@pytest.mark.parametrize("delete_status", [204, 200])
async def test_delete_conversation_then_it_is_gone(delete_status: Literal[200, 204]) -> None:
    async with (
        FakeClickAI(delete_status=delete_status) as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        cid, _ = await new_conversation(client)
        await client.delete_conversation(cid, user=USER)
        (request,) = fake.calls(f"/v1/conversations/{cid}", method="DELETE")
        assert request.json == {"user": USER}
        assert request.headers["Content-Type"] == "application/json"
        with pytest.raises(ClickAIError) as info:
            await turn(client, "still there?", conversation_id=cid)
        assert info.value.kind == "conversation_gone"
        with pytest.raises(ClickAIError) as info:
            await client.messages(cid, user=USER)
        assert info.value.kind == "conversation_gone"
        with pytest.raises(ClickAIError) as info:
            await client.delete_conversation(cid, user=USER)
        assert info.value.kind == "conversation_gone"


async def test_messages_paging_oldest_first(fake: FakeClickAI, client: ClickAIClient) -> None:
    cid, _ = await new_conversation(client, "q0")
    for i in range(1, 4):
        await turn(client, f"q{i}", conversation_id=cid)
    page = await client.messages(cid, user=USER, limit=2)
    assert [m["query"] for m in page["data"]] == ["q2", "q3"]
    assert page["has_more"] is True
    older = await client.messages(cid, user=USER, limit=2, first_id=page["data"][0]["id"])
    assert [m["query"] for m in older["data"]] == ["q0", "q1"]
    assert older["has_more"] is False
    assert older["data"][1]["answer"] == "You said: q1"
    assert fake.calls("/v1/messages")[1].query == {
        "conversation_id": cid,
        "user": USER,
        "limit": "2",
        "first_id": page["data"][0]["id"],
    }


async def test_parameters_and_info(fake: FakeClickAI, client: ClickAIClient) -> None:
    parameters = await client.parameters()
    assert parameters["opening_statement"] == "Hi, I am the fake."
    assert parameters["user_input_form"][0]["text-input"]["variable"] == "lang"
    assert (await client.info())["mode"] == "chat"


async def test_required_inputs_are_enforced() -> None:
    form = [{"text-input": {"variable": "company", "label": "Company", "required": True}}]
    async with (
        FakeClickAI(user_input_form=form) as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        with pytest.raises(ClickAIError) as info:
            await turn(client, "hi")
        assert info.value.kind == "bad_request"
        assert "company" in info.value.message
        events = await turn(client, "hi", inputs={"company": "ACME"})
        assert isinstance(events[-1], Finished)


async def test_auth_and_forbidden() -> None:
    async with FakeClickAI() as fake:
        for key, kind in (("app-wrong", "auth"), ("app-disabled", "forbidden")):
            async with ClickAIClient(base_url=fake.base_url, api_key=key, max_retries=0) as c:
                with pytest.raises(ClickAIError) as info:
                    await c.info()
                assert info.value.kind == kind


async def test_agent_app_rejects_blocking() -> None:
    async with (
        FakeClickAI(mode="agent-chat") as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        with pytest.raises(ClickAIError) as info:
            await collect_blocking(client)
    assert (info.value.kind, info.value.code) == ("bad_request", "invalid_param")


async def collect_blocking(client: ClickAIClient) -> list[StreamEvent]:
    request = TurnRequest(mode="chat", streaming=False, query="q", user=USER)
    return [event async for event in client.run(request)]


# -- downloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("via", ["message_file", "message_end"])
async def test_download_assistant_files(
    fake: FakeClickAI,
    client: ClickAIClient,
    relative: bool,
    via: Literal["message_file", "message_end"],
) -> None:
    picture = FakeFile(name="plot.png", content=b"PNG-BYTES")
    fake.script(Reply(files=(picture,), relative_urls=relative, files_via=via))
    events = await turn(client, "draw")
    finished = events[-1]
    assert isinstance(finished, Finished)
    (produced,) = finished.files
    assert produced.url.startswith("/files/" if relative else fake.origin)
    streamed = [e for e in events if isinstance(e, FileProduced)]
    assert streamed == ([produced] if via == "message_file" else [])
    assert await client.download(produced.url, max_bytes=1000) == b"PNG-BYTES"
    (download,) = fake.calls(".png", method="GET")
    assert download.headers["Authorization"] == f"Bearer {fake.key}"


async def test_download_size_limit(fake: FakeClickAI, client: ClickAIClient) -> None:
    fake.script(Reply(files=(FakeFile(content=b"x" * 100),)))
    finished = (await turn(client, "draw"))[-1]
    assert isinstance(finished, Finished)
    with pytest.raises(FetchError) as info:
        await client.download(finished.files[0].url, max_bytes=10)
    assert info.value.reason == "too_large"


async def _public_dns(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


async def test_download_never_sends_the_key_to_another_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"data")

    transport = httpx.MockTransport(handler)
    async with ClickAIClient(
        base_url="https://api.clickai.test/v1",
        api_key="app-secret",
        transport=transport,
        file_hosts=["cdn.example.org"],
        resolve=_public_dns,
    ) as client:
        for url in (
            "https://cdn.example.org/files/a.png?sign=1",
            "/files/tools/b.png?sign=2",
            "https://api.clickai.test:443/files/c.png",
        ):
            assert await client.download(url, max_bytes=100) == b"data"
    assert str(seen[0].url) == "https://cdn.example.org/files/a.png?sign=1"
    assert "authorization" not in seen[0].headers
    assert str(seen[1].url) == "https://api.clickai.test/files/tools/b.png?sign=2"
    assert seen[1].headers["authorization"] == "Bearer app-secret"
    assert seen[2].headers["authorization"] == "Bearer app-secret"


async def test_download_redirect_to_another_host_drops_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.clickai.test":
            return httpx.Response(302, headers={"Location": "https://s3.example.org/obj"})
        return httpx.Response(200, content=b"obj")

    transport = httpx.MockTransport(handler)
    async with ClickAIClient(
        base_url="https://api.clickai.test/v1",
        api_key="app-secret",
        transport=transport,
        file_hosts=["s3.example.org"],
        resolve=_public_dns,
    ) as client:
        assert await client.download("/files/x.png", max_bytes=100) == b"obj"
    assert seen[0].headers["authorization"] == "Bearer app-secret"
    assert seen[1].url.host == "s3.example.org"
    assert "authorization" not in seen[1].headers


async def test_from_config_uses_the_configured_root_and_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"mode": "chat"})

    config = ClickAIConfig(base_url="https://ai.example.test/v1/", api_key=SecretStr("app-cfg"))
    client = ClickAIClient.from_config(config, transport=httpx.MockTransport(handler))
    async with client:
        assert await client.info() == {"mode": "chat"}
    assert str(seen[0].url) == "https://ai.example.test/v1/info"
    assert seen[0].headers["authorization"] == "Bearer app-cfg"


async def test_stopping_a_chatflow_finishes_the_turn() -> None:
    async with (
        FakeClickAI(mode="advanced-chat") as fake,
        ClickAIClient(base_url=fake.base_url, api_key=fake.key) as client,
    ):
        fake.script(Reply(answer="one two three four", deltas=8, delta_delay=0.2))
        events: list[StreamEvent] = []
        request = TurnRequest(mode="chat", streaming=True, query="q", user=USER)
        async for event in client.run(request):
            events.append(event)
            if isinstance(event, TextDelta) and len(events) == 2:
                assert isinstance(events[0], Started)
                await client.stop(events[0].task_id, user=USER)
    assert isinstance(events[-1], Finished)
    assert len(fake.stops) == 1
