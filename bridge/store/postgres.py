"""The optional PostgreSQL store: an asyncpg pool, imported only when the store is opened."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bridge.errors import StoreError
from bridge.model import Rating, ReplyRef
from bridge.store import common as sql
from bridge.store import leases
from bridge.store.base import LEGACY, ConversationRow, EventRow, Namespace, ReplyRow
from bridge.store.migrations import (
    POSTGRES_BOOTSTRAP,
    POSTGRES_MIGRATIONS,
    Migration,
    check_version,
)

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x636C69636B6169  # pg_advisory_xact_lock key: one migrator per database
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class PostgresStore:
    """``Store`` on PostgreSQL; several bridge processes may share one database.

    Args:
        dsn: a ``postgresql://`` / ``postgres://`` URL (never logged: it may hold a password).
        schema: use (and create) this schema instead of the server's default search path.
    """

    def __init__(
        self,
        dsn: str,
        *,
        now: Callable[[], float] = time.time,
        migrations: Sequence[Migration] = POSTGRES_MIGRATIONS,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
        namespace: Namespace = LEGACY,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
        self._dsn = dsn
        self._now = now
        self._migrations = tuple(migrations)
        self._schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._pool: Any = None  # asyncpg.Pool; asyncpg ships no type hints
        self._errors: tuple[type[BaseException], ...] = ()
        self._ns = namespace
        self._ns_args = sql.ns_args(namespace)
        self._root = self

    @property
    def namespace(self) -> Namespace:
        """The namespace this store reads and writes."""
        return self._ns

    @property
    def dsn(self) -> str:
        """The connection URL (never log it: it may hold a password)."""
        return self._dsn

    @property
    def schema(self) -> str | None:
        """The schema the tables live in (None: the server's default search path)."""
        return self._schema

    def scoped(self, namespace: Namespace) -> PostgresStore:
        """A view bound to ``namespace`` sharing this store's connection pool."""
        view = copy.copy(self._root)
        view._ns = namespace
        view._ns_args = sql.ns_args(namespace)
        return view

    # lifecycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the connection pool and apply pending migrations."""
        if self._root is not self:
            await self._root.open()
            self._errors = self._root._errors
            return
        if self._pool is not None:
            return
        try:
            import asyncpg  # optional dependency, so imported only here
        except ImportError as exc:
            raise StoreError(
                "the PostgreSQL store needs asyncpg: install clickai-bridge[postgres]"
            ) from exc
        self._errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
        settings = {"search_path": self._schema} if self._schema else None
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._timeout,
                command_timeout=self._timeout,
                server_settings=settings,
            )
        except (*self._errors, ValueError) as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store: {exc}") from exc
        try:
            await self._migrate(pool)
        except BaseException as exc:
            pool.terminate()
            if isinstance(exc, self._errors):
                raise StoreError(f"cannot migrate the PostgreSQL store: {exc}") from exc
            raise
        self._pool = pool

    async def _migrate(self, pool: Any) -> None:
        async with pool.acquire(timeout=self._timeout) as conn:
            while True:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                    if self._schema and not await conn.fetchval(
                        "SELECT 1 FROM pg_namespace WHERE nspname = $1", self._schema
                    ):
                        await conn.execute(f'CREATE SCHEMA "{self._schema}"')
                    await conn.execute(POSTGRES_BOOTSTRAP)
                    found = await conn.fetchval(
                        "SELECT COALESCE(MAX(version), 0) FROM schema_version"
                    )
                    version = int(found)
                    check_version(version, self._migrations, engine="PostgreSQL")
                    if version >= len(self._migrations):
                        return
                    for statement in self._migrations[version]:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                        version + 1,
                        self._clock(),
                    )
                log.info("store: PostgreSQL schema migrated to version %d", version + 1)

    async def close(self) -> None:
        """Close the pool, waiting briefly for queries in flight; idempotent."""
        if self._root is not self:
            await self._root.close()
            return
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self._timeout)
        except TimeoutError:
            pool.terminate()

    # plumbing ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; database failures surface as ``StoreError``."""
        pool = self._root._pool
        if pool is None:
            raise StoreError("PostgreSQL store is not open")
        errors = self._root._errors
        try:
            async with pool.acquire(timeout=self._timeout) as conn:
                yield conn
        except errors as exc:
            raise StoreError(f"PostgreSQL store: {exc}") from exc

    async def _execute(self, statement: str, *args: Any) -> int:
        """Run one statement; returns the rows it changed (from the command tag)."""
        async with self._connection() as conn:
            return _row_count(await conn.execute(statement, *args))

    async def _fetch(self, statement: str, *args: Any) -> list[Any]:
        async with self._connection() as conn:
            return list(await conn.fetch(statement, *args))

    def _clock(self) -> float:
        return float(self._now())  # asyncpg encodes DOUBLE PRECISION from floats only

    # conversations -----------------------------------------------------------------------------
    async def get_conversation(self, scope: str) -> ConversationRow | None:
        """The conversation stored for ``scope``, if any."""
        rows = await self._fetch(sql.GET_CONVERSATION, *self._ns_args, scope)
        return sql.conversation_from_row(rows[0]) if rows else None

    async def set_conversation(self, scope: str, conversation_id: str, user: str) -> None:
        """Insert or replace; ``created_at`` survives only while the conversation id does."""
        await self._execute(
            sql.SET_CONVERSATION, *self._ns_args, scope, conversation_id, user, self._clock()
        )

    async def drop_conversation(self, scope: str) -> None:
        """Forget the scope's conversation."""
        await self._execute(sql.DROP_CONVERSATION, *self._ns_args, scope)

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> int:
        """Re-key the chat's conversations and replies; returns conversation + reply rows changed.

        Conversation ``user`` strings stay as they were: ClickAI ties conversations to them.
        """
        if old_chat_id == new_chat_id:
            return 0
        select = sql.CHAT_SCOPES + " FOR UPDATE"
        ns = self._ns_args
        async with self._connection() as conn, conn.transaction():
            old_rows = await conn.fetch(select, *ns, *sql.scope_match_args(channel, old_chat_id))
            new_rows = await conn.fetch(select, *ns, *sql.scope_match_args(channel, new_chat_id))
            sources = {str(r[0]): float(r[1]) for r in old_rows}
            targets = {str(r[0]): float(r[1]) for r in new_rows}
            move = sql.plan_chat_move(channel, old_chat_id, new_chat_id, sources, targets)
            for scope in move.deletes:
                await conn.execute(sql.DROP_CONVERSATION, *ns, scope)
            for old_scope, new_scope in move.renames:
                await conn.execute(sql.RENAME_SCOPE, *ns, old_scope, new_scope)
            status = await conn.execute(sql.MOVE_REPLIES, *ns, channel, old_chat_id, new_chat_id)
        return len(sources) + _row_count(status)

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
            self._ns, refs, message_id, conversation_id, user, self._clock(), owner
        )
        async with self._connection() as conn, conn.transaction():
            await conn.executemany(sql.ADD_REPLY, args)

    async def get_reply(self, ref: ReplyRef) -> ReplyRow | None:
        """The ClickAI message behind a platform message, if the bridge sent it."""
        rows = await self._fetch(
            sql.GET_REPLY, *self._ns_args, ref.channel, ref.chat_id, ref.message_id
        )
        return sql.reply_from_row(rows[0]) if rows else None

    async def set_rating(self, message_id: str, rating: Rating) -> None:
        """Record the rating on every platform message showing ClickAI message ``message_id``."""
        await self._execute(sql.SET_RATING, *self._ns_args, message_id, rating)

    # inbound events ----------------------------------------------------------------------------
    async def claim_event(self, event: EventRow) -> bool:
        """Record the event as accepted; True only for the first claim of its id."""
        async with self._connection() as conn:
            claimed = await conn.fetchval(
                sql.CLAIM_EVENT + " RETURNING event_id",
                *sql.event_args(self._ns, event, self._clock()),
            )
        return claimed is not None

    async def finish_event(self, event_id: str) -> None:
        """Mark an event's reply final."""
        await self._execute(sql.FINISH_EVENT, *self._ns_args, event_id, self._clock())

    async def set_event_reply(self, event_id: str, reply_id: str) -> None:
        """Remember the reply message a turn opened."""
        await self._execute(sql.SET_EVENT_REPLY, *self._ns_args, event_id, reply_id, self._clock())

    async def pending_events(self) -> list[EventRow]:
        """Accepted but unfinished events, oldest first (arrival order on equal times)."""
        rows = await self._fetch(sql.PENDING_EVENTS + ", seq", *self._ns_args)
        return [sql.event_from_row(row) for row in rows]

    # leases and scope locks -----------------------------------------------------------------
    async def renew_leases(self, owner: str, until: float) -> int:
        """Extend the lease of every unfinished event ``owner`` holds (any namespace)."""
        return await self._execute(leases.RENEW_LEASES, owner, float(until))

    async def take_expired(
        self, owner: str, *, before: float, until: float, limit: int = 100
    ) -> list[EventRow]:
        """Become the owner of unfinished events whose lease ended before ``before``."""
        statement = leases.take_expired_sql(skip_locked=True)
        args = (owner, self._clock(), float(before), float(until), limit)
        rows = await self._fetch(statement, *self._ns_args, *args)
        return sorted((sql.event_from_row(r) for r in rows), key=lambda e: e.created_at)

    async def lock_scope(self, scope: str, owner: str, until: float) -> bool:
        """Take the scope's lock row unless another owner holds it unexpired."""
        args = (scope, owner, float(until), self._clock())
        return bool(await self._fetch(leases.LOCK_SCOPE, *self._ns_args, *args))

    async def unlock_scope(self, scope: str, owner: str) -> None:
        """Release the scope's lock row if ``owner`` holds it."""
        await self._execute(leases.UNLOCK_SCOPE, *self._ns_args, scope, owner)

    async def renew_scope_locks(self, owner: str, until: float) -> int:
        """Extend every scope lock ``owner`` holds."""
        return await self._execute(leases.RENEW_SCOPE_LOCKS, owner, float(until))

    async def prune_events(self, older_than: float) -> int:
        """Delete finished events created before ``older_than``; returns how many."""
        return await self._execute(sql.PRUNE_EVENTS, float(older_than))

    async def adopt_legacy_rows(self, channel: str) -> int:
        """Move ``channel``'s pre-namespace rows into this namespace; returns rows moved."""
        if self._ns.is_legacy:
            return 0
        moved = 0
        async with self._connection() as conn, conn.transaction():
            for statement, args in sql.adoption(self._ns, channel):
                moved += _row_count(await conn.execute(statement, *args))
        return moved


def _row_count(status: object) -> int:
    """Rows changed, from an asyncpg command tag such as ``UPDATE 3``."""
    tail = str(status).rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
