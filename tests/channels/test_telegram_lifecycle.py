"""Channel lifecycle: start/stop/close order, failures at start, and no token in any log line."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from bridge.config import BridgeConfig
from bridge.errors import ChannelError, ConfigError
from bridge.model import InboundMessage, Sender, ThreadKey
from channels.telegram import TelegramChannel
from tests.fakes.telegram import FakeTelegram, RecordingIntake, TgUser, telegram_config

ANN = TgUser(id=111, first_name="Ann")


async def test_token_never_reaches_the_logs(tg: FakeTelegram, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    intake = RecordingIntake()
    channel = TelegramChannel(telegram_config(tg), BridgeConfig(), poll_timeout_s=1)
    await channel.start(intake)
    tg.push(tg.text(ANN.id, ANN, "hello"))
    await intake.wait_for(lambda: len(intake.messages) == 1)
    reply = channel.open_reply(intake.messages[0])
    await reply.update("answer")
    await reply.finish("answer!")
    await channel.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any("getUpdates" in line for line in lines)  # request logging did happen
    assert not [line for line in lines if tg.token in line]
    assert not [line for line in lines if tg.token.split(":")[1] in line]


async def test_a_refused_token_fails_start_with_a_clear_error(tg: FakeTelegram):
    config = telegram_config(tg, token=SecretStr("123:WRONG"))
    channel = TelegramChannel(config, BridgeConfig())
    with pytest.raises(ChannelError):
        await channel.start(RecordingIntake())
    await channel.close()


def test_missing_token_is_a_config_error(tg: FakeTelegram):
    config = telegram_config(tg).model_copy(update={"token": None})
    with pytest.raises(ConfigError):
        TelegramChannel(config, BridgeConfig())


async def test_stop_and_close_are_idempotent_and_replies_outlive_stop(tg: FakeTelegram):
    intake = RecordingIntake()
    channel = TelegramChannel(telegram_config(tg), BridgeConfig(), poll_timeout_s=1)
    assert channel.http_routes() == []
    assert channel.pace_budget.chat_interval_s == 0.2
    assert channel.pace_budget.group_interval_s == 0.5
    await channel.start(intake)
    await channel.stop()
    await channel.stop()
    msg = InboundMessage(
        key=ThreadKey(channel="telegram", chat_id=str(ANN.id)),
        event_id="telegram:upd:1",
        message_id="1",
        sender=Sender(id=str(ANN.id)),
        text="q",
    )
    # Between stop (no new updates) and close, in-flight answers still reach the chat.
    assert await channel.open_reply(msg).finish("late answer")
    await channel.close()
    await channel.close()
    assert tg.chat(ANN.id).texts() == ["late answer"]
    polls = len(tg.calls_to("getUpdates"))
    tg.push(tg.text(ANN.id, ANN, "after stop"))
    assert len(tg.calls_to("getUpdates")) == polls and intake.messages == []
