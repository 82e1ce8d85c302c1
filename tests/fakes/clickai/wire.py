"""Wire helpers of the fake ClickAI: the SSE writer, JSON/error responses, pacing, usage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tests.fakes.clickai.model import AppMode, HttpFailure, RawFrames, _ApiError, _Gone, _Turn


class _Writer:
    """Serialises SSE writes (deltas and pings share one response)."""

    def __init__(self, response: web.StreamResponse, *, spaced: bool) -> None:
        self._response = response
        self._lock = asyncio.Lock()
        self._spaced = spaced
        self.gone = asyncio.Event()

    async def raw(self, chunk: bytes) -> None:
        async with self._lock:
            if self.gone.is_set():
                raise _Gone
            try:
                await self._response.write(chunk)
            except (ConnectionError, RuntimeError) as exc:
                self.gone.set()
                raise _Gone from exc

    async def data(self, frame: Mapping[str, Any]) -> None:
        if self._spaced:
            text = json.dumps(frame)
        else:
            text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        await self.raw(b"data: " + text.encode() + b"\n\n")

    async def ping(self) -> None:
        await self.raw(b"event: ping\n\n")


def _json(payload: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(payload), content_type="application/json", charset="utf-8"
    )


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = json.dumps({"code": code, "message": message, "status": status})
    return web.Response(
        status=status, text=body, content_type="application/json", headers=dict(headers or {})
    )


def _failure_response(failure: HttpFailure) -> web.Response:
    if failure.body is not None:
        return web.Response(
            status=failure.status, text=failure.body, headers=dict(failure.headers)
        )
    payload: dict[str, Any] = {"message": failure.message, "status": failure.status}
    if failure.code is not None:
        payload = {"code": failure.code, **payload}
    return web.Response(
        status=failure.status,
        text=json.dumps(payload),
        content_type="application/json",
        headers=dict(failure.headers),
    )


async def _raw(request: web.Request, raw: RawFrames) -> web.StreamResponse:
    response = web.StreamResponse(status=raw.status, headers={"Content-Type": raw.content_type})
    await response.prepare(request)
    for i, frame in enumerate(raw.frames):
        wait = raw.gaps[i - 1] if i and i <= len(raw.gaps) else raw.delay if i else 0.0
        if wait > 0:
            await asyncio.sleep(wait)
        await response.write(frame.encode() if isinstance(frame, str) else frame)
    await response.write_eof()
    return response


async def _pause(turn: _Turn, seconds: float) -> None:
    """Sleep, but wake up at once when the turn is stopped."""
    if seconds > 0 and not turn.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(turn.stop.wait(), seconds)


def _split(text: str, parts: int) -> list[str]:
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def _node(status: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "node_id": "llm",
        "node_type": "llm",
        "title": "LLM",
        "index": 1,
        "predecessor_node_id": "start",
        "status": status,
    }


def _usage(text: str) -> dict[str, Any]:
    completion = max(1, len(text) // 4)
    return {
        "prompt_tokens": 9,
        "prompt_unit_price": "0.001",
        "prompt_price_unit": "0.001",
        "prompt_price": "0.000009",
        "completion_tokens": completion,
        "completion_unit_price": "0.002",
        "completion_price_unit": "0.001",
        "completion_price": f"{completion * 0.000002:.6f}",
        "total_tokens": 9 + completion,
        "total_price": f"{0.000009 + completion * 0.000002:.6f}",
        "currency": "USD",
        "latency": 0.52,
    }


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw else 20
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise _ApiError(400, "invalid_param", "limit must be between 1 and 100")
    return limit


def _require_chat(mode: AppMode) -> None:
    if mode not in ("chat", "agent-chat", "advanced-chat"):
        raise _ApiError(400, "not_chat_app", "App mode mismatch: not a chat app.")
