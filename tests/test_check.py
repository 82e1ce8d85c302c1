"""``clickai-bridge check`` against the fakes: one line per check, every set-up mistake caught."""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.check import check, listen_problem, webhook_problem
from bridge.config import Settings, load_settings
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.test_store_backends import Backend


@pytest.fixture
async def ai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(app_name="Support Bot") as fake:
        yield fake


def settings_for(ai: FakeClickAI, tmp_path: Path, **env: str) -> Settings:
    base = {
        "BRIDGE_CONFIG": str(tmp_path / "absent.toml"),
        "BRIDGE_CLICKAI__BASE_URL": ai.base_url,
        "BRIDGE_CLICKAI__API_KEY": ai.key,
        "BRIDGE_STORE__URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "BRIDGE_SERVER__LISTEN": f"127.0.0.1:{free_port()}",
    }
    return load_settings(environ=base | env)


def telegram_env(tg: FakeTelegram) -> dict[str, str]:
    return {
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": TOKEN,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_check(settings: Settings) -> tuple[bool, list[str]]:
    lines: list[str] = []
    ok = await check(settings, lines.append)
    return ok, lines


async def test_all_good_is_one_ok_line_per_check_naming_the_app(
    ai: FakeClickAI, tg: FakeTelegram, tmp_path: Path
) -> None:
    ok, lines = await run_check(settings_for(ai, tmp_path, **telegram_env(tg)))
    assert ok, lines
    assert [line.split(":")[0] for line in lines] == [
        "config",
        "channels",
        "store",
        "server",
        "clickai",
        "telegram",
    ]
    assert all(": ok" in line for line in lines)
    clickai = next(line for line in lines if line.startswith("clickai"))
    assert "'Support Bot'" in clickai and "mode chat" in clickai
    assert "@ClickAITestBot" in next(line for line in lines if line.startswith("telegram"))
    assert not (tmp_path / "bridge.db").exists()  # check creates and migrates nothing


async def test_no_channel_enabled_fails(ai: FakeClickAI, tmp_path: Path) -> None:
    ok, lines = await run_check(settings_for(ai, tmp_path))
    assert not ok
    assert "channels: FAIL: none enabled; set telegram.enabled or slack.enabled to true" in lines
    assert "clickai: ok" in "\n".join(lines)


async def test_a_busy_listen_address_fails(
    ai: FakeClickAI, tg: FakeTelegram, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = settings_for(
            ai, tmp_path, BRIDGE_SERVER__LISTEN=f"127.0.0.1:{port}", **telegram_env(tg)
        )
        ok, lines = await run_check(settings)
    assert not ok
    assert f"server: FAIL: cannot listen on 127.0.0.1:{port}: the port is in use" in "\n".join(
        lines
    )
    assert listen_problem("192.0.2.1", 8080).endswith("is not an address of this machine")


async def test_store_schema_is_reported_and_a_newer_one_fails(
    ai: FakeClickAI, tg: FakeTelegram, tmp_path: Path, be: Backend
) -> None:
    store = be.make()
    await store.open()
    await store.close()
    engine = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[be.kind]
    where = (
        {"BRIDGE_STORE__URL": f"sqlite:///{be.path}"}
        if be.kind == "sqlite"
        else {"BRIDGE_STORE__URL": be.pg_url, "BRIDGE_STORE__SCHEMA": be.schema}
    )
    settings = settings_for(ai, tmp_path, **where, **telegram_env(tg))
    ok, lines = await run_check(settings)
    assert ok, lines
    current = f"schema v{len(be.migrations)}, current"
    assert any(line.startswith(f"store: ok ({engine}") and current in line for line in lines)

    await be.set_version(999)
    ok, lines = await run_check(settings)
    assert not ok
    assert any(line.startswith("store: FAIL:") and "version 999" in line for line in lines), lines


async def test_a_missing_postgres_driver_is_named(
    ai: FakeClickAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if the extra were not installed
    url = "postgresql://bridge@127.0.0.1:5432/bridge"
    ok, lines = await run_check(settings_for(ai, tmp_path, BRIDGE_STORE__URL=url))
    assert not ok
    assert (
        "store: FAIL: the PostgreSQL store needs asyncpg: pip install 'clickai-bridge[postgres]'"
        in lines
    )


async def test_a_store_path_that_cannot_be_created_fails(ai: FakeClickAI, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data directory should be")
    url = f"sqlite:///{tmp_path / 'data' / 'bridge.db'}"
    ok, lines = await run_check(settings_for(ai, tmp_path, BRIDGE_STORE__URL=url))
    assert not ok
    assert any(
        line.startswith("store: FAIL: cannot create SQLite store") and "not a directory" in line
        for line in lines
    ), lines


async def test_a_postgres_url_without_a_server_fails_on_the_store_line(
    ai: FakeClickAI, tg: FakeTelegram, tmp_path: Path
) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    ok, lines = await run_check(
        settings_for(ai, tmp_path, BRIDGE_STORE__URL=url, **telegram_env(tg))
    )
    assert not ok
    store = next(line for line in lines if line.startswith("store"))
    assert store.startswith("store: FAIL: cannot connect to the PostgreSQL store"), store


async def test_app_mode_and_required_inputs_that_do_not_fit_the_app_fail(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    form = [{"text-input": {"variable": "company", "label": "Company", "required": True}}]
    async with FakeClickAI(mode="workflow", user_input_form=form) as ai:
        settings = settings_for(ai, tmp_path, BRIDGE_CLICKAI__APP_MODE="chat", **telegram_env(tg))
        ok, lines = await run_check(settings)
    assert not ok
    line = next(x for x in lines if x.startswith("clickai"))
    assert "clickai.app_mode is 'chat' but the app is 'workflow'" in line
    assert "requires inputs company" in line


def test_webhook_urls_telegram_would_refuse() -> None:
    assert webhook_problem("https://bot.example.com/telegram/webhook") == ""
    assert webhook_problem("https://bot.example.com:8443/telegram/webhook") == ""
    assert "https://" in webhook_problem("http://bot.example.com/telegram/webhook")
    assert "443, 80, 88, 8443, not 8080" in webhook_problem("https://bot.example.com:8080/hook")


async def test_a_self_hosted_bot_api_accepts_any_webhook_port(
    ai: FakeClickAI, tg: FakeTelegram, tmp_path: Path
) -> None:
    env = telegram_env(tg) | {
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "http://bridge.internal:8080/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": "s3cret-value",
    }
    ok, lines = await run_check(settings_for(ai, tmp_path, **env))
    assert ok, lines
    assert "telegram: ok (@ClickAITestBot, webhook http://bridge.internal:8080" in "\n".join(lines)


async def test_slack_socket_mode_checks_the_app_token_before_saying_ok(
    ai: FakeClickAI, tmp_path: Path
) -> None:
    slack = FakeSlack()
    await slack.start()
    try:
        env = {
            "BRIDGE_SLACK__ENABLED": "true",
            "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
            "BRIDGE_SLACK__APP_TOKEN": "xapp-wrong",
            "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        }
        ok, lines = await run_check(settings_for(ai, tmp_path, **env))
        assert not ok
        slack_lines = [line for line in lines if line.startswith("slack")]
        assert slack_lines == ["slack: FAIL: app token (slack.app_token) refused: invalid_auth"]

        env["BRIDGE_SLACK__APP_TOKEN"] = APP_TOKEN
        ok, lines = await run_check(settings_for(ai, tmp_path, **env))
        assert ok, lines
        assert "slack: ok (team Fake, bot clickai, socket mode)" in lines
    finally:
        await slack.close()
