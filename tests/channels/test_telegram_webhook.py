"""Webhook mode through the real HTTP server: setWebhook, secret check, body validation."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from prometheus_client import CollectorRegistry

from bridge.config import BridgeConfig
from bridge.server import HttpServer
from channels.telegram import TelegramChannel
from tests.fakes.telegram import FakeTelegram, RecordingIntake, TgUser, telegram_config

ANN = TgUser(id=111, first_name="Ann")
SECRET = "s3cret-Token_1"


@pytest.fixture
async def served(
    tg: FakeTelegram, intake: RecordingIntake
) -> AsyncIterator[tuple[TelegramChannel, str]]:
    channel = TelegramChannel(telegram_config(tg, mode="webhook"), BridgeConfig())
    server = HttpServer(
        host="127.0.0.1", port=0, registry=CollectorRegistry(), routes=channel.http_routes()
    )
    await server.start()
    await channel.start(intake)
    try:
        yield channel, f"http://127.0.0.1:{server.bound_port}/telegram/webhook"
    finally:
        await channel.close()
        await server.stop()


async def post(url: str, body: bytes, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = io.BytesIO(body)
    async with ClientSession() as session, session.post(url, data=data, headers=headers) as r:
        return r.status


def body_of(tg: FakeTelegram, update: dict[str, Any]) -> bytes:
    update["update_id"] = tg.next_update_id()
    return json.dumps(update).encode()


async def test_webhook_is_registered_with_secret_and_allowed_updates(
    tg: FakeTelegram, served: tuple[TelegramChannel, str]
):
    [call] = tg.calls_to("setWebhook")
    assert call.params["url"] == "https://bot.example.com/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert {"message", "callback_query", "message_reaction"} <= set(call.params["allowed_updates"])
    assert tg.calls_to("getUpdates") == []


async def test_updates_are_taken_and_processed(
    tg: FakeTelegram, intake: RecordingIntake, served: tuple[TelegramChannel, str]
):
    _, url = served
    update = tg.text(ANN.id, ANN, "via webhook")
    assert await tg.post_webhook(update, url=url) == 200
    await intake.wait_for(lambda: len(intake.messages) == 1)
    assert intake.messages[0].event_id == f"telegram:upd:{update['update_id']}"
    # Telegram re-delivers after a timeout: same event id, the core's dedupe drops it.
    assert await tg.post_webhook(update, url=url) == 200
    await intake.wait_for(lambda: len(intake.messages) == 1)


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", "ś3cret"])
async def test_wrong_or_missing_secret_is_refused(
    tg: FakeTelegram,
    intake: RecordingIntake,
    served: tuple[TelegramChannel, str],
    secret: str | None,
):
    _, url = served
    update = tg.text(ANN.id, ANN, "sneaky")
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with (
        ClientSession() as session,
        session.post(url, data=body_of(tg, update), headers=headers) as r,
    ):
        assert r.status == 403
    assert await post(url, body_of(tg, tg.text(ANN.id, ANN, "legit"))) == 200
    await intake.wait_for(lambda: len(intake.messages) == 1)
    assert [m.text for m in intake.messages] == ["legit"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": "text"}',
        b"\xff\xfe",
        b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}',
    ],
)
async def test_malformed_or_oversized_bodies_are_refused(
    tg: FakeTelegram, intake: RecordingIntake, served: tuple[TelegramChannel, str], body: bytes
):
    _, url = served
    assert await post(url, body) == 400
    assert await post(url, body_of(tg, tg.text(ANN.id, ANN, "fine"))) == 200
    await intake.wait_for(lambda: len(intake.messages) == 1)
    assert [m.text for m in intake.messages] == ["fine"]


async def test_after_stop_telegram_is_told_to_retry_later(
    tg: FakeTelegram, intake: RecordingIntake, served: tuple[TelegramChannel, str]
):
    channel, url = served
    await channel.stop()
    assert await post(url, body_of(tg, tg.text(ANN.id, ANN, "late"))) == 503
    assert intake.messages == []
    assert tg.calls_to("deleteWebhook") == []  # Telegram keeps the updates for the next start
