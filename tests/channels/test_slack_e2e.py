"""End to end: the real BridgeApp with the HTTP-mode Slack channel, FakeSlack and FakeClickAI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bridge.app import BridgeApp
from bridge.config import load_settings
from channels.slack import SlackChannel
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Events,
    FakeSlack,
    form_body,
    json_body,
    signed_headers,
)


@dataclass
class Bridge:
    app: BridgeApp
    slack: FakeSlack
    clickai: FakeClickAI
    session: ClientSession
    events: Events

    @property
    def channel(self) -> SlackChannel:
        [channel] = self.app.channels
        assert isinstance(channel, SlackChannel)
        return channel

    @property
    def url(self) -> str:
        assert self.app.server is not None
        return f"http://127.0.0.1:{self.app.server.bound_port}/slack/events"

    async def settle(self) -> None:
        """Wait until the Slack handlers and every accepted turn have finished."""
        assert self.app.relay is not None
        for _ in range(3):
            await self.channel.idle()
            await asyncio.wait_for(self.app.relay.wait_idle(), 20)

    async def send(
        self, event: dict[str, Any], *, event_id: str = "", retry: int | None = None
    ) -> int:
        status = await self.send_only(event, event_id=event_id, retry=retry)
        await self.settle()
        return status

    async def send_only(
        self, event: dict[str, Any], *, event_id: str = "", retry: int | None = None
    ) -> int:
        """POST the event; returns once it was acknowledged (not once it was answered)."""
        body = json_body(self.events.envelope(event, event_id=event_id))
        headers = signed_headers(body, retry_num=retry)
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            return resp.status

    async def click(self, payload: dict[str, Any]) -> int:
        body = form_body(payload)
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            status = resp.status
        await self.settle()
        return status


def settings_env(slack: FakeSlack, clickai: FakeClickAI, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_SLACK__ENABLED": "true",
        "BRIDGE_SLACK__MODE": "http",
        "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
        "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        "BRIDGE_SLACK__UPDATE_INTERVAL_S": "0.2",
    }


@asynccontextmanager
async def running_bridge(
    slack: FakeSlack, clickai: FakeClickAI, db: Path, **env: str
) -> AsyncIterator[Bridge]:
    settings = load_settings(None, {**settings_env(slack, clickai, db), **env})
    app = BridgeApp(settings)
    await app.start()
    session = ClientSession()
    try:
        yield Bridge(app, slack, clickai, session, Events())
    finally:
        await session.close()
        await app.stop()


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeClickAI]]:
    slack = FakeSlack()
    await slack.start()
    async with FakeClickAI(deltas=4) as clickai:
        yield slack, clickai
    await slack.close()


def scope(channel: str, thread: str) -> str:
    return f"slack:{channel}:t:{thread}"


async def test_a_mention_gets_a_streamed_answer_whose_buttons_and_reactions_rate_it(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    clickai.script(Reply(answer="Paris is the **capital** of France.", deltas=6))
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("capital of France?", user="U1")
        assert await b.send(mention) == 200
        [answer] = slack.thread("C1", mention["ts"])
        assert answer.body == "Paris is the **capital** of France."
        assert answer.feedback is not None
        assert slack.calls_to("chat.startStream")
        [chat] = clickai.calls("chat-messages")
        user = scope("C1", mention["ts"])
        assert chat.json["user"] == user
        assert chat.json["query"] == "capital of France?"

        await b.send(b.events.reaction("+1::skin-tone-3", ts=answer.ts))
        [message] = clickai.messages(user)
        assert message["feedback"]["rating"] == "like"

        click = b.events.feedback_click("dislike", message_ts=answer.ts, user="U1")
        assert await b.click(click) == 200
        assert clickai.messages(user)[0]["feedback"]["rating"] == "dislike"
        assert slack.ephemerals[-1]["text"].startswith("👎")

        await b.send(b.events.reaction("-1", ts=answer.ts, added=False))
        assert clickai.messages(user)[0]["feedback"] is None


async def test_a_retried_delivery_is_answered_exactly_once(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("only once")
        assert await b.send(mention, event_id="EvDup") == 200
        assert await b.send(mention, event_id="EvDup", retry=1) == 200
        assert await b.send(mention, event_id="EvDup", retry=2) == 200
        assert len(clickai.calls("chat-messages")) == 1
        assert [m.body for m in slack.thread("C1", mention["ts"])] == ["You said: only once"]


async def test_follow_ups_continue_the_thread_conversation(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("first")
        await b.send(mention)
        await b.send(b.events.message("second", thread_ts=mention["ts"]))
        first, second = clickai.calls("chat-messages")
        assert first.json["user"] == second.json["user"] == scope("C1", mention["ts"])
        assert second.json["conversation_id"] == clickai.conversations(first.json["user"])[0]["id"]
        bodies = [m.body for m in slack.thread("C1", mention["ts"])]
        assert bodies == ["You said: first", "You said: second"]


async def test_a_direct_message_is_answered(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        dm = b.events.dm("hello in private", channel="D42")
        assert await b.send(dm) == 200
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == "slack:D42"
        assert slack.thread_text("D42", dm["ts"]) == "You said: hello in private"


async def test_a_shared_file_reaches_clickai_with_the_conversations_user(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        shared = slack.add_file("notes.txt", b"meeting notes", "text/plain")
        mention = b.events.mention("summarise", files=[shared])
        await b.send(mention)
        user = scope("C1", mention["ts"])
        [upload] = clickai.uploads(user)
        assert upload["name"] == "notes.txt"
        [chat] = clickai.calls("chat-messages")
        assert chat.json["user"] == user
        assert [f["upload_file_id"] for f in chat.json["files"]] == [upload["id"]]
        assert slack.downloads == [(f"/files/{shared['id']}/notes.txt", True)]


async def test_feedback_still_works_after_a_restart(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    db = tmp_path / "b.db"
    async with running_bridge(slack, clickai, db) as b:
        mention = b.events.mention("remember me")
        await b.send(mention)
        [answer] = slack.thread("C1", mention["ts"])
    async with running_bridge(slack, clickai, db) as again:
        await again.send(again.events.reaction("thumbsup", ts=answer.ts))
        [message] = clickai.messages(scope("C1", mention["ts"]))
        assert message["feedback"]["rating"] == "like"


async def test_a_bad_signature_never_reaches_clickai(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        body = json_body(b.events.envelope(b.events.mention("sneaky")))
        headers = signed_headers(body, secret="not-the-secret")
        async with b.session.post(b.url, data=body, headers=headers) as resp:
            assert resp.status == 401
        await b.settle()
        assert clickai.calls("chat-messages") == []
