"""Rigs for the fault-injection suites: the relay with a fault-injecting HTTP transport, and the
real BridgeApp with the real Telegram / Slack channels against the fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import ClientSession

from bridge.app import BridgeApp
from bridge.backends.clickai import ClickAIBackend
from bridge.clickai import ClickAIClient
from bridge.config import Settings, load_settings
from bridge.metrics import Metrics
from bridge.model import Channel
from bridge.pacing import Pacer
from bridge.relay import Relay, RelayLimits
from bridge.store import SqliteStore
from bridge.store.base import EventRow
from bridge.turn import TurnOptions, TurnRunner
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from tests.fakes.channel import FakeChannel
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    Events,
    FakeSlack,
    form_body,
    json_body,
    signed_headers,
)
from tests.fakes.telegram import FakeTelegram, eventually

# --- ClickAI transport faults -------------------------------------------------------------------


@dataclass
class FaultyTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that raises a transport error for armed requests.

    Faults are matched by path suffix and taken once each; everything else goes to the network.
    """

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    armed: list[tuple[str, Callable[[httpx.Request], Exception]]] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)

    def arm(self, path: str, make: Callable[[httpx.Request], Exception]) -> None:
        self.armed.append((path, make))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for i, (path, make) in enumerate(self.armed):
            if request.url.path.endswith(path):
                del self.armed[i]
                self.injected.append(request.url.path)
                raise make(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def connect_timeout(request: httpx.Request) -> Exception:
    return httpx.ConnectTimeout("timed out connecting", request=request)


def connection_reset(request: httpx.Request) -> Exception:
    return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)


@dataclass
class Rig:
    fake: FakeClickAI
    channel: FakeChannel
    relay: Relay
    store: SqliteStore
    client: ClickAIClient
    pacer: Pacer

    async def settle(self) -> None:
        await asyncio.wait_for(self.relay.wait_idle(), 20)

    async def close(self) -> None:
        await self.relay.drain(5)
        await self.pacer.stop()
        await self.client.aclose()
        await self.store.close()


async def make_rig(
    fake: FakeClickAI,
    db: Path,
    *,
    limits: RelayLimits | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    idle_timeout_s: float = 5.0,
    read_timeout_s: float = 5.0,
    connect_timeout_s: float = 2.0,
    max_retries: int = 0,
) -> Rig:
    store = SqliteStore(db)
    await store.open()
    client = ClickAIClient(
        base_url=fake.base_url,
        api_key=fake.key,
        transport=transport,
        idle_timeout_s=idle_timeout_s,
        read_timeout_s=read_timeout_s,
        connect_timeout_s=connect_timeout_s,
        max_retries=max_retries,
    )
    channel = FakeChannel()
    pacer = Pacer(channel.pace_budget, name="fake")
    runner = TurnRunner(store=store, options=TurnOptions())
    relay = Relay(
        store=store,
        backends=ClickAIBackend(client),
        runner=runner,
        channels={"fake": channel},
        pacers={"fake": pacer},
        metrics=Metrics(),
        limits=limits or RelayLimits(user_messages_per_minute=0, chat_messages_per_minute=0),
    )
    await channel.start(relay)
    return Rig(fake, channel, relay, store, client, pacer)


# --- the real BridgeApp --------------------------------------------------------------------------


def base_env(clickai: FakeClickAI, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "100000",
        "BRIDGE_CLICKAI__MAX_RETRIES": "0",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
    }


def telegram_env(tg: FakeTelegram) -> dict[str, str]:
    return {
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": tg.token,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "0.2",
        "BRIDGE_TELEGRAM__GROUP_EDIT_INTERVAL_S": "0.5",
    }


def slack_env(slack: FakeSlack) -> dict[str, str]:
    return {
        "BRIDGE_SLACK__ENABLED": "true",
        "BRIDGE_SLACK__MODE": "http",
        "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
        "BRIDGE_SLACK__APP_TOKEN": APP_TOKEN,
        "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        "BRIDGE_SLACK__UPDATE_INTERVAL_S": "0.2",
        "BRIDGE_SLACK__UPDATES_PER_MINUTE": "1200",
    }


