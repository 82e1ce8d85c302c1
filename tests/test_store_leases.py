"""Event leases and scope lock rows on every engine: one taker per expired event, one holder."""

from __future__ import annotations

import asyncio

from bridge.store import PostgresStore, SqliteStore
from bridge.store.base import EventRow, Namespace
from tests.test_store_backends import Backend

NS = Namespace(bot="telegram:1", backend="clickai")


def event(event_id: str, *, owner: str, lease_until: float, created_at: float) -> EventRow:
    return EventRow(
        event_id=event_id,
        channel="telegram",
        scope="telegram:42",
        chat_id="42",
        thread="",
        language="vi",
        status="accepted",
        created_at=created_at,
        owner=owner,
        lease_until=lease_until,
    )


async def test_an_expired_lease_goes_to_exactly_one_taker(be: Backend) -> None:
    root = be.make()
    await root.open()
    store = root.scoped(NS)
    now = be.clock()
    assert await store.claim_event(event("e1", owner="a", lease_until=now + 30, created_at=1))
    assert await store.claim_event(event("e2", owner="a", lease_until=now + 30, created_at=2))
    assert await store.claim_event(event("e3", owner="b", lease_until=now + 30, created_at=3))
    [pending] = [e for e in await store.pending_events() if e.event_id == "e1"]
    assert (pending.owner, pending.lease_until) == ("a", now + 30)

    assert await store.take_expired("c", before=now, until=now + 60) == []  # all still live
    be.clock.advance(20)
    assert await store.renew_leases("a", be.clock() + 30) == 2  # a is alive, b is not
    be.clock.advance(20)
    taken = await store.take_expired("c", before=be.clock(), until=be.clock() + 30)
    assert [(e.event_id, e.owner, e.language) for e in taken] == [("e3", "c", "vi")]
    assert await store.take_expired("d", before=be.clock(), until=be.clock() + 30) == []
    assert (
        await root.scoped(Namespace(bot="x", backend="y")).take_expired(
            "d", before=be.clock() + 999, until=be.clock() + 999
        )
        == []
    )  # other namespaces see nothing
    await store.finish_event("e1")
    every = await store.take_expired("d", before=float("inf"), until=be.clock() + 30)
    assert [e.event_id for e in every] == ["e2", "e3"]  # unfinished only, oldest first


async def test_concurrent_takers_split_the_expired_events(be: Backend) -> None:
    stores: list[SqliteStore | PostgresStore] = [be.make() for _ in range(4)]
    for s in stores:
        await s.open()
    views = [s.scoped(NS) for s in stores]
    for n in range(40):
        assert await views[0].claim_event(
            event(f"e{n}", owner="dead", lease_until=0, created_at=n)
        )

    async def take(i: int) -> list[str]:
        got: list[str] = []
        while batch := await views[i % 4].take_expired(
            f"r{i}", before=be.clock(), until=be.clock() + 30, limit=3
        ):
            got += [e.event_id for e in batch]
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(take(i) for i in range(8)))
    flat = [e for r in results for e in r]
    assert sorted(flat) == sorted(f"e{n}" for n in range(40))  # each exactly once


async def test_scope_lock_rows_have_one_holder_until_they_expire(be: Backend) -> None:
    root = be.make()
    await root.open()
    store = root.scoped(NS)
    other_ns = root.scoped(Namespace(bot="telegram:2", backend="clickai"))
    now = be.clock()
    assert await store.lock_scope("telegram:42", "a", now + 30)
    assert not await store.lock_scope("telegram:42", "b", now + 30)
    assert await store.lock_scope("telegram:42", "a", now + 30)  # its own row again
    assert await other_ns.lock_scope("telegram:42", "b", now + 30)  # another bot's scope
    await store.unlock_scope("telegram:42", "b")  # not b's: stays
    assert not await store.lock_scope("telegram:42", "b", now + 30)
    be.clock.advance(20)
    assert await root.renew_scope_locks("a", be.clock() + 30) == 1
    be.clock.advance(20)
    assert not await store.lock_scope("telegram:42", "b", be.clock() + 30)  # renewed: held
    be.clock.advance(40)
    assert await store.lock_scope("telegram:42", "b", be.clock() + 30)  # a died: expired
    await store.unlock_scope("telegram:42", "b")
    assert await store.lock_scope("telegram:42", "c", be.clock() + 30)
