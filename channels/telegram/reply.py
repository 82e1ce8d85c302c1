"""TelegramReply: one streamed answer shown by send + edit (or drafts), split at 4096 units."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bridge.budget import FloodBudget, Kind
from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.model import OutboundFile
from bridge.render import TELEGRAM_LIMIT
from bridge.tasks import TaskSet
from bridge.text import Fences

from .calls import (
    CHANNEL,
    Target,
    call,
    edit_gone,
    not_modified,
    parse_failed,
    refuses_stop,
)
from .extras import TYPING_EVERY_S, keep_typing, send_file
from .plan import Content, Entry, head, iter_final_entries
from .stops import DraftStops
from .suggest import answer_markup

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str | None, str]


@dataclass(slots=True)
class _Part:
    """One Telegram message of the answer and exactly what it shows."""

    message_id: int
    chat_id: int
    shown: Key
    plain: bool = False  # HTML was refused while streaming: stream this part as plain text
    frozen: bool = False  # its text is final (the answer continues in the next part)
    gone: bool = False  # deleted by the user / unreachable: the next write sends a new one


class TelegramReply:
    """A ``bridge.model.ReplyStream`` for one chat (and forum topic).

    State survives failed calls, so the core can retry ``update``/``finish`` after a
    ``RateLimited`` without duplicating anything: every part remembers the text, parse mode and
    buttons it shows, and identical writes are skipped.
    """

    def __init__(
        self,
        *,
        bot: Bot,
        target: Target,
        is_group: bool,
        tasks: TaskSet,
        flood: FloodBudget | None = None,
        reply_to: int | None = None,
        drafts: bool = False,
        stops: DraftStops | None = None,
        on_buttons: Callable[[int, int, InlineKeyboardMarkup], None] | None = None,
        interval_s: float = 1.0,
        limit: int = TELEGRAM_LIMIT,
        typing_every_s: float = TYPING_EVERY_S,
    ) -> None:
        self.pace_key = str(target.chat_id)
        self.is_group = is_group
        self.wants_title = False
        self._bot = bot
        self._target = target
        self._tasks = tasks
        self._flood = flood
        self._reply_to = reply_to
        self._draft_id = secrets.randbelow(2**31 - 2) + 1 if drafts and not is_group else 0
        self._draft_shown = ""
        self._stops = stops
        self._on_buttons = on_buttons
        self._stop_shown = False  # the draft shows a stop button: a press must find this reply
        self._stop_pressed = False
        self._interval = interval_s
        self._limit = limit
        self._typing_every = typing_every_s
        self._typing: asyncio.Task[None] | None = None
        self._texted = False
        self._parts: list[_Part] = []
        self._cursor = 0
        self._prefix = ""
        self._fences = Fences()
        self._files_done = 0
        self._finishing = False
        self._finish_calls = 0
        self._gone: ReplyGone | None = None
        self.on_message: Callable[[str], Awaitable[None]] | None = None

    # --- ReplyStream ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._typing is None and not self._texted:
            self._typing = self._tasks.spawn(self._type(), name=f"tg-typing {self.pace_key}")

    async def set_title(self, title: str) -> None:
        """Telegram chats have no per-answer title."""

    def stop_pressed(self) -> None:
        """The user pressed the draft's stop button: Telegram hid the draft, and nothing more
        is streamed; ``finish`` sends the partial answer as a real message."""
        self._stop_pressed = True
        if self._typing is not None:
            self._typing.cancel()

    async def update(self, text: str) -> None:
        """Show the answer so far. ``RateLimited`` escapes, and ``ReplyGone`` once (the chat is
        remembered as gone: later updates do nothing and ``finish`` raises it again). Any other
        failed intermediate update is logged; the next update or the finish carries the text."""
        if self._gone is not None:
            return
        try:
            await self._update(text)
        except RateLimited:
            raise
        except ReplyGone as exc:
            self._gone = exc
            raise
        except ChannelError as exc:
            log.warning("telegram: update in %s failed: %s", self.pace_key, exc)

    async def _update(self, text: str) -> None:
        await self._stop_typing()
        if not text.strip() or self._stop_pressed:
            return
        self._check_prefix(text)
        shown = await head(text, self._limit, self._cursor, self._fences)  # this message only
        if shown is None:
            return
        index = self._frozen()
        more = shown.next_start is not None
        drafting = self._draft_id and not more and index >= len(self._parts)
        if drafting and await self._draft(shown.content):
            return
        await self._put(index, shown.content, None, final=more)
        if shown.next_start is not None:
            self._parts[index].frozen = True
            self._cursor = shown.next_start
            self._prefix = text[: self._cursor]

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        await self._stop_typing()
        if self._gone is not None:
            raise self._gone
        self._finishing, self._finish_calls = True, 0
        try:
            base = self._frozen_after(text)
            # One message at a time, each measured just before it is sent; the event loop gets a
            # turn after every render, so it is never held for a whole answer's splitting.
            buttons = answer_markup(feedback=feedback, suggestions=suggestions)
            entries: list[Entry] = []
            todo = iter_final_entries(
                text, notice, limit=self._limit, start=self._cursor, fences=self._fences
            )
            async for entry in todo:
                markup = buttons if entry.last else None
                await self._put(base + len(entries), entry.content, markup, final=True)
                if markup is not None and self._on_buttons is not None:
                    part = self._parts[base + len(entries)]
                    self._on_buttons(part.chat_id, part.message_id, markup)
                entries.append(entry)
            await self._drop_surplus(base + len(entries))
            await self._send_files(files)
        finally:
            self._finishing = False
            self._forget_draft()
        ids = [str(p.message_id) for p in self._parts[:base]]
        ids += [str(self._parts[base + j].message_id) for j, e in enumerate(entries) if e.answer]
        return ids

    # --- planning -------------------------------------------------------------------------------
    def _frozen(self) -> int:
        return sum(1 for p in self._parts if p.frozen)

    def _check_prefix(self, text: str) -> None:
        """The answer was rewritten before the frozen point: every part is open again."""
        if self._cursor and not text.startswith(self._prefix):
            for part in self._parts:
                part.frozen = False
            self._cursor, self._prefix = 0, ""

    def _frozen_after(self, text: str) -> int:
        self._check_prefix(text)
        return self._frozen()

    # --- writing --------------------------------------------------------------------------------
    async def _api(
        self, fn: Callable[[int, int | None], Awaitable[T]], what: str, *, idempotent: bool
    ) -> T:
        if self._finishing:
            # The core paced this finish as one call; space the extra calls it needs.
            if self._finish_calls:
                await asyncio.sleep(self._interval)
            self._finish_calls += 1
        kind = Kind.FINAL if self._finishing else Kind.INTERMEDIATE
        return await call(
            self._target, fn, what=what, idempotent=idempotent, flood=self._flood, kind=kind
        )

    async def _put(
        self, index: int, content: Content, markup: InlineKeyboardMarkup | None, *, final: bool
    ) -> None:
        """Make part ``index`` show ``content`` (HTML, falling back to plain text)."""
        self._texted = True
        part = self._parts[index] if index < len(self._parts) else None
        markup_key = json.dumps(markup.to_dict(), sort_keys=True) if markup else ""
        modes = (True,) if part is not None and part.plain and not final else (False, True)
        for plain in modes:
            text, mode = (content.plain, None) if plain else (content.html, ParseMode.HTML)
            key: Key = (text, mode, markup_key)
            try:
                if part is None:
                    msg = await self._send(text, mode, markup, first=index == 0)
                    part = _Part(msg.message_id, msg.chat.id, key, plain=plain)
                    self._parts.append(part)
                    if self.on_message is not None:
                        await self.on_message(str(msg.message_id))
                elif part.gone or part.chat_id != self._target.chat_id:
                    await self._resend(part, text, mode, markup, key)
                elif part.shown != key:
                    await self._edit(part, text, mode, markup, key)
                if not final:
                    part.plain = plain
                return
            except BadRequest as exc:
                if not plain and parse_failed(exc):
                    log.warning("telegram: HTML refused (%s); sending plain text", exc.message)
                    continue
                raise ChannelError(CHANNEL, f"telegram refused the reply: {exc.message}") from exc

    async def _send(
        self, text: str, mode: str | None, markup: InlineKeyboardMarkup | None, *, first: bool
    ) -> Message:
        quote = None
        if first and self._reply_to is not None:
            quote = ReplyParameters(self._reply_to, allow_sending_without_reply=True)
        return await self._api(
            lambda chat, thread: self._bot.send_message(
                chat,
                text,
                parse_mode=mode,
                reply_markup=markup,
                message_thread_id=thread,
                reply_parameters=quote,
            ),
            "sendMessage",
            idempotent=False,
        )

    async def _edit(
        self,
        part: _Part,
        text: str,
        mode: str | None,
        markup: InlineKeyboardMarkup | None,
        key: Key,
    ) -> None:
        try:
            await self._api(
                lambda chat, _thread: self._bot.edit_message_text(
                    text,
                    chat_id=chat,
                    message_id=part.message_id,
                    parse_mode=mode,
                    reply_markup=markup,
                ),
                "editMessageText",
                idempotent=True,
            )
        except BadRequest as exc:
            if not_modified(exc):
                part.shown = key
                return
            if not edit_gone(exc):
                raise
            log.info("telegram: reply %s:%s is gone; sending anew", part.chat_id, part.message_id)
            part.gone = True
            await self._resend(part, text, mode, markup, key)
            return
        part.shown = key

    async def _resend(
        self,
        part: _Part,
        text: str,
        mode: str | None,
        markup: InlineKeyboardMarkup | None,
        key: Key,
    ) -> None:
        msg = await self._send(text, mode, markup, first=False)
        part.message_id, part.chat_id, part.shown, part.gone = (
            msg.message_id,
            msg.chat.id,
            key,
            False,
        )

    async def _draft(self, content: Content) -> bool:
        """Stream the growing tail as a draft; False when drafts are unavailable here."""
        if content.html == self._draft_shown:
            return True
        self._texted = True
        for text, mode in ((content.html, ParseMode.HTML), (content.plain, None)):
            try:
                await self._send_draft(text, mode)
            except BadRequest as exc:
                if mode is not None and parse_failed(exc):
                    continue
                log.info("telegram: drafts unavailable (%s); editing messages", exc.message)
                self._draft_id = 0
                return False
            self._draft_shown = content.html
            return True
        return False

    async def _send_draft(self, text: str, mode: str | None) -> None:
        stops = self._stops
        extra = stops.draft_kwargs() if stops is not None else {}
        try:
            await self._api(
                lambda chat, thread: self._bot.send_message_draft(
                    chat,
                    self._draft_id,
                    text=text,
                    message_thread_id=thread,
                    parse_mode=mode,
                    api_kwargs=extra or None,
                ),
                "sendMessageDraft",
                idempotent=True,
            )
        except BadRequest as exc:
            if stops is None or not extra or not refuses_stop(exc):
                raise
            stops.refused(exc.message)  # an older Bot API server: drafts without the button
            await self._send_draft(text, mode)
            return
        if extra and stops is not None and not self._stop_shown:
            self._stop_shown = True
            stops.add(self._target.chat_id, self._draft_id, self.stop_pressed)

    def _forget_draft(self) -> None:
        """The final message replaced the draft: a late stop press has nothing to stop."""
        if self._stop_shown and self._stops is not None:
            self._stops.remove(self._target.chat_id, self._draft_id)
            self._stop_shown = False

    async def _drop_surplus(self, keep: int) -> None:
        """Delete parts the final text no longer needs (the answer shrank)."""
        while len(self._parts) > keep:
            part = self._parts[-1]
            if not part.gone and part.chat_id == self._target.chat_id:
                await self._delete(part.message_id)
            self._parts.pop()

    async def _delete(self, message_id: int) -> None:
        try:
            await self._api(
                lambda chat, _thread: self._bot.delete_message(chat, message_id),
                "deleteMessage",
                idempotent=True,
            )
        except BadRequest as exc:
            log.info("telegram: cannot delete surplus part: %s", exc.message)

    async def _send_files(self, files: Sequence[OutboundFile]) -> None:
        for index in range(self._files_done, len(files)):
            await self._send_file(files[index])
            self._files_done = index + 1

    async def _send_file(self, file: OutboundFile) -> None:
        await send_file(self._bot, self._api, file)

    async def _type(self) -> None:
        await keep_typing(self._bot, self._target, self._typing_every, self._flood)

    async def _stop_typing(self) -> None:
        task, self._typing = self._typing, None
        self._texted = True
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
