"""One cached read of the app's ``/parameters`` serves file rules, the opening and suggestions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bridge.clickai import ClickAIClient
from bridge.clickai.parameters import AppParameters
from bridge.extras import AppExtras
from bridge.file_rules import FileRulesSource
from tests.fakes.clickai import FakeClickAI


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(opening_statement="Hello.") as server:
        yield server


@pytest.fixture
async def client(fake: FakeClickAI) -> AsyncIterator[ClickAIClient]:
    async with ClickAIClient(base_url=fake.base_url, api_key=SecretStr(fake.key)) as c:
        yield c


async def test_file_rules_and_the_opening_share_one_read(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    params = AppParameters(client.parameters)
    rules, extras = FileRulesSource(params), AppExtras(client, params)
    await asyncio.gather(rules.get(), extras.opening(), rules.get(), extras.opening())
    assert (await extras.opening()).statement == "Hello."
    assert await rules.get() is not None
    assert len(fake.calls("parameters")) == 1


async def test_the_operators_changes_are_read_after_the_refresh_time_or_a_refusal(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    clock = Clock()
    params = AppParameters(client.parameters, refresh_s=300, clock=clock)
    rules, extras = FileRulesSource(params), AppExtras(client, params)
    assert (await extras.opening()).statement == "Hello."
    fake.opening_statement = "Xin chào."
    fake.file_upload = {"enabled": False}
    clock.now = 299.0
    assert (await extras.opening()).statement == "Hello."
    clock.now = 300.0
    assert (await extras.opening()).statement == "Xin chào."
    assert (ruled := await rules.get()) is not None and not ruled.enabled
    fake.opening_statement = "Bonjour."
    rules.stale()  # ClickAI refused a file
    assert (await extras.opening()).statement == "Bonjour."
    assert len(fake.calls("parameters")) == 3


async def test_a_failed_read_keeps_the_last_answer_until_the_next_refresh(
    fake: FakeClickAI, client: ClickAIClient
) -> None:
    clock = Clock()
    params = AppParameters(client.parameters, refresh_s=300, clock=clock)
    extras = AppExtras(client, params)
    fake.disabled_keys = frozenset({fake.key})  # the app refuses: 403
    assert await params.get() is None and (await extras.opening()).statement == ""
    fake.disabled_keys = frozenset()
    assert await params.get() is None  # not asked again before the refresh time
    clock.now = 300.0
    assert (await extras.opening()).statement == "Hello."
    fake.disabled_keys = frozenset({fake.key})
    clock.now = 600.0
    assert (await extras.opening()).statement == "Hello."
    assert len(fake.calls("parameters")) == 3
