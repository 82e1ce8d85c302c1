"""Look at the store of ``store.url`` without changing it: reachable, driver, schema version."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bridge.errors import StoreError
from bridge.store.factory import open_store
from bridge.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, check_version
from bridge.store.sqlite import MEMORY, SqliteStore


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """What ``check`` reports about the store."""

    engine: str
    where: str
    version: int
    """The schema version found (0: nothing created yet)."""
    latest: int
    """The version this program migrates to on start."""

    def describe(self) -> str:
        if self.version == 0:
            schema = f"empty, schema v{self.latest} is created on first run"
        elif self.version < self.latest:
            schema = f"schema v{self.version}, migrated to v{self.latest} on start"
        else:
            schema = f"schema v{self.version}, current"
        return f"{self.engine} {self.where}; {schema}"


async def probe_store(
    url: str, *, timeout_s: float = 10.0, schema: str | None = None
) -> StoreStatus:
    """Read the schema version; raises ``StoreError`` (or ``ConfigError`` for a bad URL).

    Nothing is created or migrated: a missing SQLite file only needs a writable directory.
    """
    store = open_store(url, schema=schema)
    if isinstance(store, SqliteStore):
        return await asyncio.to_thread(_probe_sqlite, store.path)
    return await _probe_postgres(url.strip(), timeout_s, schema)


def _probe_sqlite(path: str) -> StoreStatus:
    latest = len(SQLITE_MIGRATIONS)
    if path == MEMORY:
        return StoreStatus("SQLite", "in memory", 0, latest)
    file = Path(path)
    if not file.exists():
        parent = next((p for p in file.absolute().parents if p.exists()), Path("/"))
        if not parent.is_dir():
            raise StoreError(f"cannot create SQLite store {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create SQLite store {path}: {parent} is not writable")
        return StoreStatus("SQLite", path, 0, latest)
    if not os.access(file, os.R_OK | os.W_OK):
        raise StoreError(f"SQLite store {path} is not readable and writable by this user")
    try:
        conn = sqlite3.connect(f"{file.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read SQLite store {path}: {exc}") from exc
    check_version(version, SQLITE_MIGRATIONS, engine="SQLite")
    return StoreStatus("SQLite", path, version, latest)


async def _probe_postgres(dsn: str, timeout_s: float, schema: str | None) -> StoreStatus:
    try:
        import asyncpg  # optional dependency
    except ImportError as exc:
        raise StoreError(
            "the PostgreSQL store needs asyncpg: pip install 'clickai-bridge[postgres]'"
        ) from exc
    errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, ValueError)
    try:
        conn = await asyncpg.connect(
            dsn,
            timeout=timeout_s,
            command_timeout=timeout_s,
            server_settings={"search_path": schema} if schema else None,
        )
    except errors as exc:
        raise StoreError(f"cannot connect to the PostgreSQL store: {exc}") from exc
    try:
        table = await conn.fetchval("SELECT to_regclass('schema_version')::text")
        version = 0
        if table is not None:
            version = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM " + table))
    except errors as exc:
        raise StoreError(f"cannot read the PostgreSQL store: {exc}") from exc
    finally:
        await conn.close(timeout=timeout_s)
    check_version(version, POSTGRES_MIGRATIONS, engine="PostgreSQL")
    host = urlsplit(dsn).hostname or "localhost"
    return StoreStatus("PostgreSQL", f"at {host}", version, len(POSTGRES_MIGRATIONS))
