"""POST /slack/events: aiohttp request → signature check → bolt dispatch → aiohttp response."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.error import BoltError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from channels.slack.ack import dispatch

log = logging.getLogger("channels.slack")

EVENTS_PATH = "/slack/events"


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers={"X-Slack-No-Retry": "1"})


class EventsEndpoint:
    """Serves Events API and interactivity requests for one bolt ``AsyncApp``.

    The signature is checked first (constant time, ±5 minutes) so an unauthenticated request
    never reaches the parser or bolt; bolt's own ``RequestVerification`` then checks it again.
    Until the channel is started (or after it stopped) requests get 503 and Slack redelivers.
    """

    def __init__(
        self, app: AsyncApp, *, signing_secret: str, accepting: Callable[[], bool]
    ) -> None:
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._accepting = accepting

    async def handle(self, request: web.Request) -> web.Response:
        if not self._accepting():
            return web.Response(status=503, text="not ready")
        raw = await request.read()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _plain(400, "body is not UTF-8")
        if not self._signed(body, request):
            log.info("slack: refused a request with a bad or stale signature")
            return web.Response(status=401, text="invalid signature")
        headers: dict[str, str | Sequence[str]] = {}
        for name, value in request.headers.items():
            previous = headers.get(name.lower())
            headers[name.lower()] = [*previous, value] if isinstance(previous, list) else [value]
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, BoltError):
            return _plain(400, "malformed body")
        if not isinstance(bolt_request.body, dict) or not bolt_request.body:
            return _plain(400, "empty body")
        return _to_aiohttp(await dispatch(self._app, bolt_request))

    def _signed(self, body: str, request: web.Request) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not timestamp.isdigit() or not signature:
            return False
        return self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)


def _to_aiohttp(response: BoltResponse) -> web.Response:
    headers = {
        name: values[0]
        for name, values in response.headers.items()
        if values and name not in ("content-length", "content-type")
    }
    content_type = (response.headers.get("content-type") or ["text/plain"])[0]
    mime, _, params = content_type.partition(";")
    charset = "utf-8"
    if "charset=" in params:
        charset = params.split("charset=", 1)[1].strip() or charset
    return web.Response(
        status=response.status,
        body=(response.body or "").encode(charset),
        headers=headers,
        content_type=mime.strip() or "text/plain",
        charset=charset,
    )
