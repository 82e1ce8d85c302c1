"""One turn: forward a message (and its files) to ClickAI and stream the answer into a reply."""

from __future__ import annotations

import asyncio
import copy
import logging
import mimetypes
import posixpath
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlparse

from bridge.clickai import (
    ClickAIClient,
    FileProduced,
    FileRef,
    FileType,
    Finished,
    Started,
    TextDelta,
    TextReplace,
    TurnRequest,
)
from bridge.clickai.errors import request_problem
from bridge.errors import AttachmentError, ChannelError, ClickAIError
from bridge.extras import AppExtras
from bridge.fetch import FetchError
from bridge.file_rules import FileRulesSource
from bridge.i18n import t
from bridge.model import Attachment, Channel, InboundMessage, OutboundFile, ReplyRef
from bridge.pacing import PacedReply
from bridge.store.base import Store

log = logging.getLogger(__name__)

ApiMode = Literal["chat", "completion", "workflow"]
InputValue = str | int | float | bool
TurnPhase = Literal["streaming", "delivering", "delivered", "recorded"]
"""A turn ends once: streaming → delivering (the final send) → delivered → recorded."""
FINAL_SEND_GRACE_S = 10.0
"""At shutdown, how long a final send already under way may still take to complete."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOptions:
    """How turns talk to ClickAI (derived from config and the app's mode at start-up)."""

    mode: ApiMode = "chat"
    streaming: bool = True
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    query_variable: str = "query"
    workflow_output: str = ""
    auto_generate_name: bool = True
    max_file_bytes: int = 15 * 1024 * 1024
    default_file_query: str = ""
    show_reset_notice: bool = True
    suggestions: bool = True
    """Offer the app's suggested questions under answers (when the app enables them)."""


@dataclass(slots=True)
class TurnState:
    """A running turn, visible to ``/stop`` and to shutdown."""

    user: str
    owner: str = ""
    """The platform user who asked: only they (or a chat admin) stop it, only they rate it."""
    task_id: str = ""
    text: str = ""
    stop_requested: bool = False
    stop_sent: bool = False
    started_at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None
    message_id: str = ""
    conversation_id: str = ""
    usage: Mapping[str, object] = field(default_factory=dict)
    """``message_end``'s token usage and price (empty when the app sent none)."""
    phase: TurnPhase = "streaming"

    @property
    def delivered(self) -> bool:
        """The final answer is in the chat: it is never sent again nor gets a failure note."""
        return self.phase in ("delivered", "recorded")


@dataclass(slots=True)
class Answer:
    message_id: str = ""
    conversation_id: str = ""
    files: list[FileProduced] = field(default_factory=list)
    renewed: bool = False
    """ClickAI answered in a new conversation instead of the one the turn named."""


@dataclass(frozen=True, slots=True)
class _Final:
    """What the final send of a turn shows."""

    text: str
    notice: str | None
    files: list[OutboundFile]
    suggestions: tuple[str, ...]


class _Options:
    """The turn options, and how to find them while the app mode is still unknown."""

    def __init__(
        self, options: TurnOptions, detect: Callable[[], Awaitable[TurnOptions]] | None
    ) -> None:
        self.options = options
        self.detect = detect
        self.lock = asyncio.Lock()


class TurnRunner:
    """Runs turns; stateless apart from its collaborators."""

    def __init__(
        self,
        *,
        clickai: ClickAIClient,
        store: Store,
        options: TurnOptions,
        extras: AppExtras | None = None,
        detect: Callable[[], Awaitable[TurnOptions]] | None = None,
        file_rules: FileRulesSource | None = None,
    ) -> None:
        """``detect`` (when the app mode is not known yet) is awaited before the first turn
        and again before each later one until it succeeds; ``options`` are used after that."""
        self._clickai = clickai
        self._store = store
        self.extras = extras or AppExtras(clickai, suggestions=options.suggestions)
        self._mode = _Options(options, detect)  # shared by every scoped() view
        self._file_rules = file_rules

    @property
    def _opts(self) -> TurnOptions:
        return self._mode.options

    async def _ensure_options(self) -> None:
        mode = self._mode
        if mode.detect is None:
            return
        async with mode.lock:
            if mode.detect is not None:
                mode.options = await mode.detect()
                mode.detect = None

    @property
    def max_file_bytes(self) -> int:
        return self._opts.max_file_bytes

    def scoped(self, store: Store) -> TurnRunner:
        """The same runner keeping its conversations in ``store`` (a bot's namespace view)."""
        clone = copy.copy(self)
        clone._store = store
        return clone

    @property
    def single_turn(self) -> bool:
        """Completion and workflow apps keep no conversation: each message stands alone."""
        return self._opts.mode != "chat"

    async def run(
        self, msg: InboundMessage, channel: Channel, paced: PacedReply, state: TurnState
    ) -> None:
        """Answer ``msg``; ClickAI and attachment errors propagate with ``state.text`` kept."""
        scope = msg.key.scope
        await self._ensure_options()
        row = await self._store.get_conversation(scope)
        conversation_id = row.conversation_id if row else None
        files = await self._upload(msg, channel, state.user)
        query = msg.text.strip() or self._opts.default_file_query
        query = query or t(msg.language, "default_file_query")
        reset = False
        try:
            answer = await self._stream(msg, query, files, conversation_id, paced, state)
        except ClickAIError as exc:
            problem = request_problem(exc)
            if problem and problem.kind != "missing_input" and self._file_rules:
                self._file_rules.stale()  # the app's file settings may have changed
            if exc.kind != "conversation_gone" or not conversation_id or state.text:
                raise
            log.info("conversation %s of %s is gone; starting a new one", conversation_id, scope)
            await self._store.drop_conversation(scope)
            reset = True
            answer = await self._stream(msg, query, files, None, paced, state)
        notice = None
        if state.stop_requested:
            notice = t(msg.language, "stopped")
        elif (reset or answer.renewed) and self._opts.show_reset_notice:
            notice = t(msg.language, "conversation_reset")
        out_files = await self._fetch_files(answer.files)
        text = state.text or ("" if out_files else t(msg.language, "empty_answer"))
        suggestions: tuple[str, ...] = ()
        if not state.stop_requested and state.text:
            suggestions = await self.extras.after_answer(answer.message_id, user=state.user)
        final = asyncio.create_task(
            self._deliver(msg, paced, state, _Final(text, notice, out_files, suggestions), answer)
        )
        try:
            await asyncio.shield(final)
        except asyncio.CancelledError:
            # Shutdown while the final answer is being sent: let that send complete (bounded)
            # rather than turn a complete answer into "please send again".
            if not final.done():
                log.info("%s: shutdown during the final send; letting it complete", scope)
                await asyncio.wait({final}, timeout=FINAL_SEND_GRACE_S)
            if not final.done():
                final.cancel()  # hopeless: the caller sends the restart notice instead
            elif not final.cancelled():
                final.exception()  # retrieved: the caller only sees the cancellation
            raise
        if answer.conversation_id != conversation_id:
            await self._title(paced, answer.conversation_id, state.user)

    async def _title(self, paced: PacedReply, conversation_id: str, user: str) -> None:
        """A new conversation names its thread (best effort: the answer is already out)."""
        if not paced.wants_title or not conversation_id:
            return
        title = await self.extras.title(conversation_id, user=user)
        if not title:
            return
        try:
            await paced.set_title(title)
        except ChannelError as exc:
            log.info("could not title the thread of %s: %s", conversation_id, exc)

    async def _deliver(
        self,
        msg: InboundMessage,
        paced: PacedReply,
        state: TurnState,
        final: _Final,
        answer: Answer,
    ) -> None:
        """The final send, then the reply map; a failure to record never touches the chat."""
        state.phase = "delivering"
        ids = await paced.finish(
            final.text,
            notice=final.notice,
            files=final.files,
            feedback=bool(answer.message_id),
            suggestions=final.suggestions,
        )
        state.phase = "delivered"
        if answer.message_id and ids:
            try:
                await self._store.add_replies(
                    [msg_ref(msg, i) for i in ids],
                    message_id=answer.message_id,
                    conversation_id=answer.conversation_id,
                    user=state.user,
                    owner=state.owner,
                )
            except Exception:
                log.exception(
                    "%s: answer delivered but its feedback link was not stored", msg.key.scope
                )
                return
        state.phase = "recorded"

    async def _stream(
        self,
        msg: InboundMessage,
        query: str,
        files: list[FileRef],
        conversation_id: str | None,
        paced: PacedReply,
        state: TurnState,
    ) -> Answer:
        request = TurnRequest(
            mode=self._opts.mode,
            streaming=self._opts.streaming,
            query=query,
            user=state.user,
            conversation_id=conversation_id,
            inputs=dict(self._opts.inputs),
            files=files,
            query_variable=self._opts.query_variable,
            workflow_output=self._opts.workflow_output,
            auto_generate_name=self._opts.auto_generate_name,
        )
        answer = Answer(conversation_id=conversation_id or "")
        async for event in self._clickai.run(request):
            if isinstance(event, TextDelta):
                self._show(paced, state, state.text + event.text)
            elif isinstance(event, TextReplace):
                self._show(paced, state, event.text)
            elif isinstance(event, Started):
                await self._started(msg, event, answer, state)
            elif isinstance(event, FileProduced):
                answer.files.append(event)
            elif isinstance(event, Finished):
                answer.message_id = event.message_id or answer.message_id
                state.message_id, state.usage = answer.message_id, event.usage
                if event.answer and not state.text:
                    self._show(paced, state, event.answer)
                known = {f.id for f in answer.files}
                answer.files += [f for f in event.files if f.id not in known]
        return answer

    def _show(self, paced: PacedReply, state: TurnState, text: str) -> None:
        if state.first_text_at is None and text.strip():
            state.first_text_at = time.monotonic()
        state.text = text
        paced.set_text(text)

    async def _started(
        self, msg: InboundMessage, event: Started, answer: Answer, state: TurnState
    ) -> None:
        answer.message_id = state.message_id = event.message_id
        state.task_id = event.task_id
        state.conversation_id = event.conversation_id or answer.conversation_id
        if event.conversation_id and event.conversation_id != answer.conversation_id:
            if answer.conversation_id:
                # A chatflow given an unknown, deleted or foreign id answers 200 in a new
                # conversation instead of 404: the same outcome as the 404 path.
                log.info(
                    "conversation %s of %s was replaced by %s",
                    answer.conversation_id,
                    msg.key.scope,
                    event.conversation_id,
                )
                answer.renewed = True
            # Persist at once: a crash mid-answer must not orphan the new conversation.
            answer.conversation_id = event.conversation_id
            await self._store.set_conversation(msg.key.scope, event.conversation_id, state.user)
        if state.stop_requested and event.task_id:
            await self.stop(state)

    async def stop(self, state: TurnState) -> None:
        """Ask ClickAI to stop the running task (the stream then ends with the partial text).

        Once per task: a press racing the task's first event must not stop it twice.
        """
        state.stop_requested = True
        if state.task_id and not state.stop_sent:
            state.stop_sent = True
            await self._clickai.stop(state.task_id, user=state.user, mode=self._opts.mode)

    async def _upload(self, msg: InboundMessage, channel: Channel, user: str) -> list[FileRef]:
        refs: list[FileRef] = []
        limit = self._opts.max_file_bytes
        kinds = await self._file_types(msg.attachments)
        for att, kind in zip(msg.attachments, kinds, strict=True):
            if att.size is not None and att.size > limit:
                raise AttachmentError("too_large", att.name)
            data = await channel.download(att, max_bytes=limit)
            if len(data) > limit:
                raise AttachmentError("too_large", att.name)
            try:
                uploaded = await self._clickai.upload_file(
                    data=data, filename=safe_filename(att.name), mime_type=att.mime_type, user=user
                )
            except ClickAIError as exc:
                if exc.status == 413:
                    raise AttachmentError("too_large", att.name) from exc
                raise AttachmentError("upload_failed", att.name) from exc
            refs.append(FileRef(type=kind, upload_file_id=uploaded.id))
        return refs

    async def _file_types(self, attachments: Sequence[Attachment]) -> list[FileType]:
        """The type each file goes as; refuses what the app does not take, before any download."""
        rules = await self._file_rules.get() if self._file_rules and attachments else None
        if rules is None:
            return [att.kind for att in attachments]
        return rules.check(attachments)

    async def _fetch_files(self, produced: list[FileProduced]) -> list[OutboundFile]:
        out: list[OutboundFile] = []
        for item in produced:
            if item.belongs_to and item.belongs_to != "assistant":
                continue
            if not item.url:
                continue
            try:
                data = await self._clickai.download(item.url, max_bytes=self._opts.max_file_bytes)
            except FetchError as exc:
                log.warning("could not fetch assistant file %s: %s", item.id, exc)
                continue
            name, mime = file_name_and_type(item)
            is_image = item.type == "image" or mime.startswith("image/")
            out.append(
                OutboundFile(
                    name=name, mime_type=mime, data=data, kind="image" if is_image else "document"
                )
            )
        return out


def file_name_and_type(item: FileProduced) -> tuple[str, str]:
    """The name and MIME type to post an assistant file under.

    The file object's ``filename``/``mime_type``/``extension`` win: a workflow's signed URL ends
    in ``/file-preview``, which would reach the chat as an untyped file of that name.
    """
    extension = item.extension if item.extension.startswith(".") else f".{item.extension}"
    extension = extension if len(extension) > 1 else ""
    name = posixpath.basename(item.filename.replace("\\", "/"))
    if not name:
        from_url = posixpath.basename(urlparse(item.url).path)
        name = from_url if from_url and from_url != "file-preview" else ""
    if not name:
        name = f"{item.id.rsplit('/', 1)[-1][:40] or 'file'}{extension or '.bin'}"
    elif extension and not posixpath.splitext(name)[1]:
        name += extension
    mime = item.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, mime


def safe_filename(name: str) -> str:
    """ClickAI refuses names containing path separators; keep the rest."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip()
    return cleaned or "file"


def msg_ref(msg: InboundMessage, message_id: str) -> ReplyRef:
    return ReplyRef(channel=msg.key.channel, chat_id=msg.key.chat_id, message_id=message_id)
