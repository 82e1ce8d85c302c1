"""``clickai-bridge chat`` as a user meets it: banner, local commands, Ctrl-C, resumed sessions."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bridge.i18n import t
from tests.fakes.clickai import FakeClickAI, Reply
from tests.test_cli import cli, env_for, spawn


async def until(check: Callable[[], bool], within_s: float = 30) -> None:
    for _ in range(int(within_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(app_name="Support Bot", delta_delay=0.002) as server:
        yield server


async def test_banner_help_and_unknown_commands_stay_local(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    stdin = "/help\n/translate this please\n/HELP\nhello\n"
    code, out, err = await cli("chat", env=env_for(fake, tmp_path), cwd=tmp_path, stdin=stdin)
    assert code == 0, err
    banner = out.splitlines()[0]
    assert "“Support Bot” (chat app)" in banner
    assert out.count(t("en", "console_help")) == 2
    assert t("en", "console_unknown", command="/translate") in out
    assert [c.json["query"] for c in fake.calls("chat-messages")] == ["hello"]
    assert "You said: hello" in out


async def test_like_rates_the_last_answer_of_a_resumed_session(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    env = env_for(fake, tmp_path)
    code, _, err = await cli("chat", env=env, cwd=tmp_path, stdin="first\nsecond\n")
    assert code == 0, err
    code, out, err = await cli("chat", env=env, cwd=tmp_path, stdin="/like\n")
    assert code == 0, err
    assert t("en", "feedback_like") in out
    user = fake.calls("chat-messages")[0].json["user"]
    newest = fake.messages(user)[-1]
    assert newest["query"] == "second" and newest["feedback"]["rating"] == "like"
    assert [c.path for c in fake.calls("feedbacks")] == [f"/v1/messages/{newest['id']}/feedbacks"]


async def test_new_tells_the_truth_for_a_single_turn_app(tmp_path: Path) -> None:
    async with FakeClickAI(mode="completion") as fake:
        code, out, err = await cli(
            "chat", env=env_for(fake, tmp_path), cwd=tmp_path, stdin="/new\n"
        )
    assert code == 0, err
    assert t("en", "new_single_turn") in out
    assert t("en", "new_conversation") not in out


async def test_ctrl_c_stops_the_answer_and_a_second_one_exits(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    fake.script(Reply(answer="word " * 400, deltas=400, delta_delay=0.05))
    proc = await spawn("chat", env=env_for(fake, tmp_path), cwd=tmp_path)
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"tell me a long story\n")
        await proc.stdin.drain()
        await until(lambda: bool(fake.running_tasks))
        proc.send_signal(signal.SIGINT)
        await until(lambda: bool(fake.stops))
        assert proc.returncode is None  # the first Ctrl-C only stopped the answer
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert t("en", "console_stopping") in text and t("en", "stopped") in text
    assert "Traceback" not in err.decode()
