"""One turn at a time per conversation: in-process locks, or lock rows shared through the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from bridge.coordination.base import ScopeBusy
from bridge.store.base import Namespace, Store
from bridge.tasks import KeyedLocks

log = logging.getLogger(__name__)

_POLL_FIRST_S = 0.05
_POLL_MAX_S = 0.5


def _key(namespace: Namespace, scope: str) -> str:
    return f"{namespace.bot}\x1f{namespace.backend}\x1f{scope}"


class LocalScopeLocks:
    """``ScopeLocks`` for one process: a FIFO lock per scope, waited for at most ``wait_s``."""

    def __init__(self, wait_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._wait_s = wait_s
        self._clock = clock
        self._keyed = KeyedLocks()

    @contextlib.asynccontextmanager
    async def hold(self, namespace: Namespace, scope: str) -> AsyncIterator[float]:
        started = self._clock()
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(self._wait_s):
                    await stack.enter_async_context(self._keyed.hold(_key(namespace, scope)))
            except TimeoutError:
                raise ScopeBusy(f"scope {scope} busy for more than {self._wait_s:g}s") from None
            yield self._clock() - started

    async def renew(self) -> None:
        """Nothing to renew: the locks live and die with this process."""


class StoreScopeLocks:
    """``ScopeLocks`` across replicas: a lease row per scope in the shared store.

    Waiters of one replica queue on an in-process lock first, so only one of them per scope asks
    the database (every 50 ms, backing off to 500 ms). A holder's row is renewed with its event
    leases; a crashed holder's row expires after ``lease_s`` and the next waiter takes it.
    """

    def __init__(
        self,
        store: Store,
        *,
        owner: str,
        lease_s: float,
        wait_s: float,
        now: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._owner = owner
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._now = now
        self._clock = clock
        self._local = LocalScopeLocks(wait_s, clock=clock)

    @contextlib.asynccontextmanager
    async def hold(self, namespace: Namespace, scope: str) -> AsyncIterator[float]:
        started = self._clock()
        async with self._local.hold(namespace, scope):
            view = self._store.scoped(namespace)
            await self._acquire(view, scope, started + self._wait_s)
            try:
                yield self._clock() - started
            finally:
                await self._release(view, scope)

    async def _acquire(self, view: Store, scope: str, deadline: float) -> None:
        delay = _POLL_FIRST_S
        while not await view.lock_scope(scope, self._owner, self._now() + self._lease_s):
            left = deadline - self._clock()
            if left <= 0:
                raise ScopeBusy(f"scope {scope} busy for more than {self._wait_s:g}s")
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX_S)

    async def _release(self, view: Store, scope: str) -> None:
        try:
            await asyncio.shield(view.unlock_scope(scope, self._owner))
        except Exception as exc:  # the row then expires after lease_s
            log.warning("could not release the lock of %s: %s", scope, exc)

    async def renew(self) -> None:
        """Extend every scope lock this replica holds."""
        await self._store.renew_scope_locks(self._owner, self._now() + self._lease_s)
