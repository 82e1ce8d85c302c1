"""FakeClickAI's own wire behaviour (raw httpx), so other suites can trust what it emits."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.clickai import FakeClickAI, RawFrames, Reply

AUTH = {"Authorization": "Bearer app-test"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


async def post(fake: FakeClickAI, path: str, body: Any, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{fake.base_url}/{path}", json=body, headers=AUTH, **kw)


def data_frames(raw: bytes) -> list[dict[str, Any]]:
    frames = [f for f in raw.decode().split("\n\n") if f.startswith("data: ")]
    return [json.loads(f.removeprefix("data: ")) for f in frames]


def chat_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": "hi",
        "inputs": {},
        "user": "u-1",
        "response_mode": "streaming",
    }
    body.update(overrides)
    return body


async def test_compact_frames_with_identical_ids(fake: FakeClickAI) -> None:
    response = await post(fake, "chat-messages", chat_body())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content.startswith(b'data: {"event":"message","conversation_id":')
    frames = data_frames(response.content)
    assert [f["event"] for f in frames] == ["message"] * 3 + ["message_end"]
    ids = {(f["conversation_id"], f["message_id"], f["created_at"], f["task_id"]) for f in frames}
    assert len(ids) == 1
    assert frames[-1]["metadata"]["usage"]["total_price"].replace(".", "").isdigit()


async def test_spaced_json_option() -> None:
    async with FakeClickAI(spaced=True) as fake:
        response = await post(fake, "chat-messages", chat_body(query="chào"))
    assert b'data: {"event": "message", "conversation_id": ' in response.content
    assert b"\\u00e0" in response.content


async def test_chatflow_opens_with_a_ping_and_pings_on_a_timer() -> None:
    async with FakeClickAI(mode="advanced-chat", ping_interval=0.05) as fake:
        fake.script(Reply(delta_delay=0.08, deltas=4))
        response = await post(fake, "chat-messages", chat_body())
    assert response.content.startswith(b"event: ping\n\ndata: ")
    assert response.content.count(b"event: ping\n\n") >= 3
    events = [f["event"] for f in data_frames(response.content)]
    assert events[0] == "workflow_started"
    assert events[-2:] == ["message_end", "workflow_finished"]


async def test_absent_response_mode_is_blocking(fake: FakeClickAI) -> None:
    response = await post(fake, "chat-messages", {"query": "hi", "inputs": {}, "user": "u"})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["answer"] == "You said: hi"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"query": "hi", "user": "u"}, 400, "inputs"),
        ({"query": "hi", "inputs": {}}, 400, "Arg user must be provided."),
        ({"query": "", "inputs": {}, "user": "u"}, 400, "query is required"),
        ({"query": "hi", "inputs": {}, "user": "u", "conversation_id": "abc"}, 400, "UUID"),
    ],
)
async def test_chat_validation(
    fake: FakeClickAI, body: dict[str, Any], status: int, message: str
) -> None:
    response = await post(fake, "chat-messages", body)
    assert response.status_code == status
    assert response.json()["code"] == "invalid_param"
    assert message in response.json()["message"]


async def test_foreign_conversation_is_404_with_suffix(fake: FakeClickAI) -> None:
    first = await post(fake, "chat-messages", chat_body(response_mode="blocking", user="alice"))
    cid = first.json()["conversation_id"]
    response = await post(fake, "chat-messages", chat_body(user="bob", conversation_id=cid))
    assert response.status_code == 404
    payload = response.json()
    assert payload["code"] == "not_found"
    assert payload["message"].startswith("Conversation Not Exists. You have requested this URI")


async def test_missing_or_bad_key() -> None:
    async with FakeClickAI() as fake, httpx.AsyncClient() as http:
        missing = await http.get(f"{fake.base_url}/info")
        assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        disabled = await http.get(
            f"{fake.base_url}/info", headers={"Authorization": "bearer app-disabled"}
        )
        assert disabled.status_code == 403


async def test_upload_without_mimetype_is_415(fake: FakeClickAI) -> None:
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="user"\r\n\r\nu-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n\r\n'
        f"abc\r\n--{boundary}--\r\n"
    ).encode()
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fake.base_url}/files/upload",
            content=body,
            headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_file_type")


async def test_raw_frames_are_written_verbatim(fake: FakeClickAI) -> None:
    raw = 'data: {"event": "message", "answer": "x"}\n\nevent: ping\n\n'
    fake.script(RawFrames([raw[:10], raw[10:]], delay=0.01))
    response = await post(fake, "chat-messages", chat_body())
    assert response.content == raw.encode()


async def test_delete_is_204_empty(fake: FakeClickAI) -> None:
    first = await post(fake, "chat-messages", chat_body(response_mode="blocking"))
    cid = first.json()["conversation_id"]
    async with httpx.AsyncClient() as http:
        response = await http.request(
            "DELETE", f"{fake.base_url}/conversations/{cid}", json={"user": "u-1"}, headers=AUTH
        )
        not_json = await http.request(
            "DELETE", f"{fake.base_url}/conversations/{cid}", content=b"user=u-1", headers=AUTH
        )
    assert (response.status_code, response.content) == (204, b"")
    assert not_json.status_code == 415


async def test_agent_profile_streams_thoughts_with_repeated_ids() -> None:
    async with FakeClickAI(mode="agent-chat") as fake:
        fake.script(Reply(tool_steps=2))
        response = await post(fake, "chat-messages", chat_body())
    thoughts = [f["id"] for f in data_frames(response.content) if f["event"] == "agent_thought"]
    assert len(thoughts) == 8
    assert len(set(thoughts)) == 3
    assert "agent_message" in {f["event"] for f in data_frames(response.content)}


async def test_standalone_entry_point_prints_its_base_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.clickai",
        "--port",
        "0",
        "--mode",
        "workflow",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert line.startswith("http://127.0.0.1:")
        assert line.endswith("/v1")
        async with httpx.AsyncClient() as http:
            info = await http.get(f"{line}/info", headers=AUTH)
        assert info.json()["mode"] == "workflow"
    finally:
        process.terminate()
        await process.wait()
