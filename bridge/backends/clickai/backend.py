"""ClickAIBackend: the Backend port over ``bridge.clickai.ClickAIClient`` (every app mode)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from bridge.backends.base import (
    BackendEvent,
    BackendTurn,
    Capabilities,
    FileOut,
    Finished,
    Started,
    TextDelta,
    TextReplace,
    UploadRef,
    close_events,
)
from bridge.clickai import ClickAIClient, FileRef, FileType, TurnRequest
from bridge.clickai import FileProduced as ClickAIFile
from bridge.clickai import Finished as ClickAIFinished
from bridge.clickai.errors import request_problem
from bridge.clickai.parameters import AppParameters
from bridge.config import AppMode, ClickAIConfig
from bridge.errors import BridgeError, ClickAIError
from bridge.extras import AppExtras
from bridge.file_rules import FileRulesSource
from bridge.model import Attachment, AttachmentKind, Opening, Rating

log = logging.getLogger(__name__)

ApiMode = Literal["chat", "completion", "workflow"]
InputValue = str | int | float | bool

API_MODES: dict[str, ApiMode] = {
    "chat": "chat",
    "agent-chat": "chat",
    "advanced-chat": "chat",
    "completion": "completion",
    "workflow": "workflow",
}
_ALL_KINDS: frozenset[AttachmentKind] = frozenset({"image", "document", "audio", "video"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClickAIOptions:
    """How turns talk to the app (from ``[clickai]``; ``app_mode`` "auto" asks ``/info``)."""

    app_mode: AppMode = "chat"
    streaming: bool = True
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    query_variable: str = "query"
    workflow_output: str = ""
    auto_generate_name: bool = True
    suggestions: bool = True
    """Offer the app's starter and follow-up questions (``bridge.suggested_questions``)."""

    @classmethod
    def from_config(cls, config: ClickAIConfig, *, suggestions: bool = True) -> ClickAIOptions:
        return cls(
            suggestions=suggestions,
            app_mode=config.app_mode,
            streaming=config.response_mode == "streaming",
            inputs=config.inputs,
            query_variable=config.query_variable,
            workflow_output=config.workflow_output,
            auto_generate_name=config.auto_generate_name,
        )


