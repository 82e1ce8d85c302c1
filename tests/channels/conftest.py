"""Fixtures shared by the channel tests: fake Bot API, intake, a running channel, fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridge.config import BridgeConfig
from channels.telegram import TelegramChannel
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, RecordingIntake, telegram_config


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
async def channel(tg: FakeTelegram, intake: RecordingIntake) -> AsyncIterator[TelegramChannel]:
    running = TelegramChannel(telegram_config(tg), BridgeConfig(), poll_timeout_s=1)
    await running.start(intake)
    yield running
    await running.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
