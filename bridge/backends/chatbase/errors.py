"""Chatbase API v2 failures as BackendError: the ``{"error": {"code", "message"}}`` envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import BackendError, ErrorKind

_BY_CODE: dict[str, ErrorKind] = {
    "AUTH_MISSING_API_KEY": "auth",
    "AUTH_INVALID_API_KEY": "auth",
    "AUTH_EXPIRED_API_KEY": "auth",
    "AUTH_INSUFFICIENT_PERMISSIONS": "forbidden",
    "AGENT_NOT_FOUND": "auth",
    "SUBSCRIPTION_PLAN_REQUIRED": "quota",
    "SUBSCRIPTION_API_RESTRICTED_PLAN": "quota",
    "CHAT_CREDITS_EXHAUSTED": "quota",
    "CHAT_AGENT_CREDITS_EXHAUSTED": "quota",
    "CHAT_MODEL_NOT_ALLOWED": "bad_request",
    "CHAT_CONVERSATION_NOT_ONGOING": "conversation_gone",
    "CHAT_CONVERSATION_MISMATCH": "conversation_gone",
    "RATE_LIMIT_TOO_MANY_REQUESTS": "rate_limited",
    "VALIDATION_INVALID_BODY": "bad_request",
    "VALIDATION_INVALID_JSON": "bad_request",
}


def chatbase_error(
    status: int, body: Any, headers: Mapping[str, str], conversation_scoped: bool
) -> BackendError:
    """Branch on the stable ``code`` first, then on the HTTP status."""
    code, message = "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or "")
        message = str(body["error"].get("message") or "")
    elif isinstance(body, str):
        message = body
    kind = _BY_CODE.get(code)
    if kind is None and code in ("RESOURCE_NOT_FOUND",) and conversation_scoped:
        kind = "conversation_gone"
    if kind is None:
        kind = _by_status(status)
    return BackendError(kind, message or f"HTTP {status}", status=status, code=code)


def frame_error(frame: Mapping[str, Any]) -> BackendError:
    """An ``error`` frame inside the stream (``errorText`` / ``error.message`` / ``message``)."""
    inner = frame.get("error")
    text = frame.get("errorText") or (inner.get("message") if isinstance(inner, dict) else inner)
    code = str(inner.get("code") or "") if isinstance(inner, dict) else ""
    kind = _BY_CODE.get(code, "upstream")
    return BackendError(kind, str(text or frame.get("message") or "stream error"), code=code)


def _by_status(status: int) -> ErrorKind:
    if status == 401:
        return "auth"
    if status in (402, 403):
        return "forbidden" if status == 403 else "quota"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "upstream"
    return "bad_request"
