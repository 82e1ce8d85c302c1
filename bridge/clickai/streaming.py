"""Reading one SSE answer: the idle timeout, and reopening a dropped workflow/chatflow stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing

import httpx
from httpx_sse import EventSource

from bridge.clickai.errors import error_from_transport
from bridge.clickai.events import StreamEvent
from bridge.clickai.session import ApiSession
from bridge.clickai.sse import StreamInterpreter
from bridge.errors import ClickAIError

log = logging.getLogger(__name__)

MAX_REOPENS = 2
"""How many times one answer's dropped stream is reopened before the partial answer is kept."""


class _Dropped(Exception):
    """The connection ended before a terminal frame while the run may still be going."""

    def __init__(self, error: ClickAIError) -> None:
        super().__init__(str(error))
        self.error = error


async def read_stream(
    session: ApiSession,
    response: httpx.Response,
    interpreter: StreamInterpreter,
    *,
    user: str,
    idle_timeout_s: float,
) -> AsyncGenerator[StreamEvent, None]:
    """The events of an open SSE answer.

    When a workflow or chatflow stream drops mid-answer (the connection breaks or ends without a
    terminal frame), it is reopened with ``GET /workflow/{run_id}/events`` and the same ``user``,
    and the same interpreter carries on, so the reply continues. A server that cannot reopen it
    ends the turn with ``ClickAIError(code="stream_dropped")``, the partial answer kept.
    """
    async with AsyncExitStack() as stack:
        current = response
        reopened = 0
        while True:
            try:
                async with aclosing(_frames(current, interpreter, idle_timeout_s)) as events:
                    async for event in events:
                        yield event
                return
            except _Dropped as dropped:
                run_id = interpreter.workflow_run_id
                if reopened >= MAX_REOPENS:
                    raise dropped.error from None
                reopened += 1
                log.warning(
                    "ClickAI stream of run %s dropped (%s); reopening it", run_id, dropped.error
                )
                current = await stack.enter_async_context(_Reopen(session, run_id, user))
                interpreter.reopened = True


class _Reopen:
    """``GET /workflow/{run_id}/events`` as an async context manager yielding the SSE response."""

    def __init__(self, session: ApiSession, run_id: str, user: str) -> None:
        self._cm = session.open_stream(
            "GET", f"workflow/{run_id}/events", params={"user": user}, conversation_scoped=False
        )

    async def __aenter__(self) -> httpx.Response:
        try:
            response = await self._cm.__aenter__()
        except ClickAIError as exc:
            log.warning("ClickAI cannot reopen the dropped stream: %s", exc)
            raise _unsupported() from exc
        if "text/event-stream" not in response.headers.get("content-type", ""):
            await self._cm.__aexit__(None, None, None)
            raise _unsupported()
        response.encoding = "utf-8-sig"  # as the first answer: a leading BOM is not data
        return response

    async def __aexit__(self, *exc_info: object) -> None:
        await self._cm.__aexit__(None, None, None)


def _unsupported() -> ClickAIError:
    return ClickAIError(
        "upstream", "the stream dropped and ClickAI could not reopen it", code="stream_dropped"
    )


async def _frames(
    response: httpx.Response, interpreter: StreamInterpreter, idle_timeout_s: float
) -> AsyncGenerator[StreamEvent, None]:
    """One response's events, with the idle timeout (pings do not re-arm it)."""
    frames = EventSource(response).aiter_sse()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + idle_timeout_s
    try:
        while not interpreter.done:
            try:
                async with asyncio.timeout_at(deadline):
                    sse = await frames.__anext__()
            except StopAsyncIteration:
                if interpreter.resumable:
                    raise _Dropped(ClickAIError("upstream", "the stream ended early")) from None
                for event in interpreter.eof():
                    yield event
                return
            except TimeoutError as exc:
                raise ClickAIError(
                    "timeout", f"no data from ClickAI for {idle_timeout_s:g}s"
                ) from exc
            except httpx.TransportError as exc:
                error = error_from_transport(exc)
                if interpreter.resumable:
                    raise _Dropped(error) from exc
                raise error from exc
            events, is_data = interpreter.feed(sse.event, sse.data)
            if is_data:
                deadline = loop.time() + idle_timeout_s
            for event in events:
                yield event
    finally:
        await frames.aclose()
