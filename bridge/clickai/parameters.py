"""The app's ``/parameters``, read once and shared: file rules, opening, follow-up switch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bridge.errors import ClickAIError

log = logging.getLogger(__name__)

REFRESH_S = 300.0
"""How long the settings read from ``/parameters`` are trusted before they are read again."""


class AppParameters:
    """The app's settings, read at start-up and again every ``REFRESH_S`` or after ClickAI
    refused a file (the operator may have changed the app). A failed read keeps the last answer
    (None before any) until the next refresh; concurrent callers share one read."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Mapping[str, Any]]],
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refresh_s = refresh_s
        self._clock = clock
        self._params: Mapping[str, Any] | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def _due(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= self._refresh_s

    async def get(self) -> Mapping[str, Any] | None:
        """The last answer, read again first when it is due (None while never read)."""
        if self._due():
            async with self._lock:
                if self._due():
                    try:
                        self._params = await self._fetch()
                    except ClickAIError as exc:
                        log.warning("cannot read the app's parameters: %s", exc)
                    self._read_at = self._clock()
        return self._params

    def stale(self) -> None:
        """Read the settings again on the next :meth:`get` (ClickAI refused a file)."""
        self._read_at = None
