"""HTTP plumbing shared by the ClickAI clients: auth header, request budget, retries, errors."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from aiolimiter import AsyncLimiter
from pydantic import SecretStr

from bridge.clickai.errors import error_from_response, error_from_transport
from bridge.errors import ClickAIError
from bridge.fetch import GuardedFetcher, Resolver, system_resolve
from bridge.retry import retry_delay

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

"""A server asking us to wait longer than this fails the call instead of holding the turn."""


class ApiSession:
    """One httpx client bound to one API root and one bearer secret.

    The secret is attached per request and only to the API root's origin. Every request attempt
    (retries included) first takes a token from the per-minute budget, so bursts queue here
    instead of earning 429s.
    """

    def __init__(
        self,
        *,
        base_url: str,
        secret: str | SecretStr,
        transport: httpx.AsyncBaseTransport | None,
        connect_timeout_s: float,
        read_timeout_s: float,
        requests_per_minute: float,
        max_retries: int,
        sleep: Sleep = asyncio.sleep,
        file_hosts: Iterable[str] = (),
        file_timeout_s: float = 60.0,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        timeout = httpx.Timeout(
            connect=connect_timeout_s,
            read=read_timeout_s,
            write=read_timeout_s,
            pool=connect_timeout_s,
        )
        # Every streaming answer holds one connection for its whole duration, so httpx's default
        # pool of 100 would starve the 101st concurrent turn; the relay bounds concurrency.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            limits=limits,
            headers={"User-Agent": "clickai-bridge"},
        )
        self.fetcher = GuardedFetcher(
            http=self._http,
            origin=self.base_url,
            headers=self._auth,
            allow_hosts=file_hosts,
            timeout_s=file_timeout_s,
            resolve=resolve,
        )
        self._limiter = AsyncLimiter(requests_per_minute, 60)
        self._max_retries = max_retries
        self._sleep = sleep
        self._rng = random.Random()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret.get_secret_value()}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        data: Mapping[str, str] | None = None,
        conversation_scoped: bool = False,
    ) -> httpx.Response:
        """One API call with retries; returns the (read) response or raises ClickAIError."""

        async def once() -> httpx.Response:
            await self._limiter.acquire()
            log.debug("ClickAI %s %s", method, path)
            try:
                response = await self._http.request(
                    method,
                    self.url(path),
                    json=json,
                    params=params,
                    files=files,
                    data=data,
                    headers=self._auth(),
                )
            except httpx.TransportError as exc:
                raise error_from_transport(exc) from exc
            if response.status_code >= 400:
                raise error_from_response(
                    response.status_code,
                    response.content,
                    response.headers,
                    conversation_scoped=conversation_scoped,
                )
            return response

        return await self.with_retries(once, what=f"{method} {path}")

    @asynccontextmanager
    async def open_stream(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        conversation_scoped: bool,
    ) -> AsyncIterator[httpx.Response]:
        """One attempt at a streaming request; the response is open (status < 400) inside."""
        await self._limiter.acquire()
        log.debug("ClickAI %s %s (stream)", method, path)
        headers = {**self._auth(), "Accept": "text/event-stream", "Cache-Control": "no-store"}
        request = self._http.build_request(
            method, self.url(path), json=json, params=params, headers=headers
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        try:
            if response.status_code >= 400:
                try:
                    body = await response.aread()
                except httpx.TransportError:
                    body = b""
                raise error_from_response(
                    response.status_code,
                    body,
                    response.headers,
                    conversation_scoped=conversation_scoped,
                )
            yield response
        finally:
            await response.aclose()

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET a file URL through the guarded fetcher (the secret only to the API's origin)."""
        await self._limiter.acquire()
        return await self.fetcher.fetch(url, max_bytes=max_bytes)

    async def with_retries(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run ``attempt`` again after retryable failures, with backoff."""
        tries = 0
        while True:
            try:
                return await attempt()
            except ClickAIError as exc:
                delay = self.retry_delay(exc, tries)
                if delay is None:
                    raise
                tries += 1
                log.warning(
                    "ClickAI %s failed (%s); retry %d/%d in %.1fs",
                    what,
                    exc.kind,
                    tries,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)

    def retry_delay(self, exc: ClickAIError, tries: int) -> float | None:
        """Seconds to wait before retry number ``tries + 1``, or None to give up."""
        if exc.code.startswith("workflow_"):
            return None  # a run that failed on its own (bad graph, bad input) fails again
        return retry_delay(exc, tries, self._max_retries, self._rng)

    async def aclose(self) -> None:
        await self._http.aclose()


_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def not_accepted(exc: ClickAIError) -> bool:
    """True when the failed request provably never started work on the server.

    That is a connection that was never made, or an HTTP error status (429, 5xx, the 400 "Too
    many requests" concurrency cap) answered instead of a result. A read timeout or a reset
    after the request went out proves nothing: the server may be running it.
    """
    if exc.status:
        return exc.status == 429 or exc.status >= 500 or exc.kind == "rate_limited"
    return isinstance(exc.__cause__, _UNSENT)
