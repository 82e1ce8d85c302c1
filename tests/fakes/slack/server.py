"""FakeSlack: the assembled fake (routes and lifecycle)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.slack.agents import _Agents
from tests.fakes.slack.methods import _Methods


class FakeSlack(_Agents, _Methods):
    """Start with ``await fake.start()``; point AsyncWebClient at ``fake.api_url``."""

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{id}/{name}", self._file)
        app.router.add_get("/files-redirect/{id}/{name}", self._redirect_same)
        app.router.add_get("/files-cross/{id}/{name}", self._redirect_cross)
        app.router.add_get("/files-sniff/{id}/{name}", self._sniff)
        app.router.add_post("/upload/{id}", self._upload)
        app.router.add_get("/socket", self._socket)
        cdn = web.Application()
        cdn.router.add_get("/cdn/{id}/{name}", self._cdn)
        self.url = await self._serve(app, "127.0.0.1", port)
        self.cdn_url = (await self._serve(cdn, "127.0.0.1")).replace("127.0.0.1", "localhost")

    async def _serve(self, app: web.Application, host: str, port: int = 0) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
