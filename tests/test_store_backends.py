"""Test support for the store suites: one ``Backend`` per engine, each with a fresh database.

PostgreSQL runs only when ``BRIDGE_TEST_POSTGRES_URL`` is set and the server answers; every
PostgreSQL backend gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, Migration
from bridge.store.postgres import PostgresStore
from bridge.store.sqlite import SqliteStore

PG_ENV = "BRIDGE_TEST_POSTGRES_URL"


class FakeClock:
    """An injectable ``now`` that only moves when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when the server answers."""
    url = os.environ.get(PG_ENV)
    if not url:
        return f"{PG_ENV} is not set"
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed"

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {PG_ENV} does not answer: {type(exc).__name__}"
    return None


@dataclass
class Backend:
    """Builds stores over one database and reads/forges its schema version."""

    kind: str
    clock: FakeClock
    path: Path | None = None
    pg_url: str = ""
    schema: str = ""
    opened: list[SqliteStore | PostgresStore] = field(default_factory=list)

    @property
    def migrations(self) -> tuple[Migration, ...]:
        """The engine's real migration list."""
        return SQLITE_MIGRATIONS if self.kind == "sqlite" else POSTGRES_MIGRATIONS

    def make(self, migrations: Sequence[Migration] | None = None) -> SqliteStore | PostgresStore:
        """A new, unopened store on this backend's database (closed at teardown)."""
        store: SqliteStore | PostgresStore
        if self.kind == "sqlite":
            assert self.path is not None
            store = SqliteStore(
                self.path, now=self.clock, migrations=migrations or SQLITE_MIGRATIONS
            )
        else:
            store = PostgresStore(
                self.pg_url,
                now=self.clock,
                schema=self.schema,
                migrations=migrations or POSTGRES_MIGRATIONS,
            )
        self.opened.append(store)
        return store

    async def version(self) -> int:
        if self.kind == "sqlite":
            with sqlite3.connect(self.path or "") as conn:
                return int(conn.execute("PRAGMA user_version").fetchone()[0])
        found = await self._pg("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(found)

    async def set_version(self, version: int) -> None:
        """Pretend a newer bridge has migrated this database to ``version``."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path or "")
            try:
                conn.execute(f"PRAGMA user_version = {version}")
            finally:
                conn.close()
            return
        await self._pg("INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)", version)

    async def execute(self, sql: str, *args: Any) -> None:
        """Run raw SQL (``$n`` placeholders), e.g. to write rows the way an old schema did."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path or "")
            try:
                with conn:
                    conn.execute(sql.replace("$", "?"), args)
            finally:
                conn.close()
            return
        await self._pg(sql, *args)

    async def _pg(self, sql: str, *args: Any) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.pg_url, server_settings={"search_path": self.schema})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


@asynccontextmanager
async def backend(kind: str, tmp_path: Path, pg_skip: str | None) -> AsyncIterator[Backend]:
    """A fresh database for ``kind`` ("sqlite" or "postgres"); the caller skips on ``pg_skip``."""
    clock = FakeClock()
    if kind == "sqlite":
        be = Backend(kind, clock, path=tmp_path / "data" / "bridge.db")
        try:
            yield be
        finally:
            for store in be.opened:
                await store.close()
        return
    assert pg_skip is None
    import asyncpg

    url = os.environ[PG_ENV]
    schema = f"bridge_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        be = Backend(kind, clock, pg_url=url, schema=schema)
        try:
            yield be
        finally:
            for store in be.opened:
                await store.close()
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()
