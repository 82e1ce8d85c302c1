"""Schema migrations on every engine: fresh databases, upgrades, rollbacks, newer schemas."""

from __future__ import annotations

import pytest

from bridge.errors import SchemaTooNew, StoreError
from bridge.model import ReplyRef
from tests.test_store_backends import Backend

NOTE_TABLE = ("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",)
BROKEN = ("CREATE TABLE note (id INTEGER PRIMARY KEY)", "CREATE TABLE broken (")


async def test_empty_database_gets_every_migration(be: Backend) -> None:
    store = be.make()
    await store.open()
    assert await be.version() == len(be.migrations)
    await store.set_conversation("telegram:1", "c", "telegram:1")
    await store.close()
    reopened = be.make()
    await reopened.open()
    assert await be.version() == len(be.migrations)


async def test_older_database_is_upgraded_in_place(be: Backend) -> None:
    v1 = be.make(be.migrations[:1])
    await v1.open()
    assert await be.version() == 1
    await be.execute(
        'INSERT INTO conversation (scope, conversation_id, "user", created_at, updated_at) '
        "VALUES ($1, $2, $1, 1, 1)",
        "slack:C1:t:1.2",
        "conv-old",
    )
    with pytest.raises(StoreError):  # no reply table yet
        await v1.add_replies(
            [ReplyRef(channel="slack", chat_id="C1", message_id="1.3")],
            message_id="m",
            conversation_id="c",
            user="u",
        )
    await v1.close()

    current = be.make()
    await current.open()
    assert await be.version() == len(be.migrations)
    row = await current.get_conversation("slack:C1:t:1.2")
    assert row is not None and row.conversation_id == "conv-old"
    ref = ReplyRef(channel="slack", chat_id="C1", message_id="1.3")
    await current.add_replies([ref], message_id="m", conversation_id="c", user="u")
    assert await current.get_reply(ref) is not None
    await current.close()

    appended = be.make((*be.migrations, NOTE_TABLE))
    await appended.open()
    assert await be.version() == len(be.migrations) + 1
    await appended.close()
    again = be.make((*be.migrations, NOTE_TABLE))
    await again.open()  # nothing left to apply; the step is not run twice
    assert await be.version() == len(be.migrations) + 1


async def test_failed_migration_rolls_back_its_whole_step(be: Backend) -> None:
    broken = be.make((*be.migrations, BROKEN))
    with pytest.raises(StoreError):
        await broken.open()
    assert await be.version() == len(be.migrations)
    with pytest.raises(StoreError, match="not open"):
        await broken.get_conversation("x")

    fixed = be.make((*be.migrations, NOTE_TABLE))
    await fixed.open()  # would fail if the broken step had left its "note" table behind
    assert await be.version() == len(be.migrations) + 1


async def test_newer_schema_is_refused(be: Backend) -> None:
    store = be.make()
    await store.open()
    await store.set_conversation("telegram:1", "c", "telegram:1")
    await store.close()
    await be.set_version(8)

    newer = be.make()
    with pytest.raises(SchemaTooNew, match="version 8") as caught:
        await newer.open()
    assert f"version {len(be.migrations)}" in str(caught.value)
    with pytest.raises(StoreError, match="not open"):
        await newer.get_conversation("telegram:1")


async def test_code_rolled_back_after_an_upgrade_is_refused(be: Backend) -> None:
    upgraded = be.make((*be.migrations, NOTE_TABLE))
    await upgraded.open()
    await upgraded.close()
    known = len(be.migrations)
    with pytest.raises(SchemaTooNew, match=rf"version {known + 1}.*version {known}"):
        await be.make().open()


async def test_v4_adds_the_open_reply_of_an_event_and_the_owner_of_a_reply(be: Backend) -> None:
    v4 = be.make(be.migrations[:4])
    await v4.open()
    await v4.close()
    await be.execute(  # what a schema-v4 bridge wrote
        "INSERT INTO event (bot, backend, event_id, channel, scope, chat_id, thread, language, "
        "status, created_at, updated_at) VALUES ('', '', $1, 'telegram', 'telegram:-5', '-5', "
        "'', 'vi', 'accepted', 1, 1)",
        "telegram:upd:1",
    )
    current = be.make()
    await current.open()
    ref = ReplyRef(channel="telegram", chat_id="-5", message_id="9")
    await current.add_replies([ref], message_id="m", conversation_id="c", user="telegram:-5")
    row = await current.get_reply(ref)
    assert row is not None and row.owner == ""
    [pending] = await current.pending_events()
    assert pending.reply_id == ""
    await current.set_event_reply("telegram:upd:1", "77")
    [pending] = await current.pending_events()
    assert pending.reply_id == "77"
    await current.add_replies(
        [ref], message_id="m2", conversation_id="c", user="telegram:-5", owner="42"
    )
    row = await current.get_reply(ref)
    assert row is not None and row.owner == "42"
    await current.close()
