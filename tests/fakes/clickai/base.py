"""The fake ClickAI's state, scripting/inspection API and request plumbing (auth, recording)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from aiohttp import web

from tests.fakes.clickai.model import (
    _WERKZEUG_404,
    AppMode,
    HttpFailure,
    RawFrames,
    RecordedRequest,
    Reply,
    _ApiError,
    _Turn,
    _UserState,
)
from tests.fakes.clickai.wire import _error, _failure_response

_HTML_404 = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    f"<p>{_WERKZEUG_404}</p>\n"
)
"""Flask's own 404 page, as a Dify server answers a path outside its APIs (capture 27)."""

ALL_FILES: Mapping[str, Any] = {
    "enabled": True,
    "allowed_file_types": ["image", "document", "audio", "video", "custom"],
    "allowed_file_extensions": [],
    "allowed_file_upload_methods": ["local_file", "remote_url"],
    "number_limits": 3,
}
"""``/parameters`` → ``file_upload`` of the real echo chatflow (capture 20): all types, 3 files."""


class _Base:
    """State and plumbing shared by the endpoint groups."""

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
        suggested_questions: Sequence[str] = (),
        suggested_after_answer: Sequence[str] | None = None,
        user_input_form: Sequence[Mapping[str, Any]] = (),
        file_upload: Mapping[str, Any] | None = None,
        studio: bool = True,
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
        self.suggested_questions = list(suggested_questions)
        self.suggested_after_answer = (
            None if suggested_after_answer is None else list(suggested_after_answer)
        )
        """None = the app has "suggested questions after answer" off (the endpoint refuses)."""
        self.user_input_form = [dict(item) for item in user_input_form]
        self.file_upload: dict[str, Any] = dict(file_upload or ALL_FILES)
        self.studio = studio
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
        self.resumes: list[RawFrames] = []
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

    # -- scripting and inspection --------------------------------------------------------------

    def script(self, *items: Reply | RawFrames | HttpFailure) -> None:
        """Queue behaviours for the next generation requests, one per request."""
        self._scripts.extend(items)

    def script_resume(self, *items: RawFrames) -> None:
        """Queue answers for ``GET /v1/workflow/{run_id}/events`` (reopening a dropped workflow
        or chatflow stream), one per request; with none queued the path is a 404, as on a
        server without it."""
        self.resumes.extend(items)

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

    def serve_file(self, path: str, data: bytes, content_type: str) -> None:
        """Serve ``data`` at ``GET path`` (a path under ``/files/``, query string ignored)."""
        self._served[path] = (data, content_type)

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
            if not request.path.startswith("/v1/"):
                return web.Response(status=404, text=_HTML_404, content_type="text/html")
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