class ClickAIBackend:
    """One ClickAI app. The wrapped :class:`ClickAIClient` stays usable as ``.client``."""

    kind = "clickai"

    def __init__(
        self,
        client: ClickAIClient,
        options: ClickAIOptions | None = None,
        *,
        name: str = "clickai",
    ) -> None:
        self.client = client
        self.name = name
        self._opts = options or ClickAIOptions()
        self.parameters = AppParameters(client.parameters)
        self.extras = AppExtras(client, self.parameters, suggestions=self._opts.suggestions)
        self._mode_pending = False
        self.file_rules = FileRulesSource(self.parameters)
        self._mode_lock = asyncio.Lock()

    @property
    def app_mode(self) -> str:
        return self._opts.app_mode

    @property
    def mode(self) -> ApiMode:
        return API_MODES.get(self._opts.app_mode, "chat")

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            streaming=self._streaming,
            feedback=True,
            attachments=_ALL_KINDS,
            stop="server",
            conversation_id_early=True,
            assistant_files=True,
            single_turn=self.mode != "chat",
        )

    @property
    def _streaming(self) -> bool:
        return self._opts.streaming or self._opts.app_mode == "agent-chat"

    # -- start-up --------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Resolve ``auto`` to the app's mode and warn about required inputs left unset.

        When ``/info`` cannot be read now, the mode is not guessed: the first turn asks again
        (and each later one, until it succeeds)."""
        if self._opts.app_mode == "auto":
            try:
                info = await self.client.info()
            except ClickAIError as exc:
                if exc.kind in ("auth", "forbidden"):
                    raise BridgeError(f"ClickAI refused the API key: {exc}") from exc
                log.warning("cannot read the app mode (%s); detecting it on first use", exc)
                self._mode_pending = True
            else:
                self._set_mode(info, "ClickAI app mode: %s")
        await self._check_inputs()
        await self.file_rules.get()  # logs what files the app takes; read again when it changes

    async def _ensure_mode(self) -> None:
        if not self._mode_pending:
            return
        async with self._mode_lock:
            if self._mode_pending:
                self._set_mode(
                    await self.client.info(), "ClickAI app mode detected on first use: %s"
                )
                self._mode_pending = False

    def _set_mode(self, info: Mapping[str, Any], message: str) -> None:
        mode = str(info.get("mode") or "chat")
        if mode not in API_MODES:
            log.warning("unknown app mode %r; treating it as a chat app", mode)
            mode = "chat"
        log.info(message, mode)
        self._opts = replace(self._opts, app_mode=mode)  # type: ignore[arg-type]

    async def _check_inputs(self) -> None:
        params = await self.parameters.get()  # the one read file rules and extras share
        if params is None:
            return  # the failed read is logged
        missing = [name for name in required_inputs(params) if name not in self._opts.inputs]
        query_var = self._opts.query_variable
        missing = [m for m in missing if not (self.mode != "chat" and m == query_var)]
        if missing:
            log.warning(
                "the app requires inputs %s; set them in [clickai] inputs or every turn fails",
                ", ".join(missing),
            )

    # -- turns -----------------------------------------------------------------------------
    async def run(self, turn: BackendTurn) -> AsyncIterator[BackendEvent]:
        await self._ensure_mode()
        request = TurnRequest(
            mode=self.mode,
            streaming=self._streaming,
            query=turn.query,
            user=turn.user,
            conversation_id=turn.conversation_id,
            inputs=dict(self._opts.inputs),
            files=[
                FileRef(type=cast(FileType, f.kind), upload_file_id=str(f.handle["id"]))
                for f in turn.files
            ],
            query_variable=self._opts.query_variable,
            workflow_output=self._opts.workflow_output,
            auto_generate_name=self._opts.auto_generate_name,
        )
        events = self.client.run(request)
        try:
            async for event in events:
                mapped = _map(event)
                if mapped is not None:
                    yield mapped
        except ClickAIError as exc:
            problem = request_problem(exc)
            if problem and problem.kind != "missing_input":
                self.file_rules.stale()  # the app's file settings may have changed
            raise
        finally:
            await close_events(events)

    async def file_types(self, attachments: Sequence[Attachment]) -> list[str]:
        """Dify's file type per file; what the app's file settings refuse is refused here."""
        rules = await self.file_rules.get() if attachments else None
        if rules is None:
            return [att.kind for att in attachments]
        return list(rules.check(attachments))

    async def upload(
        self, *, data: bytes, filename: str, mime_type: str, kind: str, user: str
    ) -> UploadRef:
        uploaded = await self.client.upload_file(
            data=data, filename=filename, mime_type=mime_type, user=user
        )
        return UploadRef(kind=kind, handle={"id": uploaded.id})

    async def feedback(
        self, *, message_id: str, conversation_id: str, rating: Rating, user: str
    ) -> None:
        await self.client.feedback(message_id, rating=rating, user=user)

    async def stop(self, *, task_id: str, conversation_id: str, user: str) -> None:
        if task_id:
            await self.client.stop(task_id, user=user, mode=self.mode)

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        return await self.client.download(url, max_bytes=max_bytes)

    async def opening(self) -> Opening:
        return await self.extras.opening()

    async def after_answer(self, message_id: str, *, user: str) -> tuple[str, ...]:
        return await self.extras.after_answer(message_id, user=user)

    async def title(self, conversation_id: str, *, user: str) -> str:
        return await self.extras.title(conversation_id, user=user)

    async def health(self) -> None:
        await self.client.parameters()

    async def aclose(self) -> None:
        await self.client.aclose()


def _map(event: object) -> BackendEvent | None:
    """ClickAI's stream events as port events (agent thoughts are not shown)."""
    if isinstance(event, Started | TextDelta | TextReplace):
        return event  # bridge.clickai shares these event types with the port
    if isinstance(event, ClickAIFile):
        return _file(event)
    if isinstance(event, ClickAIFinished):
        return Finished(
            message_id=event.message_id,
            conversation_id=event.conversation_id,
            answer=event.answer,
            files=tuple(_file(f) for f in event.files),
            usage=event.usage,
        )
    return None


def _file(item: ClickAIFile) -> FileOut:
    return FileOut(
        id=item.id,
        type=item.type,
        url=item.url,
        belongs_to=item.belongs_to,
        filename=item.filename,
        mime_type=item.mime_type,
        extension=item.extension,
    )


def required_inputs(params: Mapping[str, Any]) -> list[str]:
    """Names of required variables in a ``GET /parameters`` ``user_input_form``."""
    names: list[str] = []
    form = params.get("user_input_form")
    if not isinstance(form, list):
        return names
    for item in form:
        if not isinstance(item, dict):
            continue
        for spec in item.values():
            if isinstance(spec, dict) and spec.get("required") and spec.get("variable"):
                names.append(str(spec["variable"]))
    return names
