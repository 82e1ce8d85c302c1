"""Who polls a bot's updates: always this process, or the holder of a PostgreSQL advisory lock."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

log = logging.getLogger(__name__)


class SoleLeader:
    """``Leadership`` of a single process: always the leader."""

    async def acquire(self) -> None:
        return

    def lost(self) -> bool:
        return False

    async def wait_lost(self) -> None:
        await asyncio.Event().wait()

    async def release(self) -> None:
        return


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (e.g. the bot's identity)."""
    digest = hashlib.blake2b(f"clickai-bridge:leader:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLeader:
    """``Leadership`` through ``pg_try_advisory_lock`` held on a dedicated connection.

    PostgreSQL releases a session's advisory locks the moment its connection ends, so a killed
    leader frees the lock as soon as the server sees the socket close; a standby asks every
    ``retry_s`` and takes over within about that long. The leader checks its connection every
    ``check_s`` (a ``SELECT 1`` bounded by ``check_s``): when it fails, leadership counts as
    lost, because the server may already have handed the lock to another replica.
    """

    def __init__(self, dsn: str, name: str, *, retry_s: float = 2.0, check_s: float = 2.0) -> None:
        self._dsn = dsn
        self._name = name
        self._key = lock_key(name)
        self._retry_s = retry_s
        self._check_s = check_s
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        """Ask for the lock until granted (reconnecting as needed), then watch the connection."""
        import asyncpg

        errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
        told = False
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self._dsn, timeout=self._check_s * 5)
                got = await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock($1)", self._key, timeout=self._check_s * 5
                )
            except errors as exc:
                log.warning("leader %s: cannot ask PostgreSQL (%s); retrying", self._name, exc)
                await self._drop()
                got = False
            if got:
                break
            if not told:
                log.info("leader %s: another replica polls; standing by", self._name)
                told = True
            await asyncio.sleep(self._retry_s)
        log.info("leader %s: this replica polls now", self._name)
        self._lost.clear()
        self._watch = asyncio.create_task(self._watch_connection(), name=f"leader {self._name}")

    async def _watch_connection(self) -> None:
        while True:
            await asyncio.sleep(self._check_s)
            try:
                await self._conn.fetchval("SELECT 1", timeout=self._check_s)
            except Exception as exc:
                log.error("leader %s: lost the PostgreSQL connection (%s)", self._name, exc)
                self._lost.set()
                await self._drop()
                return

    def lost(self) -> bool:
        return self._lost.is_set()

    async def wait_lost(self) -> None:
        await self._lost.wait()

    async def release(self) -> None:
        """Stop watching and close the connection (which frees the lock); idempotent."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._check_s)
            if not conn.is_closed():
                conn.terminate()
