"""The one HTTP server: health, Prometheus metrics, and the webhook routes channels register."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.errors import ConfigError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """A route a channel serves on ``server.listen`` (e.g. ``POST /telegram/webhook``)."""

    method: str
    path: str
    handler: Handler


class HttpServer:
    """aiohttp server for ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics`` and
    channel routes (fixed before start)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        routes: Sequence[HttpRoute] = (),
        health: Callable[[], dict[str, object]] | None = None,
        ready: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._health = health or (lambda: {"status": "ok"})
        self._ready = ready
        self._app = web.Application(client_max_size=MAX_BODY_BYTES)
        self._app.router.add_get("/healthz", self._healthz)
        self._app.router.add_get("/readyz", self._readyz)
        self._app.router.add_get("/metrics", self._metrics)
        for route in routes:
            self._app.router.add_route(route.method, route.path, route.handler)
        self._runner: web.AppRunner | None = None
        self.bound_port = port

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ConfigError(f"server.listen {self._host}:{self._port}: {reason}") from None
        server = site._server  # aiohttp keeps the asyncio server here; read the real port
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.bound_port = int(sockets[0].getsockname()[1])
        log.info("http server listening on %s:%d", self._host, self.bound_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        body = self._health()
        status = 200 if body.get("status") == "ok" else 503
        return web.json_response(body, status=status)

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._ready is None:
            return web.json_response({"status": "ok"})
        ready, body = await self._ready()
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        payload = generate_latest(self._registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
