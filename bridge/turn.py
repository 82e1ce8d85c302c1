"""One turn: forward a message (and its files) to a backend and stream the answer into a reply."""

from __future__ import annotations

import asyncio
import copy
import logging
import mimetypes
import posixpath
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlparse

from bridge.backends.base import (
    AwaitingInput,
    Backend,
    BackendEvent,
    BackendTurn,
    FileOut,
    Finished,
    Started,
    TextDelta,
    TextReplace,
    UploadRef,
    close_events,
)
from bridge.errors import AttachmentError, BackendError, ChannelError
from bridge.fetch import FetchError
from bridge.i18n import t
from bridge.model import MB, Channel, InboundMessage, OutboundFile, ReplyRef, file_limit
from bridge.pacing import PacedReply
from bridge.store.base import Store

log = logging.getLogger(__name__)

TurnPhase = Literal["streaming", "delivering", "delivered", "recorded"]
"""A turn ends once: streaming → delivering (the final send) → delivered → recorded."""
FINAL_SEND_GRACE_S = 10.0
"""At shutdown, how long a final send already under way may still take to complete."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOptions:
    """Backend-independent turn settings (from ``[bridge]``)."""

    max_file_bytes: int = 15 * MB
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
    backend: str = ""
    task_id: str = ""
    conversation_id: str = ""
    stop_requested: bool = False
    stop_sent: bool = False
    started_at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None
    message_id: str = ""
    usage: Mapping[str, object] = field(default_factory=dict)
    """The turn's token usage and price when the backend reports them (else empty)."""
    phase: TurnPhase = "streaming"
    chunks: list[str] = field(default_factory=list)
    """The answer so far as received; joined only when someone reads ``text``."""

    @property
    def delivered(self) -> bool:
        """The final answer is in the chat: it is never sent again nor gets a failure note."""
        return self.phase in ("delivered", "recorded")

    @property
    def text(self) -> str:
        if len(self.chunks) > 1:
            self.chunks[:] = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""

    @text.setter
    def text(self, value: str) -> None:
        self.chunks[:] = [value] if value else []

    def append(self, delta: str) -> None:
        """Add a delta in O(len(delta)): no rebuild of the whole answer per token."""
        if delta:
            self.chunks.append(delta)


@dataclass(slots=True)
class Answer:
    message_id: str = ""
    conversation_id: str = ""
    files: list[FileOut] = field(default_factory=list)
    renewed: bool = False
    """The backend answered in a new conversation instead of the one the turn named."""
    awaiting: str | None = None


@dataclass(frozen=True, slots=True)
class _Final:
    """What the final send of a turn shows."""

    text: str
    notice: str | None
    files: list[OutboundFile]
    suggestions: tuple[str, ...]
    feedback: bool


