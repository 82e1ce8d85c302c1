"""Bad secrets and config stop start-up with one line naming the key; never a traceback."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.config import load_settings
from tests.fakes.clickai import FakeClickAI
from tests.test_cli import cli, env_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("clickai-bridge:")]
    assert len(lines) == 1, err
    assert not any(" ERROR " in line or " CRITICAL " in line for line in err.splitlines()), err
    return lines[0]


def _webhook_env(secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return env | {
        "BRIDGE_CLICKAI__API_KEY": "app-k",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": "123:abc",
        "BRIDGE_TELEGRAM__MODE": "webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.org/telegram/webhook",
        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": secret,
    }


@pytest.mark.parametrize("secret", ["", "has spaces and ünicode", "x" * 257])
async def test_an_empty_or_malformed_webhook_secret_is_refused_naming_the_key(
    tmp_path: Path, secret: str
) -> None:
    code, _, err = await cli("run", env=_webhook_env(secret), cwd=tmp_path)
    line = _one_line(err)
    assert code != 0
    assert "telegram.webhook_secret" in line
    if secret:
        assert secret not in line


@pytest.mark.parametrize("value", ["42,43", "42, 43", "[42, 43]"])
def test_list_values_from_the_environment_work(tmp_path: Path, value: str) -> None:
    env = {"BRIDGE_CLICKAI__API_KEY": "app-k", "BRIDGE_TELEGRAM__ALLOWED_USER_IDS": value}
    settings = load_settings(None, env | {"BRIDGE_CONFIG": str(tmp_path / "none.toml")})
    assert settings.telegram.allowed_user_ids == [42, 43]


@pytest.mark.parametrize(
    ("value", "ids"),
    [("42", [42]), (" -1001234567890 ", [-1001234567890]), ("[]", []), ("", []), (" ", [])],
)
def test_one_id_or_none_from_the_environment_is_a_list(
    tmp_path: Path, value: str, ids: list[int]
) -> None:
    """The usual first set-up, "only me": one id is a list of one; an empty value clears it."""
    env = {"BRIDGE_CLICKAI__API_KEY": "app-k", "BRIDGE_TELEGRAM__ALLOWED_CHAT_IDS": value}
    settings = load_settings(None, env | {"BRIDGE_CONFIG": str(tmp_path / "none.toml")})
    assert settings.telegram.allowed_chat_ids == ids


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("BRIDGE_TELEGRAM__ALLOWED_USER_IDS", "42,forty-three", "42,43"),
        ("BRIDGE_CLICKAI__INPUTS", "tone=friendly", '{"name": "value"}'),
    ],
)
async def test_a_bad_environment_value_is_one_line_with_the_accepted_form(
    tmp_path: Path, name: str, value: str, needle: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env |= {"BRIDGE_CLICKAI__API_KEY": "app-k", name: value}
    code, _, err = await cli("run", env=env, cwd=tmp_path)
    line = _one_line(err)
    assert code != 0 and needle in line


async def test_a_port_in_use_is_one_line_naming_server_listen(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = env_for(fake, tmp_path, BRIDGE_SERVER__LISTEN=f"127.0.0.1:{port}")
        code, _, err = await cli("run", env=env, cwd=tmp_path)
    line = _one_line(err)
    assert code != 0
    assert f"server.listen 127.0.0.1:{port}" in line
