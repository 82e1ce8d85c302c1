"""A recording core and a running SlackChannel behind the bridge's HttpServer, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession
from prometheus_client import CollectorRegistry

from bridge.config import BridgeConfig, SlackConfig
from bridge.model import (
    FeedbackOutcome,
    InboundMessage,
    IntakeResult,
    Opening,
    Rating,
    ReplyRef,
    ThreadKey,
)
from bridge.server import HttpServer
from channels.slack import SlackChannel
from tests.fakes.slack.events import Events, form_body, json_body, signed_headers
from tests.fakes.slack.model import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
)
from tests.fakes.slack.server import FakeSlack


class RecordingIntake:
    """Plays the relay's ``Intake`` role: records submits (deduping by event_id) and feedback."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.accepted: list[InboundMessage] = []
        self.feedback_calls: list[tuple[ReplyRef, Rating, bool]] = []
        self.known_replies: set[tuple[str, str]] = set()
        self.feedback_ok = True
        self.opening_value = Opening()
        self.stops: list[ThreadKey] = []
        self.running: set[str] = set()
        """Scopes whose turn counts as running for ``stop_turn``."""
        self.refusals: list[tuple[str, str]] = []
        self.result = IntakeResult.CLAIMED
        self.conversations: set[str] = set()
        """Scopes the store would know (``has_conversation``)."""
        """Set to REFUSED / FAILED to play a core that cannot claim messages."""

    async def submit(self, msg: InboundMessage) -> IntakeResult:
        self.messages.append(msg)
        if self.result is not IntakeResult.CLAIMED:
            return self.result
        if any(m.event_id == msg.event_id for m in self.accepted):
            return IntakeResult.DUPLICATE
        self.accepted.append(msg)
        return IntakeResult.CLAIMED

    async def feedback(
        self, ref: ReplyRef, rating: Rating, *, toggle: bool, by: str = ""
    ) -> FeedbackOutcome:
        self.feedback_calls.append((ref, rating, toggle))
        found = (ref.chat_id, ref.message_id) in self.known_replies
        return FeedbackOutcome(found=found, rating=rating if found else None, ok=self.feedback_ok)

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        return None

    async def has_conversation(self, key: Any) -> bool:
        return key.scope in self.conversations

    async def opening(self) -> Opening:
        return self.opening_value

    async def stop_turn(self, key: ThreadKey) -> bool:
        self.stops.append(key)
        return key.scope in self.running

    def refused(self, channel: str, reason: str) -> None:
        self.refusals.append((channel, reason))


def slack_config(fake: FakeSlack, **overrides: Any) -> SlackConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "mode": "http",
        "api_base_url": fake.api_url,
    }
    values.update(overrides)
    return SlackConfig(**values)


@dataclass
class Harness:
    """A started SlackChannel in HTTP mode behind the bridge's HttpServer, on a FakeSlack."""

    fake: FakeSlack
    channel: SlackChannel
    intake: RecordingIntake
    server: HttpServer
    session: ClientSession
    events: Events

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.bound_port}/slack/events"

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(self.endpoint, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def send(
        self, event: dict[str, Any], *, event_id: str = "", retry_num: int | None = None
    ) -> int:
        """POST a signed event envelope; returns the status once the handlers have run."""
        body = json_body(self.events.envelope(event, event_id=event_id))
        status, _ = await self.post(body, signed_headers(body, retry_num=retry_num))
        await self.channel.idle()
        return status

    async def click(self, payload: dict[str, Any]) -> int:
        body = form_body(payload)
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        status, _ = await self.post(body, headers)
        await self.channel.idle()
        return status


@asynccontextmanager
async def running_slack(
    *,
    start: bool = True,
    bridge: BridgeConfig | None = None,
    options: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """A FakeSlack plus a SlackChannel (``overrides`` go to SlackConfig, ``options`` to the
    channel's keyword-only constructor arguments) behind the bridge's HttpServer."""
    fake = FakeSlack()
    await fake.start()
    channel = SlackChannel(
        slack_config(fake, **overrides), bridge or BridgeConfig(), **(options or {})
    )
    server = HttpServer(
        host="127.0.0.1", port=0, registry=CollectorRegistry(), routes=channel.http_routes()
    )
    await server.start()
    intake = RecordingIntake()
    session = ClientSession()
    try:
        if start:
            await channel.start(intake)
        yield Harness(fake, channel, intake, server, session, Events())
    finally:
        await session.close()
        await channel.stop()
        await channel.close()
        await server.stop()
        await fake.close()
