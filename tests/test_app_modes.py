"""App modes through the composition root: auto detection, completion, workflow, agent, inputs."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bridge.app import BridgeApp, required_inputs
from bridge.config import Settings, load_settings
from bridge.errors import BridgeError
from bridge.store import SqliteStore
from bridge.store.base import EventRow
from tests.fakes.channel import FakeChannel
from tests.fakes.clickai import AppMode, FakeClickAI, HttpFailure
from tests.test_cli import cli


def settings_for(fake: FakeClickAI, tmp_path: Path, **env: str) -> Settings:
    base = {
        "BRIDGE_CLICKAI__BASE_URL": fake.base_url,
        "BRIDGE_CLICKAI__API_KEY": fake.key,
        "BRIDGE_STORE__URL": f"sqlite:///{tmp_path / 'b.db'}",
        "BRIDGE_CLICKAI__STUDIO_BASE_URL": fake.studio_base_url,
    }
    base.update(env)
    return load_settings(None, base)


async def ask(
    fake: FakeClickAI, tmp_path: Path, text: str, **env: str
) -> tuple[BridgeApp, FakeChannel]:
    channel = FakeChannel()
    app = BridgeApp(settings_for(fake, tmp_path, **env), channels=[channel], serve_http=False)
    await app.start()
    assert app.relay is not None
    await app.relay.submit(channel.message(text))
    await asyncio.wait_for(app.relay.wait_idle(), 10)
    await app.stop()
    return app, channel


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("chat", "chat-messages"),
        ("agent-chat", "chat-messages"),
        ("advanced-chat", "chat-messages"),
        ("completion", "completion-messages"),
        ("workflow", "workflows/run"),
    ],
)
async def test_auto_mode_uses_the_right_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: AppMode, path: str
) -> None:
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI(mode=mode) as fake:
        app, channel = await ask(fake, tmp_path, "summarise this")
        assert app.app_mode == mode
        calls = fake.calls(path)
        assert len(calls) == 1
        body = calls[0].json
        assert body["response_mode"] == "streaming"
        if mode in ("completion", "workflow"):
            assert body["inputs"]["query"] == "summarise this"
        assert "summarise this" in channel.chat("42")[0].text
        assert len(fake.calls("/info")) == 1


async def test_agent_apps_stream_even_when_blocking_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI(mode="agent-chat") as fake:
        _, channel = await ask(fake, tmp_path, "hi", BRIDGE_CLICKAI__RESPONSE_MODE="blocking")
        assert fake.calls("chat-messages")[0].json["response_mode"] == "streaming"
        assert channel.chat("42")[0].text == "You said: hi"


async def test_blocking_mode_for_chat_apps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI(mode="chat") as fake:
        _, channel = await ask(fake, tmp_path, "hi", BRIDGE_CLICKAI__RESPONSE_MODE="blocking")
        assert fake.calls("chat-messages")[0].json["response_mode"] == "blocking"
        assert channel.chat("42")[0].text == "You said: hi"


async def test_required_inputs_from_config_are_sent_every_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    form = [{"text-input": {"variable": "company", "label": "Company", "required": True}}]
    async with FakeClickAI(user_input_form=form) as fake:
        env = {"BRIDGE_CLICKAI__INPUTS": '{"company": "ACME"}', "BRIDGE_CLICKAI__APP_MODE": "chat"}
        channel = FakeChannel()
        app = BridgeApp(settings_for(fake, tmp_path, **env), channels=[channel], serve_http=False)
        await app.start()
        assert app.relay is not None
        for text in ("one", "two"):
            await app.relay.submit(channel.message(text))
            await asyncio.wait_for(app.relay.wait_idle(), 10)
        await app.stop()
        bodies = [c.json for c in fake.calls("chat-messages")]
        assert [b["inputs"] for b in bodies] == [{"company": "ACME"}, {"company": "ACME"}]
        assert fake.calls("/info") == []  # app_mode given: no lookup
        assert required_inputs({"user_input_form": form}) == ["company"]


async def test_a_refused_key_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI() as fake:
        settings = settings_for(fake, tmp_path, BRIDGE_CLICKAI__API_KEY="app-nope")
        app = BridgeApp(settings, channels=[FakeChannel()], serve_http=False)
        with pytest.raises(BridgeError, match="refused"):
            await app.start()
        assert app.store is None  # everything undone


def studio_env(fake: FakeClickAI) -> dict[str, str]:
    """The environment of ``apps``: an API key and the Studio credentials of ``fake``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        {
            "BRIDGE_CLICKAI__API_KEY": fake.key,
            "BRIDGE_CLICKAI__STUDIO_BASE_URL": fake.studio_base_url,
            "BRIDGE_CLICKAI__STUDIO_TOKEN": fake.studio_token,
            "BRIDGE_CLICKAI__WORKSPACE_ID": fake.workspace_id,
        }
    )
    return env


