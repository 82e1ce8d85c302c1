"""Several real ``python -m bridge run`` replicas on one PostgreSQL store (and Redis).

Each test starts two replicas of the same Telegram bot against the fakes hosted here, with the
store in a schema of its own on the PostgreSQL at ``BRIDGE_TEST_POSTGRES_URL`` and, when Redis
answers at ``BRIDGE_TEST_REDIS_URL`` (default 127.0.0.1:6379), a shared flood budget under a
unique key prefix. Without PostgreSQL the tests skip. Leases are 3 s here, so a killed replica's
turn is reported by a survivor within ``lease_s + lease_s / 3`` = 4 s (plus sending the notice).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.clickai import FakeClickAI
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.harness import BridgeProcess, eventually, free_port, telegram_env
from tests.reliability.outcomes import classify, default_answer, telegram_texts
from tests.test_store_backends import PG_ENV, postgres_unavailable

ANN = TgUser(id=501, first_name="Ann", language_code="en")
BEN = TgUser(id=502, first_name="Ben", language_code="en")
REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LEASE_S = 3.0
BOUND_S = LEASE_S + LEASE_S / 3
SLOW = {"deltas": 30, "delta_delay": 0.25}  # ~7.5 s per answer


@pytest.fixture(scope="module")
def pg_url() -> str:
    why = postgres_unavailable()
    if why:
        pytest.skip(f"replica tests need PostgreSQL: {why}")
    return os.environ[PG_ENV]


def redis_available() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception:
        return False
    return True


@pytest.fixture
async def schema(pg_url: str) -> AsyncIterator[str]:
    import asyncpg

    name = f"bridge_replicas_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=3) as fake:
        yield fake


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


class Replicas:
    """Starts replicas of one bot on one store; never leaves a child behind."""

    def __init__(
        self, tg: FakeTelegram, clickai: FakeClickAI, pg_url: str, schema: str, workdir: Path
    ) -> None:
        self.tg, self.clickai, self.pg_url, self.schema = tg, clickai, pg_url, schema
        self.workdir = workdir
        self.prefix = f"bridge-test:{uuid.uuid4().hex}"
        self.redis = redis_available()
        self.procs: list[BridgeProcess] = []

    def env(self, name: str, port: int, *, webhook: bool) -> dict[str, str]:
        env = telegram_env(
            self.tg, self.clickai, self.workdir / "unused.db", port, webhook=webhook
        )
        env |= {
            "BRIDGE_STORE__URL": self.pg_url,
            "BRIDGE_STORE__SCHEMA": self.schema,
            "BRIDGE_COORDINATION__REPLICA_ID": name,
            "BRIDGE_COORDINATION__LEASE_S": str(LEASE_S),
        }
        if self.redis:
            env |= {
                "BRIDGE_COORDINATION__REDIS_URL": REDIS_URL,
                "BRIDGE_COORDINATION__REDIS_PREFIX": self.prefix,
            }
        return env

    async def start(
        self, name: str, *, webhook: bool = True, standby: bool = False
    ) -> BridgeProcess:
        port = free_port()
        proc = BridgeProcess(self.env(name, port, webhook=webhook), self.workdir, port, name)
        self.procs.append(proc)
        await proc.start("telegram", standby=standby)
        return proc

    async def close(self) -> None:
        for proc in self.procs:
            await proc.close()


@pytest.fixture
async def replicas(
    tg: FakeTelegram, clickai: FakeClickAI, pg_url: str, schema: str, tmp_path: Path
) -> AsyncIterator[Replicas]:
    made = Replicas(tg, clickai, pg_url, schema, tmp_path)
    try:
        yield made
    finally:
        await made.close()


async def post(tg: FakeTelegram, proc: BridgeProcess, update: dict[str, Any]) -> int:
    return await tg.post_webhook(dict(update), url=f"{proc.base}/telegram/webhook")


async def events(pg_url: str, schema: str) -> dict[str, tuple[str, str]]:
    """event_id → (status, owner) in the shared store."""
    import asyncpg

    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch("SELECT event_id, status, owner FROM event")
    finally:
        await conn.close()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


async def wait_done(replicas: Replicas, count: int) -> None:
    """Until ``count`` deliveries are recorded as answered in the shared store."""
    for _ in range(600):
        rows = await events(replicas.pg_url, replicas.schema)
        if sum(1 for status, _ in rows.values() if status == "done") >= count:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"fewer than {count} deliveries done")


async def test_the_same_update_to_two_replicas_is_answered_once(
    tg: FakeTelegram, clickai: FakeClickAI, replicas: Replicas
) -> None:
    a, b = await replicas.start("a"), await replicas.start("b")
    update = tg.text(ANN.id, ANN, "hello twice")
    update["update_id"] = tg.next_update_id()
    statuses = await asyncio.gather(post(tg, a, update), post(tg, b, update))
    assert statuses == [200, 200]
    want = default_answer("hello twice")
    await eventually(lambda: want in telegram_texts(tg, ANN.id), 60, "answered")
    await asyncio.sleep(1.0)  # room for a wrong second answer to show up before looking
    assert telegram_texts(tg, ANN.id) == [want]
    assert len(clickai.calls("chat-messages")) == 1


async def test_one_chats_two_messages_on_two_replicas_share_one_conversation(
    tg: FakeTelegram, clickai: FakeClickAI, replicas: Replicas
) -> None:
    a, b = await replicas.start("a"), await replicas.start("b")
    clickai.deltas, clickai.delta_delay = 10, 0.1
    await asyncio.gather(
        post(tg, a, tg.text(ANN.id, ANN, "first question")),
        post(tg, b, tg.text(ANN.id, ANN, "second question")),
    )
    answers = {default_answer("first question"), default_answer("second question")}
    await eventually(lambda: set(telegram_texts(tg, ANN.id)) == answers, 60, "both answered")
    calls = [c.json for c in clickai.calls("chat-messages")]
    assert len(calls) == 2
    [conversation] = clickai.conversations(f"telegram:{ANN.id}")
    assert [bool(c.get("conversation_id")) for c in calls] == [False, True]
    assert calls[1]["conversation_id"] == conversation["id"]


async def test_restarting_one_replica_tells_nobody_on_the_other(
    tg: FakeTelegram, clickai: FakeClickAI, replicas: Replicas
) -> None:
    a, b = await replicas.start("a"), await replicas.start("b")
    clickai.deltas, clickai.delta_delay = SLOW["deltas"], SLOW["delta_delay"]
    await post(tg, a, tg.text(ANN.id, ANN, "a slow question"))
    await eventually(lambda: bool(telegram_texts(tg, ANN.id)), 60, "streaming on a")
    b.signal(15)
    assert await b.wait(30) == 0
    await replicas.start("b2")
    want = default_answer("a slow question")
    await eventually(lambda: want in telegram_texts(tg, ANN.id), 30, "a finished")
    await asyncio.sleep(2 * BOUND_S)  # long past any lease: a wrong takeover would show now
    outcome = classify(telegram_texts(tg, ANN.id), want)
    assert (outcome.answers, outcome.interrupted, outcome.other) == (1, 0, 0)


async def test_a_survivor_reports_a_killed_replicas_turn_once(
    tg: FakeTelegram, clickai: FakeClickAI, replicas: Replicas, pg_url: str, schema: str
) -> None:
    a, b = await replicas.start("a"), await replicas.start("b")
    clickai.deltas, clickai.delta_delay = SLOW["deltas"], SLOW["delta_delay"]
    assert await post(tg, a, tg.text(ANN.id, ANN, "killed mid answer")) == 200
    assert await post(tg, b, tg.text(BEN.id, BEN, "answered by b")) == 200
    await eventually(lambda: bool(telegram_texts(tg, ANN.id)), 60, "streaming on a")
    await a.kill()
    want = default_answer("killed mid answer")

    def told() -> bool:
        return classify(telegram_texts(tg, ANN.id), want).interrupted == 1

    await eventually(told, BOUND_S + 10, "the survivor told Ann")
    await eventually(
        lambda: default_answer("answered by b") in telegram_texts(tg, BEN.id), 30, "b answered"
    )
    await asyncio.sleep(BOUND_S)  # a second sweep must not tell her again
    outcome = classify(telegram_texts(tg, ANN.id), want)
    assert (outcome.answers, outcome.interrupted) == (0, 1)
    rows = await events(pg_url, schema)
    assert {status for status, _ in rows.values()} == {"done"}
    assert {owner for _, owner in rows.values()} == {"b"}  # b answered its own and took a's


async def test_a_killed_polling_leader_is_replaced_and_nothing_is_lost_or_doubled(
    tg: FakeTelegram, clickai: FakeClickAI, replicas: Replicas
) -> None:
    leader = await replicas.start("a", webhook=False)
    standby = await replicas.start("b", webhook=False, standby=True)
    for n in range(2):
        tg.push(tg.text(ANN.id, ANN, f"before {n}"))
    await eventually(lambda: len(telegram_texts(tg, ANN.id)) == 2, 60, "the leader answered")
    await wait_done(replicas, 2)  # answered and recorded: the kill interrupts nothing
    await leader.kill()
    for n in range(3):
        tg.push(tg.text(BEN.id, BEN, f"after {n}"))
    await eventually(lambda: len(telegram_texts(tg, BEN.id)) == 3, 60, "the new leader answered")
    await asyncio.sleep(1.0)
    assert telegram_texts(tg, ANN.id) == [default_answer(f"before {n}") for n in range(2)]
    assert telegram_texts(tg, BEN.id) == [default_answer(f"after {n}") for n in range(3)]
    assert len(clickai.calls("chat-messages")) == 5
    assert standby.proc is not None and standby.proc.returncode is None
