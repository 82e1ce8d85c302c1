"""Fixtures shared by the Telegram channel tests: intake and a running channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridge.config import BridgeConfig
from channels.telegram import TelegramChannel
from tests.fakes.telegram import FakeTelegram, RecordingIntake, telegram_config


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
async def channel(tg: FakeTelegram, intake: RecordingIntake) -> AsyncIterator[TelegramChannel]:
    running = TelegramChannel(telegram_config(tg), BridgeConfig(), poll_timeout_s=1)
    await running.start(intake)
    yield running
    await running.close()
