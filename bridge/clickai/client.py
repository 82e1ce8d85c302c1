"""ClickAIClient: every App Runtime endpoint the bridge uses, with streaming turns as events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from bridge.clickai.errors import error_from_transport
from bridge.clickai.events import RunMode, StreamEvent, TurnRequest, UploadedFile
from bridge.clickai.session import ApiSession, not_accepted
from bridge.clickai.sse import StreamInterpreter, blocking_events
from bridge.clickai.streaming import read_stream
from bridge.config import ClickAIConfig
from bridge.errors import ClickAIError
from bridge.fetch import Resolver, system_resolve

log = logging.getLogger(__name__)

Rating = Literal["like", "dislike"] | None
_STOP_PATHS: dict[RunMode, str] = {
    "chat": "chat-messages/{}/stop",
    "completion": "completion-messages/{}/stop",
    "workflow": "workflows/tasks/{}/stop",
}
STOP_TIMEOUT_S = 5.0
"""How long an abandoned stream's stop call may hold a turn that is ending (or shutting down)."""


class _Opened:
    """Whether ClickAI answered a generation request with a 2xx (it then runs it to the end)."""

    accepted = False


class ClickAIClient:
    """Async client for one ClickAI app (one API key).

    Use it as an async context manager or call :meth:`aclose`. All failures raise
    :class:`bridge.errors.ClickAIError` with a ``kind``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | SecretStr,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 300.0,
        idle_timeout_s: float = 90.0,
        requests_per_minute: int = 100,
        max_retries: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        file_hosts: Iterable[str] = (),
        file_timeout_s: float = 60.0,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._session = ApiSession(
            base_url=base_url,
            secret=api_key,
            transport=transport,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            requests_per_minute=requests_per_minute,
            max_retries=max_retries,
            sleep=sleep,
            file_hosts=file_hosts,
            file_timeout_s=file_timeout_s,
            resolve=resolve,
        )
        self._idle_timeout_s = idle_timeout_s
        self._sleep = sleep
        self._selectors: dict[str, tuple[str, ...]] = {}
        """Per workflow output, the variable whose ``text_chunk`` frames stream it."""

    @classmethod
    def from_config(
        cls, config: ClickAIConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> ClickAIClient:
        return cls(
            base_url=config.base_url,
            api_key=config.api_key,
            transport=transport,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            idle_timeout_s=config.idle_timeout_s,
            requests_per_minute=config.requests_per_minute,
            max_retries=config.max_retries,
            file_hosts=config.file_hosts,
            file_timeout_s=config.file_timeout_s,
        )

    async def __aenter__(self) -> ClickAIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    # -- generation ------------------------------------------------------------------------

    async def run(self, turn: TurnRequest) -> AsyncIterator[StreamEvent]:
        """Send one turn; yields Started, then deltas/thoughts/files, then Finished.

        A turn is sent again only when ClickAI provably did not accept it (connection refused,
        HTTP 429 or 5xx before any body): once a 200 answer is open the request is never repeated,
        because ClickAI runs every accepted request to the end and saves it in the conversation.
        When the client gives up on an open stream (idle timeout, dropped connection, the caller
        cancelling or closing the iterator) it asks ClickAI to stop the task, with the same
        ``user``. A caller that may stop early should wrap the iterator in
        ``contextlib.aclosing`` so the HTTP stream is closed at once.
        """
        path, body = _turn_body(turn)
        scoped = turn.mode == "chat" and bool(turn.conversation_id)
        tries = 0
        while True:
            opened = _Opened()
            try:
                attempt = self._run_once(turn, path, body, scoped, opened)
                async with aclosing(attempt):  # closing ``run`` early closes the stream now
                    async for event in attempt:
                        yield event
                return
            except ClickAIError as exc:
                retryable = not opened.accepted and not_accepted(exc)
                delay = self._session.retry_delay(exc, tries) if retryable else None
                if delay is None:
                    raise
                tries += 1
                log.warning("ClickAI turn failed (%s); retry %d in %.1fs", exc.kind, tries, delay)
                await self._sleep(delay)

    async def _run_once(
        self,
        turn: TurnRequest,
        path: str,
        body: dict[str, Any],
        scoped: bool,
        opened: _Opened,
    ) -> AsyncGenerator[StreamEvent, None]:
        async with self._session.open_stream(
            "POST", path, json=body, conversation_scoped=scoped
        ) as response:
            opened.accepted = True
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                payload = await _read_json(response)
                for event in blocking_events(payload, workflow_output=turn.workflow_output):
                    yield event
                return
            response.encoding = "utf-8-sig"  # SSE is UTF-8; a leading BOM is not part of a field
            interpreter = StreamInterpreter(
                workflow_output=turn.workflow_output, selectors=self._selectors
            )
            events = read_stream(
                self._session,
                response,
                interpreter,
                user=turn.user,
                idle_timeout_s=self._idle_timeout_s,
            )
            try:
                async with aclosing(events):
                    async for event in events:
                        yield event
            except (ClickAIError, asyncio.CancelledError, GeneratorExit) as exc:
                if not interpreter.done and not interpreter.failed:
                    await self._give_up(interpreter.task_id, turn, exc)
                raise

    async def _give_up(self, task_id: str, turn: TurnRequest, why: BaseException) -> None:
        """Stop a task whose stream the bridge abandons, so ClickAI does not finish it unseen."""
        reason = type(why).__name__ if not isinstance(why, ClickAIError) else why.kind
        if not task_id:
            log.warning("abandoning a ClickAI stream (%s) before its task id was known", reason)
            return
        log.info("abandoning ClickAI task %s (%s); asking ClickAI to stop it", task_id, reason)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await self.stop(task_id, user=turn.user, mode=turn.mode)
        except (ClickAIError, TimeoutError) as exc:
            log.warning("could not stop abandoned ClickAI task %s: %s", task_id, exc)

    # -- files, feedback, stop ---------------------------------------------------------------

    async def upload_file(
        self, *, data: bytes, filename: str, mime_type: str, user: str
    ) -> UploadedFile:
        """Upload a file for a later turn by the same ``user``."""
        response = await self._session.call(
            "POST",
            "files/upload",
            files={"file": (filename, data, mime_type)},
            data={"user": user},
        )
        body = _json(response)
        return UploadedFile(
            id=str(body.get("id", "")),
            name=str(body.get("name", filename)),
            size=int(body.get("size") or len(data)),
            extension=str(body.get("extension") or ""),
            mime_type=str(body.get("mime_type") or mime_type),
        )

    async def feedback(
        self, message_id: str, *, rating: Rating, user: str, content: str | None = None
    ) -> None:
        """Rate a message (``None`` clears an earlier rating)."""
        body: dict[str, Any] = {"rating": rating, "user": user}
        if content is not None:
            body["content"] = content
        await self._session.call("POST", f"messages/{message_id}/feedbacks", json=body)

    async def stop(self, task_id: str, *, user: str, mode: RunMode = "chat") -> None:
        """Ask ClickAI to stop a running turn; its stream then ends with the partial answer."""
        await self._session.call("POST", _STOP_PATHS[mode].format(task_id), json={"user": user})

    async def suggested(self, message_id: str, *, user: str) -> list[str]:
        """Questions ClickAI suggests after answer ``message_id`` (the app must enable them)."""
        response = await self._session.call(
            "GET", f"messages/{message_id}/suggested", params={"user": user}
        )
        data = _json(response).get("data")
        return [q for q in data if isinstance(q, str)] if isinstance(data, list) else []

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch an assistant file URL through the guarded fetcher (raises FetchError).

        Relative ``/files/...`` URLs are on the API's host; other hosts only when listed in
        ``file_hosts``.
        """
        return await self._session.download(url, max_bytes=max_bytes)

    # -- conversations and messages -----------------------------------------------------------

    async def conversations(
        self,
        *,
        user: str,
        last_id: str | None = None,
        limit: int = 20,
        sort_by: str = "-updated_at",
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"user": user, "limit": limit, "sort_by": sort_by}
        if last_id:
            params["last_id"] = last_id
        return _json(await self._session.call("GET", "conversations", params=params))

    async def rename_conversation(
        self,
        conversation_id: str,
        *,
        user: str,
        name: str | None = None,
        auto_generate: bool = False,
    ) -> dict[str, Any]:
        body = {"name": name, "auto_generate": auto_generate, "user": user}
        response = await self._session.call(
            "POST", f"conversations/{conversation_id}/name", json=body, conversation_scoped=True
        )
        return _json(response)

    async def delete_conversation(self, conversation_id: str, *, user: str) -> None:
        """Delete a conversation (200 or 204 depending on the server version)."""
        await self._session.call(
            "DELETE",
            f"conversations/{conversation_id}",
            json={"user": user},
            conversation_scoped=True,
        )

    async def messages(
        self, conversation_id: str, *, user: str, first_id: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {
            "conversation_id": conversation_id,
            "user": user,
            "limit": limit,
        }
        if first_id:
            params["first_id"] = first_id
        # With first_id a 404 may mean "First Message Not Exists.", so it is not conclusive.
        response = await self._session.call(
            "GET", "messages", params=params, conversation_scoped=first_id is None
        )
        return _json(response)

    async def parameters(self) -> dict[str, Any]:
        """The app's opening statement, input form, file-upload settings, ..."""
        return _json(await self._session.call("GET", "parameters"))

    async def info(self) -> dict[str, Any]:
        """The app's name, description and ``mode``."""
        return _json(await self._session.call("GET", "info"))


def _turn_body(turn: TurnRequest) -> tuple[str, dict[str, Any]]:
    inputs: dict[str, Any] = dict(turn.inputs)
    body: dict[str, Any] = {
        "inputs": inputs,
        "user": turn.user,
        "response_mode": "streaming" if turn.streaming else "blocking",
        "files": [ref.to_wire() for ref in turn.files],
    }
    if turn.mode == "chat":
        body["query"] = turn.query
        body["auto_generate_name"] = turn.auto_generate_name
        if turn.conversation_id:
            body["conversation_id"] = turn.conversation_id
        return "chat-messages", body
    if turn.query_variable:
        inputs[turn.query_variable] = turn.query
    if turn.mode == "completion":
        body["query"] = turn.query
        return "completion-messages", body
    return "workflows/run", body


async def _read_json(response: httpx.Response) -> dict[str, Any]:
    try:
        raw = await response.aread()
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    return _parse(raw)


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    return _parse(response.content)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ClickAIError("upstream", "ClickAI answered with a body that is not JSON") from exc
    if not isinstance(payload, dict):
        raise ClickAIError("upstream", "ClickAI answered with a JSON value that is not an object")
    return payload
