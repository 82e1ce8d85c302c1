"""The default store: one SQLite file through one aiosqlite connection, writes serialised."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from bridge.errors import StoreError
from bridge.model import Rating, ReplyRef
from bridge.store import common as sql
from bridge.store import leases
from bridge.store.base import LEGACY, ConversationRow, EventRow, Namespace, ReplyRow
from bridge.store.migrations import SQLITE_MIGRATIONS, Migration, check_version

log = logging.getLogger(__name__)

MEMORY = ":memory:"
"""Path of a throwaway in-memory database (tests, ``chat`` runs without persistence)."""

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another process's lock before failing ("database is locked")."""
_PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
)


def _q(statement: str) -> str:
    """The shared ``$n`` placeholders in SQLite's numbered ``?n`` form."""
    return statement.replace("$", "?")


def _prepare_file(path: Path) -> None:
    """Create the parent directory and an owner-only (0600) database file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


async def _rollback(conn: aiosqlite.Connection) -> None:
    """End whatever transaction is open, even after a cancelled ``BEGIN`` or ``COMMIT``.

    aiosqlite queues a statement the moment it is awaited and runs the queue in order, so a
    cancelled ``BEGIN``/``COMMIT`` still runs, before this ``ROLLBACK``. ``in_transaction``
    cannot be trusted while such a statement is queued, hence the unconditional rollback.
    """
    with suppress(sqlite3.OperationalError):  # no transaction: COMMIT went through
        await conn.execute("ROLLBACK")


class SqliteStore:
    """``Store`` on a SQLite file; safe for many tasks of one event loop.

    Every statement runs under one ``asyncio.Lock``, so a reader never observes another task's
    half-finished transaction on the shared connection; multi-statement writes use
    ``BEGIN IMMEDIATE``/``COMMIT`` through :meth:`_transaction`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        now: Callable[[], float] = time.time,
        migrations: Sequence[Migration] = SQLITE_MIGRATIONS,
        namespace: Namespace = LEGACY,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self._path = os.fspath(path)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._ns = namespace
        self._ns_args = sql.ns_args(namespace)
        self._root = self
        self._now = now
        self._migrations = tuple(migrations)
        self._lock = asyncio.Lock()
        self._conn: aiosqlite.Connection | None = None

    @property
    def path(self) -> str:
        """The database file (or ``:memory:``)."""
        return self._path

    @property
    def namespace(self) -> Namespace:
        """The namespace this store reads and writes."""
        return self._ns

    def scoped(self, namespace: Namespace) -> SqliteStore:
        """A view bound to ``namespace`` sharing this store's connection and lock."""
        view = copy.copy(self._root)
        view._ns = namespace
        view._ns_args = sql.ns_args(namespace)
        return view

    # lifecycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the file (0600), connect, set PRAGMAs and apply pending migrations."""
        if self._root is not self:
            await self._root.open()
            return
        if self._conn is not None:
            return
        try:
            if self._path != MEMORY:
                await asyncio.to_thread(_prepare_file, Path(self._path))
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store {self._path}: {exc}") from exc
        try:
            await conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
            await self._migrate(conn)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open SQLite store {self._path}: {exc}") from exc
            raise
        self._conn = conn

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        # Each step re-reads the version inside its own write transaction, so two processes
        # starting on one file cannot both apply the same step.
        while True:
            try:
                await conn.execute("BEGIN IMMEDIATE")
                rows = list(await conn.execute_fetchall("PRAGMA user_version"))
                version = int(rows[0][0])
                check_version(version, self._migrations, engine="SQLite")
                if version >= len(self._migrations):
                    await conn.execute("COMMIT")
                    return
                for statement in self._migrations[version]:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version + 1}")
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise
            log.info("store: SQLite schema migrated to version %d", version + 1)

    async def close(self) -> None:
        """Close the connection after the running statement; idempotent."""
        if self._root is not self:
            await self._root.close()
            return
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()

    # plumbing ----------------------------------------------------------------------------------
    def _require(self) -> aiosqlite.Connection:
        conn = self._root._conn
        if conn is None:
            raise StoreError("SQLite store is not open")
        return conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the lock for one ``BEGIN IMMEDIATE … COMMIT``; roll back on any exception."""
        async with self._lock:
            conn = self._require()
            try:
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    await _rollback(conn)
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {exc}") from exc

    async def _write(self, statement: str, params: Iterable[Any]) -> int:
        """Run one statement (atomic on its own in autocommit mode); return rows changed."""
        async with self._lock:
            conn = self._require()
            try:
                cursor = await conn.execute(_q(statement), tuple(params))
                count = cursor.rowcount
                await cursor.close()
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {exc}") from exc
        return count

    async def _fetch(self, statement: str, params: Iterable[Any] = ()) -> list[Sequence[Any]]:
        async with self._lock:
            conn = self._require()
            try:
                return list(await conn.execute_fetchall(_q(statement), tuple(params)))
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store: {exc}") from exc

    # conversations -----------------------------------------------------------------------------
    async def get_conversation(self, scope: str) -> ConversationRow | None:
        """The conversation stored for ``scope``, if any."""
        rows = await self._fetch(sql.GET_CONVERSATION, (*self._ns_args, scope))
        return sql.conversation_from_row(rows[0]) if rows else None

    async def set_conversation(self, scope: str, conversation_id: str, user: str) -> None:
        """Insert or replace; ``created_at`` survives only while the conversation id does."""
        await self._write(
            sql.SET_CONVERSATION, (*self._ns_args, scope, conversation_id, user, self._now())
        )

    async def drop_conversation(self, scope: str) -> None:
        """Forget the scope's conversation."""
        await self._write(sql.DROP_CONVERSATION, (*self._ns_args, scope))

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> int:
        """Re-key the chat's conversations and replies; returns conversation + reply rows changed.

        Conversation ``user`` strings stay as they were: ClickAI ties conversations to them.
        """
        if old_chat_id == new_chat_id:
            return 0
        select = _q(sql.CHAT_SCOPES)
        ns = self._ns_args
        async with self._transaction() as conn:
            old_rows = await conn.execute_fetchall(
                select, (*ns, *sql.scope_match_args(channel, old_chat_id))
            )
            new_rows = await conn.execute_fetchall(
                select, (*ns, *sql.scope_match_args(channel, new_chat_id))
            )
            sources = {str(r[0]): float(r[1]) for r in old_rows}
            targets = {str(r[0]): float(r[1]) for r in new_rows}
            move = sql.plan_chat_move(channel, old_chat_id, new_chat_id, sources, targets)
            for scope in move.deletes:
                await conn.execute(_q(sql.DROP_CONVERSATION), (*ns, scope))
            for old_scope, new_scope in move.renames:
                await conn.execute(_q(sql.RENAME_SCOPE), (*ns, old_scope, new_scope))
            cursor = await conn.execute(
                _q(sql.MOVE_REPLIES), (*ns, channel, old_chat_id, new_chat_id)
            )
            replies = cursor.rowcount
            await cursor.close()
        return len(sources) + replies

    # replies -----------------------------------------------------------------------------------
    async def add_replies(
        self,
        refs: Sequence[ReplyRef],
        *,
        message_id: str,
        conversation_id: str,
        user: str,
        owner: str = "",
    ) -> None:
        """Map platform messages to a ClickAI message; new parts inherit its current rating."""
        if not refs:
            return
        args = sql.reply_args(
            self._ns, refs, message_id, conversation_id, user, self._now(), owner
        )
        async with self._transaction() as conn:
            await conn.executemany(_q(sql.ADD_REPLY), args)

    async def get_reply(self, ref: ReplyRef) -> ReplyRow | None:
        """The ClickAI message behind a platform message, if the bridge sent it."""
        rows = await self._fetch(
            sql.GET_REPLY, (*self._ns_args, ref.channel, ref.chat_id, ref.message_id)
        )
        return sql.reply_from_row(rows[0]) if rows else None

    async def set_rating(self, message_id: str, rating: Rating) -> None:
        """Record the rating on every platform message showing ClickAI message ``message_id``."""
        await self._write(sql.SET_RATING, (*self._ns_args, message_id, rating))

    # inbound events ----------------------------------------------------------------------------
    async def claim_event(self, event: EventRow) -> bool:
        """Record the event as accepted; True only for the first claim of its id."""
        args = sql.event_args(self._ns, event, self._now())
        return await self._write(sql.CLAIM_EVENT, args) == 1

    async def finish_event(self, event_id: str) -> None:
        """Mark an event's reply final."""
        await self._write(sql.FINISH_EVENT, (*self._ns_args, event_id, self._now()))

    async def set_event_reply(self, event_id: str, reply_id: str) -> None:
        """Remember the reply message a turn opened."""
        await self._write(sql.SET_EVENT_REPLY, (*self._ns_args, event_id, reply_id, self._now()))

    async def pending_events(self) -> list[EventRow]:
        """Accepted but unfinished events, oldest first (arrival order on equal times)."""
        rows = await self._fetch(sql.PENDING_EVENTS + ", rowid", self._ns_args)
        return [sql.event_from_row(row) for row in rows]

    # leases and scope locks -----------------------------------------------------------------
    async def renew_leases(self, owner: str, until: float) -> int:
        """Extend the lease of every unfinished event ``owner`` holds (any namespace)."""
        return await self._write(leases.RENEW_LEASES, (owner, float(until)))

    async def take_expired(
        self, owner: str, *, before: float, until: float, limit: int = 100
    ) -> list[EventRow]:
        """Become the owner of unfinished events whose lease ended before ``before``."""
        args = (*self._ns_args, owner, self._now(), float(before), float(until), limit)
        rows = await self._fetch(leases.take_expired_sql(skip_locked=False), args)
        return sorted((sql.event_from_row(r) for r in rows), key=lambda e: e.created_at)

    async def lock_scope(self, scope: str, owner: str, until: float) -> bool:
        """Take the scope's lock row unless another owner holds it unexpired."""
        args = (*self._ns_args, scope, owner, float(until), self._now())
        return bool(await self._fetch(leases.LOCK_SCOPE, args))

    async def unlock_scope(self, scope: str, owner: str) -> None:
        """Release the scope's lock row if ``owner`` holds it."""
        await self._write(leases.UNLOCK_SCOPE, (*self._ns_args, scope, owner))

    async def renew_scope_locks(self, owner: str, until: float) -> int:
        """Extend every scope lock ``owner`` holds."""
        return await self._write(leases.RENEW_SCOPE_LOCKS, (owner, float(until)))

    async def prune_events(self, older_than: float) -> int:
        """Delete finished events created before ``older_than``; returns how many."""
        return await self._write(sql.PRUNE_EVENTS, (older_than,))

    async def adopt_legacy_rows(self, channel: str) -> int:
        """Move ``channel``'s pre-namespace rows into this namespace; returns rows moved."""
        if self._ns.is_legacy:
            return 0
        moved = 0
        async with self._transaction() as conn:
            for statement, args in sql.adoption(self._ns, channel):
                cursor = await conn.execute(_q(statement), args)
                moved += cursor.rowcount
                await cursor.close()
        return moved
