"""Every ClickAIError kind, from HTTP answers and transport failures (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from bridge.clickai import ClickAIClient, TurnRequest
from bridge.clickai.errors import error_from_frame, error_from_response, parse_retry_after
from bridge.errors import ClickAIError

BASE = "https://api.clickai.test/v1"
SUFFIX = (
    " You have requested this URI [/v1/chat-messages] but did you mean /v1/chat-messages or "
    "/api/chat-messages ?"
)


def envelope(code: str, message: str, status: int) -> bytes:
    return json.dumps({"code": code, "message": message, "status": status}).encode()


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> ClickAIClient:
    return ClickAIClient(
        base_url=BASE, api_key="app-k", transport=httpx.MockTransport(handler), max_retries=0
    )


async def turn_error(
    status: int,
    body: bytes,
    *,
    conversation_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> ClickAIError:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or {})

    client = client_for(handler)
    turn = TurnRequest(
        mode="chat", streaming=True, query="hi", user="u", conversation_id=conversation_id
    )
    try:
        with pytest.raises(ClickAIError) as info:
            async for _ in client.run(turn):
                pass
    finally:
        await client.aclose()
    return info.value


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (401, "unauthorized", "Access token is invalid", "auth"),
        (403, "forbidden", "The app's API service has been disabled.", "forbidden"),
        (404, "not_found", "Workflow not found with id: x", "bad_request"),
        (429, "too_many_requests", "Too many requests", "rate_limited"),
        (429, "rate_limit_error", "Rate Limit Error", "quota"),  # plan quota: no retry
        (400, "provider_quota_exceeded", "quota gone", "quota"),
        (400, "rate_limit_error", "Workflow execution quota limit reached", "quota"),
        (400, "invalid_param", "Too many requests. Please try again later.", "rate_limited"),
        (400, "invalid_param", "query is required", "bad_request"),
        (400, "not_chat_app", "App mode mismatch", "bad_request"),
        (413, "file_too_large", "File size exceeded.", "bad_request"),
        (415, "unsupported_media_type", "not json", "bad_request"),
        (500, "internal_server_error", "Internal Server Error", "upstream"),
        (503, "service_unavailable", "down", "upstream"),
    ],
)
async def test_http_status_and_code_map_to_kind(
    status: int, code: str, message: str, kind: str
) -> None:
    error = await turn_error(status, envelope(code, message, status))
    assert (error.kind, error.status, error.code) == (kind, status, code)
    assert error.message == message


async def test_404_not_found_with_conversation_is_conversation_gone_despite_suffix() -> None:
    body = envelope("not_found", "Conversation Not Exists." + SUFFIX, 404)
    error = await turn_error(404, body, conversation_id="6a1c2a53-0d61-4f8e-9d59-1f0f5c3f1a01")
    assert error.kind == "conversation_gone"
    assert error.code == "not_found"


async def test_404_on_a_new_conversation_is_not_conversation_gone() -> None:
    error = await turn_error(404, envelope("not_found", "Conversation Not Exists." + SUFFIX, 404))
    assert error.kind == "bad_request"


async def test_404_other_code_with_conversation_is_bad_request() -> None:
    body = envelope("method_not_allowed", "nope", 404)
    error = await turn_error(404, body, conversation_id="6a1c2a53-0d61-4f8e-9d59-1f0f5c3f1a01")
    assert error.kind == "bad_request"


async def test_missing_code_falls_back_to_status() -> None:
    restx = (
        b'{"errors": {"query": "Missing required parameter"}, '
        b'"message": "Input payload validation failed"}'
    )
    error = await turn_error(400, restx)
    assert (error.kind, error.code) == ("bad_request", "")
    assert "query" in error.message
    legacy = b'{"code": "invalid_param", "message": "user is required", "params": "user"}'
    assert (await turn_error(400, legacy)).code == "invalid_param"


async def test_non_json_error_bodies() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    error = await turn_error(502, html)
    assert (error.kind, error.status, error.code) == ("upstream", 502, "")
    assert "502 Bad Gateway" in error.message
    assert (await turn_error(401, b"")).kind == "auth"


async def test_retry_after_header_is_carried() -> None:
    error = await turn_error(
        429, envelope("too_many_requests", "slow down", 429), headers={"Retry-After": "12"}
    )
    assert error.retry_after == 12.0


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 5, 12, 10, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 5, 12, 10, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == 30.0
    assert parse_retry_after(later, now=now.timestamp() + 60) == 0.0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("Connection refused"), "upstream"),
        (httpx.ReadError("Connection reset by peer"), "upstream"),
        (httpx.RemoteProtocolError("peer closed connection"), "upstream"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.PoolTimeout("no connection"), "timeout"),
    ],
)
async def test_transport_failures(exc: httpx.TransportError, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    client = client_for(handler)
    try:
        with pytest.raises(ClickAIError) as info:
            await client.parameters()
    finally:
        await client.aclose()
    assert (info.value.kind, info.value.status) == (kind, 0)
    assert isinstance(info.value.__cause__, httpx.TransportError)


async def test_non_streaming_calls_use_the_same_mapping() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=envelope("not_found", "Message Not Exists.", 404))

    client = client_for(handler)
    try:
        with pytest.raises(ClickAIError) as info:
            await client.feedback("m-1", rating="like", user="u")
        assert info.value.kind == "bad_request"
        with pytest.raises(ClickAIError) as info:
            await client.messages("c-1", user="u")
        assert info.value.kind == "conversation_gone"
        with pytest.raises(ClickAIError) as info:
            await client.messages("c-1", user="u", first_id="m-0")
        assert info.value.kind == "bad_request"
    finally:
        await client.aclose()


def test_error_frame_mapping() -> None:
    quota = error_from_frame({"event": "error", "code": "provider_quota_exceeded", "status": 400})
    assert (quota.kind, quota.status, quota.code) == ("quota", 400, "provider_quota_exceeded")
    other = error_from_frame(
        {"code": "internal_server_error", "status": 500, "message": "Internal Server Error"}
    )
    assert (other.kind, other.status, other.message) == ("upstream", 500, "Internal Server Error")


def test_error_from_response_never_reads_the_message_for_gone() -> None:
    body = envelope("not_found", "Something else entirely", 404)
    assert error_from_response(404, body, {}, conversation_scoped=True).kind == "conversation_gone"
    assert error_from_response(404, body, {}, conversation_scoped=False).kind == "bad_request"
