"""Shared plumbing of the fakes' control APIs: a small aiohttp server on its own port."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ControlServer:
    """Serves ``routes()`` plus ``GET /`` (the usage text) on 127.0.0.1."""

    usage = ""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/", self._usage)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _usage(self, request: web.Request) -> web.Response:
        return web.Response(text=self.usage)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (400 for anything else); {} without a body."""
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text="the body must be JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def json_response(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, dumps=lambda v: json.dumps(v, ensure_ascii=False))
