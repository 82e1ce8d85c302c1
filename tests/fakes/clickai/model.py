"""The fake ClickAI's data: app modes, scripted replies, failures, per-user state, turns."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

AppMode = Literal["chat", "agent-chat", "advanced-chat", "completion", "workflow"]
Endpoint = Literal["chat", "completion", "workflow"]
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_WERKZEUG_404 = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
DEFAULT_USER = "DEFAULT-USER"


@dataclass(frozen=True, kw_only=True)
class FakeFile:
    """A file the assistant "produces"; served at a ``/files/tools/...`` URL."""

    name: str = "chart.png"
    mime_type: str = "image/png"
    type: str = "image"
    content: bytes = b"\x89PNG\r\n\x1a\nfake-image"


@dataclass(frozen=True, kw_only=True)
class Reply:
    """How the next generation request answers (every field optional; see module docstring)."""

    answer: str | None = None
    deltas: int | None = None
    delta_delay: float | None = None
    first_token_delay: float | None = None
    replace: str | None = None
    error: str | None = None
    error_status: int = 400
    error_message: str = "[openai] Rate Limit Error"
    error_after: int = 1
    cut_after: int | None = None
    hang: bool = False
    hang_seconds: float = 300.0
    tool_steps: int = 0
    chatflow_order: Literal["current", "legacy"] = "current"
    run_status: str = "succeeded"
    trailing_error: bool = False
    outputs_only: bool = False
    outputs: Mapping[str, Any] | None = None
    files: tuple[FakeFile, ...] = ()
    files_via: Literal["message_file", "message_end"] = "message_file"
    relative_urls: bool = False
    spaced: bool | None = None


@dataclass(frozen=True)
class RawFrames:
    """Bytes written verbatim (each item in order, ``delay`` seconds apart), then EOF.

    ``gaps`` (one per item after the first) sets each wait on its own instead of ``delay``.
    """

    frames: Sequence[str | bytes]
    delay: float = 0.0
    content_type: str = "text/event-stream; charset=utf-8"
    status: int = 200
    gaps: Sequence[float] = ()


@dataclass(frozen=True, kw_only=True)
class HttpFailure:
    """An HTTP error answer. ``code=None`` omits the code; ``body`` sends raw text instead.

    ``path`` (a suffix such as ``"files/upload"``) only matters to ``fail_next``.
    """

    status: int = 500
    code: str | None = "internal_server_error"
    message: str = "Internal Server Error"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    path: str | None = None


@dataclass
class RecordedRequest:
    """One request the fake received (``path`` without the query string)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


@dataclass
class _Conversation:
    id: str
    name: str
    inputs: dict[str, Any]
    created_at: int
    updated_at: float
    messages: list[_Message] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "inputs": self.inputs,
            "status": "normal",
            "introduction": "",
            "created_at": self.created_at,
            "updated_at": int(self.updated_at),
        }


@dataclass
class _Message:
    id: str
    conversation_id: str
    query: str
    inputs: dict[str, Any]
    created_at: int
    answer: str = ""
    feedback: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "parent_message_id": None,
            "inputs": self.inputs,
            "query": self.query,
            "answer": self.answer,
            "feedback": self.feedback and {"rating": self.feedback["rating"]},
            "retriever_resources": [],
            "created_at": self.created_at,
            "agent_thoughts": [],
            "message_files": self.files,
            "status": "normal",
            "error": None,
            "extra_contents": [],
        }


@dataclass
class _UserState:
    conversations: dict[str, _Conversation] = field(default_factory=dict)
    messages: dict[str, _Message] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Turn:
    key: str
    mode: AppMode
    endpoint: Endpoint
    user: str
    query: str
    inputs: dict[str, Any]
    files: list[dict[str, Any]]
    conversation: _Conversation | None
    message: _Message | None
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: int = field(default_factory=lambda: int(time.time()))
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def profile(self) -> str:
        if self.endpoint == "chat":
            return {"agent-chat": "agent", "advanced-chat": "chatflow"}.get(self.mode, "chat")
        return self.endpoint


class _ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class _Gone(Exception):
    """The client went away (or we cut the connection)."""