class TurnRunner:
    """Runs turns on whichever backend the relay picked; stateless apart from the store."""

    def __init__(self, *, store: Store, options: TurnOptions) -> None:
        self._store = store
        self._opts = options

    @property
    def max_file_bytes(self) -> int:
        return self._opts.max_file_bytes

    def scoped(self, store: Store) -> TurnRunner:
        """The same runner keeping its conversations in ``store`` (a bot's namespace view)."""
        clone = copy.copy(self)
        clone._store = store
        return clone

    def check_files(self, msg: InboundMessage, backend: Backend) -> None:
        """Refuse, before any download, files the backend cannot take."""
        accepted = backend.capabilities.attachments
        for att in msg.attachments:
            if att.kind not in accepted:
                raise AttachmentError("unsupported", att.name)
            if att.size is not None and att.size > self.file_limit(backend):
                raise AttachmentError("too_large", att.name)

    def file_limit(self, backend: Backend, channel: Channel | None = None) -> int:
        """The largest user file that gets through: ours, the backend's and the platform's."""
        cap = backend.capabilities.max_upload_bytes
        ours = min(self._opts.max_file_bytes, cap) if cap else self._opts.max_file_bytes
        return file_limit(ours, channel)

    async def run(
        self,
        msg: InboundMessage,
        channel: Channel,
        paced: PacedReply,
        state: TurnState,
        backend: Backend,
    ) -> None:
        """Answer ``msg``; backend and attachment errors propagate with ``state.text`` kept."""
        scope = msg.key.scope
        self.check_files(msg, backend)
        row = await self._store.get_conversation(scope)
        conversation_id = row.conversation_id if row else None
        files = await self._upload(msg, channel, state.user, backend)
        query = msg.text.strip() or self._opts.default_file_query
        query = query or t(msg.language, "default_file_query")
        reset = False
        try:
            answer = await self._stream(msg, query, files, conversation_id, paced, state, backend)
        except BackendError as exc:
            if exc.kind != "conversation_gone" or not conversation_id or state.text:
                raise
            log.info("conversation %s of %s is gone; starting a new one", conversation_id, scope)
            await self._store.drop_conversation(scope)
            reset = True
            answer = await self._stream(msg, query, files, None, paced, state, backend)
        if answer.conversation_id and answer.conversation_id != state.conversation_id:
            # Platforms that reveal a new conversation's id only at the end (Chatbase).
            await self._store.set_conversation(scope, answer.conversation_id, state.user)
        notice = self._notice(msg, state, answer, backend, reset or answer.renewed)
        out_files = await self._fetch_files(answer.files, backend)
        text = state.text or ("" if out_files else t(msg.language, "empty_answer"))
        can_rate = backend.capabilities.feedback and bool(answer.message_id)
        suggestions: tuple[str, ...] = ()
        if self._opts.suggestions and not state.stop_requested and state.text:
            suggestions = await backend.after_answer(answer.message_id, user=state.user)
        final = asyncio.create_task(
            self._deliver(
                msg, paced, state, _Final(text, notice, out_files, suggestions, can_rate), answer
            )
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
            await self._title(paced, answer.conversation_id, state.user, backend)

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
            feedback=final.feedback,
            suggestions=final.suggestions,
        )
        state.phase = "delivered"
        if final.feedback and ids:
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

    def _notice(
        self, msg: InboundMessage, state: TurnState, answer: Answer, backend: Backend, reset: bool
    ) -> str | None:
        if state.stop_requested:
            local = backend.capabilities.stop == "local"
            return t(msg.language, "stopped_local" if local else "stopped")
        if answer.awaiting is not None:
            return t(msg.language, "awaiting_input")
        if reset and self._opts.show_reset_notice:
            return t(msg.language, "conversation_reset")
        return None

    async def _title(
        self, paced: PacedReply, conversation_id: str, user: str, backend: Backend
    ) -> None:
        """A new conversation names its thread (best effort: the answer is already out)."""
        if not paced.wants_title or not conversation_id:
            return
        title = await backend.title(conversation_id, user=user)
        if not title:
            return
        try:
            await paced.set_title(title)
        except ChannelError as exc:
            log.info("could not title the thread of %s: %s", conversation_id, exc)

    async def _stream(
        self,
        msg: InboundMessage,
        query: str,
        files: list[UploadRef],
        conversation_id: str | None,
        paced: PacedReply,
        state: TurnState,
        backend: Backend,
    ) -> Answer:
        request = BackendTurn(
            query=query, user=state.user, conversation_id=conversation_id, files=files
        )
        answer = Answer(conversation_id=conversation_id or "")
        state.conversation_id = conversation_id or ""
        events = backend.run(request)
        try:
            async for event in events:
                if state.stop_requested and backend.capabilities.stop == "local":
                    break
                await self._apply(msg, event, answer, paced, state, backend)
        finally:
            await close_events(events)
        return answer

    async def _apply(
        self,
        msg: InboundMessage,
        event: BackendEvent,
        answer: Answer,
        paced: PacedReply,
        state: TurnState,
        backend: Backend,
    ) -> None:
        if isinstance(event, TextDelta):
            state.append(event.text)
            self._on_text(paced, state, event.text)
        elif isinstance(event, TextReplace):
            state.text = event.text
            self._on_text(paced, state, event.text)
        elif isinstance(event, Started):
            await self._started(msg, event, answer, state, backend)
        elif isinstance(event, FileOut):
            answer.files.append(event)
        elif isinstance(event, AwaitingInput):
            answer.awaiting = event.prompt
            answer.conversation_id = event.conversation_id or answer.conversation_id
        elif isinstance(event, Finished):
            answer.message_id = event.message_id or answer.message_id
            answer.conversation_id = event.conversation_id or answer.conversation_id
            state.message_id, state.usage = answer.message_id, event.usage
            if event.answer and not state.chunks:
                state.text = event.answer
                self._on_text(paced, state, event.answer)
            known = {f.id for f in answer.files}
            answer.files += [f for f in event.files if f.id not in known]

    def _on_text(self, paced: PacedReply, state: TurnState, new: str) -> None:
        """``state`` changed by ``new``; the pacer joins the text only when it sends it."""
        if state.first_text_at is None and new.strip():
            state.first_text_at = time.monotonic()
        paced.set_text(lambda: state.text)

    async def _started(
        self,
        msg: InboundMessage,
        event: Started,
        answer: Answer,
        state: TurnState,
        backend: Backend,
    ) -> None:
        answer.message_id = state.message_id = event.message_id or answer.message_id
        state.task_id = event.task_id
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
            state.conversation_id = event.conversation_id
            await self._store.set_conversation(msg.key.scope, event.conversation_id, state.user)
        if state.stop_requested and event.task_id:
            await self.stop(state, backend)

    async def stop(self, state: TurnState, backend: Backend) -> None:
        """Stop the running answer: the platform stops it, or the bridge stops reading.

        Once per task: a press racing the task's first event must not stop it twice.
        """
        state.stop_requested = True
        if backend.capabilities.stop != "server" or not state.task_id or state.stop_sent:
            return
        state.stop_sent = True
        await backend.stop(
            task_id=state.task_id, conversation_id=state.conversation_id, user=state.user
        )

    async def _upload(
        self, msg: InboundMessage, channel: Channel, user: str, backend: Backend
    ) -> list[UploadRef]:
        refs: list[UploadRef] = []
        limit = self.file_limit(backend, channel)
        kinds = await backend.file_types(msg.attachments) if msg.attachments else []
        for att, kind in zip(msg.attachments, kinds, strict=True):
            data = await channel.download(att, max_bytes=limit)
            if len(data) > limit:
                raise AttachmentError("too_large", att.name)
            try:
                uploaded = await backend.upload(
                    data=data,
                    filename=safe_filename(att.name),
                    mime_type=att.mime_type,
                    kind=kind,
                    user=user,
                )
            except BackendError as exc:
                if exc.status == 413:
                    raise AttachmentError("too_large", att.name) from exc
                raise AttachmentError("upload_failed", att.name) from exc
            refs.append(uploaded)
        return refs

    async def _fetch_files(self, produced: list[FileOut], backend: Backend) -> list[OutboundFile]:
        out: list[OutboundFile] = []
        for item in produced:
            if item.belongs_to and item.belongs_to != "assistant":
                continue
            if not item.url:
                continue
            try:
                data = await backend.download(item.url, max_bytes=self._opts.max_file_bytes)
            except (BackendError, FetchError) as exc:
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


def file_name_and_type(item: FileOut) -> tuple[str, str]:
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
    """Platforms refuse names containing path separators; keep the rest."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip()
    return cleaned or "file"


def msg_ref(msg: InboundMessage, message_id: str) -> ReplyRef:
    return ReplyRef(channel=msg.key.channel, chat_id=msg.key.chat_id, message_id=message_id)
