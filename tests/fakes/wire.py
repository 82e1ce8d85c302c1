"""Shared plumbing for the small platform fakes: an aiohttp server on 127.0.0.1 that records.

Subclasses add routes in ``routes(app)``; every request is recorded (method, path, query,
headers, JSON) before its handler runs, and ``fail_next`` answers the next matching request
with an HTTP error instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    """One request a fake received (``path`` without the query string)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Failure:
    """An HTTP error answer for the next request whose path ends with ``path`` (None = any)."""

    status: int = 500
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WireFake:
    """Base class: start/stop, recording, failures; ``origin`` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.origin = ""
        self._failures: list[Failure] = []
        self._live: dict[int, Recorded] = {}
        self._runner: web.AppRunner | None = None
        self._seen = asyncio.Condition()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> WireFake:
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024**2)
        self.routes(app)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.origin = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, failure: Failure, *, times: int = 1) -> None:
        self._failures.extend([failure] * times)

    def calls(self, path_suffix: str, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.endswith(path_suffix) and (method is None or r.method == method)
        ]

    async def wait_for(self, predicate: Callable[[], bool], *, within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._seen:
            await self._seen.wait_for(predicate)

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = Recorded(request.method, request.path, dict(request.query), dict(request.headers))
        if request.content_type == "application/json" and request.can_read_body:
            try:
                record.json = json.loads(await request.read())
            except ValueError:
                record.json = None
        elif request.content_type == "multipart/form-data":
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    record.files[name] = (value.filename, value.file.read())
        async with self._seen:
            self.requests.append(record)
            self._seen.notify_all()
        for i, failure in enumerate(self._failures):
            if failure.path is None or request.path.endswith(failure.path):
                del self._failures[i]
                return web.json_response(
                    failure.body, status=failure.status, headers=dict(failure.headers)
                )
        self._live[id(request)] = record
        try:
            return await handler(request)
        finally:
            self._live.pop(id(request), None)

    def recorded(self, request: web.Request) -> Recorded:
        """The record of ``request`` being handled (its parsed JSON and files)."""
        return self._live[id(request)]


async def sse(
    request: web.Request, frames: list[str], *, delay: float = 0.0
) -> web.StreamResponse:
    """Answer with ``data: …`` frames, ``delay`` seconds apart."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for frame in frames:
        await response.write(f"data: {frame}\n\n".encode())
        if delay:
            await asyncio.sleep(delay)
    await response.write_eof()
    return response
