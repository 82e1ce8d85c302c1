"""MaiAgent failures as BackendError: Django REST Framework ``{"detail": …}`` or field maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import BackendError, ErrorKind


def maiagent_error(
    status: int, body: Any, headers: Mapping[str, str], conversation_scoped: bool
) -> BackendError:
    """On a continued turn, a 404 or a 400 about ``conversation`` means it is gone."""
    message = _message(body)
    kind: ErrorKind
    if status == 401:
        kind = "auth"
    elif status == 403:
        kind = "forbidden"
    elif status == 429:
        kind = "rate_limited"
    elif status >= 500:
        kind = "upstream"
    elif conversation_scoped and (
        status == 404 or (status == 400 and isinstance(body, dict) and "conversation" in body)
    ):
        kind = "conversation_gone"
    else:
        kind = "bad_request"
    return BackendError(kind, message or f"HTTP {status}", status=status)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])[:300]
        parts = [f"{k}: {v[0] if isinstance(v, list) and v else v}" for k, v in body.items()]
        return "; ".join(parts)[:300]
    return str(body or "")[:300]
