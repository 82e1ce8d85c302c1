"""SQLite specifics: file creation and mode, PRAGMAs, in-memory use and unusable paths."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bridge.errors import StoreError
from bridge.store import SqliteStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_new_file_is_owner_only_and_its_directories_are_made(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bridge.db"
    store = SqliteStore(path)
    await store.open()
    try:
        await store.set_conversation("telegram:1", "c", "telegram:1")
        assert mode(path) == 0o600
        wal = path.with_name("bridge.db-wal")
        assert wal.exists()
        assert mode(wal) == 0o600
    finally:
        await store.close()


async def test_existing_file_is_tightened_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    path.touch()
    path.chmod(0o644)
    store = SqliteStore(path)
    await store.open()
    await store.close()
    assert mode(path) == 0o600


async def test_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    store = SqliteStore(path)
    await store.open()
    try:
        conn = store._require()  # the per-connection settings are only visible from inside
        values = {}
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys"):
            rows = list(await conn.execute_fetchall(f"PRAGMA {name}"))
            values[name] = rows[0][0]
        assert values == {
            "journal_mode": "wal",
            "synchronous": 1,
            "busy_timeout": 5000,
            "foreign_keys": 1,
        }
        assert conn.isolation_level is None
    finally:
        await store.close()
    with sqlite3.connect(path) as other:  # WAL is a property of the file itself
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_empty_thread_is_an_empty_string_not_null(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bridge.db")
    await store.open()
    try:
        conn = store._require()  # a hand-written row that leaves thread/language out
        await conn.execute(
            "INSERT INTO event (event_id, channel, scope, chat_id, status, created_at, "
            "updated_at) VALUES ('e', 'slack', 'slack:C1', 'C1', 'accepted', 1, 1)"
        )
        events = await store.pending_events()
        assert (events[0].thread, events[0].language) == ("", "")
    finally:
        await store.close()


async def test_in_memory_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore(":memory:")
    await store.open()
    await store.set_conversation("telegram:1", "c", "telegram:1")
    row = await store.get_conversation("telegram:1")
    assert row is not None and row.conversation_id == "c"
    await store.close()
    assert os.listdir(tmp_path) == []


async def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    path.write_bytes(b"certainly not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        await SqliteStore(path).open()


async def test_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        await SqliteStore(tmp_path).open()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
async def test_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreError):
            await SqliteStore(locked / "sub" / "bridge.db").open()
    finally:
        locked.chmod(0o700)
