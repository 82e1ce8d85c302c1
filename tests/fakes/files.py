"""FileHost: a plain HTTP server on 127.0.0.1 standing in for an internal service or a file CDN.

Routes: ``/secret`` (a small body an attacker would like to read), ``/big?size=N`` (N bytes
streamed in 64 KiB chunks; ``sent`` counts what was written before the client went away) and
``/redirect?to=URL`` (302). Every request is recorded in ``hits`` (path only).
"""

from __future__ import annotations

from aiohttp import web

SECRET = b"internal-admin-token=hunter2"


class FileHost:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.sent = 0
        self.finished_big = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FileHost:
        app = web.Application()
        app.router.add_get("/secret", self._secret)
        app.router.add_get("/big", self._big)
        app.router.add_get("/redirect", self._redirect)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _secret(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=SECRET, content_type="image/png")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        size = int(request.query.get("size", str(64 * 1024 * 1024)))
        response = web.StreamResponse(headers={"Content-Type": "application/zip"})
        # No Content-Length: the limit must hold on the stream, not on a header.
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"z" * (64 * 1024)
        try:
            while self.sent < size:
                piece = chunk[: size - self.sent]
                await response.write(piece)
                self.sent += len(piece)
            await response.write_eof()
            self.finished_big = True
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound(request.query["to"])
