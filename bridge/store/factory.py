"""Pick and build the store named by ``store.url`` (not yet opened)."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import unquote

from bridge.errors import ConfigError
from bridge.store.base import LEGACY, Namespace, Store
from bridge.store.postgres import PostgresStore
from bridge.store.sqlite import MEMORY, SqliteStore

_HINT = "use sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://…"


def open_store(
    url: str,
    *,
    now: Callable[[], float] = time.time,
    schema: str | None = None,
    namespace: Namespace = LEGACY,
    busy_timeout_s: float = 5.0,
) -> Store:
    """The store for ``url``; call ``await store.open()`` before use.

    ``sqlite:///data/bridge.db`` is relative to the working directory,
    ``sqlite:////var/lib/bridge.db`` absolute, ``sqlite://:memory:`` a throwaway database;
    ``postgresql://`` and ``postgres://`` URLs go to asyncpg unchanged; ``schema`` (PostgreSQL
    only) keeps the tables in that schema. ``namespace`` is what the returned store reads and
    writes (``Store.scoped`` gives other views). Error messages never repeat the URL, which may
    carry a password.
    """
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(f"store.url is not a URL; {_HINT}")
    if scheme == "sqlite":
        if schema:
            raise ConfigError("store.schema applies to PostgreSQL only; remove it for SQLite")
        return SqliteStore(
            _sqlite_path(rest),
            now=now,
            namespace=namespace,
            busy_timeout_ms=round(busy_timeout_s * 1000),
        )
    if scheme in ("postgresql", "postgres"):
        if not rest:
            raise ConfigError(f"store.url names no PostgreSQL server; {_HINT}")
        return PostgresStore(url.strip(), now=now, schema=schema, namespace=namespace)
    raise ConfigError(f"store.url has unsupported scheme {scheme!r}; {_HINT}")


def _sqlite_path(rest: str) -> str:
    if rest in (MEMORY, "/" + MEMORY):
        return MEMORY
    if "?" in rest or "#" in rest:
        raise ConfigError(f"store.url: SQLite URLs take no query or fragment; {_HINT}")
    if not rest.startswith("/") or len(rest) < 2:
        raise ConfigError(f"store.url: a SQLite URL needs a path after three slashes; {_HINT}")
    return unquote(rest[1:])
