"""ChatbaseBackend: Chatbase API v2 chat (SSE) and feedback (PATCH); no files, no server stop."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from bridge.backends.base import BackendEvent, BackendTurn, Capabilities
from bridge.backends.chatbase.errors import chatbase_error
from bridge.backends.chatbase.stream import ChatbaseStream, blocking_events
from bridge.backends.common import HttpBackend
from bridge.backends.http import is_event_stream, parse_body, sse_data
from bridge.config import BackendConfig
from bridge.model import Rating

_RATINGS: dict[str, str] = {"like": "positive", "dislike": "negative"}
_USER_ID = re.compile(r"[^A-Za-z0-9._-]")


class ChatbaseBackend(HttpBackend):
    """One Chatbase agent (``agent_id``) reached with a workspace API key."""

    kind = "chatbase"
    capabilities = Capabilities(
        streaming=True,
        feedback=True,
        attachments=frozenset(),
        stop="local",
        conversation_id_early=False,
    )

    platform = "Chatbase"
    map_error = staticmethod(chatbase_error)

    @classmethod
    def auth(cls, config: BackendConfig) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {config.api_key.get_secret_value()}"}

    async def run(self, turn: BackendTurn) -> AsyncIterator[BackendEvent]:
        body: dict[str, Any] = {"message": turn.query, "stream": self._streaming}
        if turn.conversation_id:
            body["conversationId"] = turn.conversation_id
        else:
            body["userId"] = chatbase_user_id(turn.user)

        async def attempt() -> AsyncIterator[BackendEvent]:
            async with self._http.open_stream(
                "POST",
                f"agents/{self.app_id}/chat",
                json_body=body,
                conversation_scoped=bool(turn.conversation_id),
            ) as response:
                if not is_event_stream(response):
                    payload = parse_body(await response.aread())
                    for event in blocking_events(payload, turn.conversation_id):
                        yield event
                    return
                stream = ChatbaseStream(turn.conversation_id)
                async for data in sse_data(
                    response, idle_timeout_s=self._config.idle_timeout_s, platform="Chatbase"
                ):
                    for event in stream.feed(data):
                        yield event
                    if stream.done:
                        return
                for event in stream.end():
                    yield event

        async for event in self._http.retrying(attempt):
            yield event

    async def feedback(
        self, *, message_id: str, conversation_id: str, rating: Rating, user: str
    ) -> None:
        await self._http.call(
            "PATCH",
            f"agents/{self.app_id}/conversations/{conversation_id}/messages/{message_id}/feedback",
            json_body={"feedback": _RATINGS.get(rating or "")},
        )

    async def health(self) -> None:
        """List one conversation: proves the key, the plan and the agent id together."""
        await self._http.call(
            "GET", f"agents/{self.app_id}/conversations", params={"limit": 1}, retry=False
        )


def chatbase_user_id(user: str) -> str:
    """Chatbase ``userId``: up to 128 of ``[A-Za-z0-9._-]`` (``telegram:42`` → ``telegram.42``)."""
    return _USER_ID.sub("_", user.replace(":", "."))[:128] or "bridge"
