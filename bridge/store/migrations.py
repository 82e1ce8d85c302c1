"""Numbered, append-only schema migrations for the SQLite and PostgreSQL stores.

Each migration is a tuple of SQL statements applied in one transaction; migration ``N`` (1-based)
brings the schema from version ``N - 1`` to ``N``. Never edit or reorder a released step: append
a new one. SQLite records the version in ``PRAGMA user_version``; PostgreSQL in the
``schema_version`` table. Times are epoch seconds (REAL / DOUBLE PRECISION); "no thread" is ``''``
so that keys never hold NULL. ``user`` is a reserved word in PostgreSQL, hence the quotes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.errors import SchemaTooNew

Migration = tuple[str, ...]
"""The statements of one migration step."""

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    # v1: conversation map, one ClickAI conversation per scope
    (
        """CREATE TABLE conversation (
            scope TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ),
    # v2: reply map, platform message -> ClickAI message, with its feedback rating
    (
        """CREATE TABLE reply (
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            clickai_message_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            rating TEXT CHECK (rating IN ('like', 'dislike')),
            created_at REAL NOT NULL,
            PRIMARY KEY (channel, chat_id, message_id)
        )""",
        "CREATE INDEX reply_clickai_message_id ON reply (clickai_message_id)",
    ),
    # v3: inbound-event log for dedupe and crash recovery
    (
        """CREATE TABLE event (
            event_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            scope TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('accepted', 'done')),
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX event_status ON event (status, created_at)",
    ),
)

POSTGRES_BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""
"""The version table itself; created before any migration runs."""

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    # v1: conversation map, one ClickAI conversation per scope
    (
        """CREATE TABLE conversation (
            scope TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    # v2: reply map, platform message -> ClickAI message, with its feedback rating
    (
        """CREATE TABLE reply (
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            clickai_message_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            rating TEXT CHECK (rating IN ('like', 'dislike')),
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (channel, chat_id, message_id)
        )""",
        "CREATE INDEX reply_clickai_message_id ON reply (clickai_message_id)",
    ),
    # v3: inbound-event log for dedupe and crash recovery (seq keeps arrival order on ties)
    (
        """CREATE TABLE event (
            event_id TEXT PRIMARY KEY,
            seq BIGSERIAL NOT NULL,
            channel TEXT NOT NULL,
            scope TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('accepted', 'done')),
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX event_status ON event (status, created_at)",
    ),
)


def check_version(found: int, migrations: Sequence[Migration], *, engine: str) -> None:
    """Raise ``SchemaTooNew`` when the database is ahead of the code's migration list."""
    known = len(migrations)
    if found > known:
        raise SchemaTooNew(
            f"{engine} database schema is version {found}, newer than version {known} that "
            "this clickai-bridge understands; upgrade the bridge or point store.url elsewhere"
        )
