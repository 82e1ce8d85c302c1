"""Fixtures shared by the reliability tests: a fake ClickAI and the child processes to stop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.clickai import FakeClickAI
from tests.reliability.harness import Child


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=3) as fake:
        yield fake


@pytest.fixture
async def children() -> AsyncIterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        await child.close()
