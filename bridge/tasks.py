"""Background-work helpers shared by core and channels: tracked task sets and per-key locks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    """Keeps strong references to background tasks and logs every failure with context."""

    def __init__(self, label: str = "") -> None:
        self._label = label
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s: background task %r failed", self._label, task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    def pending(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    async def wait(self, grace_s: float | None) -> None:
        """Wait up to ``grace_s`` seconds for the tasks running now; leave them running after."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)

    async def join(self, within_s: float | None = None) -> None:
        """Wait until no task runs, including tasks spawned meanwhile (bounded by ``within_s``)."""
        loop = asyncio.get_running_loop()
        deadline = None if within_s is None else loop.time() + within_s
        # Let callbacks scheduled by just-finished work (e.g. library futures) run first.
        for _ in range(3):
            await asyncio.sleep(0)
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(set(self._tasks), timeout=remaining)
            if pending and deadline is not None and loop.time() >= deadline:
                return
            for _ in range(3):
                await asyncio.sleep(0)

    async def cancel_all(self, within_s: float | None = None) -> None:
        """Cancel every task and wait (bounded) until they have finished their clean-up."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=within_s)


class KeyedLocks:
    """One FIFO lock per key (e.g. a conversation), dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
