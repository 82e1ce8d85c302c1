"""The acknowledgement rule for both Slack transports: ack a delivery only once it was claimed."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from time import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bridge.model import IntakeResult, all_acknowledged
from bridge.tasks import TaskSet

log = logging.getLogger("channels.slack")

HANDOFF_WAIT_S = 2.5
"""How long a delivery waits for its handlers to hand the message to the core (Slack: 3 s)."""

_SPAWNED: contextvars.ContextVar[list[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "slack_request_tasks", default=None
)


class RequestTasks(TaskSet):
    """A ``TaskSet`` that can also list a task under the delivery that spawned it.

    Bolt runs the listeners inside ``async_dispatch`` (``process_before_response``); they only
    spawn work, so the transport can wait for the work that claims a message (users.info,
    files.info, then the core claiming it in its store) before it acknowledges the delivery.
    Other work (reactions, button clicks) is spawned with plain ``spawn`` and runs after the ack.
    """

    def spawn_claim(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """Spawn work whose result (an ``IntakeResult`` or None) decides the delivery's ack."""
        task = self.spawn(coro, name)
        spawned = _SPAWNED.get()
        if spawned is not None:
            spawned.append(task)
        return task


async def dispatch(app: AsyncApp, request: AsyncBoltRequest) -> BoltResponse:
    """Dispatch one delivery and answer it by the rule of ``bridge.model.IntakeResult``.

    Bolt's own answer is kept when every claim it spawned finished and each message in it
    was claimed or was a duplicate. A handler still running after ``HANDOFF_WAIT_S``, one that
    raised, or a claim refused / failed gives 503: not acknowledged, so Slack delivers it again
    (and the store drops it then if it was claimed meanwhile).
    """
    spawned: list[asyncio.Task[Any]] = []
    token = _SPAWNED.set(spawned)
    try:
        response = await app.async_dispatch(request)
    finally:
        _SPAWNED.reset(token)
    if not spawned or response.status != 200:
        return response
    _, late = await asyncio.wait(spawned, timeout=HANDOFF_WAIT_S)
    if late:
        log.warning("slack: a delivery's message is not claimed yet; leaving it unacknowledged")
        return BoltResponse(status=503, body="not claimed yet")
    results: list[IntakeResult | None] = []
    for task in spawned:
        if task.cancelled() or task.exception() is not None:
            results.append(IntakeResult.FAILED)
            continue
        outcome = task.result()
        results.append(outcome if isinstance(outcome, IntakeResult) else None)
    if not all_acknowledged(results):
        return BoltResponse(status=503, body="not claimed")
    return response


class ClaimingSocketModeHandler(AsyncSocketModeHandler):
    """Socket Mode with the same rule: the envelope is acked only after the claim.

    Bolt's handler acks first and runs listeners after; a crash between the two lost the
    message. Here an envelope that is not acked is redelivered by Slack (``retry_attempt``).
    """

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time()
        request = AsyncBoltRequest(
            mode="socket_mode", body=req.payload, headers=build_headers(req)
        )
        response = await dispatch(self.app, request)
        if response.status == 200:
            await send_async_response(client, req, response, start)
        else:
            log.info("slack: envelope %s left unacknowledged (%s)", req.envelope_id, response.body)
