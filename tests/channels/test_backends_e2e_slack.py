"""Each seed backend through the real Slack channel (HTTP mode): the ClickAI scenarios again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.i18n import t
from tests.channels.backend_kits import KINDS, Kit, kit_for
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
    session: ClientSession
    events: Events = field(default_factory=Events)

    @property
    def url(self) -> str:
        assert self.app.server is not None
        return f"http://127.0.0.1:{self.app.server.bound_port}/slack/events"

    async def settle(self) -> None:
        assert self.app.relay is not None
        for _ in range(3):
            for channel in self.app.channels:
                await channel.idle()  # type: ignore[attr-defined]
            await asyncio.wait_for(self.app.relay.wait_idle(), 20)

    async def post(self, body: str, content_type: str = "application/json") -> int:
        headers = signed_headers(body, content_type=content_type)
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            status = resp.status
        await self.settle()
        return status

    async def send(self, event: dict[str, Any]) -> int:
        return await self.post(json_body(self.events.envelope(event)))

    async def click(self, payload: dict[str, Any]) -> int:
        return await self.post(form_body(payload), "application/x-www-form-urlencoded")


@asynccontextmanager
async def running(
    slack: FakeSlack, kit: Kit, db: Path, events: Events | None = None
) -> AsyncIterator[Bridge]:
    env = {
        **kit.env(),
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_SLACK__ENABLED": "true",
        "BRIDGE_SLACK__MODE": "http",
        "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
        "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        "BRIDGE_SLACK__UPDATE_INTERVAL_S": "0.2",
    }
    app = BridgeApp(load_settings(None, env))
    await app.start()
    session = ClientSession()
    try:
        yield Bridge(app, session, events or Events())
    finally:
        await session.close()
        await app.stop()


@pytest.fixture(params=KINDS)
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[Kit]:
    async with kit_for(request.param) as k:
        yield k


async def test_thread_answer_follow_up_restart_feedback_and_files(
    kit: Kit, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "b.db"
    events = Events()  # one sequence of message ts across the restart
    async with running(slack, kit, db, events) as b:
        mention = b.events.mention("hello")
        assert await b.send(mention) == 200
        await b.send(b.events.message("again", thread_ts=mention["ts"]))
    async with running(slack, kit, db, events) as b:
        # After a restart the channel no longer knows it is active in the thread: mention it.
        await b.send(b.events.mention("after restart", thread_ts=mention["ts"]))
        first = slack.thread("C1", mention["ts"])[0]
        if kit.feedback:
            assert first.feedback is not None
            click = b.events.feedback_click("like", message_ts=first.ts, user="U1")
            assert await b.click(click) == 200
            assert kit.ratings() == ["positive"]
        else:
            assert first.feedback is None
        shared = slack.add_file("notes.pdf", b"%PDF-1.7 notes", "application/pdf")
        await b.send(b.events.mention("read", thread_ts=mention["ts"], files=[shared]))
    bodies = [m.body.replace("**", "") for m in slack.thread("C1", mention["ts"])]
    assert bodies[:3] == [kit.answer(q) for q in ("hello", "again", "after restart")]
    sent = kit.conversation_sent()
    assert sent[1] is not None and sent[1] == sent[2]
    if kit.files:
        [upload] = kit.uploads()
        assert upload["filename"] == "notes.pdf"
        assert bodies[3].startswith(kit.answer("read"))
    else:
        assert bodies[3:] == [t("en", "files_unsupported")]  # a notice-only message
        assert len(sent) == 3


async def test_error_mid_answer_and_conversation_gone(
    kit: Kit, slack: FakeSlack, tmp_path: Path
) -> None:
    async with running(slack, kit, tmp_path / "b.db") as b:
        mention = b.events.mention("one")
        await b.send(mention)
        partial = kit.fail_mid_answer()
        await b.send(b.events.message("two", thread_ts=mention["ts"]))
        kit.lose_conversation()
        await b.send(b.events.message("three", thread_ts=mention["ts"]))
    thread = slack.thread("C1", mention["ts"])
    bodies = [m.body.replace("**", "") for m in thread]
    assert bodies[1] == partial and thread[1].notices == [t("en", "err_upstream")]
    assert bodies[2] == kit.answer("three")
    assert thread[2].notices == [t("en", "conversation_reset")]
    sent = kit.conversation_sent()
    assert sent[-1] != sent[1]
