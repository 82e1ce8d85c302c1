"""Load with replicas: N bridge processes behind a round-robin webhook front, one killed mid-run.

``python -m tests.reliability.load --replicas 3 --conversations 1000 --messages 3`` starts N real
``python -m bridge run`` processes in Telegram webhook mode on one PostgreSQL store (a fresh
schema at ``BRIDGE_TEST_POSTGRES_URL``) and, when it answers, one Redis (shared flood budget),
behind a small round-robin front that retries a delivery on the next replica when one does not
answer (as a reverse proxy does; Telegram itself resends what was not acknowledged). Midway the
last replica is SIGKILLed. Figures: every message answered or told once, duplicates, one ClickAI
conversation per chat, platform 429s across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bridge.i18n import t
from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import FakeTelegram, FloodLimits, TgUser
from tests.reliability.harness import WEBHOOK_SECRET, BridgeProcess, free_port
from tests.reliability.outcomes import default_answer

REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LEASE_S = 10.0


@dataclass
class ReplicaFigures:
    replicas: int
    conversations: int
    messages: int
    answers: int
    told_interrupted: int
    lost: int
    duplicates: int
    answered_and_told: int
    """Complete answer delivered just before the kill, then reported interrupted by a survivor
    (the kill fell between the final send and recording it)."""
    rate_limited_429: int
    clickai_conversations: int
    chats_with_one_clickai_conversation: int
    pending_events: int
    unaccounted: dict[int, list[str]]
    """Up to three chats missing an answer without a notice, with what they show."""
    killed_replica: str
    killed_at_s: float
    redis: bool
    wall_s: float
    completed: bool


class Front:
    """Round-robin webhook front: tries each replica in turn until one answers 200."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._next = itertools.count()
        self.port = free_port()
        self.retried = 0
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/telegram/webhook", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = ClientSession(timeout=ClientTimeout(total=30))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        start = next(self._next)
        for i in range(len(self.ports)):
            port = self.ports[(start + i) % len(self.ports)]
            with contextlib.suppress(ClientError, OSError, TimeoutError):
                url = f"http://127.0.0.1:{port}/telegram/webhook"
                async with self._session.post(url, data=body, headers=headers) as r:
                    if r.status == 200:
                        return web.Response(status=200)
            self.retried += 1
        return web.Response(status=502)


async def _deliver(tg: FakeTelegram, update: dict[str, Any], deadline: float) -> None:
    """Post like Telegram does: again (after a pause) until the front answers 200."""
    while time.monotonic() < deadline:
        with contextlib.suppress(ClientError, OSError, TimeoutError):
            if await tg.post_webhook(dict(update)) == 200:
                return
        await asyncio.sleep(1.0)


