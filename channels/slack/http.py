"""POST /slack/events: aiohttp request → signature check → bolt dispatch → aiohttp response."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.error import BoltError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bridge.tasks import TaskSet

log = logging.getLogger("channels.slack")

EVENTS_PATH = "/slack/events"
HANDOFF_WAIT_S = 2.5
"""How long a delivery waits for its handlers to hand the message to the core (Slack: 3 s)."""

_SPAWNED: contextvars.ContextVar[list[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "slack_request_tasks", default=None
)


class RequestTasks(TaskSet):
    """A ``TaskSet`` that also lists each task under the HTTP delivery that spawned it.

    With ``process_before_response`` bolt runs the listeners inside ``async_dispatch``; they only
    spawn work, so the endpoint can wait for that work (the core claiming the message in its
    store) before it answers 200. A 200 Slack will never redeliver then always follows a claim.
    """

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        task = super().spawn(coro, name)
        spawned = _SPAWNED.get()
        if spawned is not None:
            spawned.append(task)
        return task


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
        spawned: list[asyncio.Task[Any]] = []
        token = _SPAWNED.set(spawned)
        try:
            response = await self._app.async_dispatch(bolt_request)
        finally:
            _SPAWNED.reset(token)
        if spawned and response.status == 200:
            _, late = await asyncio.wait(spawned, timeout=HANDOFF_WAIT_S)
            if late:
                log.warning("slack: a delivery's handlers are still running; acknowledging it")
            elif not self._accepting():
                # Stopped meanwhile: the core may have refused the message. Slack redelivers;
                # a message the store already claimed is then dropped as a duplicate.
                return web.Response(status=503, text="stopping")
        return _to_aiohttp(response)

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
