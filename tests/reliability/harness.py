"""Runs ``python -m bridge run`` as a real child process against fakes hosted by the caller.

Everything is loopback-only and bounded: every wait has a time limit and raises on expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, json_body, signed_headers
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "reliability-Hook_secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(check: Callable[[], bool], within_s: float, what: str = "") -> None:
    """Poll ``check`` every 20 ms; ``TimeoutError`` naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within_s}s: {what or check}")
        await asyncio.sleep(0.02)


def common_env(clickai: FakeClickAI, db: Path, port: int, grace_s: float) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "100000",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": f"127.0.0.1:{port}",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_BRIDGE__SHUTDOWN_GRACE_S": str(grace_s),
        "BRIDGE_LOG__LEVEL": "INFO",
    }


def telegram_env(
    tg: FakeTelegram,
    clickai: FakeClickAI,
    db: Path,
    port: int,
    *,
    webhook: bool = False,
    grace_s: float = 5.0,
) -> dict[str, str]:
    env = common_env(clickai, db, port, grace_s) | {
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": tg.token,
        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": "0.2",
        "BRIDGE_TELEGRAM__GROUP_EDIT_INTERVAL_S": "0.5",
    }
    if webhook:
        env |= {
            "BRIDGE_TELEGRAM__MODE": "webhook",
            "BRIDGE_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
            "BRIDGE_TELEGRAM__WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    return env


def slack_env(
    slack: FakeSlack, clickai: FakeClickAI, db: Path, port: int, *, grace_s: float = 5.0
) -> dict[str, str]:
    return common_env(clickai, db, port, grace_s) | {
        "BRIDGE_SLACK__ENABLED": "true",
        "BRIDGE_SLACK__MODE": "http",
        "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
        "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        "BRIDGE_SLACK__UPDATE_INTERVAL_S": "0.2",
    }


class BridgeProcess:
    """One ``python -m bridge run`` child; its output goes to ``log``."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int, name: str) -> None:
        self.env = env
        self.workdir = workdir
        self.port = port
        self.name = name
        self.log = workdir / f"bridge-{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, channel: str, within_s: float = 30.0, *, standby: bool = False) -> None:
        """Start the child and wait until ``/healthz`` lists ``channel`` as started (or, with
        ``standby``, as standing by for the polling leadership)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env |= self.env
        env["PYTHONPATH"] = str(ROOT)
        env["BRIDGE_CONFIG"] = str(self.workdir / "absent.toml")
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridge",
                "run",
                cwd=self.workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + within_s
        async with ClientSession(timeout=ClientTimeout(total=2)) as session:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"bridge exited {self.proc.returncode}: {self.output()}")
                with contextlib.suppress(ClientError, OSError, asyncio.TimeoutError):
                    async with session.get(f"{self.base}/healthz") as r:
                        body = await r.json()
                        if channel in body.get("standby" if standby else "channels", []):
                            return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"bridge not ready: {self.output()}")
                await asyncio.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the child."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.proc.wait(), 10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, within_s: float = 60.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within_s)

    async def close(self) -> None:
        """Test clean-up: make sure no child outlives the test."""
        await self.kill()


def events(db: Path) -> dict[str, str]:
    """event_id → status in the store's inbound-event log (read-only, from the test process)."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {str(e): str(s) for e, s in conn.execute("SELECT event_id, status FROM event")}
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def count_rows(db: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


class Child:
    """Start/kill/restart helper that never leaves a child process behind."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int, channel: str) -> None:
        self.env, self.workdir, self.port, self.channel = env, workdir, port, channel
        self.runs: list[BridgeProcess] = []

    async def start(self) -> BridgeProcess:
        proc = BridgeProcess(self.env, self.workdir, self.port, f"run{len(self.runs) + 1}")
        self.runs.append(proc)
        await proc.start(self.channel)
        return proc

    async def close(self) -> None:
        for proc in self.runs:
            await proc.close()


async def post_event(
    session: ClientSession, url: str, envelope: dict[str, Any], retry: int | None = None
) -> int:
    body = json_body(envelope)
    try:
        async with session.post(
            url, data=body, headers=signed_headers(body, retry_num=retry)
        ) as r:
            return r.status
    except (OSError, ClientError):
        return 0  # connection lost: Slack treats it as a failed delivery and retries
