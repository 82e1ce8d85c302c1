"""Fixtures shared by the reliability tests: the three fakes, started and closed per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.reliability.harness import Child


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=3) as fake:
        yield fake


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


@pytest.fixture
async def children() -> AsyncIterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        await child.close()
