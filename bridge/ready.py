"""Readiness for ``GET /readyz``: the store answers and the backend accepts the key (cached)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.errors import BackendError, BridgeError

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[Any]]
Clock = Callable[[], float]

CHECK_TIMEOUT_S = 5.0
REFUSED = frozenset({"auth", "forbidden"})


class Readiness:
    """Answers whether this instance can serve: ``(ready, body)`` for ``GET /readyz``.

    The store is asked on every probe (one indexed read). The default backend is asked at most
    once per ``cache_s`` (ClickAI: ``GET /parameters`` with the app key) so frequent probes do
    not spend the app's request budget. Only a refused key (401/403) makes the instance
    unready: a backend being down is the same for every replica, and users then get a "try
    again" notice.
    """

    def __init__(
        self,
        *,
        store: Probe,
        backend: Probe,
        cache_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._store = store
        self._backend = backend
        self._cache_s = cache_s
        self._clock = clock
        self._backend_state: tuple[float, str] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        store = await self._check_store()
        backend = await self._check_backend()
        ready = store == "ok" and not backend.startswith("key refused")
        body = {"status": "ok" if ready else "unavailable", "store": store, "backend": backend}
        return ready, body

    async def _check_store(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self._store()
        except Exception as exc:  # any failure to read is "unreachable"; the reason is logged
            log.warning("readyz: store unreachable: %s: %s", type(exc).__name__, exc)
            return f"unreachable ({type(exc).__name__})"
        return "ok"

    async def _check_backend(self) -> str:
        async with self._lock:  # concurrent probes share one request
            cached = self._backend_state
            if cached is not None and self._clock() - cached[0] < self._cache_s:
                return cached[1]
            state = await self._ask_backend()
            self._backend_state = (self._clock(), state)
            return state

    async def _ask_backend(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self._backend()
        except BackendError as exc:
            if exc.kind in REFUSED:
                log.error("readyz: the backend refuses the key (%s)", exc.status or exc.kind)
                return f"key refused ({exc.status or exc.kind})"
            return f"unreachable ({exc.kind})"
        except TimeoutError:
            return "unreachable (timeout)"
        except BridgeError as exc:
            return f"unreachable ({exc})"
        return "ok"
