"""SlackReply: one answer in a Slack thread, streamed natively or posted and edited, resumably."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.i18n import t
from bridge.model import OutboundFile
from bridge.render import slack_unmention
from channels.slack import api
from channels.slack.agent import AgentThread
from channels.slack.feedback import Extras
from channels.slack.messages import Messenger, StreamSupport, Target
from channels.slack.split import LIMIT, split, utf16_len

log = logging.getLogger("channels.slack")

Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]
MAX_STATUS_REFRESHES = 10
"""The loading status is refreshed at most this many times (Slack clears it after 2 min)."""

__all__ = ["SlackReply", "StreamSupport", "Target"]


@dataclass(slots=True)
class _Part:
    """One Slack message of the answer, as Slack confirmed it."""

    ts: str
    text: str
    streaming: bool = False
    sealed: bool = False
    """Its content is final (a stopped stream, or the final text and extras were applied)."""
    extras: Extras | None = None
    unsure: bool = False
    """A call on this message failed in transit: what Slack shows is unknown, rewrite it."""


class SlackReply:
    """A ``bridge.model.ReplyStream`` for Slack.

    The answer is kept as a list of messages of at most ``limit`` characters (complete ones
    never change). Every call moves the thread towards the wanted state and records each step
    as soon as Slack confirmed it, so a call retried after ``RateLimited`` (or a transient
    failure, which ``finish`` reports as ``RateLimited`` a few times) resumes without
    duplicates. Native streams are appended to; a stream that is refused, expires or would
    have to shrink turns into an ordinary message edited with ``chat.update``.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        target: Target,
        *,
        language: str,
        streams: StreamSupport | None,
        spawn: Spawn,
        status_refresh_s: float = 90.0,
        limit: int = LIMIT,
        max_transient: int = 3,
        agent: AgentThread | None = None,
        titles: bool = False,
    ) -> None:
        self._slack = Messenger(client, target, language)
        self._target = target
        self._language = language
        self._streams = streams
        self._spawn = spawn
        self._refresh_s = status_refresh_s
        self._limit = limit
        self._max_transient = max_transient
        self._parts: list[_Part] = []
        self._files_done: set[int] = set()
        self._status_shown = False
        self._refresher: asyncio.Task[None] | None = None
        self._gone: ReplyGone | None = None
        self._transient = 0
        self._agent = agent
        self.on_start: Callable[[], None] | None = None
        """Called when a turn starts on this reply (the channel maps the thread to it)."""
        self.pace_key = target.channel_id
        self.is_group = not target.is_dm
        self.wants_title = titles and agent is not None and bool(target.thread_ts)
        self.on_message: Callable[[str], Awaitable[None]] | None = None

    # --- ReplyStream ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Loading status in the thread (best effort; Slack clears it when we reply)."""
        if self.on_start is not None:
            self.on_start()
        if not self._target.thread_ts or self._status_shown:
            return
        if self._agent is not None:
            await self._agent.processing()
        self._status_shown = True
        await self._slack.set_status(t(self._language, "slack_status"))
        if self._refresh_s > 0:
            self._refresher = self._spawn(self._refresh_status(), "slack status refresh")

    async def update(self, text: str) -> None:
        if self._gone is not None or not text.strip():
            return
        text = slack_unmention(text)
        try:
            await self._show(text, final=False, extras=None)
        except RateLimited:
            raise
        except ReplyGone as exc:
            self._gone = exc
            log.warning("slack: %s is gone: %s", self._target.channel_id, exc)
        except ChannelError as exc:  # the next update or the finish carries the text again
            log.warning("slack: update in %s failed: %s", self._target.channel_id, exc)

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        self._stop_refresher()
        if self._gone is not None:
            raise self._gone
        text = slack_unmention(text)
        try:
            extras = (
                Extras(notice=notice, feedback=feedback, suggestions=tuple(suggestions))
                if notice or feedback or suggestions
                else None
            )
            await self._show(text, final=True, extras=extras)
            for index, file in enumerate(files):
                if index not in self._files_done:
                    await self._slack.upload(file)
                    self._files_done.add(index)
        except ReplyGone as exc:
            self._gone = exc
            raise
        except api.Transient as exc:
            self._transient += 1
            if self._transient > self._max_transient:
                raise ChannelError(api.CHANNEL, f"giving up: {exc}") from exc
            log.warning("slack: %s; retrying the final answer", exc)
            raise RateLimited(api.CHANNEL, float(2**self._transient), message=str(exc)) from exc
        if not self._parts and self._status_shown:
            self._status_shown = False
            await self._slack.set_status("")
        if self._agent is not None:
            await self._agent.active()
        return [part.ts for part in self._parts if part.text]

    async def set_title(self, title: str) -> None:
        if self._agent is not None:
            await self._agent.title(title)

    def stream_stopped(self) -> None:
        """The user pressed Slack's stop button: Slack ended our streams itself, so the final
        text goes in with ``chat.update`` instead of more stream calls."""
        for part in self._parts:
            part.streaming = False

    # --- planning ------------------------------------------------------------------------------
    def _plan(self, text: str, extras: Extras | None) -> list[str]:
        """The texts the messages should show: complete messages keep theirs when possible."""
        chunks: list[str] = []
        pos = 0
        for part in self._parts[:-1]:
            if not part.text or not text.startswith(part.text, pos):
                break
            chunks.append(part.text)
            pos += len(part.text)
        rest = text[pos:]
        open_part = self._parts[len(chunks)] if len(chunks) < len(self._parts) else None
        keep = len(open_part.text) if open_part and rest.startswith(open_part.text) else 0
        chunks += split(rest, self._limit, keep=keep, measure=utf16_len)
        if not chunks and extras is not None and extras.notice:
            chunks = [""]  # a notice-only message
        return chunks

    async def _show(self, text: str, *, final: bool, extras: Extras | None) -> None:
        chunks = self._plan(text, extras)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self._ensure(i, chunk, final or not last, extras if last else None)
        while len(self._parts) > len(chunks):
            await self._slack.delete(self._parts[-1].ts)
            self._parts.pop()

    # --- one message ---------------------------------------------------------------------------
    async def _ensure(self, i: int, chunk: str, complete: bool, extras: Extras | None) -> None:
        """Make message ``i`` show ``chunk`` (+ ``extras``); ``complete`` closes a stream."""
        if i == len(self._parts):
            await self._create(chunk, complete, extras)
            return
        part = self._parts[i]
        if part.streaming:
            try:
                if part.unsure:
                    raise api.StreamExpired()
                if chunk.startswith(part.text):
                    suffix = chunk[len(part.text) :]
                    if complete:
                        await self._slack.stop_stream(part.ts, suffix, extras)
                        part.text, part.extras, part.sealed = chunk, extras, True
                        part.streaming = False
                    elif suffix:
                        await self._slack.append(part.ts, suffix)
                        part.text = chunk
                    return
                await self._slack.stop_stream(part.ts, "", None)  # replaced text: rewrite
            except (RateLimited, ReplyGone):
                raise
            except api.Transient:
                part.unsure = True
                raise
            except ChannelError as exc:  # expired or refused mid-way: edit the message instead
                log.info("slack: stream %s ended (%s); continuing with chat.update", part.ts, exc)
                await self._close_unsure_stream(part)
            part.streaming = False
        await self._rewrite(part, chunk, complete, extras)

    async def _create(self, chunk: str, complete: bool, extras: Extras | None) -> None:
        if not complete and chunk and self._can_stream():
            assert self._streams is not None
            try:
                ts = await self._slack.start_stream(chunk)
            except (RateLimited, ReplyGone, api.Transient):
                raise
            except ChannelError as exc:  # refused (or any other error): post in this channel
                code = exc.code if isinstance(exc, api.StreamRefused) else str(exc)
                self._streams.refuse(self._target.channel_id, code)
            else:
                self._parts.append(_Part(ts=ts, text=chunk, streaming=True))
                self._stop_refresher()
                await self._opened(ts)
                return
        ts = await self._slack.send("", chunk, extras)
        self._parts.append(_Part(ts=ts, text=chunk, sealed=complete, extras=extras))
        self._stop_refresher()
        await self._opened(ts)

    async def _opened(self, ts: str) -> None:
        if self.on_message is not None:
            await self.on_message(ts)

    def _can_stream(self) -> bool:
        target = self._target
        if self._streams is None or not target.thread_ts:
            return False
        if not target.is_dm and not (target.recipient_user_id and target.recipient_team_id):
            return False
        return self._streams.usable(target.channel_id)

    async def _close_unsure_stream(self, part: _Part) -> None:
        """Best effort: a stream that may still be open is stopped before it is edited."""
        if not part.unsure:
            return
        try:
            await self._slack.stop_stream(part.ts, "", None)
        except (RateLimited, ReplyGone, api.Transient):
            raise
        except ChannelError:
            pass

    async def _rewrite(
        self, part: _Part, chunk: str, complete: bool, extras: Extras | None
    ) -> None:
        if part.text == chunk and part.extras == extras and not part.unsure:
            part.sealed = part.sealed or complete
            return
        try:
            await self._slack.send(part.ts, chunk, extras)
        except api.CannotEdit as exc:
            log.info("slack: cannot edit %s (%s); posting it again", part.ts, exc.code)
            await self._slack.delete(part.ts)
            part.ts = await self._slack.send("", chunk, extras)
        except api.Transient:
            part.unsure = True
            raise
        part.text, part.extras, part.sealed, part.unsure = chunk, extras, complete, False

    # --- loading status ------------------------------------------------------------------------
    async def _refresh_status(self) -> None:
        for _ in range(MAX_STATUS_REFRESHES):
            await asyncio.sleep(self._refresh_s)
            if self._parts:
                return
            await self._slack.set_status(t(self._language, "slack_status"))

    def _stop_refresher(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
