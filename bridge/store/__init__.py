"""Persistence for the relay: the ``Store`` contract, its SQLite and PostgreSQL engines."""

from __future__ import annotations

from bridge.store.base import ConversationRow, EventRow, EventStatus, ReplyRow, Store
from bridge.store.factory import open_store
from bridge.store.postgres import PostgresStore
from bridge.store.sqlite import SqliteStore

__all__ = [
    "ConversationRow",
    "EventRow",
    "EventStatus",
    "PostgresStore",
    "ReplyRow",
    "SqliteStore",
    "Store",
    "open_store",
]
