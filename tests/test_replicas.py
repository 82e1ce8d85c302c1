"""Two relays ("replicas") on one store, on every engine: one turn per conversation, one answer
per delivery, leases that only a stopped replica loses, and bounded waits."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from bridge.backends.clickai import ClickAIBackend
from bridge.clickai import ClickAIClient
from bridge.coordination.base import Coordination, Timings
from bridge.coordination.locks import LocalScopeLocks, StoreScopeLocks
from bridge.i18n import t
from bridge.metrics import Metrics
from bridge.model import IntakeResult
from bridge.pacing import Pacer
from bridge.relay import Relay
from bridge.store.base import EventRow, Namespace, Store
from bridge.turn import TurnOptions, TurnRunner
from tests.fakes.channel import FakeChannel
from tests.fakes.clickai import FakeClickAI, Reply
from tests.test_store_backends import Backend

BOT = Namespace(bot="fake:bot", backend="clickai")


@dataclass
class Replica:
    name: str
    store: Store
    channel: FakeChannel
    relay: Relay
    metrics: Metrics

    async def settle(self) -> None:
        await asyncio.wait_for(self.relay.wait_idle(), 20)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(delta_delay=0.01, first_token_delay=0.0) as server:
        yield server


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def replica(
    be: Backend,
    fake: FakeClickAI,
    stack: AsyncExitStack,
    name: str,
    *,
    wait_s: float = 30.0,
    shared: bool = True,
) -> Replica:
    store = be.make()
    await store.open()
    client = ClickAIClient(base_url=fake.base_url, api_key=fake.key, max_retries=1)
    stack.push_async_callback(client.aclose)
    channel = FakeChannel()
    pacer = Pacer(channel.pace_budget, name="fake")
    stack.push_async_callback(pacer.stop)
    timings = Timings(lease_s=30.0, scope_wait_s=wait_s)
    locks = (
        StoreScopeLocks(store, owner=name, lease_s=30.0, wait_s=wait_s)
        if shared
        else LocalScopeLocks(wait_s)
    )
    metrics = Metrics()
    relay = Relay(
        store=store,
        backends=ClickAIBackend(client),
        runner=TurnRunner(store=store, options=TurnOptions()),
        channels={"fake": channel},
        pacers={"fake": pacer},
        metrics=metrics,
        namespaces={"fake": BOT},
        coordination=Coordination(replica=name, locks=locks, timings=timings, shared=shared),
    )
    stack.push_async_callback(relay.drain, 5)
    await channel.start(relay)
    return Replica(name, store, channel, relay, metrics)


async def until(check: Callable[[], bool], within_s: float = 10.0) -> None:
    """Poll ``check`` (a condition, never a duration) until it holds."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def texts(*replicas: Replica, chat: str = "42") -> list[str]:
    return [m.text for r in replicas for m in r.channel.chat(chat)]


