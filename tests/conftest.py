"""Fixtures shared by every suite: a fresh store per engine (PostgreSQL if it answers), and
the fake Telegram Bot API and fake Slack Web API, started and closed per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store import PostgresStore, SqliteStore
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
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


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
