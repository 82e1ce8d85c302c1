"""GuardedFetcher: the one place that downloads a URL the bridge did not build itself."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Literal

import httpx

from bridge.errors import BridgeError

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> every address the host resolves to``."""
FetchReason = Literal["refused", "too_large", "failed"]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class FetchError(BridgeError):
    """A guarded download did not happen: ``refused`` (policy), ``too_large`` or ``failed``."""

    def __init__(self, reason: FetchReason, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.reason: FetchReason = reason
        self.status = status


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, through the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class GuardedFetcher:
    """GETs URLs handed to the bridge by a backend (assistant files, workflow outputs).

    Only the backend's own origin and the operator's allow-list (``host`` or ``host:port``) are
    fetched. Loopback, private, link-local and other non-global addresses are refused unless
    the backend's own base URL resolves to such an address (a self-hosted deployment); every
    address a host resolves to is checked, and so is the peer actually connected to. Redirects
    are followed by hand and each hop is checked again. The byte limit is counted on the
    stream and the whole fetch runs under one deadline. ``headers`` (the backend's secret) go
    only to the backend's own origin.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        origin: str,
        headers: Callable[[], Mapping[str, str]] = dict,
        allow_hosts: Iterable[str] = (),
        timeout_s: float = 60.0,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._http = http
        self._origin = httpx.URL(origin).copy_with(path="/", query=None, fragment=None)
        self._headers = headers
        self._allow = {_norm_entry(entry) for entry in allow_hosts if entry.strip()}
        self._timeout_s = timeout_s
        self._resolve = resolve
        self._base_kind: str | None = None

    def resolve_url(self, url: str) -> httpx.URL:
        """An absolute URL; a relative one (``/files/...``) is put on the backend's origin."""
        return self._origin.join(url)

    def is_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, _port(url)) == (
            self._origin.scheme,
            self._origin.host,
            _port(self._origin),
        )

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """The body of ``url`` (at most ``max_bytes``), or FetchError."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._fetch(self.resolve_url(url), max_bytes)
        except TimeoutError as exc:
            raise FetchError("failed", f"no complete answer within {self._timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise FetchError("failed", f"{type(exc).__name__}: {exc}") from exc

    async def _fetch(self, target: httpx.URL, max_bytes: int) -> bytes:
        for _hop in range(MAX_REDIRECTS + 1):
            own = self.is_origin(target)
            if not own:
                await self._check_foreign(target)
            headers = {**self._headers(), "Accept-Encoding": "identity"} if own else {}
            headers.setdefault("Accept-Encoding", "identity")
            async with self._http.stream(
                "GET", target, headers=headers, follow_redirects=False
            ) as response:
                if not own:
                    await self._check_peer(response, target)
                if response.is_redirect and "location" in response.headers:
                    target = target.join(response.headers["location"])
                    continue
                if response.status_code >= 400:
                    status = response.status_code
                    raise FetchError("failed", f"{target.host} answered {status}", status=status)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError("too_large", f"declared {declared} bytes > {max_bytes}")
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes(CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError("too_large", f"more than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        raise FetchError("refused", f"more than {MAX_REDIRECTS} redirects")

    async def _check_foreign(self, url: httpx.URL) -> None:
        """Refuse a URL off the backend's origin unless allow-listed and publicly addressed."""
        if url.scheme not in ("http", "https"):
            raise FetchError("refused", f"scheme {url.scheme!r} is not fetched")
        port = _port(url) or 0
        if url.host not in self._allow and f"{url.host}:{port}" not in self._allow:
            raise FetchError("refused", f"host {url.host!r} is not the backend's nor allow-listed")
        try:
            addresses = await self._addresses(url.host, port)
        except OSError as exc:
            raise FetchError("failed", f"cannot resolve {url.host!r}: {exc}") from exc
        if not addresses:
            raise FetchError("failed", f"{url.host!r} resolves to nothing")
        for address in addresses:
            await self._check_address(url.host, address)

    async def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return [str(_ip(host))]
        except ValueError:
            return await self._resolve(host, port)

    async def _check_peer(self, response: httpx.Response, url: httpx.URL) -> None:
        """The address actually connected to passes too (defeats DNS answers that change)."""
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if isinstance(peer, tuple) and peer:
            await self._check_address(url.host, str(peer[0]))

    async def _check_address(self, host: str, address: str) -> None:
        kind = _kind(_ip(address))
        if kind == "global" or kind == await self._base_address_kind():
            return
        raise FetchError("refused", f"{host!r} is at a {kind} address ({address})")

    async def _base_address_kind(self) -> str:
        """``global`` unless the backend itself is on a loopback/private/link-local address."""
        if self._base_kind is None:
            try:
                found = await self._addresses(self._origin.host, _port(self._origin) or 0)
            except OSError:
                found = []
            kinds = {_kind(_ip(a)) for a in found}
            self._base_kind = kinds.pop() if len(kinds) == 1 else "global"
        return self._base_kind


def _ip(address: str) -> IpAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _kind(ip: IpAddress) -> str:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_global:
        return "global"
    if ip.is_private:
        return "private"
    return "reserved"


def _norm_entry(entry: str) -> str:
    return entry.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def _port(url: httpx.URL) -> int | None:
    if url.port is not None:
        return url.port
    return {"http": 80, "https": 443}.get(url.scheme)
