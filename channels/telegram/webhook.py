"""POST /telegram/webhook: secret check (constant time), body validation, 200 once handed over."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


class WebhookEndpoint:
    """Takes updates from Telegram and hands them to ``deliver`` without waiting for handling.

    Wrong or missing secret → 403 and nothing is read. Oversized or malformed body → 400.
    Not accepting (starting / stopping) → 503, so Telegram delivers the update again later.
    ``deliver`` answers with the status: 200 once the update was handled, 400 when the payload
    is not a usable update, 503 when it could not be handled now (Telegram resends it).
    """

    def __init__(
        self,
        secret: str,
        deliver: Callable[[dict[str, Any]], Awaitable[int]],
        accepting: Callable[[], bool],
    ) -> None:
        self._secret = secret.encode()
        self._deliver = deliver
        self._accepting = accepting

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("telegram webhook: refused a request with a wrong or missing secret")
            return web.Response(status=403, text="forbidden")
        if not self._accepting():
            return web.Response(status=503, text="not accepting updates")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=400, text="body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > MAX_BODY:
                    return web.Response(status=400, text="body too large")
                chunks.append(chunk)
        except (OSError, ValueError):
            return web.Response(status=400, text="unreadable body")
        body = b"".join(chunks)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return web.Response(status=400, text="malformed JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        status = await self._deliver(data)
        if status == 400:
            return web.Response(status=400, text="not an update")
        if status != 200:
            return web.Response(status=503, text="not accepting updates")
        return web.Response(status=200, text="ok")