async def test_one_chat_on_two_replicas_keeps_one_conversation(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    a = await replica(be, fake, stack, "a")
    b = await replica(be, fake, stack, "b")
    fake.script(Reply(answer="first answer " * 10, deltas=20, delta_delay=0.02))
    first = a.channel.message("first", event_id="fake:1")
    second = b.channel.message("second", event_id="fake:2")
    assert await a.relay.submit(first) == IntakeResult.CLAIMED
    await until(lambda: len(fake.calls("chat-messages")) == 1)  # the first turn streams
    assert await b.relay.submit(second) == IntakeResult.CLAIMED
    await asyncio.gather(a.settle(), b.settle())
    one, two = (c.json for c in fake.calls("chat-messages"))
    assert one["query"] == "first" and not one.get("conversation_id")
    [conversation] = fake.conversations("fake:42")
    assert two["query"] == "second" and two["conversation_id"] == conversation["id"]
    assert sorted(texts(a, b)) == ["You said: second", "first answer " * 10]
    waited = b.metrics.registry.get_sample_value("bridge_scope_wait_seconds_count")
    assert waited == 1


async def test_the_same_delivery_to_two_replicas_is_answered_once(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    a = await replica(be, fake, stack, "a")
    b = await replica(be, fake, stack, "b")
    msg = a.channel.message("hello", event_id="fake:update:9")
    results = await asyncio.gather(a.relay.submit(msg), b.relay.submit(msg))
    assert sorted(results) == [IntakeResult.CLAIMED, IntakeResult.DUPLICATE]
    await asyncio.gather(a.settle(), b.settle())
    assert texts(a, b) == ["You said: hello"]
    assert len(fake.calls("chat-messages")) == 1


async def test_a_restarting_replica_leaves_live_turns_alone(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    a = await replica(be, fake, stack, "a")
    fake.script(Reply(answer="a long answer " * 10, deltas=20, delta_delay=0.03))
    assert (
        await a.relay.submit(a.channel.message("long one", event_id="fake:1"))
        == IntakeResult.CLAIMED
    )
    await until(lambda: len(fake.calls("chat-messages")) == 1)  # streaming on replica a
    restarted = await replica(be, fake, stack, "b")
    assert await restarted.relay.pending() == []  # a's lease is live: not b's to recover
    assert await restarted.relay.sweep() == 0
    await a.settle()
    assert texts(a) == ["a long answer " * 10]
    assert texts(restarted) == []


def notices(*replicas: Replica, chat: str = "42") -> list[str | None]:
    return [m.notice for r in replicas for m in r.channel.chat(chat)]


def orphan(event_id: str, *, chat: str = "42") -> EventRow:
    """What a replica killed mid-turn leaves: accepted, its lease already lapsed."""
    return EventRow(
        event_id=event_id,
        channel="fake",
        scope=f"fake:{chat}",
        chat_id=chat,
        thread="",
        language="vi",
        status="accepted",
        created_at=time.time() - 60,
        owner="killed",
        lease_until=time.time() - 1,
    )


async def test_a_killed_replicas_turns_are_told_once_by_one_survivor(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    a = await replica(be, fake, stack, "a")
    b = await replica(be, fake, stack, "b")
    assert await a.store.scoped(BOT).claim_event(orphan("fake:dead:1"))
    assert await a.store.scoped(BOT).claim_event(orphan("fake:dead:2", chat="43"))
    counts = await asyncio.gather(a.relay.sweep(), b.relay.sweep(), a.relay.sweep())
    assert sum(counts) == 2
    assert notices(a, b) + notices(a, b, chat="43") == [t("vi", "interrupted")] * 2
    assert await b.store.scoped(BOT).pending_events() == []
    assert await a.relay.sweep() == 0 and await b.relay.sweep() == 0
    taken = sum(
        r.metrics.registry.get_sample_value("bridge_lease_takeovers_total") or 0 for r in (a, b)
    )
    assert taken == 2


async def test_a_lone_process_recovers_every_unfinished_turn_at_start(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    still_leased = dataclasses.replace(orphan("fake:1"), lease_until=time.time() + 600)
    store = be.make()
    await store.open()
    assert await store.scoped(BOT).claim_event(still_leased)
    alone = await replica(be, fake, stack, "alone", shared=False)
    assert [e.event_id for e in await alone.relay.pending()] == ["fake:1"]


async def test_a_conversation_busy_past_the_bound_is_refused_with_a_notice(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    b = await replica(be, fake, stack, "b", wait_s=0.3)
    holder = be.make()
    await holder.open()
    assert await holder.scoped(BOT).lock_scope("fake:42", "stuck", time.time() + 600)
    assert (
        await b.relay.submit(b.channel.message("anyone?", language="vi")) == IntakeResult.CLAIMED
    )
    await b.settle()
    assert notices(b) == [t("vi", "scope_busy")]
    assert fake.calls("chat-messages") == []
    assert b.metrics.registry.get_sample_value("bridge_scope_wait_timeouts_total") == 1


async def test_a_survivor_closes_the_killed_replicas_open_reply(
    be: Backend, fake: FakeClickAI, stack: AsyncExitStack
) -> None:
    """The takeover goes through the same recovery as a restart: the reply the dead turn had
    opened (a Slack stream, a Telegram partial answer) is closed before the notice."""
    a = await replica(be, fake, stack, "a")
    b = await replica(be, fake, stack, "b")
    view = a.store.scoped(BOT)
    assert await view.claim_event(orphan("fake:dead:7"))
    await view.set_event_reply("fake:dead:7", "555")
    assert await a.relay.sweep() + await b.relay.sweep() == 1
    closed = [c for r in (a, b) for c in r.channel.calls if c[0] == "close_interrupted"]
    assert closed == [("close_interrupted", "42", "555")]
    assert notices(a, b) == [t("vi", "interrupted")]
