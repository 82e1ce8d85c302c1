"""The engine-backed coordination pieces on the real servers: the PostgreSQL polling leader and
the Redis flood budget (each skips cleanly when its server is absent)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.budget import Denied, Kind, Permit
from bridge.coordination.leader import PostgresLeader
from bridge.coordination.redis_budget import RedisFloodBudget
from tests.test_store_backends import PG_ENV

REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def test_one_leader_at_a_time_and_a_standby_takes_over(pg_skip: str | None) -> None:
    if pg_skip:
        pytest.skip(f"PostgreSQL tests skipped: {pg_skip}")
    bot = f"telegram:test-{uuid.uuid4().hex[:8]}"
    first = PostgresLeader(os.environ[PG_ENV], bot, retry_s=0.05, check_s=0.1)
    second = PostgresLeader(os.environ[PG_ENV], bot, retry_s=0.05, check_s=0.1)
    try:
        await asyncio.wait_for(first.acquire(), 10)
        standby = asyncio.create_task(second.acquire())
        await asyncio.sleep(0.3)  # several attempts of the standby, all refused
        assert not standby.done()
        await first.release()  # the leader's session ends (as when it is killed)
        await asyncio.wait_for(standby, 10)
        assert not second.lost()
    finally:
        await first.release()
        await second.release()


async def test_a_leader_whose_session_is_cut_knows_it_lost(pg_skip: str | None) -> None:
    if pg_skip:
        pytest.skip(f"PostgreSQL tests skipped: {pg_skip}")
    import asyncpg

    bot = f"telegram:test-{uuid.uuid4().hex[:8]}"
    leader = PostgresLeader(os.environ[PG_ENV], bot, retry_s=0.05, check_s=0.1)
    admin = await asyncpg.connect(os.environ[PG_ENV])
    try:
        await asyncio.wait_for(leader.acquire(), 10)
        pid = leader._conn.get_server_pid()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await asyncio.wait_for(leader.wait_lost(), 10)
        assert leader.lost()
    finally:
        await admin.close()
        await leader.release()


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    redis = pytest.importorskip("redis.asyncio")
    client = redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {type(exc).__name__}")
    prefix = f"bridge-test:{uuid.uuid4().hex}"
    client.test_prefix = prefix
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_replicas_draw_on_one_shared_budget(redis_client: Any) -> None:
    prefix = redis_client.test_prefix
    a = RedisFloodBudget(redis_client, prefix, 5, fallback=2.5)
    b = RedisFloodBudget(redis_client, prefix, 5, fallback=2.5)
    granted: list[Permit] = []
    for budget in (a, b, a, b, a):
        got = await budget.try_acquire(Kind.FINAL)
        assert not isinstance(got, Denied)
        granted.append(got)
    refused = await b.try_acquire(Kind.FINAL)  # the sixth call in the window, either replica
    assert isinstance(refused, Denied) and 0 < refused.retry_in <= 1.0
    assert isinstance(await a.try_acquire(Kind.ACTION), Denied)  # typing yields under pressure
    await granted[0].release(sent=False)  # never sent: its slot frees at once
    assert not isinstance(await b.try_acquire(Kind.FIRST), Denied)


async def test_a_penalty_seen_by_one_replica_holds_them_all(redis_client: Any) -> None:
    prefix = redis_client.test_prefix
    a = RedisFloodBudget(redis_client, prefix, 25, fallback=12.5)
    b = RedisFloodBudget(redis_client, prefix, 25, fallback=12.5)
    await a.penalise(3.0)
    held = await b.try_acquire(Kind.FINAL)
    assert isinstance(held, Denied) and 2.0 < held.retry_in <= 3.0


async def test_without_redis_a_replica_keeps_its_own_share() -> None:
    redis = pytest.importorskip("redis.asyncio")
    client = redis.from_url(
        "redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2
    )
    try:
        budget = RedisFloodBudget(client, "bridge-test:none", 25, fallback=2)
        first = await budget.try_acquire(Kind.FINAL)
        second = await budget.try_acquire(Kind.FINAL)
        assert not isinstance(first, Denied) and not isinstance(second, Denied)
        assert isinstance(await budget.try_acquire(Kind.FINAL), Denied)  # 2/s locally
    finally:
        await client.aclose()


async def test_an_ask_cancelled_mid_call_leaves_no_slot_held(redis_client: Any) -> None:
    """Typing indicators and pacer jobs are cancelled at any time; redis-py drops a connection
    whose read is cancelled, so the call runs to its end and a late grant is handed back."""
    prefix = redis_client.test_prefix
    budget = RedisFloodBudget(redis_client, prefix, 5, fallback=1)
    for _ in range(20):
        ask = asyncio.create_task(budget.try_acquire(Kind.FINAL))
        await asyncio.sleep(0)
        ask.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            granted = await ask
            await granted.release(sent=False)  # type: ignore[union-attr]
    # The abandoned asks reach Redis and their grants are handed back in the background; polling
    # the count instead raced asks not yet sent (it read 0, then the late grants landed).
    await budget.settle()
    assert await redis_client.zcard(f"{prefix}:slots") == 0
    grants = [await budget.try_acquire(Kind.FINAL) for _ in range(5)]
    assert not any(isinstance(g, Denied) for g in grants)  # the whole budget is there


class ReplyDroppingProxy:
    """A TCP proxy in front of Redis that, ``drops`` times, forwards an ``EVALSHA`` to Redis
    and then cuts the client's connection instead of passing the reply on: the script ran, the
    replica never heard so, and redis-py sends it again on a new connection."""

    def __init__(self, upstream: tuple[str, int], drops: int) -> None:
        self.upstream = upstream
        self.drops = drops
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ReplyDroppingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()
                reply = await up_reader.read(65536)
                if b"EVALSHA" in data and self.drops > 0:
                    self.drops -= 1
                    return  # the reply is lost with the connection
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()
            up_writer.close()


async def test_a_grant_whose_reply_was_lost_is_not_held_twice(redis_client: Any) -> None:
    """redis-py sends a script again when its connection drops mid-reply; a second run of the
    grant must see its own slot (already granted), not count it against the budget, or the
    slot stays held for the whole in-flight bound and the bot's budget shrinks."""
    from urllib.parse import urlparse

    redis = pytest.importorskip("redis.asyncio")
    prefix = redis_client.test_prefix
    warm = RedisFloodBudget(redis_client, prefix, 1, fallback=1)
    first = await warm.try_acquire(Kind.FINAL)  # loads the scripts into Redis
    assert not isinstance(first, Denied)
    await first.release(sent=False)
    url = urlparse(REDIS_URL)
    async with ReplyDroppingProxy((url.hostname or "127.0.0.1", url.port or 6379), 1) as proxy:
        client = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=2)
        try:
            budget = RedisFloodBudget(client, prefix, 1, fallback=1)
            granted = await budget.try_acquire(Kind.FINAL)
            assert proxy.drops == 0  # the reply really was lost once
            assert not isinstance(granted, Denied)
            assert await redis_client.zcard(f"{prefix}:slots") == 1
            await granted.release(sent=False)
            assert await redis_client.zcard(f"{prefix}:slots") == 0
        finally:
            await client.aclose()
