"""The Store contract, run against every engine (PostgreSQL only when its server answers)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.errors import StoreError
from bridge.model import ReplyRef
from bridge.store import EventRow, PostgresStore, SqliteStore
from tests.test_store_backends import Backend


def event(event_id: str, created_at: float, *, chat: str = "42") -> EventRow:
    return EventRow(
        event_id=event_id,
        channel="telegram",
        scope=f"telegram:{chat}",
        chat_id=chat,
        thread="",
        language="vi",
        status="accepted",
        created_at=created_at,
    )


def ref(message_id: str, chat: str = "42", channel: str = "telegram") -> ReplyRef:
    return ReplyRef(channel=channel, chat_id=chat, message_id=message_id)


class TestConversations:
    async def test_round_trip(self, be: Backend, store: SqliteStore | PostgresStore) -> None:
        assert await store.get_conversation("telegram:42") is None
        await store.set_conversation("telegram:42", "conv-1", "telegram:42")
        row = await store.get_conversation("telegram:42")
        assert row is not None
        assert (row.scope, row.conversation_id, row.user) == (
            "telegram:42",
            "conv-1",
            "telegram:42",
        )
        assert row.created_at == row.updated_at == be.clock.t

        be.clock.advance(10)
        await store.set_conversation("telegram:42", "conv-1", "telegram:42")
        same = await store.get_conversation("telegram:42")
        assert same is not None
        assert (same.created_at, same.updated_at) == (row.created_at, row.created_at + 10)

        be.clock.advance(10)
        await store.set_conversation("telegram:42", "conv-2", "telegram:42")
        fresh = await store.get_conversation("telegram:42")
        assert fresh is not None
        assert fresh.conversation_id == "conv-2"
        assert fresh.created_at == fresh.updated_at == row.created_at + 20

        await store.drop_conversation("telegram:42")
        await store.drop_conversation("telegram:42")
        assert await store.get_conversation("telegram:42") is None

    async def test_concurrent_writers_and_readers(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        async def worker(n: int) -> None:
            scope = f"slack:C{n}:t:{n}.5"
            await store.set_conversation(scope, f"conv-{n}", scope)
            await store.set_conversation("slack:shared", f"conv-{n}", "slack:shared")
            row = await store.get_conversation(scope)
            assert row is not None
            assert row.conversation_id == f"conv-{n}"

        await asyncio.gather(*(worker(n) for n in range(60)))
        for n in range(60):
            row = await store.get_conversation(f"slack:C{n}:t:{n}.5")
            assert row is not None
            assert row.conversation_id == f"conv-{n}"
        shared = await store.get_conversation("slack:shared")
        assert shared is not None
        assert shared.conversation_id in {f"conv-{n}" for n in range(60)}

    async def test_migrate_chat_moves_every_scope_and_reply(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        scopes = ["telegram:-5", "telegram:-5:t:7", "telegram:-5:u:99", "telegram:-5:t:7:u:99"]
        for n, scope in enumerate(scopes):
            await store.set_conversation(scope, f"conv-{n}", scope)
        await store.set_conversation("telegram:-50", "other", "telegram:-50")
        await store.set_conversation("slack:-5", "slack", "slack:-5")
        await store.add_replies(
            [ref("1", "-5"), ref("2", "-5")], message_id="m1", conversation_id="c", user="u"
        )
        await store.add_replies(
            [ref("1", "-5", "slack")], message_id="m9", conversation_id="c", user="u"
        )

        assert await store.migrate_chat("telegram", "-5", "-1005") == len(scopes) + 2

        for n, scope in enumerate(scopes):
            assert await store.get_conversation(scope) is None
            moved = await store.get_conversation(scope.replace("-5", "-1005", 1))
            assert moved is not None
            assert (moved.conversation_id, moved.user) == (f"conv-{n}", scope)
        assert await store.get_conversation("telegram:-50") is not None
        assert await store.get_conversation("slack:-5") is not None
        assert await store.get_reply(ref("1", "-5")) is None
        reply = await store.get_reply(ref("2", "-1005"))
        assert reply is not None
        assert reply.message_id == "m1"
        assert await store.get_reply(ref("1", "-5", "slack")) is not None
        assert await store.migrate_chat("telegram", "-5", "-1005") == 0
        assert await store.migrate_chat("telegram", "-1005", "-1005") == 0

    async def test_migrate_chat_keeps_the_newer_conversation_on_collision(
        self, be: Backend, store: SqliteStore | PostgresStore
    ) -> None:
        await store.set_conversation("telegram:-5", "old-chat", "telegram:-5")
        await store.set_conversation("telegram:-1005:t:3", "new-topic-stale", "u")
        be.clock.advance(5)
        await store.set_conversation("telegram:-5:t:3", "old-topic", "telegram:-5:t:3")
        await store.set_conversation("telegram:-1005", "new-chat", "telegram:-1005")

        assert await store.migrate_chat("telegram", "-5", "-1005") == 2

        chat = await store.get_conversation("telegram:-1005")
        topic = await store.get_conversation("telegram:-1005:t:3")
        assert chat is not None and chat.conversation_id == "new-chat"
        assert topic is not None and topic.conversation_id == "old-topic"
        assert await store.get_conversation("telegram:-5") is None
        assert await store.get_conversation("telegram:-5:t:3") is None


class TestReplies:
    async def test_round_trip_and_remap(self, store: SqliteStore | PostgresStore) -> None:
        assert await store.get_reply(ref("1")) is None
        await store.add_replies([], message_id="m0", conversation_id="c", user="u")
        await store.add_replies(
            [ref("1")], message_id="m1", conversation_id="c1", user="telegram:42"
        )
        row = await store.get_reply(ref("1"))
        assert row is not None
        assert (row.ref, row.message_id, row.conversation_id, row.user, row.rating) == (
            ref("1"),
            "m1",
            "c1",
            "telegram:42",
            None,
        )
        await store.add_replies([ref("1")], message_id="m2", conversation_id="c2", user="x")
        again = await store.get_reply(ref("1"))
        assert again is not None
        assert (again.message_id, again.conversation_id, again.user) == ("m2", "c2", "x")
        assert await store.get_reply(ref("1", chat="43")) is None

    async def test_rating_covers_split_replies(self, store: SqliteStore | PostgresStore) -> None:
        parts = [ref("10"), ref("11"), ref("12")]
        await store.add_replies(parts, message_id="m1", conversation_id="c", user="u")
        await store.add_replies([ref("20")], message_id="m2", conversation_id="c", user="u")

        await store.set_rating("m1", "like")
        for part in parts:
            row = await store.get_reply(part)
            assert row is not None and row.rating == "like"
        other = await store.get_reply(ref("20"))
        assert other is not None and other.rating is None

        await store.add_replies([ref("13")], message_id="m1", conversation_id="c", user="u")
        late = await store.get_reply(ref("13"))
        assert late is not None and late.rating == "like"

        await store.set_rating("m1", "dislike")
        await store.set_rating("m1", None)
        for part in [*parts, ref("13")]:
            row = await store.get_reply(part)
            assert row is not None and row.rating is None
        await store.set_rating("unknown", "like")


class TestEvents:
    async def test_claim_is_first_come_only(self, store: SqliteStore | PostgresStore) -> None:
        assert await store.claim_event(event("telegram:upd:1", 1.0)) is True
        assert await store.claim_event(event("telegram:upd:1", 2.0)) is False

    async def test_hundred_concurrent_claims_have_one_winner(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        results = await asyncio.gather(
            *(store.claim_event(event("slack:Ev1", float(n))) for n in range(100))
        )
        assert results.count(True) == 1
        assert len(await store.pending_events()) == 1

    async def test_pending_finish_prune(self, store: SqliteStore | PostgresStore) -> None:
        for event_id, created in [("b", 20.0), ("a", 10.0), ("c", 20.0), ("d", 30.0)]:
            await store.claim_event(event(event_id, created, chat=event_id))
        pending = await store.pending_events()
        assert [e.event_id for e in pending] == ["a", "b", "c", "d"]
        assert pending[0] == event("a", 10.0, chat="a")

        await store.finish_event("a")
        await store.finish_event("d")
        await store.finish_event("missing")
        assert [e.event_id for e in await store.pending_events()] == ["b", "c"]
        # a finished event still dedupes
        assert await store.claim_event(event("a", 99.0)) is False

        assert await store.prune_events(older_than=30.0) == 1  # "a"; "d" is not older
        assert await store.prune_events(older_than=30.0) == 0
        assert await store.prune_events(older_than=31.0) == 1
        assert [e.event_id for e in await store.pending_events()] == ["b", "c"]
        assert await store.claim_event(event("a", 99.0)) is True


class TestLifecycle:
    async def test_data_survives_restart(self, be: Backend) -> None:
        first = be.make()
        await first.open()
        await store_everything(first)
        await first.close()
        await first.close()

        second = be.make()
        await second.open()
        conv = await second.get_conversation("telegram:42:t:9")
        assert conv is not None and conv.conversation_id == "conv-1"
        reply = await second.get_reply(ref("77"))
        assert reply is not None and reply.rating == "dislike"
        assert [e.event_id for e in await second.pending_events()] == ["telegram:upd:5"]
        assert await second.claim_event(event("telegram:upd:5", 5.0)) is False

    async def test_use_when_closed_is_a_store_error(self, be: Backend) -> None:
        store = be.make()
        with pytest.raises(StoreError, match="not open"):
            await store.get_conversation("x")
        await store.open()
        await store.open()
        await store.close()
        with pytest.raises(StoreError, match="not open"):
            await store.claim_event(event("e", 1.0))

    async def test_cancelled_writes_are_all_or_nothing(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        tasks = [
            asyncio.create_task(
                store.add_replies(
                    [ref(f"{n}a"), ref(f"{n}b")], message_id=f"m{n}", conversation_id="c", user="u"
                )
            )
            for n in range(30)
        ]
        for _ in range(3):
            await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for n in range(30):
            first, second = (
                await store.get_reply(ref(f"{n}a")),
                await store.get_reply(ref(f"{n}b")),
            )
            assert (first is None) == (second is None)
        for n in range(1, 30, 2):
            assert await store.get_reply(ref(f"{n}a")) is not None
        await store.set_conversation("telegram:42", "c", "telegram:42")
        assert await store.get_conversation("telegram:42") is not None


async def store_everything(store: SqliteStore | PostgresStore) -> None:
    await store.set_conversation("telegram:42:t:9", "conv-1", "telegram:42:t:9")
    await store.add_replies([ref("77")], message_id="m1", conversation_id="conv-1", user="u")
    await store.set_rating("m1", "dislike")
    await store.claim_event(event("telegram:upd:5", 5.0))
