"""The console script driven as a subprocess, the way an operator uses it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.fakes.clickai import FakeClickAI, HttpFailure, Reply
from tests.fakes.telegram import TOKEN, FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(delta_delay=0.002, first_token_delay=0.0) as server:
        yield server


def env_for(fake: FakeClickAI, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        {
            "BRIDGE_CLICKAI__BASE_URL": fake.base_url,
            "BRIDGE_CLICKAI__API_KEY": fake.key,
            "BRIDGE_STORE__URL": f"sqlite:///{tmp_path / 'bridge.db'}",
            "LANG": "en_US.UTF-8",
        }
    )
    env.update(extra)
    return env


async def spawn(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """``python -m bridge ARGS`` with piped stdin, stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


async def cli(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = "", limit_s: float = 60
) -> tuple[int, str, str]:
    proc = await spawn(*args, env=env, cwd=cwd)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), limit_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_chat_streams_and_continues_across_runs(fake: FakeClickAI, tmp_path: Path) -> None:
    env = env_for(fake, tmp_path)
    fake.script(Reply(answer="Xin chào! Tôi có thể giúp gì?", deltas=6))
    code, out, err = await cli("chat", env=env, cwd=tmp_path, stdin="hello\n/like\n")
    assert code == 0, err
    assert "Xin chào! Tôi có thể giúp gì?" in out
    assert "Thanks for your feedback" in out
    assert fake.calls("feedbacks")[0].json["rating"] == "like"
    first = fake.calls("chat-messages")[0].json
    assert first["user"].startswith("console:")

    code, out, err = await cli("chat", env=env, cwd=tmp_path, stdin="and again\n")
    assert code == 0, err
    assert "You said: and again" in out
    second = fake.calls("chat-messages")[1].json
    assert second["conversation_id"] == fake.conversations(first["user"])[0]["id"]
    assert second["user"] == first["user"]

    code, out, err = await cli("chat", env=env, cwd=tmp_path, stdin="/new\nfresh\n")
    assert code == 0, err
    assert "Started a new conversation" in out
    assert not fake.calls("chat-messages")[2].json.get("conversation_id")


async def test_check_tells_a_wrong_key_from_a_wrong_url(fake: FakeClickAI, tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        telegram = {
            "BRIDGE_TELEGRAM__ENABLED": "true",
            "BRIDGE_TELEGRAM__TOKEN": TOKEN,
            "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
            "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        }
        ok, out, err = await cli("check", env=env_for(fake, tmp_path, **telegram), cwd=tmp_path)
    assert ok == 0, out + err
    assert "clickai: ok" in out and "telegram: ok" in out

    bad_key = env_for(fake, tmp_path, BRIDGE_CLICKAI__API_KEY="app-wrong-key")
    code, out, err = await cli("check", env=bad_key, cwd=tmp_path)
    assert code == 1
    assert "API key was refused" in out and "clickai.api_key" in out
    assert "app-wrong-key" not in out + err

    wrong_path = env_for(fake, tmp_path, BRIDGE_CLICKAI__BASE_URL=fake.base_url + "/nope")
    code, out, _ = await cli("check", env=wrong_path, cwd=tmp_path)
    assert code == 1
    assert "clickai.base_url" in out

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    unreachable = env_for(
        fake, tmp_path, BRIDGE_CLICKAI__BASE_URL=f"http://127.0.0.1:{dead_port}/v1"
    )
    code, out, _ = await cli("check", env=unreachable, cwd=tmp_path)
    assert code == 1
    assert "cannot reach" in out


async def test_check_prints_only_its_verdicts_even_when_clickai_flaps(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    fake.fail_next(HttpFailure(status=502, message="bad gateway"), times=10)
    code, out, err = await cli("check", env=env_for(fake, tmp_path), cwd=tmp_path)
    assert code == 1
    assert err == ""  # no retry warnings between (or after) the lines
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "config",
        "channels",
        "store",
        "server",
        "clickai",
    ]
    assert len(fake.calls("/info")) == 1  # one attempt: a verdict, not a retry loop


async def test_check_output_piped_into_head_ends_without_a_traceback(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is already gone: every write fails with EPIPE
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "check",
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
            env=env_for(fake, tmp_path),
            cwd=tmp_path,
        )
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode()


async def test_config_errors_exit_nonzero_with_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    code, _, err = await cli("run", env=env, cwd=tmp_path)
    assert code == 2
    assert "clickai.api_key" in err
    env["BRIDGE_CLICKAI__API_KEY"] = "k"
    env["BRIDGE_SERVER__LISTEN"] = "nowhere"
    code, out, err = await cli("check", env=env, cwd=tmp_path)
    assert code == 1  # check: one line per check, exit 1 on any failure, config included
    assert out.startswith("config: FAIL: server") and out.count("\n") == 1
    assert err == ""


async def test_version_and_apps_with_only_studio_credentials(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    code, out, _ = await cli("--version", env=env, cwd=tmp_path)
    assert code == 0
    assert out.strip() == f"clickai-bridge {version('clickai-bridge')}"

    (tmp_path / "config.toml").write_text(
        "[clickai]\n"
        'api_key = "CHANGE-ME"\n'
        f'studio_base_url = "{fake.studio_base_url}"\n'
        f'studio_token = "{fake.studio_token}"\n'
        f'workspace_id = "{fake.workspace_id}"\n'
    )
    code, out, err = await cli("apps", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines() == [f"{a['id']}\t{a['mode']}\t{a['name']}" for a in fake.assistants]
    assert not fake.calls("/v1/", method="GET") and not fake.calls("chat-messages")


async def test_run_serves_health_and_metrics_and_stops_on_sigterm(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = env_for(fake, tmp_path, BRIDGE_SERVER__LISTEN=f"127.0.0.1:{port}")
    proc = await spawn("run", env=env, cwd=tmp_path)
    try:
        health = None
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    health = await http.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert health is not None and health.status_code == 200
            assert health.json()["status"] == "ok"
            metrics = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert "bridge_turns_inflight" in metrics.text
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert fake.key not in err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_debug_shows_the_bridges_lines_not_the_libraries_unless_asked(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    env = env_for(fake, tmp_path, BRIDGE_LOG__LEVEL="DEBUG")
    code, _, err = await cli("chat", env=env, cwd=tmp_path, stdin="hello\n")
    assert code == 0, err
    assert " DEBUG bridge" in err or " DEBUG channels" in err
    assert " DEBUG aiosqlite" not in err and " DEBUG markdown_it" not in err
    assert "turn event_id=console:" in err  # the turn line (INFO)

    env["BRIDGE_LOG__LIBRARY_LEVEL"] = "DEBUG"
    code, _, err = await cli("chat", env=env, cwd=tmp_path, stdin="hello again\n")
    assert code == 0, err
    assert " DEBUG aiosqlite" in err
