"""Agentok failures as BackendError: FastAPI ``{"detail": …}`` and its 500 envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import BackendError, ErrorKind


def agentok_error(
    status: int, body: Any, headers: Mapping[str, str], conversation_scoped: bool
) -> BackendError:
    """A 404 on a chat the bridge created means the chat is gone (deleted in Studio)."""
    message = ""
    if isinstance(body, dict):
        detail = body.get("detail")
        error = body.get("error")
        if detail is not None:
            message = str(detail)
        elif isinstance(error, dict):
            message = str(error.get("detail") or error.get("message") or "")
    elif isinstance(body, str):
        message = body
    kind: ErrorKind
    if status == 401:
        kind = "auth"
    elif status == 403:
        kind = "forbidden"
    elif status == 404 and conversation_scoped:
        kind = "conversation_gone"
    elif status == 429:
        kind = "rate_limited"
    elif status >= 500:
        kind = "upstream"
    else:
        kind = "bad_request"
    return BackendError(kind, message[:300] or f"HTTP {status}", status=status)
