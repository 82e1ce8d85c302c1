"""Downloading users' Slack files safely: size limits, login-page detection, no token leaks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bridge.errors import AttachmentError, ChannelError
from bridge.model import Attachment

log = logging.getLogger("channels.slack")

MAX_REDIRECTS = 3
_HTML_SNIFF = (b"<!doctype", b"<html")

FileInfo = Callable[[str], Awaitable[dict[str, Any]]]
"""``files.info`` for one file id → the ``file`` object."""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def is_slack_host(url: str, api_base_url: str) -> bool:
    """Only Slack's own hosts (or the configured API host) ever receive the bot token."""
    scheme, host, _ = origin(url)
    if scheme not in ("https", "http") or not host:
        return False
    if origin(url) == origin(api_base_url):
        return True
    return scheme == "https" and (host == "slack.com" or host.endswith(".slack.com"))


def looks_like_html(content_type: str, head: bytes) -> bool:
    if "text/html" in content_type.lower():
        return True
    return head.lstrip()[:16].lower().startswith(_HTML_SNIFF)


class FileDownloader:
    """Fetches ``url_private_download`` with the bot token.

    Redirects are followed by hand: to the same origin with the token, to another origin
    *without* it (Slack's CDN links are pre-signed; anything else then fails as a login page or
    an error). A 200 HTML body means Slack refused the token and is reported as a failure.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token: str,
        api_base_url: str,
        file_info: FileInfo,
    ) -> None:
        self._http = http
        self._token = token
        self._api_base_url = api_base_url
        self._file_info = file_info

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        name = attachment.name
        if attachment.size is not None and attachment.size > max_bytes:
            raise AttachmentError("too_large", name)
        url = attachment.ref
        if not url.startswith(("https://", "http://")):
            url = await self._resolve(attachment.ref, name, max_bytes)
        if not is_slack_host(url, self._api_base_url):
            log.warning("slack: refusing to send the bot token to a non-Slack file host")
            raise AttachmentError("download_failed", name)
        try:
            return await self._fetch(url, name, max_bytes)
        except httpx.HTTPError as exc:
            log.warning("slack: download of a file failed: %s", type(exc).__name__)
            raise AttachmentError("download_failed", name) from exc

    async def _resolve(self, file_id: str, name: str, max_bytes: int) -> str:
        """A Slack Connect stub (or a bare id): ask ``files.info`` for the real file."""
        try:
            info = await self._file_info(file_id)
        except ChannelError as exc:
            log.warning("slack: files.info failed: %s", exc)
            raise AttachmentError("download_failed", name) from exc
        size = info.get("size")
        if isinstance(size, int) and size > max_bytes:
            raise AttachmentError("too_large", name)
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str) or not url:
            raise AttachmentError("download_failed", name)
        return url

    async def _fetch(self, url: str, name: str, max_bytes: int) -> bytes:
        token_origin = origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            headers = (
                {"Authorization": f"Bearer {self._token}"} if origin(url) == token_origin else {}
            )
            async with self._http.stream("GET", url, headers=headers) as response:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if not location:
                        raise AttachmentError("download_failed", name)
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    log.warning("slack: file download answered HTTP %d", response.status_code)
                    raise AttachmentError("download_failed", name)
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise AttachmentError("too_large", name)
                return await self._read(response, name, max_bytes)
        raise AttachmentError("download_failed", name)

    async def _read(self, response: httpx.Response, name: str, max_bytes: int) -> bytes:
        content_type = response.headers.get("content-type", "")
        if "text/html" in content_type.lower():
            log.warning("slack: file download returned an HTML page (token refused?)")
            raise AttachmentError("download_failed", name)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise AttachmentError("too_large", name)
        if looks_like_html(content_type, bytes(body[:64])):
            log.warning("slack: file download returned an HTML page (token refused?)")
            raise AttachmentError("download_failed", name)
        return bytes(body)