async def test_apps_lists_assistants(tmp_path: Path) -> None:
    async with FakeClickAI(mode="workflow", extra_apps={"app-2": "chat"}) as fake:
        env = studio_env(fake)
        code, out, err = await cli("apps", env=env, cwd=tmp_path)
        assert code == 0, err
        lines = out.strip().splitlines()
        assert len(lines) == 2
        assert {line.split("\t")[1] for line in lines} == {"workflow", "chat"}
        assert fake.calls("my-assistants")[0].query["workspace_id"] == fake.workspace_id

        env["BRIDGE_CLICKAI__STUDIO_TOKEN"] = "wrong"
        code, out, _ = await cli("apps", env=env, cwd=tmp_path)
        assert code == 1
        assert "FAIL" in out


async def test_start_prunes_old_answered_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI() as fake:
        settings = settings_for(fake, tmp_path, BRIDGE_CLICKAI__APP_MODE="chat")
        store = SqliteStore(tmp_path / "b.db")
        await store.open()
        old = time.time() - 80 * 3600
        for event_id, created in (("fake:old", old), ("fake:recent", time.time())):
            row = EventRow(
                event_id=event_id,
                channel="fake",
                scope="fake:1",
                chat_id="1",
                thread="",
                language="en",
                status="accepted",
                created_at=created,
            )
            assert await store.claim_event(row)
            await store.finish_event(event_id)
        await store.close()
        app = BridgeApp(settings, channels=[FakeChannel()], serve_http=False)
        await app.start()
        await asyncio.sleep(0.05)
        assert app.relay is not None
        again = EventRow(
            event_id="fake:old",
            channel="fake",
            scope="fake:1",
            chat_id="1",
            thread="",
            language="en",
            status="accepted",
            created_at=time.time(),
        )
        recent = EventRow(
            event_id="fake:recent",
            channel="fake",
            scope="fake:1",
            chat_id="1",
            thread="",
            language="en",
            status="accepted",
            created_at=time.time(),
        )
        assert app.store is not None
        fake_bot = app.store.scoped(app.namespaces["fake"])  # its rows adopted at start
        assert await fake_bot.claim_event(again)  # forgotten after 72 h
        assert not await fake_bot.claim_event(recent)  # still remembered: no double answer
        await app.stop()


async def test_an_app_mode_unknown_at_start_up_is_detected_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow app that was down at start-up is not taken for a chat app forever."""
    monkeypatch.chdir(tmp_path)
    async with FakeClickAI(mode="workflow") as fake:
        fake.fail_next(HttpFailure(status=502, path="/info"), times=4)  # start-up + retries
        channel = FakeChannel()
        app = BridgeApp(settings_for(fake, tmp_path), channels=[channel], serve_http=False)
        await app.start()
        assert app.relay is not None
        assert len(fake.calls("/info")) == 4
        for text in ("first", "second"):
            await app.relay.submit(channel.message(text))
            await asyncio.wait_for(app.relay.wait_idle(), 10)
        await app.stop()
        assert len(fake.calls("/info")) == 5  # asked again on first use, then never
        assert fake.calls("chat-messages") == []
        queries = [c.json["inputs"]["query"] for c in fake.calls("workflows/run")]
        assert queries == ["first", "second"]
        assert [m.text for m in channel.chat("42")] == ["You said: first", "You said: second"]


async def test_apps_against_a_server_without_studio_says_so_in_one_line(tmp_path: Path) -> None:
    async with FakeClickAI(studio=False) as fake:
        code, out, err = await cli("apps", env=studio_env(fake), cwd=tmp_path)
    assert code == 1
    [line] = (out + err).strip().splitlines()
    assert line.startswith("apps: FAIL: no Studio API at") and "<" not in line
