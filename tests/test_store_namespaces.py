"""Namespaces on every engine: two bots or apps on one database, and adopting pre-v4 rows."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from bridge.errors import ConfigError, StoreError
from bridge.model import ReplyRef
from bridge.store import PostgresStore, SqliteStore, open_store
from bridge.store.base import LEGACY, EventRow, Namespace
from tests.test_store_backends import PG_ENV, Backend

TG_A = Namespace(bot="telegram:1", backend="clickai")
TG_B = Namespace(bot="telegram:2", backend="clickai")
TG_A_OTHER_APP = Namespace(bot="telegram:1", backend="support")


def event(event_id: str, *, chat: str = "42", channel: str = "telegram") -> EventRow:
    return EventRow(
        event_id=event_id,
        channel=channel,
        scope=f"{channel}:{chat}",
        chat_id=chat,
        thread="",
        language="en",
        status="accepted",
        created_at=1.0,
    )


REF = ReplyRef(channel="telegram", chat_id="42", message_id="7")


async def test_namespaces_share_nothing(store: SqliteStore | PostgresStore) -> None:
    views = [store.scoped(ns) for ns in (TG_A, TG_B, TG_A_OTHER_APP)]
    for n, view in enumerate(views):
        assert view.namespace in (TG_A, TG_B, TG_A_OTHER_APP)
        await view.set_conversation("telegram:42", f"conv-{n}", "telegram:42")
        assert await view.claim_event(event("telegram:upd:5"))  # same id: new to each bot
        await view.add_replies([REF], message_id=f"m-{n}", conversation_id=f"conv-{n}", user="u")
    for n, view in enumerate(views):
        row = await view.get_conversation("telegram:42")
        assert row is not None and row.conversation_id == f"conv-{n}"
        reply = await view.get_reply(REF)
        assert reply is not None and reply.message_id == f"m-{n}"
        assert not await view.claim_event(event("telegram:upd:5"))
        assert [e.event_id for e in await view.pending_events()] == ["telegram:upd:5"]
    await views[0].set_rating("m-0", "like")
    await views[1].drop_conversation("telegram:42")
    await views[2].finish_event("telegram:upd:5")
    assert (await views[0].get_reply(REF)).rating == "like"  # type: ignore[union-attr]
    assert (await views[2].get_reply(REF)).rating is None  # type: ignore[union-attr]
    assert await views[1].get_conversation("telegram:42") is None
    assert await views[0].get_conversation("telegram:42") is not None
    assert await views[2].pending_events() == []
    assert len(await views[0].pending_events()) == 1
    assert await store.get_conversation("telegram:42") is None  # the root is the empty namespace


async def test_migrate_chat_moves_only_its_own_namespace(
    store: SqliteStore | PostgresStore,
) -> None:
    a, b = store.scoped(TG_A), store.scoped(TG_B)
    for view in (a, b):
        await view.set_conversation("telegram:-5", "conv", "telegram:-5")
        ref = ReplyRef(channel="telegram", chat_id="-5", message_id="1")
        await view.add_replies([ref], message_id="m", conversation_id="conv", user="u")
    assert await a.migrate_chat("telegram", "-5", "-1005") == 2
    assert await a.get_conversation("telegram:-1005") is not None
    assert await b.get_conversation("telegram:-5") is not None
    assert await b.get_conversation("telegram:-1005") is None


async def test_default_bots_adopt_rows_written_before_namespaces(
    store: SqliteStore | PostgresStore,
) -> None:
    legacy = store.scoped(LEGACY)
    await legacy.set_conversation("telegram:42", "old-conv", "telegram:42")
    await legacy.set_conversation("telegram:43:t:9", "topic-conv", "telegram:43:t:9")
    await legacy.set_conversation("telegramx:1", "not-ours", "telegramx:1")
    await legacy.set_conversation("slack:C1", "slack-conv", "slack:C1")
    await legacy.add_replies([REF], message_id="m-old", conversation_id="old-conv", user="u")
    await legacy.claim_event(event("telegram:upd:1"))
    await legacy.claim_event(event("slack:ev:1", channel="slack", chat="C1"))
    a = store.scoped(TG_A)
    await a.set_conversation("telegram:43:t:9", "newer-conv", "telegram:43:t:9")

    assert await a.adopt_legacy_rows("telegram") == 3  # 1 conversation, 1 reply, 1 event
    assert await a.adopt_legacy_rows("telegram") == 0  # idempotent
    row = await a.get_conversation("telegram:42")
    assert row is not None and row.conversation_id == "old-conv"
    kept = await a.get_conversation("telegram:43:t:9")
    assert kept is not None and kept.conversation_id == "newer-conv"  # never overwritten
    assert (await a.get_reply(REF)) is not None
    assert not await a.claim_event(event("telegram:upd:1"))
    assert [e.event_id for e in await a.pending_events()] == ["telegram:upd:1"]
    assert await a.get_conversation("telegramx:1") is None
    assert await legacy.get_conversation("slack:C1") is not None
    assert await legacy.get_conversation("telegramx:1") is not None
    assert await store.scoped(LEGACY).adopt_legacy_rows("slack") == 0  # nothing to do


async def test_views_share_the_roots_lifecycle(be: Backend) -> None:
    root = be.make()
    view = root.scoped(TG_A)
    await view.open()  # opens the root
    await view.set_conversation("telegram:1", "c", "telegram:1")
    assert await root.scoped(TG_A).get_conversation("telegram:1") is not None
    await root.close()
    with pytest.raises(StoreError, match="not open"):
        await view.get_conversation("telegram:1")


def test_sqlite_refuses_a_schema(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store\.schema"):
        open_store(f"sqlite:///{tmp_path / 'x.db'}", schema="tenant")


@pytest.mark.postgres
async def test_postgres_schema_comes_from_the_store_config(pg_skip: str | None) -> None:
    if pg_skip:
        pytest.skip(f"PostgreSQL store tests skipped: {pg_skip}")
    import asyncpg

    url = os.environ[PG_ENV]
    schema = f"bridge_test_{uuid.uuid4().hex[:16]}"
    store = open_store(url, schema=schema, namespace=TG_A)
    await store.open()
    try:
        await store.set_conversation("telegram:1", "c", "telegram:1")
        conn = await asyncpg.connect(url)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema
            )
            bot = await conn.fetchval(f'SELECT bot FROM "{schema}".conversation')
        finally:
            await conn.close()
        assert {"conversation", "event", "reply", "schema_version"} <= {r[0] for r in tables}
        assert bot == TG_A.bot
    finally:
        await store.close()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()
