"""Turns every ClickAI failure (HTTP error, SSE error frame, transport error) into ClickAIError."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from bridge.errors import ClickAIError, ErrorKind

_MAX_MESSAGE_CHARS = 300
_QUOTA_CODES = frozenset({"provider_quota_exceeded", "rate_limit_error"})


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    conversation_scoped: bool = False,
) -> ClickAIError:
    """Map a non-2xx answer to a ClickAIError; the ONE place HTTP statuses become kinds.

    ``conversation_scoped`` is True when the request named a conversation whose absence a 404
    ``not_found`` reports (chat-messages or messages with a ``conversation_id``, rename, delete).
    Branches on ``code`` and the endpoint, never on the message text.
    """
    code, message = _code_and_message(body)
    retry_after = parse_retry_after(headers.get("retry-after"))
    kind = _kind_for(status, code, message, conversation_scoped=conversation_scoped)
    return ClickAIError(
        kind,
        message or f"HTTP {status}",
        status=status,
        code=code,
        retry_after=retry_after,
    )


def _kind_for(status: int, code: str, message: str, *, conversation_scoped: bool) -> ErrorKind:
    if code in _QUOTA_CODES:
        return "quota"  # the plan's quota (a 429 too): waiting seconds does not help
    if status == 401:
        return "auth"
    if status == 403:
        return "forbidden"
    if status == 404:
        if code == "not_found" and conversation_scoped:
            return "conversation_gone"
        return "bad_request"
    if status == 429:
        return "rate_limited"
    if status == 400 and code == "invalid_param" and message.startswith("Too many requests"):
        return "rate_limited"
    if 400 <= status < 500:
        return "bad_request"
    return "upstream"


def error_from_frame(data: Mapping[str, Any], *, before_run: bool = False) -> ClickAIError:
    """Map an SSE ``error`` frame (the stream had already started with HTTP 200).

    ``before_run`` is True when no data frame came before it. Workflow-based apps validate a
    streaming request only after answering 200, so an error frame without a ``code`` at that
    point (``status`` 500 all the same) is the request's fault: a ``bad_request``.
    """
    code = _text(data.get("code"))
    raw_status = data.get("status")
    status = raw_status if isinstance(raw_status, int) else 0
    kind: ErrorKind = "upstream"
    if code in _QUOTA_CODES:
        kind = "quota"
    elif before_run and not code:
        kind = "bad_request"
    message = _text(data.get("message"))[:_MAX_MESSAGE_CHARS] or "error event in stream"
    return ClickAIError(kind, message, status=status, code=code)


ProblemKind = Literal["file_not_accepted", "too_many_files", "missing_input"]


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """What was wrong with a request ClickAI refused, as far as its message says.

    ``detail`` is the file name, the file-count limit or the input name ("" when not given).
    """

    kind: ProblemKind
    detail: str = ""


_PROBLEMS: tuple[tuple[re.Pattern[str], ProblemKind], ...] = (
    (re.compile(r"^File validation failed for file: (.*)$", re.S), "file_not_accepted"),
    (re.compile(r"^Invalid upload file()"), "file_not_accepted"),
    (re.compile(r"^Number of files exceeds the maximum limit (\d+)"), "too_many_files"),
    (re.compile(r"^(\S+) is required in input form"), "missing_input"),
    (re.compile(r"^(query) is required"), "missing_input"),
)


def request_problem(exc: ClickAIError) -> RequestProblem | None:
    """The user-correctable cause of a ``bad_request``, or None.

    Dify gives these validation errors no ``code`` of their own (``invalid_param`` in
    blocking mode, none at all in a streaming error frame), so the message is all there is.
    """
    if exc.kind != "bad_request":
        return None
    for pattern, kind in _PROBLEMS:
        match = pattern.match(exc.message)
        if match:
            return RequestProblem(kind, match.group(1).strip())
    return None


def error_from_transport(exc: httpx.TransportError) -> ClickAIError:
    """Map a connection-level failure (no usable HTTP answer)."""
    if isinstance(exc, httpx.TimeoutException):
        return ClickAIError("timeout", f"ClickAI did not answer in time ({type(exc).__name__})")
    detail = str(exc)[:_MAX_MESSAGE_CHARS] or type(exc).__name__
    return ClickAIError("upstream", f"connection to ClickAI failed: {detail}")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _code_and_message(body: bytes) -> tuple[str, str]:
    try:
        payload = json.loads(body.decode("utf-8", errors="replace")) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        code = _text(payload.get("code"))
        message = _text(payload.get("message"))
        errors = payload.get("errors")
        if isinstance(errors, dict) and errors:
            # flask-restx reqparse shape: {"errors": {"field": "reason"}, "message": ...}
            message = f"{message}: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        return code, message[:_MAX_MESSAGE_CHARS]
    snippet = body[:_MAX_MESSAGE_CHARS].decode("utf-8", errors="replace").strip()
    return "", snippet


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
