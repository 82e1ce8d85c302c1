"""``open_store`` URL handling, and PostgreSQL failures that need no server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bridge.errors import ConfigError, StoreError
from bridge.store import PostgresStore, SqliteStore, open_store


def test_relative_sqlite_path() -> None:
    store = open_store("sqlite:///data/bridge.db")
    assert isinstance(store, SqliteStore)
    assert store.path == "data/bridge.db"


async def test_absolute_sqlite_path_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/bridge.db"
    assert url.startswith("sqlite:////")
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    assert store.path == f"{tmp_path}/nested/bridge.db"
    await store.open()
    try:
        await store.set_conversation("telegram:1", "c", "telegram:1")
    finally:
        await store.close()
    assert (tmp_path / "nested" / "bridge.db").is_file()


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///:memory:"])
def test_in_memory_sqlite(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    assert store.path == ":memory:"


def test_percent_escapes_are_decoded() -> None:
    store = open_store("sqlite:///my%20data/bridge.db")
    assert isinstance(store, SqliteStore)
    assert store.path == "my data/bridge.db"


@pytest.mark.parametrize(
    "url", ["postgresql://bridge:pw@db.invalid:5432/bridge", "postgres://db.invalid/bridge"]
)
def test_postgres_urls_build_an_unopened_pool_store(url: str) -> None:
    assert isinstance(open_store(url), PostgresStore)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://bridge:s3cret@db.invalid/bridge",
        "postgresql+asyncpg://bridge:s3cret@db.invalid/bridge",
        "data/bridge.db",
        "sqlite://bridge.db",
        "sqlite:///",
        "sqlite:///bridge.db?mode=ro",
        "postgresql://",
        "",
    ],
)
def test_bad_urls_name_the_setting_but_not_the_secret(url: str) -> None:
    with pytest.raises(ConfigError, match=r"store\.url") as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)


async def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    store = PostgresStore("postgresql://bridge:s3cret@127.0.0.1:1/bridge", timeout=2)
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await store.open()
    assert "s3cret" not in str(caught.value)
    await store.close()


async def test_missing_asyncpg_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes `import asyncpg` fail
    with pytest.raises(StoreError, match=r"clickai-bridge\[postgres\]"):
        await PostgresStore("postgresql://db.invalid/bridge").open()


def test_schema_name_is_checked() -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresStore("postgresql://db.invalid/bridge", schema='x"; DROP TABLE reply; --')
