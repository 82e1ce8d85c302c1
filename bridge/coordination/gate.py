"""A channel that only runs while this replica is its bot's polling leader."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bridge.coordination.base import Leadership
from bridge.model import Attachment, Channel, InboundMessage, Intake, ReplyStream

log = logging.getLogger(__name__)


class LeaderGatedChannel:
    """Wraps a polling channel: ``start`` returns at once and the channel starts on leadership.

    A standby replica neither polls nor answers for this bot (every update reaches the leader);
    it takes over within the leadership's retry interval once the leader's database session
    ends. If the leader loses its session, ``on_lost`` is called (the app then stops cleanly and
    exits non-zero, so its supervisor restarts it as a standby) because another replica may
    already poll.
    """

    def __init__(
        self,
        inner: Channel,
        leadership: Leadership,
        *,
        on_lost: Callable[[], None],
        on_state: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.pace_budget = inner.pace_budget
        self._leadership = leadership
        self._on_lost = on_lost
        self._on_state = on_state
        self._task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def active(self) -> bool:
        """True once this replica leads and the inner channel runs."""
        return self._started

    async def start(self, intake: Intake) -> None:
        """Begin contending for leadership; the inner channel starts when it is won."""
        if self._task is None:
            self._on_state(False)
            self._task = asyncio.create_task(self._lead(intake), name=f"{self.name} leadership")

    async def _lead(self, intake: Intake) -> None:
        try:
            await self._leadership.acquire()
            await self.inner.start(intake)
            self._started = True
            self._on_state(True)
            await self._leadership.wait_lost()
            log.error("%s: polling leadership lost; stopping this replica", self.name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: could not start as the polling leader", self.name)
        self._on_state(False)
        self._on_lost()

    async def stop(self) -> None:
        await self._cancel()
        if self._started:
            await self.inner.stop()

    async def close(self) -> None:
        await self._cancel()
        try:
            await self.inner.close()
        finally:
            self._started = False
            await self._leadership.release()

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def open_reply(self, msg: InboundMessage) -> ReplyStream:
        return self.inner.open_reply(msg)

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> ReplyStream:
        return self.inner.notice_reply(channel, chat_id, thread, language)

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        return await self.inner.download(attachment, max_bytes=max_bytes)

    def __getattr__(self, name: str) -> Any:
        """Anything else the channel offers (``flood``, ``idle``, …) is the inner channel's."""
        return getattr(self.inner, name)
