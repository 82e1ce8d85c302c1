"""HTTP plumbing for the other backends: auth headers, request budget, retries, SSE reading."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from aiolimiter import AsyncLimiter
from httpx_sse import EventSource

from bridge.clickai.errors import parse_retry_after
from bridge.config import BackendConfig
from bridge.errors import BackendError, ErrorKind
from bridge.retry import retry_delay

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
ErrorMapper = Callable[[int, Any, Mapping[str, str], bool], BackendError]
"""(status, parsed JSON body or text, headers, conversation_scoped) → the error to raise."""


class HttpSession:
    """One httpx client bound to one platform root, its auth headers and its error mapping."""

    def __init__(
        self,
        *,
        platform: str,
        base_url: str,
        auth: Mapping[str, str],
        map_error: ErrorMapper,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 300.0,
        requests_per_minute: float = 100,
        max_retries: int = 3,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._auth = dict(auth)
        self._map_error = map_error
        timeout = httpx.Timeout(
            connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=None
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            headers={"User-Agent": "clickai-bridge"},
        )
        self._limiter = AsyncLimiter(requests_per_minute, 60)
        self._max_retries = max_retries
        self._sleep = sleep
        self._rng = random.Random()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        conversation_scoped: bool = False,
        retry: bool = True,
    ) -> Any:
        """One call (retried on rate limits and 5xx); returns the parsed JSON body (or None)."""
        tries = 0
        while True:
            try:
                return await self._once(
                    method, path, json_body, params, files, conversation_scoped
                )
            except BackendError as exc:
                delay = self.retry_delay(exc, tries) if retry else None
                if delay is None:
                    raise
                tries += 1
                log.warning(
                    "%s %s %s failed (%s); retry %d in %.1fs",
                    self.platform,
                    method,
                    path,
                    exc.kind,
                    tries,
                    delay,
                )
                await self._sleep(delay)

    async def _once(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: Mapping[str, str | int] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None,
        conversation_scoped: bool,
    ) -> Any:
        await self._limiter.acquire()
        try:
            response = await self._http.request(
                method,
                self.url(path),
                json=json_body,
                params=params,
                files=files,
                headers=self._auth,
            )
        except httpx.TransportError as exc:
            raise self.transport_error(exc) from exc
        if response.status_code >= 400:
            raise self.error(
                response.status_code, response.content, response.headers, conversation_scoped
            )
        return parse_body(response.content)

    @asynccontextmanager
    async def open_stream(
        self, method: str, path: str, *, json_body: Any, conversation_scoped: bool = False
    ) -> AsyncIterator[httpx.Response]:
        """One attempt at a streaming request; the response is open (status < 400) inside."""
        await self._limiter.acquire()
        headers = {**self._auth, "Accept": "text/event-stream"}
        request = self._http.build_request(method, self.url(path), json=json_body, headers=headers)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self.transport_error(exc) from exc
        try:
            if response.status_code >= 400:
                try:
                    body = await response.aread()
                except httpx.TransportError:
                    body = b""
                raise self.error(response.status_code, body, response.headers, conversation_scoped)
            yield response
        finally:
            await response.aclose()

    def error(
        self, status: int, body: bytes, headers: Mapping[str, str], conversation_scoped: bool
    ) -> BackendError:
        exc = self._map_error(status, parse_body(body, strict=False), headers, conversation_scoped)
        if exc.retry_after is None:
            exc.retry_after = parse_retry_after(headers.get("retry-after"))
        return exc

    def transport_error(self, exc: httpx.TransportError) -> BackendError:
        kind: ErrorKind = "timeout" if isinstance(exc, httpx.TimeoutException) else "upstream"
        unreachable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        return BackendError(
            kind,
            f"cannot reach {self.platform}: {type(exc).__name__}",
            code="unreachable" if unreachable else "",
        )

    def retry_delay(self, exc: BackendError, tries: int) -> float | None:
        """Seconds before retry ``tries + 1``, or None to give up (honours ``Retry-After``)."""
        return retry_delay(exc, tries, self._max_retries, self._rng)

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def retrying(self, attempt: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Run a streamed turn; retried only when the platform provably did not take it.

        A refused request (429, 5xx, no connection) is retried; a stream that broke or went
        silent after the platform accepted it is not, so no turn is ever answered twice.
        """
        tries = 0
        while True:
            yielded = False
            try:
                async for item in attempt():
                    yielded = True
                    yield item
                return
            except BackendError as exc:
                accepted = yielded or not (exc.status or exc.code == "unreachable")
                delay = None if accepted else self.retry_delay(exc, tries)
                if delay is None:
                    raise
                tries += 1
                log.warning(
                    "%s turn failed (%s); retry %d in %.1fs", self.platform, exc.kind, tries, delay
                )
                await self._sleep(delay)

    async def aclose(self) -> None:
        await self._http.aclose()


def session_for(
    config: BackendConfig,
    *,
    platform: str,
    auth: Mapping[str, str],
    map_error: ErrorMapper,
    transport: httpx.AsyncBaseTransport | None = None,
    read_timeout_s: float | None = None,
) -> HttpSession:
    """The session a ``[backends.NAME]`` section describes."""
    return HttpSession(
        platform=platform,
        base_url=config.root,
        auth=auth,
        map_error=map_error,
        transport=transport,
        connect_timeout_s=config.connect_timeout_s,
        read_timeout_s=read_timeout_s or config.read_timeout_s,
        requests_per_minute=config.requests_per_minute,
        max_retries=config.max_retries,
    )


async def sse_data(
    response: httpx.Response, *, idle_timeout_s: float, platform: str
) -> AsyncIterator[str]:
    """The ``data`` of each SSE frame; a silence longer than ``idle_timeout_s`` is a timeout."""
    frames = EventSource(response).aiter_sse()
    try:
        while True:
            try:
                async with asyncio.timeout(idle_timeout_s):
                    sse = await frames.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise BackendError(
                    "timeout", f"no data from {platform} for {idle_timeout_s:g}s"
                ) from exc
            except httpx.TransportError as exc:
                raise BackendError(
                    "upstream", f"{platform} stream broke: {type(exc).__name__}"
                ) from exc
            if sse.data:
                yield sse.data
    finally:
        await frames.aclose()


def parse_body(raw: bytes, *, strict: bool = True) -> Any:
    """JSON of a body (None when empty); text when not JSON and not ``strict``."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        if not strict:
            return raw.decode("utf-8", "replace")[:300]
        raise BackendError(
            "upstream", "the platform answered with a body that is not JSON"
        ) from exc


def is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")
