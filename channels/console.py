"""The terminal channel behind ``clickai-bridge chat``: stdin lines in, streamed answers out."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from bridge.errors import AttachmentError
from bridge.model import (
    Attachment,
    InboundMessage,
    Intake,
    OutboundFile,
    PaceBudget,
    ReplyStream,
    Sender,
    ThreadKey,
)

LAST_REPLY = "last"
"""Every answer is stored under this reply id (the store upserts it), so ``/like`` rates the
newest answer, also the last one of an earlier session."""


class ConsoleReply:
    """Prints the growing answer; a rewrite (moderation) is shown as a fresh block."""

    is_group = False
    wants_title = False

    def __init__(self, channel: ConsoleChannel, message_id: str) -> None:
        self.pace_key = "console"
        self.on_message: Callable[[str], Awaitable[None]] | None = None
        self._channel = channel
        self._message_id = message_id
        self._printed = ""

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        self._write(text)

    async def set_title(self, title: str) -> None:
        return None

    def _write(self, text: str) -> None:
        out = self._channel.out
        if text.startswith(self._printed):
            out.write(text[len(self._printed) :])
        else:
            out.write("\n[revised]\n" + text)
        self._printed = text
        out.flush()

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        out = self._channel.out
        if text:
            self._write(text)
            out.write("\n")
        for item in files:
            out.write(f"[file: {item.name}, {item.mime_type}, {len(item.data)} bytes]\n")
        if notice:
            out.write(f"{notice}\n")
        for question in suggestions:
            out.write(f"  ? {question}\n")
        out.flush()
        reply_id = LAST_REPLY if text else ""
        self._channel.finished(self._message_id, reply_id)
        return [reply_id] if reply_id else []


class ConsoleChannel:
    """One local user talking to the app through the same core as the chat platforms."""

    name = "console"
    pace_budget = PaceBudget(chat_interval_s=0.05, group_interval_s=0.05, global_per_s=100.0)
    max_download_bytes: int | None = None

    def __init__(self, *, user: str, language: str, out: TextIO | None = None) -> None:
        self.out: TextIO = out or sys.stdout
        self.key = ThreadKey(channel="console", chat_id=user)
        self.language = language
        self.last_reply = ""
        self._waiters: dict[str, asyncio.Future[str | None]] = {}

    async def start(self, intake: Intake) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def open_reply(self, msg: InboundMessage) -> ReplyStream:
        return ConsoleReply(self, msg.message_id)

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> ReplyStream:
        return ConsoleReply(self, "")

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        raise AttachmentError("unsupported", attachment.name)

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        """Nothing to close: console replies are printed, not kept open."""

    def message(self, text: str, command: str | None = None) -> InboundMessage:
        """A normalised message from the local user (and a waiter for its reply)."""
        message_id = uuid.uuid4().hex
        self._waiters[message_id] = asyncio.get_running_loop().create_future()
        return InboundMessage(
            key=self.key,
            event_id=f"console:{message_id}",
            message_id=message_id,
            sender=Sender(id=self.key.chat_id, display_name=self.key.chat_id),
            text=text,
            command="new" if command == "new" else "stop" if command == "stop" else None,
            language=self.language,
        )

    def finished(self, message_id: str, reply_id: str) -> None:
        if reply_id:
            self.last_reply = reply_id
        waiter = self._waiters.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(reply_id)

    def waiter(self, message_id: str) -> asyncio.Future[str | None] | None:
        return self._waiters.get(message_id)

    def forget(self, message_id: str) -> None:
        waiter = self._waiters.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
