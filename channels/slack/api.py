"""Slack Web API calls with their failures translated into the bridge's error tree."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bridge.errors import ChannelError, RateLimited, ReplyGone

CHANNEL = "slack"

# Tiered methods are limited per workspace; chat.postMessage is limited per channel.
WORKSPACE_WIDE = frozenset(
    {
        "chat.update",
        "chat.delete",
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "files.info",
        "users.info",
    }
)
GONE = frozenset({"channel_not_found", "is_archived", "not_in_channel", "channel_is_archived"})
STREAM_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})
STREAM_REFUSED = frozenset(
    {
        "not_allowed",
        "method_not_supported",
        "method_not_supported_for_channel_type",
        "unknown_method",
        "missing_scope",
        "not_allowed_token_type",
        "feature_not_enabled",
        "missing_recipient_user_id",
        "missing_recipient_team_id",
    }
)
STREAM_EXPIRED = "message_not_in_streaming_state"
CANNOT_EDIT = frozenset(
    {"cant_update_message", "message_not_found", "edit_window_closed", "cant_delete_message"}
)
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
BAD_CONTENT = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "msg_too_long"}
)


class Transient(ChannelError):
    """A 5xx, a timeout or a broken connection: worth retrying a little later."""

    def __init__(self, message: str) -> None:
        super().__init__(CHANNEL, message)


class StreamRefused(ChannelError):
    """The workspace, token or channel does not allow native streaming."""

    def __init__(self, code: str) -> None:
        super().__init__(CHANNEL, f"native streaming refused: {code}")
        self.code = code


class StreamExpired(ChannelError):
    """The stream was stopped or expired server-side; the message keeps what was streamed."""

    def __init__(self) -> None:
        super().__init__(CHANNEL, STREAM_EXPIRED)


class BadContent(ChannelError):
    """Slack refused the message's blocks (a plainer form of the same text may pass)."""

    def __init__(self, code: str) -> None:
        super().__init__(CHANNEL, code)
        self.code = code


class CannotEdit(ChannelError):
    """The message can no longer be edited or deleted."""

    def __init__(self, code: str) -> None:
        super().__init__(CHANNEL, code)
        self.code = code


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error") or "")
    return ""


def retry_after(exc: SlackApiError) -> float:
    raw = exc.response.headers.get("Retry-After") if exc.response.headers else None
    try:
        return max(0.0, float(raw)) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def translate(exc: SlackApiError, method: str) -> ChannelError:
    """The bridge error for a failed Web API call."""
    code = error_code(exc)
    status = exc.response.status_code
    if status == 429 or code == "ratelimited":
        return RateLimited(CHANNEL, retry_after(exc), global_=method in WORKSPACE_WIDE)
    if code in GONE:
        return ReplyGone(CHANNEL, f"{method}: {code}")
    if method in STREAM_METHODS and code == STREAM_EXPIRED:
        return StreamExpired()
    if method in STREAM_METHODS and code in STREAM_REFUSED:
        return StreamRefused(code)
    if code in CANNOT_EDIT:
        return CannotEdit(code)
    if code in BAD_CONTENT and method in ("chat.postMessage", "chat.update"):
        return BadContent(code)
    if status >= 500 or code in TRANSIENT:
        return Transient(f"{method}: {code or status}")
    return ChannelError(CHANNEL, f"{method} failed: {code or status}")


async def call(method: str, request: Awaitable[AsyncSlackResponse]) -> dict[str, Any]:
    """Await one Web API request; every failure becomes a ``ChannelError`` subclass."""
    try:
        response = await request
    except SlackApiError as exc:
        raise translate(exc, method) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Transient(f"{method}: {type(exc).__name__}") from exc
    except SlackClientError as exc:
        raise ChannelError(CHANNEL, f"{method}: {exc}") from exc
    data = response.data
    return data if isinstance(data, dict) else {}
