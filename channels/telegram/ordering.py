"""Update intake: per-chat ordered processing, and polling that confirms only handled updates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

STOP_WAIT_S = 15.0
MAX_BACKOFF_S = 30.0


class ChatOrderProcessor(BaseUpdateProcessor):
    """Never blocks the dispatcher on one slow chat, and never reorders a chat's messages."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
        self._locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[chat.id]
            if users <= 1:
                del self._locks[chat.id]
            else:
                self._locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class ConfirmingPoller:
    """``getUpdates`` long polling that confirms a batch only after every update of it was handled.

    Telegram forgets an update once a later ``getUpdates`` carries ``offset > update_id``.
    PTB's ``Updater`` sends that offset as soon as the batch is queued, before the handlers ran,
    so a crash in between lost the message. Here the next offset is only sent once
    ``update_queue.join()`` says the batch was handled, i.e. the core has claimed each message in
    its store, and only up to the first update whose claim failed or was refused. Updates
    fetched while stopping are not handed over and stay unconfirmed, so Telegram delivers them
    again after a restart (the store drops any it already claimed).
    """

    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue[object],
        *,
        timeout_s: int,
        allowed_updates: Sequence[str],
        on_error: Callable[[TelegramError], None],
        first_unacknowledged: Callable[[list[int]], int | None] = lambda ids: None,
    ) -> None:
        self._bot = bot
        self._queue = queue
        self._timeout = timeout_s
        self._allowed = list(allowed_updates)
        self._on_error = on_error
        self._first_unacknowledged = first_unacknowledged
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._handing_over = False
        self._offset: int | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Remove any webhook (getUpdates refuses to work beside one), then poll in background."""
        if self.running:
            return
        await self._bot.delete_webhook(drop_pending_updates=False)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="telegram getUpdates")

    async def stop(self) -> None:
        """Stop fetching; a batch already handed over is finished and confirmed first."""
        task, self._stopping = self._task, True
        if task is None:
            return
        if not self._handing_over:
            task.cancel()  # fetching or backing off: nothing unconfirmed was handed over
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
        if not done:
            log.warning("telegram: updates still being handled at stop; not confirming them")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        if done and self._offset is not None:
            await self._confirm()

    async def _run(self) -> None:
        backoff = 1.0
        unclaimed_wait = 1.0
        while not self._stopping:
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset, timeout=self._timeout, allowed_updates=self._allowed
                )
            except TelegramError as exc:
                self._on_error(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            except Exception:
                log.exception("telegram: unusable getUpdates answer; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 1.0
            if not updates or self._stopping:
                continue  # fetched while stopping: left unconfirmed for the next run
            self._handing_over = True
            try:
                for update in updates:
                    self._queue.put_nowait(update)
                await self._queue.join()  # every handler ran: the core claimed what it took
            finally:
                self._handing_over = False
            unclaimed = self._first_unacknowledged([u.update_id for u in updates])
            if unclaimed is None:
                self._offset = updates[-1].update_id + 1
                unclaimed_wait = 1.0
                continue
            # Never confirm past a message the core could not claim (store down, shutting
            # down): Telegram sends it again; later ones of the batch come back as duplicates.
            self._offset = unclaimed
            log.warning("telegram: update %s was not claimed; fetching it again", unclaimed)
            if not self._stopping:
                await asyncio.sleep(unclaimed_wait)
            unclaimed_wait = min(unclaimed_wait * 2, MAX_BACKOFF_S / 3)

    async def _confirm(self) -> None:
        """Send the last offset once more so handled updates are not delivered again."""
        try:
            await self._bot.get_updates(
                offset=self._offset, timeout=0, limit=1, allowed_updates=self._allowed
            )
        except TelegramError as exc:
            log.info(
                "telegram: final offset confirmation failed (%s); duplicates are dropped", exc
            )