async def _until(check: Callable[[], bool], deadline: float) -> bool:
    """Poll ``check`` until it holds (True) or the deadline passes (False)."""
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def run_replicas(
    replicas: int, conversations: int, messages: int, time_limit_s: float
) -> ReplicaFigures:
    import asyncpg

    from tests.reliability.test_replicas import redis_available
    from tests.test_store_backends import PG_ENV

    pg_url = os.environ.get(PG_ENV, "")
    try:
        probe = await asyncpg.connect(pg_url, timeout=5)
        await probe.close()
    except Exception as exc:
        raise SystemExit(
            f"--replicas needs PostgreSQL at {PG_ENV}: {type(exc).__name__}"
        ) from None
    schema = f"bridge_load_{uuid.uuid4().hex[:12]}"
    redis = redis_available()
    started = time.monotonic()
    deadline = started + time_limit_s
    procs: list[BridgeProcess] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram(limits=FloodLimits()) as tg, FakeClickAI(deltas=2) as clickai:
            ports = [free_port() for _ in range(replicas)]
            front = Front(ports)
            await front.start()
            try:
                for i, port in enumerate(ports):
                    env = {
                        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
                        "BRIDGE_CLICKAI__API_KEY": clickai.key,
                        "BRIDGE_CLICKAI__APP_MODE": "chat",
                        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "1000000",
                        "BRIDGE_STORE__URL": pg_url,
                        "BRIDGE_STORE__SCHEMA": schema,
                        "BRIDGE_SERVER__LISTEN": f"127.0.0.1:{port}",
                        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
                        "BRIDGE_LOG__LEVEL": "WARNING",
                        "BRIDGE_COORDINATION__REPLICA_ID": f"r{i + 1}",
                        "BRIDGE_COORDINATION__LEASE_S": str(LEASE_S),
                        "BRIDGE_COORDINATION__REPLICAS": str(replicas),
                        "BRIDGE_TELEGRAM__ENABLED": "true",
                        "BRIDGE_TELEGRAM__TOKEN": tg.token,
                        "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
                        "BRIDGE_TELEGRAM__MODE": "webhook",
                        "BRIDGE_TELEGRAM__WEBHOOK_URL": (
                            f"http://127.0.0.1:{front.port}/telegram/webhook"
                        ),
                        "BRIDGE_TELEGRAM__WEBHOOK_SECRET": WEBHOOK_SECRET,
                    }
                    if redis:
                        env["BRIDGE_COORDINATION__REDIS_URL"] = REDIS_URL
                        env["BRIDGE_COORDINATION__REDIS_PREFIX"] = f"bridge-load:{schema}"
                    proc = BridgeProcess(env, Path(tmp), port, f"r{i + 1}")
                    procs.append(proc)
                    await proc.start("telegram")
                users = [TgUser(id=20_000 + i, first_name=f"R{i}") for i in range(conversations)]
                expected: dict[int, list[str]] = {u.id: [] for u in users}
                updates: list[dict[str, Any]] = []
                for n in range(messages):
                    for i, user in enumerate(users):
                        updates.append(tg.text(user.id, user, f"conversation {i} message {n}"))
                        expected[user.id].append(default_answer(f"conversation {i} message {n}"))
                total = len(updates)
                gate = asyncio.Semaphore(64)

                async def send(update: dict[str, Any]) -> None:
                    update["update_id"] = tg.next_update_id()
                    async with gate:
                        await _deliver(tg, update, deadline)

                notice = t("en", "interrupted")
                unaccounted: dict[int, list[str]] = {}

                def outcome() -> tuple[int, int, int, int, int]:
                    """answers, interrupted notices, lost, answered twice, answered and told."""
                    answers = told = lost = dup = both = 0
                    unaccounted.clear()
                    for uid, want in expected.items():
                        texts = tg.chat(uid).texts() if uid in tg.chats else []
                        interrupted = sum(1 for x in texts if notice in x)
                        told += interrupted
                        for w in want:
                            seen = texts.count(w)
                            answers += min(seen, 1)
                            dup += max(seen - 1, 0)
                        missing = sum(1 for w in want if w not in texts)
                        lost += max(0, missing - interrupted)
                        if missing > interrupted and len(unaccounted) < 3:
                            unaccounted[uid] = texts
                        both += max(0, interrupted - missing)
                    return answers, told, lost, dup, both

                half = total // 2
                await asyncio.gather(*(send(u) for u in updates[:half]))
                await _until(lambda: outcome()[0] >= half // 2, deadline)  # mid-run
                killed_at = round(time.monotonic() - started, 1)
                victim = procs[-1]
                await victim.kill()
                await asyncio.gather(*(send(u) for u in updates[half:]))
                completed = await _until(lambda: outcome()[2] == 0, deadline)  # none unaccounted
                await asyncio.sleep(2 * LEASE_S)  # a wrong late notice or answer shows up now
                answers, told, lost, duplicates, both = outcome()
            finally:
                for proc in procs:
                    if proc.proc is not None and proc.proc.returncode is None:
                        proc.signal(signal.SIGTERM)
                for proc in procs:
                    with contextlib.suppress(Exception):
                        await proc.wait(60)
                    await proc.close()
                await front.close()
                conn = await asyncpg.connect(pg_url)
                try:
                    pending = await conn.fetchval(
                        f"SELECT COUNT(*) FROM \"{schema}\".event WHERE status != 'done'"
                    )
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                finally:
                    await conn.close()
            scopes = [f"telegram:{u.id}" for u in users]
            counts = [len(clickai.conversations(s)) for s in scopes]
            return ReplicaFigures(
                replicas=replicas,
                conversations=conversations,
                messages=total,
                answers=answers,
                told_interrupted=told,
                lost=lost,
                duplicates=duplicates,
                answered_and_told=both,
                rate_limited_429=tg.rate_limited,
                clickai_conversations=sum(counts),
                chats_with_one_clickai_conversation=sum(1 for c in counts if c == 1),
                pending_events=int(pending or 0),
                unaccounted=unaccounted,
                killed_replica=victim.name,
                killed_at_s=killed_at,
                redis=redis,
                wall_s=round(time.monotonic() - started, 1),
                completed=completed,
            )
