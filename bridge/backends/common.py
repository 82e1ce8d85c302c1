"""HttpBackend: what Chatbase, MaiAgent and Agentok share (config, session, unsupported calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import httpx

from bridge.backends.base import Capabilities, UploadRef
from bridge.backends.http import HttpSession, session_for
from bridge.config import BackendConfig
from bridge.errors import BackendError
from bridge.model import Attachment, Opening, Rating


class HttpBackend:
    """Base of the HTTP backends; subclasses set the class attributes and implement ``run``.

    ``app_id`` is the platform's id of the app (agent, chatbot or flow). Calls a platform cannot
    take raise ``BackendError("unsupported")``; the relay never makes them because
    ``capabilities`` says so.
    """

    kind: str
    platform: ClassVar[str]
    capabilities: Capabilities

    @staticmethod
    def map_error(
        status: int, body: Any, headers: Mapping[str, str], conversation_scoped: bool
    ) -> BackendError:
        """The platform's failure as a BackendError (see ``bridge.backends.http.ErrorMapper``)."""
        raise NotImplementedError

    def __init__(self, session: HttpSession, config: BackendConfig, *, name: str) -> None:
        self.name = name
        self._http = session
        self.app_id = config.app_id
        self._config = config
        self._streaming = config.response_mode == "streaming"

    @classmethod
    def auth(cls, config: BackendConfig) -> Mapping[str, str]:
        raise NotImplementedError

    @classmethod
    def from_config(
        cls, name: str, config: BackendConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        session = session_for(
            config,
            platform=cls.platform,
            auth=cls.auth(config),
            map_error=cls.map_error,
            transport=transport,
            read_timeout_s=max(config.read_timeout_s, config.run_timeout_s + 30)
            if cls.capabilities.human_input
            else None,
        )
        return cls(session, config, name=name)

    async def prepare(self) -> None:
        await self.health()

    async def health(self) -> None:
        raise NotImplementedError

    async def file_types(self, attachments: Sequence[Attachment]) -> list[str]:
        return [att.kind for att in attachments]

    async def upload(
        self, *, data: bytes, filename: str, mime_type: str, kind: str, user: str
    ) -> UploadRef:
        raise BackendError("unsupported", f"{self.platform} takes no files")

    async def feedback(
        self, *, message_id: str, conversation_id: str, rating: Rating, user: str
    ) -> None:
        raise BackendError("unsupported", f"{self.platform} has no feedback API")

    async def stop(self, *, task_id: str, conversation_id: str, user: str) -> None:
        """No stop call on this platform: the turn simply stops reading."""

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        raise BackendError("unsupported", f"{self.platform} answers carry no files")

    async def opening(self) -> Opening:
        return Opening()

    async def after_answer(self, message_id: str, *, user: str) -> tuple[str, ...]:
        return ()

    async def title(self, conversation_id: str, *, user: str) -> str:
        return ""

    async def aclose(self) -> None:
        await self._http.aclose()
