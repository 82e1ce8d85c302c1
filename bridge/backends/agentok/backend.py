"""AgentokBackend: an agent-job backend; a turn starts (or feeds) a flow run and polls it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from bridge.backends.agentok.errors import agentok_error
from bridge.backends.agentok.run import (
    ENDED_STATUSES,
    FAILED_STATUSES,
    RunView,
    latest_id,
)
from bridge.backends.base import (
    AwaitingInput,
    BackendEvent,
    BackendTurn,
    Capabilities,
    Finished,
    Started,
    TextDelta,
)
from bridge.backends.common import HttpBackend
from bridge.config import BackendConfig
from bridge.errors import BackendError

log = logging.getLogger(__name__)

MAX_POLL_S = 5.0


class AgentokBackend(HttpBackend):
    """One Agentok flow (``flow_id``, a Studio project): each conversation is one Agentok chat."""

    kind = "agentok"
    capabilities = Capabilities(
        streaming=False,
        feedback=False,
        attachments=frozenset(),
        stop="server",
        human_input=True,
        conversation_id_early=True,
    )

    platform = "Agentok"
    map_error = staticmethod(agentok_error)

    @classmethod
    def auth(cls, config: BackendConfig) -> Mapping[str, str]:
        return {"X-API-KEY": config.api_key.get_secret_value()}

    async def run(self, turn: BackendTurn) -> AsyncIterator[BackendEvent]:
        chat_id = turn.conversation_id or await self._create(turn.user)
        yield Started(chat_id, "", chat_id)  # the chat is what /stop aborts
        chat = await self._get(f"chats/{chat_id}")
        view = RunView(seen=latest_id(await self._messages(chat_id)))
        body = {"type": "user", "content": turn.query}
        if chat.get("status") == "wait_for_human_input":
            answer = await self._http.call(
                "POST", f"chats/{chat_id}/input", json_body=body, retry=False
            )
            if isinstance(answer, Mapping) and answer.get("error"):
                raise BackendError("conversation_gone", f"Agentok run lost: {answer['error']}")
            sending: asyncio.Task[Any] | None = None
        else:
            sending = asyncio.create_task(
                self._http.call("POST", f"chats/{chat_id}/messages", json_body=body, retry=False),
                name=f"agentok run {chat_id}",
            )
        try:
            async for event in self._watch(chat_id, view, sending):
                yield event
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, BackendError):
                    await sending

    async def _watch(
        self, chat_id: str, view: RunView, sending: asyncio.Task[Any] | None
    ) -> AsyncIterator[BackendEvent]:
        """Poll with backoff until the run ends, asks for input, fails or times out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.run_timeout_s
        delay = self._config.poll_interval_s
        running_seen = sending is None
        while True:
            sent_done = sending is not None and sending.done()
            if sent_done and sending is not None and sending.exception() is not None:
                raise sending.exception()  # type: ignore[misc]
            # Status first: the messages read after it are at least as new as it is.
            status = str((await self._get(f"chats/{chat_id}")).get("status") or "")
            shown = bool(view.texts)
            fresh = view.absorb(await self._messages(chat_id))
            for text in fresh:
                yield TextDelta(("\n\n" if shown else "") + text)
                shown = True
            running_seen = running_seen or status in ("running", "wait_for_human_input")
            if status == "wait_for_human_input" and view.prompt is not None:
                yield TextDelta(("\n\n" if shown else "") + view.prompt)
                yield AwaitingInput(view.prompt, chat_id)
                yield Finished(message_id="", conversation_id=chat_id)
                return
            ended = view.completed is not None or sent_done
            if status in ENDED_STATUSES and (running_seen or ended):
                if view.failed or status in FAILED_STATUSES:
                    reason = view.completed or status
                    raise BackendError(
                        "upstream", f"Agentok run failed: {reason}", code="run_failed"
                    )
                answer = None if view.texts else view.summary
                yield Finished(message_id="", conversation_id=chat_id, answer=answer)
                return
            if loop.time() >= deadline:
                await self._abort(chat_id)
                raise BackendError(
                    "timeout", f"Agentok run still going after {self._config.run_timeout_s:g}s"
                )
            delay = self._config.poll_interval_s if fresh else min(MAX_POLL_S, delay * 1.5)
            await self._http.sleep(min(delay, max(0.0, deadline - loop.time())))

    async def _create(self, user: str) -> str:
        body = {
            "name": f"clickai-bridge {user}"[:100],
            "from_type": "project",
            "from_project": self.app_id,
            "user_id": user,
        }
        chat = await self._http.call("POST", "chats", json_body=body)
        if not isinstance(chat, Mapping) or chat.get("id") is None:
            raise BackendError("upstream", "Agentok created a chat without an id")
        return str(chat["id"])

    async def _get(self, path: str) -> Mapping[str, Any]:
        body = await self._http.call("GET", path, conversation_scoped=True)
        return body if isinstance(body, Mapping) else {}

    async def _messages(self, chat_id: str) -> list[Mapping[str, Any]]:
        body = await self._http.call("GET", f"chats/{chat_id}/messages", conversation_scoped=True)
        return [m for m in body if isinstance(m, Mapping)] if isinstance(body, list) else []

    async def _abort(self, chat_id: str) -> None:
        try:
            await self._http.call("POST", f"chats/{chat_id}/abort", retry=False)
        except BackendError as exc:
            log.warning("agentok: could not abort chat %s: %s", chat_id, exc)

    async def stop(self, *, task_id: str, conversation_id: str, user: str) -> None:
        """Abort the chat's run; the watching turn then ends with what was shown."""
        chat_id = conversation_id or task_id
        if chat_id:
            await self._http.call("POST", f"chats/{chat_id}/abort", retry=False)

    async def health(self) -> None:
        """List the key owner's chats (proves the key; the flow is proven by the first turn)."""
        await self._http.call("GET", "chats", retry=False)
