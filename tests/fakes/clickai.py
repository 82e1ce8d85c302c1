"""FakeClickAI: an in-process ClickAI (Dify Service API) server on 127.0.0.1 for tests and benches.

Start it as an async context manager; it listens on a free port::

    async with FakeClickAI() as fake:                    # key "app-test", a chatbot app
        client = ClickAIClient(base_url=fake.base_url, api_key=fake.key)
        ...
        assert fake.calls("chat-messages")[0].json["user"] == "telegram:42"

Or standalone: ``python -m tests.fakes.clickai --port 8901 [--key app-test] [--mode chat]
[--delta-delay 0.05]`` prints the base URL and serves until Ctrl-C.

What it implements (the reference's checklist): bearer auth (unknown key → 401, a key in
``disabled_keys`` → 403); state per (app key, user): conversations, messages, uploads, feedback;
``chat-messages`` validation (``inputs``/``user`` required, empty query, bad or foreign
``conversation_id`` → 404 ``not_found`` "Conversation Not Exists." + the flask-restx "did you mean"
suffix, foreign upload ids, required inputs from ``user_input_form``); absent ``response_mode`` =
blocking; the agent profile rejects blocking; streaming with identical ids on every frame, compact
JSON (``spaced=True`` for the legacy ``json.dumps`` style), ``event: ping`` every
``ping_interval`` seconds (chatflow/workflow open with one ping); ``message_end`` with usage;
stop (records it, ends the stream with the partial answer); upload (201, 413 above
``upload_limit``, 415 without a part Content-Type); feedback like/dislike/null; conversations
list/rename/delete (204, or ``delete_status=200``); messages paging; ``parameters``; ``info``;
``completion-messages``; ``workflows/run``; assistant files served under ``/files/...``; the Studio
List Assistants API (``studio_token``, ``workspace_id``).

App profiles (``mode``): ``chat`` (chatbot), ``agent-chat``, ``advanced-chat`` (chatflow),
``completion``, ``workflow``. By default a turn answers ``"You said: <query>"`` in ``deltas``
pieces, ``first_token_delay`` then ``delta_delay`` seconds apart.

Scripting the next generation requests (chat/completion/workflow), consumed in order::

    fake.script(Reply(answer="Hi!", deltas=2))               # text, pacing, per-turn knobs
    fake.script(RawFrames(["data: {...}\\n\\n", "event: ping\\n\\n"]))   # exact bytes
    fake.script(HttpFailure(status=500))                     # an HTTP error instead

``Reply`` knobs: ``error="completion_request_error"`` (+``error_status``, ``error_message``,
``error_after`` deltas) = mid-stream error frame; ``replace="..."`` = message_replace;
``tool_steps=2`` = agent thoughts, each id sent three times; ``chatflow_order="legacy"`` =
workflow_finished before message_end; ``run_status="failed"`` (+``trailing_error=True``) = failed
run; ``outputs_only=True`` / ``outputs={...}`` = the answer only in workflow_finished outputs;
``hang=True`` = pings only; ``cut_after=1`` = close the connection after 1 delta without a terminal
frame; ``files=(FakeFile(),)`` with ``files_via="message_file"|"message_end"`` and
``relative_urls=True``; ``delta_delay=0.5`` for a slow trickle; ``spaced=True``.

Failing any endpoint: ``fake.fail_next(HttpFailure(status=429, code="too_many_requests",
headers={"Retry-After": "2"}, path="files/upload"))`` (``path=None`` = any request).

Assertions: ``fake.requests`` (every request: method, path, query, headers, json, form, files),
``fake.calls(path_suffix, method=None)``, ``fake.stops``, ``fake.conversations(user)``,
``fake.messages(user)``, ``fake.uploads(user)``, ``await fake.wait_for_requests(n)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import BodyPartReader, web

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
    """Bytes written verbatim (each item in order, ``delay`` seconds apart), then EOF."""

    frames: Sequence[str | bytes]
    delay: float = 0.0
    content_type: str = "text/event-stream; charset=utf-8"
    status: int = 200


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


class FakeClickAI:
    """The fake server; see the module docstring for the scripting API."""

    def __init__(
        self,
        *,
        key: str = "app-test",
        mode: AppMode = "chat",
        extra_apps: Mapping[str, AppMode] | None = None,
        disabled_keys: Sequence[str] = ("app-disabled",),
        port: int = 0,
        deltas: int = 3,
        delta_delay: float = 0.0,
        first_token_delay: float = 0.0,
        ping_interval: float = 10.0,
        spaced: bool = False,
        upload_limit: int = 15 * 1024 * 1024,
        delete_status: Literal[200, 204] = 204,
        flask_restx_suffix: bool = True,
        opening_statement: str = "",
        user_input_form: Sequence[Mapping[str, Any]] = (),
        app_name: str = "Fake Assistant",
        studio_token: str = "studio-test",
        workspace_id: str = "ws-test",
        assistants: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.key = key
        self.apps: dict[str, AppMode] = {key: mode, **(extra_apps or {})}
        self.disabled_keys = frozenset(disabled_keys)
        self.deltas, self.delta_delay = deltas, delta_delay
        self.first_token_delay, self.ping_interval = first_token_delay, ping_interval
        self.spaced, self.upload_limit, self.delete_status = spaced, upload_limit, delete_status
        self.flask_restx_suffix = flask_restx_suffix
        self.opening_statement = opening_statement
        self.user_input_form = [dict(item) for item in user_input_form]
        self.app_name, self.studio_token, self.workspace_id = app_name, studio_token, workspace_id
        self.assistants = (
            [dict(a) for a in assistants]
            if assistants is not None
            else [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, k)),
                    "name": f"{app_name} {i + 1}",
                    "mode": m,
                    "description": "",
                    "icon": "🤖",
                }
                for i, (k, m) in enumerate(self.apps.items())
            ]
        )
        self.requests: list[RecordedRequest] = []
        self.stops: list[tuple[str, str]] = []
        self._port = port
        self._scripts: list[Reply | RawFrames | HttpFailure] = []
        self._failures: list[HttpFailure] = []
        self._resets: list[str | None] = []
        self._state: dict[tuple[str, str], _UserState] = {}
        self._running: dict[str, _Turn] = {}
        self._served: dict[str, tuple[bytes, str]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._records: dict[int, RecordedRequest] = {}
        self._runner: web.AppRunner | None = None
        self._request_seen = asyncio.Condition()
        self.origin = ""
        self._tick = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The App Runtime API root, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.origin}/v1"

    @property
    def studio_base_url(self) -> str:
        return self.origin

    async def __aenter__(self) -> FakeClickAI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        add = app.router.add_route
        add("POST", "/v1/chat-messages", self._chat)
        add("POST", "/v1/completion-messages", self._completion)
        add("POST", "/v1/workflows/run", self._workflow)
        add("POST", "/v1/chat-messages/{task_id}/stop", self._stop)
        add("POST", "/v1/completion-messages/{task_id}/stop", self._stop)
        add("POST", "/v1/workflows/tasks/{task_id}/stop", self._stop)
        add("POST", "/v1/files/upload", self._upload)
        add("POST", "/v1/messages/{message_id}/feedbacks", self._feedback)
        add("GET", "/v1/messages", self._messages)
        add("GET", "/v1/conversations", self._conversations)
        add("POST", "/v1/conversations/{conversation_id}/name", self._rename)
        add("DELETE", "/v1/conversations/{conversation_id}", self._delete)
        add("GET", "/v1/parameters", self._parameters)
        add("GET", "/v1/info", self._info)
        add("GET", "/files/{tail:.*}", self._file)
        add("GET", "/assistant/api/assistant/my-assistants", self._assistants)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self.origin = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- scripting and inspection --------------------------------------------------------------

    def script(self, *items: Reply | RawFrames | HttpFailure) -> None:
        """Queue behaviours for the next generation requests, one per request."""
        self._scripts.extend(items)

    def fail_next(self, failure: HttpFailure, *, times: int = 1) -> None:
        """Fail the next ``times`` requests whose path ends with ``failure.path`` (None = any)."""
        self._failures.extend([failure] * times)

    def reset_next(self, *, path: str | None = None, times: int = 1) -> None:
        """Reset the connection (TCP RST, no HTTP answer) of the next ``times`` requests whose
        path ends with ``path`` (None = any), as a crashing proxy or load balancer would."""
        self._resets.extend([path] * times)

    def calls(self, path_suffix: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path.endswith(path_suffix) and (method is None or r.method == method)
        ]

    async def wait_for_requests(self, count: int, *, within: float = 5.0) -> None:
        """Wait for at least ``count`` requests in all (TimeoutError after ``within`` s)."""
        async with asyncio.timeout(within), self._request_seen:
            await self._request_seen.wait_for(lambda: len(self.requests) >= count)

    def conversations(self, user: str, key: str | None = None) -> list[dict[str, Any]]:
        """The user's live conversations (API shape), oldest first."""
        state = self._state.get((key or self.key, user), _UserState())
        return [c.to_json() for c in state.conversations.values()]

    def messages(self, user: str, key: str | None = None) -> list[dict[str, Any]]:
        """Every message of the user (API shape; ``feedback`` includes ``content``)."""
        state = self._state.get((key or self.key, user), _UserState())
        return [m.to_json() | {"feedback": m.feedback} for m in state.messages.values()]

    def uploads(self, user: str, key: str | None = None) -> list[dict[str, Any]]:
        """The user's uploads, as the upload endpoint answered them."""
        state = self._state.get((key or self.key, user), _UserState())
        return list(state.uploads.values())

    def _now(self) -> float:
        """Strictly increasing wall-clock seconds, so sorting by update time is stable."""
        self._tick = max(time.time(), self._tick + 1e-6)
        return self._tick

    @property
    def running_tasks(self) -> list[str]:
        """Task ids of the generations in progress."""
        return list(self._running)

    # -- plumbing --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers)
        )
        if request.content_type == "application/json" and request.can_read_body:
            try:
                record.json = json.loads(await request.read())
            except ValueError:
                record.json = None
        self._records[id(request)] = record
        async with self._request_seen:
            self.requests.append(record)
            self._request_seen.notify_all()
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            if self._take_reset(request.path) and request.transport is not None:
                sock = request.transport.get_extra_info("socket")
                if sock is not None:
                    linger = struct.pack("ii", 1, 0)  # close with RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                request.transport.abort()
                raise asyncio.CancelledError
            failure = self._take_failure(request.path)
            if failure is not None:
                return _failure_response(failure)
            return await handler(request)
        except _ApiError as exc:
            return _error(exc.status, exc.code, exc.message, exc.headers)
        except web.HTTPNotFound:
            return _error(404, "not_found", self._suffix(_WERKZEUG_404, request.path))
        except web.HTTPMethodNotAllowed:
            return _error(405, "method_not_allowed", "The method is not allowed.")
        finally:
            self._records.pop(id(request), None)
            if task is not None:
                self._handlers.discard(task)

    def _take_reset(self, path: str) -> bool:
        for i, wanted in enumerate(self._resets):
            if wanted is None or path.endswith(wanted):
                del self._resets[i]
                return True
        return False

    def _take_failure(self, path: str) -> HttpFailure | None:
        for i, failure in enumerate(self._failures):
            if failure.path is None or path.endswith(failure.path):
                return self._failures.pop(i)
        return None

    def _suffix(self, message: str, path: str) -> str:
        if not self.flask_restx_suffix:
            return message
        return (
            f"{message} You have requested this URI [{path}] but did you mean {path} or "
            f"/api{path.removeprefix('/v1')} or /console/api{path.removeprefix('/v1')} ?"
        )

    def _not_found(self, message: str, request: web.Request) -> _ApiError:
        return _ApiError(404, "not_found", self._suffix(message, request.path))

    def _app(self, request: web.Request) -> tuple[str, AppMode]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _ApiError(
                401,
                "unauthorized",
                "Authorization header must be provided and start with 'Bearer'",
                {"WWW-Authenticate": 'Bearer realm="api"'},
            )
        token = token.strip()
        if token in self.disabled_keys:
            raise _ApiError(403, "forbidden", "The app's API service has been disabled.")
        if token not in self.apps:
            raise _ApiError(
                401, "unauthorized", "Access token is invalid", {"WWW-Authenticate": "Bearer"}
            )
        return token, self.apps[token]

    def _user_state(self, key: str, user: str) -> _UserState:
        return self._state.setdefault((key, user), _UserState())

    def _body(self, request: web.Request) -> dict[str, Any]:
        record = self._records[id(request)]
        if request.content_type != "application/json":
            raise _ApiError(
                415,
                "unsupported_media_type",
                "Did not attempt to load JSON data because the request Content-Type was not "
                "'application/json'.",
            )
        if not isinstance(record.json, dict):
            raise _ApiError(400, "bad_request", "The browser (or proxy) sent a bad request.")
        return record.json

    # -- generation ------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode not in ("chat", "agent-chat", "advanced-chat"):
            raise _ApiError(400, "not_chat_app", "App mode mismatch: not a chat app.")
        return await self._generate(request, key, mode, "chat")

    async def _completion(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode != "completion":
            raise _ApiError(400, "app_unavailable", "App unavailable, please check your app.")
        return await self._generate(request, key, mode, "completion")

    async def _workflow(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode != "workflow":
            raise _ApiError(400, "not_workflow_app", "Please check if your app mode matches.")
        return await self._generate(request, key, mode, "workflow")

    async def _generate(
        self, request: web.Request, key: str, mode: AppMode, endpoint: Endpoint
    ) -> web.StreamResponse:
        body = self._body(request)
        if self._scripts and isinstance(self._scripts[0], HttpFailure | RawFrames):
            item = self._scripts.pop(0)
            if isinstance(item, HttpFailure):
                return _failure_response(item)
            assert isinstance(item, RawFrames)
            return await _raw(request, item)
        turn, streaming = self._validate(request, body, key, mode, endpoint)
        reply = self._scripts.pop(0) if self._scripts else Reply()
        assert isinstance(reply, Reply)
        self._running[turn.task_id] = turn
        try:
            if streaming:
                return await self._stream(request, turn, reply)
            return await self._blocking(turn, reply)
        finally:
            self._running.pop(turn.task_id, None)

    def _validate(
        self, request: web.Request, body: dict[str, Any], key: str, mode: AppMode, ep: Endpoint
    ) -> tuple[_Turn, bool]:
        model = {"chat": "ChatRequestPayload", "completion": "CompletionRequestPayload"}
        inputs = body.get("inputs")
        if not isinstance(inputs, dict):
            raise _ApiError(
                400,
                "invalid_param",
                f"1 validation error for {model.get(ep, 'Payload')}\n"
                "inputs\n  Field required [type=missing]",
            )
        if ep == "chat" and not isinstance(body.get("query"), str):
            raise _ApiError(
                400,
                "invalid_param",
                "1 validation error for ChatRequestPayload\n"
                "query\n  Field required [type=missing]",
            )
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        response_mode = body.get("response_mode") or "blocking"
        if response_mode not in ("streaming", "blocking"):
            raise _ApiError(400, "invalid_param", "response_mode must be streaming or blocking")
        if ep == "chat" and mode == "agent-chat" and response_mode == "blocking":
            raise _ApiError(400, "invalid_param", "Agent Chat App does not support blocking mode")
        query = str(body.get("query") or "").replace("\x00", "")
        if ep == "chat" and not query:
            raise _ApiError(400, "invalid_param", "query is required")
        if ep != "chat" and not query:
            query = str(inputs.get("query") or "")
        state = self._user_state(key, user)
        conversation = None
        if ep == "chat":
            conversation = self._conversation_for(request, body, state, inputs, query)
        for item in self.user_input_form:
            for spec in item.values():
                name = spec.get("variable", "")
                if spec.get("required") and inputs.get(name) in (None, ""):
                    raise _ApiError(400, "invalid_param", f"{name} is required in input form")
        files = self._check_files(body.get("files"), state)
        if conversation is not None and conversation.id not in state.conversations:
            state.conversations[conversation.id] = conversation
        turn = _Turn(key, mode, ep, user, query, dict(inputs), files, conversation, None)
        if ep != "workflow":
            message = _Message(
                turn.message_id,
                conversation.id if conversation else "",
                query,
                dict(inputs),
                turn.created_at,
                files=[dict(f, belongs_to="user") for f in files],
            )
            turn.message = message
            state.messages[message.id] = message
            if conversation is not None:
                conversation.messages.append(message)
                conversation.updated_at = self._now()
        return turn, response_mode == "streaming"

    def _conversation_for(
        self,
        request: web.Request,
        body: dict[str, Any],
        state: _UserState,
        inputs: dict[str, Any],
        query: str,
    ) -> _Conversation:
        conversation_id = body.get("conversation_id") or ""
        if not conversation_id:
            name = query if len(query) <= 20 else query[:20] + "…"
            now = int(time.time())
            return _Conversation(str(uuid.uuid4()), name, dict(inputs), now, self._now())
        if not isinstance(conversation_id, str) or not _UUID.match(conversation_id):
            raise _ApiError(400, "invalid_param", "conversation_id must be a valid UUID")
        found = state.conversations.get(conversation_id)
        if found is None:
            raise self._not_found("Conversation Not Exists.", request)
        return found

    def _check_files(self, raw: object, state: _UserState) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or "transfer_method" not in item:
                continue
            if item["transfer_method"] == "local_file":
                upload = state.uploads.get(str(item.get("upload_file_id")))
                if upload is None:
                    raise _ApiError(400, "invalid_param", "Invalid upload file")
                files.append(
                    {
                        "id": str(uuid.uuid4()),
                        "filename": upload["name"],
                        "type": item.get("type", "custom"),
                        "url": upload["source_url"],
                        "mime_type": upload["mime_type"],
                        "size": upload["size"],
                        "transfer_method": "local_file",
                        "upload_file_id": upload["id"],
                    }
                )
            elif item.get("url"):
                files.append(
                    {
                        "id": str(uuid.uuid4()),
                        "type": item.get("type", "custom"),
                        "url": item["url"],
                        "transfer_method": "remote_url",
                    }
                )
        return files

    async def _stream(self, request: web.Request, turn: _Turn, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        writer = _Writer(response, spaced=self.spaced if reply.spaced is None else reply.spaced)
        pinger = asyncio.create_task(self._pinger(writer))
        try:
            await self._play(request, turn, reply, writer)
        except _Gone:
            pass
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return response

    async def _pinger(self, writer: _Writer) -> None:
        with contextlib.suppress(_Gone):
            while True:
                await asyncio.sleep(self.ping_interval)
                await writer.ping()

    async def _play(self, request: web.Request, turn: _Turn, reply: Reply, w: _Writer) -> None:
        profile = turn.profile
        answer = reply.answer if reply.answer is not None else f"You said: {turn.query}"
        chunks = _split(answer, reply.deltas or self.deltas)
        if profile in ("chatflow", "workflow"):
            await w.ping()
        if reply.hang:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.gone.wait(), reply.hang_seconds)
            return
        if profile in ("chatflow", "workflow"):
            await w.data(
                self._wf(
                    turn,
                    "workflow_started",
                    {
                        "id": turn.run_id,
                        "workflow_id": "wf-1",
                        "created_at": turn.created_at,
                        "inputs": {
                            **turn.inputs,
                            "sys.query": turn.query,
                            "sys.user_id": turn.user,
                        },
                    },
                )
            )
            await w.data(self._wf(turn, "node_started", _node("started")))
        for step in range(reply.tool_steps):
            thought_id = str(uuid.uuid4())
            for thought, tool, observation in (
                ("", "", ""),
                (f"Step {step + 1}: I should search.", "web_search", ""),
                (f"Step {step + 1}: I should search.", "web_search", f"result {step + 1}"),
            ):
                await w.data(self._thought(turn, thought_id, step + 1, thought, tool, observation))
        final_thought = str(uuid.uuid4())
        if profile == "agent":
            await w.data(self._thought(turn, final_thought, reply.tool_steps + 1, "", "", ""))
        await _pause(
            turn,
            self.first_token_delay if reply.first_token_delay is None else reply.first_token_delay,
        )
        delay = self.delta_delay if reply.delta_delay is None else reply.delta_delay
        sent = ""
        for i in range(len(chunks) + 1):
            if reply.error and i == min(reply.error_after, len(chunks)):
                self._save(turn, sent, [])
                await w.data(
                    self._frame(
                        turn,
                        "error",
                        task=False,
                        code=reply.error,
                        status=reply.error_status,
                        message=reply.error_message,
                    )
                )
                return
            if reply.cut_after is not None and i == min(reply.cut_after, len(chunks)):
                self._save(turn, sent, [])
                if request.transport is not None:
                    request.transport.close()
                raise _Gone
            if i == len(chunks) or turn.stop.is_set():
                break
            if not reply.outputs_only:
                await w.data(self._delta(turn, chunks[i]))
            sent += chunks[i]
            if i + 1 < len(chunks):
                await _pause(turn, delay)
        stopped = turn.stop.is_set()
        text = sent if stopped else answer
        if reply.replace is not None and not stopped:
            text = reply.replace
            await w.data(
                self._frame(turn, "message_replace", answer=text, reason="output_moderation")
            )
        if profile == "agent":
            await w.data(self._thought(turn, final_thought, reply.tool_steps + 1, text, "", ""))
        files = self._publish(reply, chatflow=profile in ("chatflow", "workflow"))
        if reply.files_via == "message_file" and profile != "workflow":
            for f in files:
                await w.data(
                    self._frame(
                        turn,
                        "message_file",
                        id=f["id"] or f["related_id"],
                        type=f["type"],
                        belongs_to="assistant",
                        url=f["url"],
                    )
                )
        self._save(turn, text, files)
        await self._terminal(turn, reply, w, text, files, stopped)

    async def _terminal(
        self,
        turn: _Turn,
        reply: Reply,
        w: _Writer,
        text: str,
        files: list[dict[str, Any]],
        stopped: bool,
    ) -> None:
        profile = turn.profile
        end_files: list[dict[str, Any]] | None = None
        if reply.files_via == "message_end" and profile != "workflow":
            end_files = [*([] if profile == "chatflow" else turn.files), *files]
        elif profile == "chatflow":
            end_files = []
        end = self._frame(
            turn,
            "message_end",
            id=turn.message_id,
            files=end_files,
            metadata={"annotation_reply": None, "retriever_resources": [], "usage": _usage(text)},
        )
        if profile in ("chat", "agent", "completion"):
            await w.data(end)
            return
        node = _node("succeeded") | {"outputs": {"text": text}}
        await w.data(self._wf(turn, "node_finished", node))
        status = "stopped" if stopped else reply.run_status
        outputs = dict(reply.outputs) if reply.outputs is not None else {"answer": text}
        finished = self._wf(
            turn,
            "workflow_finished",
            {
                "id": turn.run_id,
                "workflow_id": "wf-1",
                "status": status,
                "outputs": outputs if status == "succeeded" else None,
                "error": None
                if status == "succeeded"
                else ("Stopped by user." if stopped else "Node LLM run failed: boom"),
                "elapsed_time": 0.5,
                "total_tokens": len(text),
                "total_steps": 3,
                "created_at": turn.created_at,
                "finished_at": int(time.time()),
                "files": files
                if reply.files_via == "message_end" or profile == "workflow"
                else [],
            },
        )
        if profile == "workflow":
            await w.data(finished)
        elif status not in ("succeeded", "stopped"):
            await w.data(finished)
            if reply.trailing_error:
                await w.data(
                    self._frame(
                        turn,
                        "error",
                        task=False,
                        code="invalid_param",
                        status=400,
                        message="Run failed: Node LLM run failed: boom",
                    )
                )
        elif reply.chatflow_order == "legacy" or stopped:
            await w.data(finished)
            await w.data(end)
        else:
            await w.data(end)
            await w.data(finished)

    async def _blocking(self, turn: _Turn, reply: Reply) -> web.Response:
        answer = reply.answer if reply.answer is not None else f"You said: {turn.query}"
        chunks = _split(answer, reply.deltas or self.deltas)
        ftt = (
            self.first_token_delay if reply.first_token_delay is None else reply.first_token_delay
        )
        delay = self.delta_delay if reply.delta_delay is None else reply.delta_delay
        await _pause(turn, ftt + delay * max(0, len(chunks) - 1))
        if reply.hang:
            await _pause(turn, reply.hang_seconds)
        text = "".join(chunks[:1]) if turn.stop.is_set() else answer
        if reply.error:
            self._save(turn, "", [])
            raise _ApiError(reply.error_status, reply.error, reply.error_message)
        if reply.replace is not None:
            text = reply.replace
        files = self._publish(reply, chatflow=turn.profile in ("chatflow", "workflow"))
        self._save(turn, text, files)
        if turn.endpoint == "workflow":
            ok = reply.run_status == "succeeded"
            outputs = dict(reply.outputs) if reply.outputs is not None else {"answer": text}
            return _json(
                {
                    "task_id": turn.task_id,
                    "workflow_run_id": turn.run_id,
                    "data": {
                        "id": turn.run_id,
                        "workflow_id": "wf-1",
                        "status": reply.run_status,
                        "outputs": outputs if ok else None,
                        "error": None if ok else "boom",
                        "elapsed_time": 0.5,
                        "total_tokens": len(text),
                        "total_steps": 3,
                        "created_at": turn.created_at,
                        "finished_at": int(time.time()),
                    },
                }
            )
        if turn.profile == "chatflow" and reply.run_status != "succeeded":
            raise _ApiError(400, "invalid_param", "Run failed: Node LLM run failed: boom")
        body: dict[str, Any] = {
            "event": "message",
            "task_id": turn.task_id,
            "id": turn.message_id,
            "message_id": turn.message_id,
        }
        if turn.conversation is not None:
            body["conversation_id"] = turn.conversation.id
        body |= {
            "mode": turn.mode,
            "answer": text,
            "created_at": turn.created_at,
            "metadata": {
                "annotation_reply": None,
                "retriever_resources": [],
                "usage": _usage(text),
            },
        }
        if files:
            body["files"] = files
        return _json(body)

    def _frame(
        self, turn: _Turn, event: str, *, task: bool = True, **extra: Any
    ) -> dict[str, Any]:
        if turn.endpoint == "workflow":
            return {
                "event": event,
                "workflow_run_id": turn.run_id,
                "task_id": turn.task_id,
                **extra,
            }
        frame: dict[str, Any] = {"event": event}
        if turn.conversation is not None:
            frame["conversation_id"] = turn.conversation.id
        frame |= {"message_id": turn.message_id, "created_at": turn.created_at}
        if task:
            frame["task_id"] = turn.task_id
        return frame | extra

    def _thought(
        self, turn: _Turn, thought_id: str, position: int, thought: str, tool: str, obs: str
    ) -> dict[str, Any]:
        return self._frame(
            turn,
            "agent_thought",
            id=thought_id,
            position=position,
            thought=thought,
            observation=obs,
            tool=tool,
            tool_labels={},
            tool_input=json.dumps({tool: {"q": turn.query}}) if tool else "",
            message_files=[],
        )

    def _wf(self, turn: _Turn, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._frame(turn, event, workflow_run_id=turn.run_id, data=data)

    def _delta(self, turn: _Turn, chunk: str) -> dict[str, Any]:
        if turn.profile == "workflow":
            return self._frame(
                turn, "text_chunk", data={"text": chunk, "from_variable_selector": ["llm", "text"]}
            )
        if turn.profile == "agent":
            return self._frame(turn, "agent_message", id=turn.message_id, answer=chunk)
        selector = ["answer", "answer"] if turn.profile == "chatflow" else None
        return self._frame(
            turn, "message", id=turn.message_id, answer=chunk, from_variable_selector=selector
        )

    def _publish(self, reply: Reply, *, chatflow: bool) -> list[dict[str, Any]]:
        """Serve the reply's files; returns their wire dicts (chatflow style: no belongs_to)."""
        out = []
        for f in reply.files:
            file_id = str(uuid.uuid4())
            extension = f.name.rpartition(".")[2] if "." in f.name else "bin"
            path = f"/files/tools/{file_id}.{extension}"
            self._served[path] = (f.content, f.mime_type)
            url = f"{path}?timestamp={int(time.time())}&nonce=fake&sign=fake"
            if not reply.relative_urls:
                url = self.origin + url
            item: dict[str, Any] = {
                "id": file_id,
                "type": f.type,
                "url": url,
                "filename": f.name,
                "extension": extension,
                "mime_type": f.mime_type,
                "size": len(f.content),
                "transfer_method": "tool_file",
            }
            if chatflow:
                item |= {
                    "dify_model_identity": "__dify__file__",
                    "id": None,
                    "related_id": file_id,
                }
            else:
                item |= {"belongs_to": "assistant", "upload_file_id": None}
            out.append(item)
        return out

    def _save(self, turn: _Turn, text: str, files: list[dict[str, Any]]) -> None:
        if turn.message is not None:
            turn.message.answer = text
            turn.message.files += [dict(f, belongs_to="assistant") for f in files]
        if turn.conversation is not None:
            turn.conversation.updated_at = self._now()

    # -- other endpoints --------------------------------------------------------------------------

    async def _stop(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        body = self._body(request)
        raw_user = body.get("user")
        user = raw_user if isinstance(raw_user, str) else ""
        if "/chat-messages/" in request.path:
            if mode not in ("chat", "agent-chat", "advanced-chat"):
                raise _ApiError(400, "not_chat_app", "App mode mismatch: not a chat app.")
            if not user:
                raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        elif "/completion-messages/" in request.path and mode != "completion":
            raise _ApiError(400, "app_unavailable", "App unavailable, please check your app.")
        elif "/workflows/" in request.path and mode != "workflow":
            raise _ApiError(400, "not_workflow_app", "Please check if your app mode matches.")
        task_id = request.match_info["task_id"]
        self.stops.append((task_id, user))
        turn = self._running.get(task_id)
        if (
            turn is not None
            and turn.key == key
            and (turn.user == user or turn.profile in ("chatflow", "workflow"))
        ):
            turn.stop.set()
        return _json({"result": "success"})

    async def _upload(self, request: web.Request) -> web.Response:
        key, _ = self._app(request)
        record = self._records[id(request)]
        if not request.content_type.startswith("multipart/"):
            raise _ApiError(400, "no_file_uploaded", "Please upload your file.")
        parts: list[tuple[str, str, str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.filename is None:
                record.form[part.name or ""] = await part.text()
                continue
            data = await part.read()
            content_type = part.headers.get("Content-Type", "")
            parts.append((part.name or "", part.filename, content_type, bytes(data)))
            record.files[part.name or ""] = (part.filename, content_type, bytes(data))
        if not parts or parts[0][0] != "file":
            raise _ApiError(400, "no_file_uploaded", "Please upload your file.")
        if len(parts) > 1:
            raise _ApiError(400, "too_many_files", "Only one file is allowed.")
        _, filename, content_type, data = parts[0]
        if not filename:
            raise _ApiError(
                400, "filename_not_exists_error", "The specified filename does not exist."
            )
        if "/" in filename or "\\" in filename:
            raise _ApiError(400, "invalid_param", "Filename contains invalid characters")
        if not content_type:
            raise _ApiError(415, "unsupported_file_type", "File type not allowed.")
        if len(data) > self.upload_limit:
            raise _ApiError(
                413, "file_too_large", f"File size exceeded. {len(data)} > {self.upload_limit}"
            )
        user = record.form.get("user") or DEFAULT_USER
        upload_id = str(uuid.uuid4())
        preview = f"/files/{upload_id}/file-preview"
        self._served[preview] = (data, content_type)
        upload = {
            "id": upload_id,
            "name": filename,
            "size": len(data),
            "extension": filename.rpartition(".")[2] if "." in filename else "",
            "mime_type": content_type,
            "created_by": str(uuid.uuid5(uuid.NAMESPACE_OID, user)),
            "created_at": int(time.time()),
            "preview_url": None,
            "source_url": f"{self.origin}{preview}?timestamp=0&nonce=fake&sign=fake",
        }
        self._user_state(key, user).uploads[upload_id] = upload
        return _json(upload, status=201)

    async def _feedback(self, request: web.Request) -> web.Response:
        key, _ = self._app(request)
        message_id = request.match_info["message_id"]
        if not _UUID.match(message_id):
            raise self._not_found(_WERKZEUG_404, request)
        body = self._body(request)
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        message = self._user_state(key, user).messages.get(message_id)
        if message is None:
            raise self._not_found("Message Not Exists.", request)
        rating = body.get("rating")
        if rating is None:
            if message.feedback is None:
                raise _ApiError(
                    400, "invalid_param", "rating cannot be None when feedback not exists"
                )
            message.feedback = None
        elif rating in ("like", "dislike"):
            message.feedback = {"rating": rating, "content": body.get("content")}
        else:
            raise _ApiError(400, "invalid_param", "rating must be like, dislike or null")
        return _json({"result": "success"})

    async def _messages(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        query = request.query
        limit = _limit(query.get("limit"))
        if "conversation_id" not in query:
            raise _ApiError(400, "invalid_param", "conversation_id is required")
        if not query["conversation_id"]:
            return _json({"limit": limit, "has_more": False, "data": []})
        state = self._user_state(key, query.get("user") or DEFAULT_USER)
        conversation = state.conversations.get(query["conversation_id"])
        if conversation is None:
            raise self._not_found("Conversation Not Exists.", request)
        older = conversation.messages
        if query.get("first_id"):
            ids = [m.id for m in older]
            if query["first_id"] not in ids:
                raise self._not_found("First Message Not Exists.", request)
            older = older[: ids.index(query["first_id"])]
        page = older[-limit:]
        return _json(
            {"limit": limit, "has_more": len(older) > limit, "data": [m.to_json() for m in page]}
        )

    async def _conversations(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        query = request.query
        limit = _limit(query.get("limit"))
        sort_by = query.get("sort_by") or "-updated_at"
        field_name = sort_by.lstrip("-")
        if field_name not in ("created_at", "updated_at"):
            raise _ApiError(400, "invalid_param", "sort_by is invalid")
        state = self._user_state(key, query.get("user") or DEFAULT_USER)
        items = sorted(
            state.conversations.values(),
            key=lambda c: (
                (c.created_at, c.updated_at) if field_name == "created_at" else c.updated_at
            ),
            reverse=sort_by.startswith("-"),
        )
        if query.get("last_id"):
            ids = [c.id for c in items]
            if query["last_id"] not in ids:
                raise self._not_found("Last Conversation Not Exists.", request)
            items = items[ids.index(query["last_id"]) + 1 :]
        page = items[:limit]
        return _json(
            {
                "limit": limit,
                "has_more": len(page) == limit and len(items) > limit,
                "data": [c.to_json() for c in page],
            }
        )

    def _owned_conversation(self, request: web.Request, key: str) -> tuple[_Conversation, str]:
        conversation_id = request.match_info["conversation_id"]
        if not _UUID.match(conversation_id):
            raise self._not_found(_WERKZEUG_404, request)
        body = self._body(request)
        user = body.get("user") if isinstance(body.get("user"), str) else ""
        found = self._user_state(key, user or DEFAULT_USER).conversations.get(conversation_id)
        if found is None:
            raise self._not_found("Conversation Not Exists.", request)
        return found, user or DEFAULT_USER

    async def _rename(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        conversation, _ = self._owned_conversation(request, key)
        body = self._body(request)
        if body.get("auto_generate"):
            if not conversation.messages:
                raise _ApiError(400, "invalid_param", "Conversation has no message")
            first = conversation.messages[0].query
            conversation.name = first if len(first) <= 47 else first[:47] + "..."
        else:
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _ApiError(400, "invalid_param", "name is required")
            conversation.name = name.strip()
        conversation.updated_at = self._now()
        return _json(conversation.to_json())

    async def _delete(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        conversation, user = self._owned_conversation(request, key)
        state = self._user_state(key, user)
        del state.conversations[conversation.id]
        for message in conversation.messages:
            state.messages.pop(message.id, None)
        if self.delete_status == 200:
            return _json({"result": "success"})
        return web.Response(status=204)

    async def _parameters(self, request: web.Request) -> web.Response:
        self._app(request)
        off = {"enabled": False}
        return _json(
            {
                "opening_statement": self.opening_statement,
                "suggested_questions": [],
                "suggested_questions_after_answer": off,
                "speech_to_text": off,
                "text_to_speech": off,
                "retriever_resource": off,
                "annotation_reply": off,
                "more_like_this": off,
                "sensitive_word_avoidance": off,
                "user_input_form": self.user_input_form,
                "file_upload": {
                    "enabled": True,
                    "allowed_file_types": ["image", "document"],
                    "allowed_file_upload_methods": ["local_file", "remote_url"],
                    "number_limits": 3,
                    "image": {
                        "enabled": True,
                        "number_limits": 3,
                        "transfer_methods": ["local_file", "remote_url"],
                    },
                },
                "system_parameters": {
                    "file_size_limit": 15,
                    "image_file_size_limit": 10,
                    "audio_file_size_limit": 50,
                    "video_file_size_limit": 100,
                    "workflow_file_upload_limit": 10,
                },
            }
        )

    async def _info(self, request: web.Request) -> web.Response:
        _, mode = self._app(request)
        return _json(
            {
                "name": self.app_name,
                "description": "A fake ClickAI assistant",
                "tags": [],
                "mode": mode,
                "author_name": "FakeClickAI",
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        served = self._served.get(request.path)
        if served is None:
            raise self._not_found(_WERKZEUG_404, request)
        return web.Response(body=served[0], content_type=served[1])

    async def _assistants(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.studio_token:
            raise _ApiError(401, "unauthorized", "Invalid token")
        workspace_id = request.query.get("workspace_id")
        if not workspace_id:
            raise _ApiError(400, "invalid_param", "workspace_id is required")
        if workspace_id != self.workspace_id:
            raise _ApiError(403, "forbidden", "You do not have access to this workspace")
        try:
            page = max(1, int(request.query.get("page", "1")))
            page_size = max(1, int(request.query.get("page_size", "10")))
        except ValueError as exc:
            raise _ApiError(400, "invalid_param", "page and page_size must be integers") from exc
        mode = request.query.get("mode")
        items = [a for a in self.assistants if not mode or a.get("mode") == mode]
        chunk = items[(page - 1) * page_size : page * page_size]
        return _json(
            {
                "data": chunk,
                "page": page,
                "page_size": page_size,
                "total": len(items),
                "has_more": page * page_size < len(items),
            }
        )


# -- helpers --------------------------------------------------------------------------------------


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
        if i and raw.delay:
            await asyncio.sleep(raw.delay)
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


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeClickAI(
        key=args.key,
        mode=args.mode,
        port=args.port,
        deltas=args.deltas,
        delta_delay=args.delta_delay,
        first_token_delay=args.first_token_delay,
        ping_interval=args.ping_interval,
        spaced=args.spaced,
    )
    async with fake:
        print(fake.base_url, flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake ClickAI server.")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--key", default="app-test")
    parser.add_argument(
        "--mode",
        default="chat",
        choices=["chat", "agent-chat", "advanced-chat", "completion", "workflow"],
    )
    parser.add_argument("--deltas", type=int, default=8)
    parser.add_argument("--delta-delay", type=float, default=0.0)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--ping-interval", type=float, default=10.0)
    parser.add_argument("--spaced", action="store_true", help="legacy json.dumps frames")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