@dataclass
class Bridge:
    """A running BridgeApp and the fakes it talks to (``tg`` / ``slack`` when enabled)."""

    app: BridgeApp
    clickai: FakeClickAI
    session: ClientSession
    tg: FakeTelegram | None = None
    slack: FakeSlack | None = None
    events: Events = field(default_factory=Events)

    @property
    def relay(self) -> Relay:
        assert self.app.relay is not None
        return self.app.relay

    def inject_clickai_transport(self) -> FaultyTransport:
        """Put a fault-injecting transport under the app's ClickAI client (in front of the real
        one, so un-armed requests still reach the fake over the network)."""
        assert self.app.clickai is not None
        http = self.app.clickai._session._http
        faulty = FaultyTransport(inner=http._transport)
        http._transport = faulty
        return faulty

    async def app_store_pending(self) -> list[EventRow]:
        """Accepted events without a final outcome (must be none once settled)."""
        assert self.app.store is not None
        return await self.app.store.pending_events()

    def channel(self, name: str) -> Channel:
        return next(c for c in self.app.channels if c.name == name)

    @property
    def slack_url(self) -> str:
        assert self.app.server is not None
        return f"http://127.0.0.1:{self.app.server.bound_port}/slack/events"

    async def settle(self) -> None:
        """Wait until every delivered update was handled and every turn finished."""
        if self.tg is not None:
            tg = self.tg
            await eventually(lambda: not tg.updates, within_s=20)
        for _ in range(3):
            for channel in self.app.channels:
                if isinstance(channel, TelegramChannel | SlackChannel):
                    await channel.idle()
            await asyncio.wait_for(self.relay.wait_idle(), 30)

    async def slack_post(self, event: dict[str, Any], *, event_id: str = "") -> int:
        body = json_body(self.events.envelope(event, event_id=event_id))
        async with self.session.post(
            self.slack_url, data=body, headers=signed_headers(body)
        ) as resp:
            return resp.status

    async def slack_click(self, payload: dict[str, Any]) -> int:
        body = form_body(payload)
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        async with self.session.post(self.slack_url, data=body, headers=headers) as resp:
            return resp.status


def settings_for(
    clickai: FakeClickAI,
    db: Path,
    *,
    tg: FakeTelegram | None = None,
    slack: FakeSlack | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    values = base_env(clickai, db)
    if tg is not None:
        values |= telegram_env(tg)
    if slack is not None:
        values |= slack_env(slack)
    return load_settings(None, values | dict(env or {}))


@asynccontextmanager
async def running(
    clickai: FakeClickAI,
    db: Path,
    *,
    tg: FakeTelegram | None = None,
    slack: FakeSlack | None = None,
    tg_request_timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Bridge]:
    """The real BridgeApp; ``tg_request_timeout_s`` builds the Telegram channel with a short
    Bot API read timeout (the composition root uses the adapter's default)."""
    settings = settings_for(clickai, db, tg=tg, slack=slack, env=env)
    channels: list[Channel] | None = None
    if tg_request_timeout_s is not None:
        channels = [
            TelegramChannel(
                settings.telegram, settings.bridge, request_timeout_s=tg_request_timeout_s
            )
        ]
        if slack is not None:
            channels.append(SlackChannel(settings.slack, settings.bridge))
    app = BridgeApp(settings, channels=channels)
    await app.start()
    session = ClientSession()
    try:
        yield Bridge(app, clickai, session, tg=tg, slack=slack)
    finally:
        await session.close()
        await app.stop()


async def wait_requests(clickai: FakeClickAI, suffix: str, count: int) -> None:
    """Wait until the fake ClickAI received ``count`` requests ending with ``suffix``."""
    await eventually(lambda: len(clickai.calls(suffix)) >= count, within_s=20)
