"""Fixtures shared by the store suites: a fresh database per engine (PostgreSQL if it answers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store import PostgresStore, SqliteStore
from tests.test_store_backends import Backend, backend, postgres_unavailable

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_skip() -> str | None:
    return postgres_unavailable()


@pytest.fixture(params=ENGINES)
async def be(
    request: pytest.FixtureRequest, tmp_path: Path, pg_skip: str | None
) -> AsyncIterator[Backend]:
    if request.param == "postgres" and pg_skip:
        pytest.skip(f"PostgreSQL store tests skipped: {pg_skip}")
    async with backend(request.param, tmp_path, pg_skip) as b:
        yield b


@pytest.fixture
async def store(be: Backend) -> SqliteStore | PostgresStore:
    s = be.make()
    await s.open()
    return s
