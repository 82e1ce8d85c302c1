"""Many bots, many apps: two Telegram bots on two backends, chat routes, named webhook paths."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.errors import ConfigError
from tests.fakes.chatbase import FakeChatbase
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Events,
    FakeSlack,
    json_body,
    signed_headers,
)
from tests.fakes.telegram import FakeTelegram, TgUser, eventually

ANN = TgUser(id=111, first_name="Ann", language_code="en")
SALES_TOKEN = "777:SALES-token-abcdefghijklmnop"


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as fake:
        yield fake


@pytest.fixture
async def chatbase() -> AsyncIterator[FakeChatbase]:
    async with FakeChatbase() as fake:
        yield fake


def base_env(clickai: FakeClickAI, chatbase: FakeChatbase, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_BACKENDS__SUPPORT__KIND": "chatbase",
        "BRIDGE_BACKENDS__SUPPORT__BASE_URL": chatbase.base_url,
        "BRIDGE_BACKENDS__SUPPORT__API_KEY": chatbase.key,
        "BRIDGE_BACKENDS__SUPPORT__AGENT_ID": chatbase.agent_id,
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
    }


async def settle(app: BridgeApp, *fakes: FakeTelegram) -> None:
    assert app.relay is not None
    await eventually(lambda: not any(f.updates for f in fakes), within_s=20)
    for _ in range(2):
        for channel in app.channels:
            await channel.idle()  # type: ignore[attr-defined]
        await asyncio.wait_for(app.relay.wait_idle(), 30)


async def test_two_telegram_bots_answer_from_their_own_backends(
    clickai: FakeClickAI, chatbase: FakeChatbase, tmp_path: Path
) -> None:
    async with FakeTelegram() as main_bot, FakeTelegram(token=SALES_TOKEN) as sales_bot:
        bots = [{"name": "sales", "token": SALES_TOKEN, "backend": "support"}]
        env = {
            **base_env(clickai, chatbase, tmp_path / "b.db"),
            "BRIDGE_TELEGRAM__ENABLED": "true",
            "BRIDGE_TELEGRAM__TOKEN": main_bot.token,
            "BRIDGE_TELEGRAM__API_BASE_URL": main_bot.url,
            "BRIDGE_TELEGRAM__BOTS": json.dumps(
                [{**b, "api_base_url": sales_bot.url, "edit_interval_s": 0.2} for b in bots]
            ),
        }
        app = BridgeApp(load_settings(None, env))
        await app.start()
        try:
            assert [c.name for c in app.channels] == ["telegram", "telegram.sales"]
            main_bot.push(main_bot.text(ANN.id, ANN, "hello main"))
            sales_bot.push(sales_bot.text(ANN.id, ANN, "hello sales"))
            await settle(app, main_bot, sales_bot)
            sales_bot.push(sales_bot.text(ANN.id, ANN, "again sales"))
            await settle(app, main_bot, sales_bot)
        finally:
            await app.stop()
        assert main_bot.chat(ANN.id).texts() == ["You said: hello main"]
        assert sales_bot.chat(ANN.id).texts() == ["You said: hello sales", "You said: again sales"]
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == f"telegram:{ANN.id}"
        first, second = chatbase.calls("/chat")
        assert first.json["userId"] == f"telegram.sales.{ANN.id}"
        assert second.json["conversationId"] == next(iter(chatbase.conversations))
        [answer] = sales_bot.chat(ANN.id).bot_messages()[:1]
        assert answer.buttons() == ["👍", "👎"]  # Chatbase takes feedback
        turns = "bridge_backend_turns_total"
        sample = app.metrics.registry.get_sample_value
        sales = {"bot": "telegram.sales", "backend": "support", "outcome": "answered"}
        main = {"bot": "telegram", "backend": "clickai", "outcome": "answered"}
        assert (sample(turns, sales), sample(turns, main)) == (2.0, 1.0)


async def test_a_chat_route_sends_one_chat_to_another_backend(
    clickai: FakeClickAI, chatbase: FakeChatbase, tmp_path: Path
) -> None:
    other = TgUser(id=222, first_name="Bình", language_code="vi")
    async with FakeTelegram() as tg:
        env = {
            **base_env(clickai, chatbase, tmp_path / "b.db"),
            "BRIDGE_TELEGRAM__ENABLED": "true",
            "BRIDGE_TELEGRAM__TOKEN": tg.token,
            "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
            "BRIDGE_TELEGRAM__ROUTES": json.dumps({str(other.id): "support"}),
        }
        app = BridgeApp(load_settings(None, env))
        await app.start()
        try:
            tg.push(tg.text(ANN.id, ANN, "to clickai"))
            tg.push(tg.text(other.id, other, "to chatbase"))
            await settle(app, tg)
        finally:
            await app.stop()
    assert [c.json["query"] for c in clickai.calls("chat-messages")] == ["to clickai"]
    assert [c.json["message"] for c in chatbase.calls("/chat")] == ["to chatbase"]


async def test_a_named_bot_takes_its_webhook_at_its_own_path(
    clickai: FakeClickAI, chatbase: FakeChatbase, tmp_path: Path
) -> None:
    async with FakeTelegram(token=SALES_TOKEN) as sales_bot:
        bot = {
            "name": "sales",
            "token": SALES_TOKEN,
            "backend": "support",
            "api_base_url": sales_bot.url,
            "mode": "webhook",
            "webhook_url": "https://bridge.example/telegram/sales/webhook",
            "webhook_secret": "sales-Secret_1",
        }
        env = {
            **base_env(clickai, chatbase, tmp_path / "b.db"),
            "BRIDGE_TELEGRAM__BOTS": json.dumps([bot]),
        }
        app = BridgeApp(load_settings(None, env))
        await app.start()
        try:
            assert app.server is not None
            assert sales_bot.webhook_url == bot["webhook_url"]
            local = f"http://127.0.0.1:{app.server.bound_port}"
            wrong = await sales_bot.post_webhook(
                sales_bot.text(ANN.id, ANN, "x"), url=f"{local}/telegram/webhook"
            )
            status = await sales_bot.post_webhook(
                sales_bot.text(ANN.id, ANN, "via hook"), url=f"{local}/telegram/sales/webhook"
            )
            assert app.relay is not None
            await asyncio.wait_for(app.relay.wait_idle(), 20)
            await eventually(lambda: sales_bot.chat(ANN.id).texts() == ["You said: via hook"])
        finally:
            await app.stop()
        assert wrong == 404 and status == 200
        assert [c.json["message"] for c in chatbase.calls("/chat")] == ["via hook"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BRIDGE_TELEGRAM__BACKEND": "nope"}, "telegram.backend: no [backends.nope]"),
        ({"BRIDGE_BACKENDS__X__KIND": "chatbase", "BRIDGE_BACKENDS__X__API_KEY": "k"}, "agent_id"),
        (
            {"BRIDGE_TELEGRAM__BOTS": '[{"name": "a", "token": "1:x", "colour": "red"}]'},
            "a: unknown key colour",
        ),
        (
            {"BRIDGE_TELEGRAM__BOTS": json.dumps([{"name": "a", "token": t} for t in "xy"])},
            "two entries share a name",
        ),
        ({"BRIDGE_SLACK__ROUTES": '{"C1": "ghost"}'}, "slack.routes.C1: no [backends.ghost]"),
    ],
)
def test_bad_bot_and_backend_config_names_the_key(env: dict[str, str], message: str) -> None:
    base = {"BRIDGE_CLICKAI__API_KEY": "k"}
    with pytest.raises(ConfigError) as info:
        load_settings(None, {**base, **env})
    assert message in str(info.value)


def test_clickai_is_optional_when_no_bot_uses_it() -> None:
    env = {
        "BRIDGE_BACKENDS__SUPPORT__KIND": "chatbase",
        "BRIDGE_BACKENDS__SUPPORT__API_KEY": "k",
        "BRIDGE_BACKENDS__SUPPORT__AGENT_ID": "a",
        "BRIDGE_TELEGRAM__BACKEND": "support",
        "BRIDGE_SLACK__BACKEND": "support",
    }
    settings = load_settings(None, env)
    assert settings.clickai is None
    with pytest.raises(ConfigError) as info:
        load_settings(None, {k: v for k, v in env.items() if "SLACK" not in k})
    assert "clickai.api_key" in str(info.value)


async def test_a_second_slack_app_takes_events_at_its_own_path(
    clickai: FakeClickAI, chatbase: FakeChatbase, tmp_path: Path
) -> None:
    slack = FakeSlack()
    await slack.start()
    app_entry = {
        "name": "sales",
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "backend": "support",
        "mode": "http",
        "api_base_url": slack.api_url,
    }
    env = {
        **base_env(clickai, chatbase, tmp_path / "b.db"),
        "BRIDGE_SLACK__APPS": json.dumps([app_entry]),
    }
    app = BridgeApp(load_settings(None, env))
    await app.start()
    events = Events()
    try:
        assert app.server is not None
        assert [c.name for c in app.channels] == ["slack.sales"]
        url = f"http://127.0.0.1:{app.server.bound_port}/slack/sales/events"
        mention = events.mention("hello sales")
        body = json_body(events.envelope(mention))
        async with (
            ClientSession() as http,
            http.post(url, data=body, headers=signed_headers(body)) as resp,
        ):
            assert resp.status == 200
        await eventually(lambda: bool(slack.thread("C1", mention["ts"])), within_s=10)
        assert app.relay is not None
        await asyncio.wait_for(app.relay.wait_idle(), 20)
    finally:
        await app.stop()
        await slack.close()
    assert [m.body for m in slack.thread("C1", mention["ts"])] == ["You said: hello sales"]
    [call] = chatbase.calls("/chat")
    assert call.json["userId"] == f"slack.sales.C1.t.{mention['ts']}"
    assert clickai.calls("chat-messages") == []
