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
    # v4: namespaces. Every row carries the bot and the backend it belongs to, and both lead
    # every key, so two bots or two apps on one database never share a conversation, a reply or
    # a delivery. Existing rows get the empty namespace; the default bot adopts them at start.
    (
        """CREATE TABLE conversation_v4 (
            bot TEXT NOT NULL DEFAULT '',
            backend TEXT NOT NULL DEFAULT '',
            scope TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (bot, backend, scope)
        )""",
        'INSERT INTO conversation_v4 (scope, conversation_id, "user", created_at, updated_at) '
        'SELECT scope, conversation_id, "user", created_at, updated_at FROM conversation',
        "DROP TABLE conversation",
        "ALTER TABLE conversation_v4 RENAME TO conversation",
        """CREATE TABLE reply_v4 (
            bot TEXT NOT NULL DEFAULT '',
            backend TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            clickai_message_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            "user" TEXT NOT NULL,
            rating TEXT CHECK (rating IN ('like', 'dislike')),
            created_at REAL NOT NULL,
            PRIMARY KEY (bot, backend, channel, chat_id, message_id)
        )""",
        "INSERT INTO reply_v4 (channel, chat_id, message_id, clickai_message_id, "
        'conversation_id, "user", rating, created_at) SELECT channel, chat_id, message_id, '
        'clickai_message_id, conversation_id, "user", rating, created_at FROM reply',
        "DROP TABLE reply",
        "ALTER TABLE reply_v4 RENAME TO reply",
        "CREATE INDEX reply_clickai_message_id ON reply (bot, backend, clickai_message_id)",
        """CREATE TABLE event_v4 (
            bot TEXT NOT NULL DEFAULT '',
            backend TEXT NOT NULL DEFAULT '',
            event_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            scope TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('accepted', 'done')),
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (bot, backend, event_id)
        )""",
        "INSERT INTO event_v4 (event_id, channel, scope, chat_id, thread, language, status, "
        "created_at, updated_at) SELECT event_id, channel, scope, chat_id, thread, language, "
        "status, created_at, updated_at FROM event ORDER BY rowid",
        "DROP TABLE event",
        "ALTER TABLE event_v4 RENAME TO event",
        "CREATE INDEX event_status ON event (status, created_at)",
    ),
    # v5: what a restart must not forget: the reply message a turn had opened (to close or mark
    # it when the turn was interrupted) and who asked (only they rate an answer in a group)
    (
        "ALTER TABLE event ADD COLUMN reply_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE reply ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    ),
    # v6: replicas. An accepted event records its owner (a replica id) and a lease the owner
    # renews while the turn runs; a lock row per scope lets one turn at a time run per
    # conversation across replicas. Old events get an expired lease ('' owner, 0).
    (
        "ALTER TABLE event ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE event ADD COLUMN lease_until REAL NOT NULL DEFAULT 0",
        "CREATE INDEX event_owner ON event (owner, status)",
        """CREATE TABLE scope_lock (
            bot TEXT NOT NULL,
            backend TEXT NOT NULL,
            scope TEXT NOT NULL,
            owner TEXT NOT NULL,
            until REAL NOT NULL,
            PRIMARY KEY (bot, backend, scope)
        )""",
        "CREATE INDEX scope_lock_owner ON scope_lock (owner)",
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
    # v4: namespaces (see the SQLite step): bot and backend lead every key; old rows get ''.
    (
        "ALTER TABLE conversation ADD COLUMN bot TEXT NOT NULL DEFAULT '', "
        "ADD COLUMN backend TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE conversation DROP CONSTRAINT conversation_pkey, "
        "ADD PRIMARY KEY (bot, backend, scope)",
        "ALTER TABLE reply ADD COLUMN bot TEXT NOT NULL DEFAULT '', "
        "ADD COLUMN backend TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE reply DROP CONSTRAINT reply_pkey, "
        "ADD PRIMARY KEY (bot, backend, channel, chat_id, message_id)",
        "DROP INDEX reply_clickai_message_id",
        "CREATE INDEX reply_clickai_message_id ON reply (bot, backend, clickai_message_id)",
        "ALTER TABLE event ADD COLUMN bot TEXT NOT NULL DEFAULT '', "
        "ADD COLUMN backend TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE event DROP CONSTRAINT event_pkey, ADD PRIMARY KEY (bot, backend, event_id)",
    ),
    # v5: the reply a turn had opened, and who asked (see the SQLite step)
    (
        "ALTER TABLE event ADD COLUMN reply_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE reply ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    ),
    # v6: replicas (see the SQLite step): event owner + lease, one lock row per busy scope.
    (
        "ALTER TABLE event ADD COLUMN owner TEXT NOT NULL DEFAULT '', "
        "ADD COLUMN lease_until DOUBLE PRECISION NOT NULL DEFAULT 0",
        "CREATE INDEX event_owner ON event (owner, status)",
        """CREATE TABLE scope_lock (
            bot TEXT NOT NULL,
            backend TEXT NOT NULL,
            scope TEXT NOT NULL,
            owner TEXT NOT NULL,
            until DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (bot, backend, scope)
        )""",
        "CREATE INDEX scope_lock_owner ON scope_lock (owner)",
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
