"""An in-memory chat platform for relay tests: records every reply call and what a chat shows."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import AttachmentError, ChannelError, RateLimited
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


@dataclass
class Shown:
    """One bot message as the chat finally shows it."""

    chat_id: str
    message_id: str
    text: str
    notice: str | None = None
    files: list[str] = field(default_factory=list)
    feedback: bool = False
    edits: int = 0
    suggestions: list[str] = field(default_factory=list)


class FakeReply:
    def __init__(self, channel: FakeChannel, chat_id: str) -> None:
        self.pace_key = chat_id
        self.is_group = chat_id.startswith("-")
        self.wants_title = channel.wants_title
        self.on_message: Any = None
        self._channel = channel
        self._chat_id = chat_id
        self._shown: Shown | None = None

    async def start(self) -> None:
        self._channel.calls.append(("typing", self._chat_id, ""))

    async def set_title(self, title: str) -> None:
        self._channel.titles.append((self._chat_id, title))

    async def update(self, text: str) -> None:
        await self._channel.maybe_limit()
        self._channel.calls.append(("update", self._chat_id, text))
        if self._shown is None:
            self._shown = self._channel.post(self._chat_id, text)
            if self.on_message is not None:
                await self.on_message(self._shown.message_id)
        else:
            self._shown.text = text
            self._shown.edits += 1

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        await self._channel.maybe_limit()
        self._channel.calls.append(("finish", self._chat_id, text))
        if self._shown is None:
            self._shown = self._channel.post(self._chat_id, text)
        self._shown.text = text
        self._shown.notice = notice
        self._shown.files = [f.name for f in files]
        self._shown.feedback = feedback
        self._shown.suggestions = list(suggestions)
        if self._channel.lose_finish_response.get(self._chat_id):
            # The platform applied the call but its answer was lost (a timed-out send).
            self._channel.lose_finish_response[self._chat_id] -= 1
            raise ChannelError(self._channel.name, "finish: response lost")
        return [self._shown.message_id] if text else []


class FakeChannel:
    """Implements ``bridge.model.Channel`` in memory."""

    name = "fake"
    pace_budget = PaceBudget(chat_interval_s=0.01, group_interval_s=0.01, global_per_s=1000.0)
    max_download_bytes: int | None = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.messages: list[Shown] = []
        self.files: dict[str, bytes] = {}
        self.rate_limit_next = 0
        self.lose_finish_response: dict[str, int] = {}
        """chat id → how many of its next finish calls are applied but then fail."""
        self.intake: Intake | None = None
        self.wants_title = False
        """Replies ask for thread titles (like Slack assistant threads)."""
        self.titles: list[tuple[str, str]] = []
        self._ids = itertools.count(100)
        self._events = itertools.count(1)

    async def start(self, intake: Intake) -> None:
        self.intake = intake

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def open_reply(self, msg: InboundMessage) -> ReplyStream:
        return FakeReply(self, msg.key.chat_id)

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> ReplyStream:
        return FakeReply(self, chat_id)

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        if attachment.ref not in self.files:
            raise AttachmentError("download_failed", attachment.name)
        return self.files[attachment.ref]

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        self.calls.append(("close_interrupted", chat_id, reply_id))

    async def maybe_limit(self) -> None:
        await asyncio.sleep(0)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            raise RateLimited(self.name, 0.01)

    def post(self, chat_id: str, text: str) -> Shown:
        shown = Shown(chat_id=chat_id, message_id=str(next(self._ids)), text=text)
        self.messages.append(shown)
        return shown

    def chat(self, chat_id: str) -> list[Shown]:
        return [m for m in self.messages if m.chat_id == chat_id]

    def message(
        self,
        text: str,
        *,
        chat_id: str = "42",
        user_id: str = "7",
        language: str = "en",
        command: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        event_id: str | None = None,
    ) -> InboundMessage:
        n = next(self._events)
        return InboundMessage(
            key=ThreadKey(channel=self.name, chat_id=chat_id),
            event_id=event_id or f"fake:{n}",
            message_id=str(n),
            sender=Sender(id=user_id, display_name="Tester"),
            text=text,
            attachments=attachments,
            command="new" if command == "new" else "stop" if command == "stop" else None,
            language=language,
        )
