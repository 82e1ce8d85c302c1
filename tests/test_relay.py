"""The relay end to end against the fake ClickAI, a real SQLite store and a recording channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.backends.clickai import ClickAIBackend
from bridge.clickai import ClickAIClient
from bridge.i18n import t
from bridge.metrics import Metrics
from bridge.model import Attachment, IntakeResult, ReplyRef
from bridge.pacing import Pacer
from bridge.relay import Relay, RelayLimits
from bridge.store import SqliteStore
from bridge.store.base import EventRow
from bridge.turn import TurnOptions, TurnRunner
from tests.fakes.channel import FakeChannel
from tests.fakes.clickai import FakeClickAI, FakeFile, HttpFailure, Reply


@dataclass
class Rig:
    fake: FakeClickAI
    channel: FakeChannel
    relay: Relay
    store: SqliteStore
    client: ClickAIClient
    pacer: Pacer

    async def settle(self) -> None:
        """Wait until every accepted message has its final outcome."""
        await asyncio.wait_for(self.relay.wait_idle(), 10)


async def make_rig(
    fake: FakeClickAI,
    db: Path,
    *,
    limits: RelayLimits | None = None,
    idle_timeout_s: float = 5.0,
    options: TurnOptions | None = None,
    base_url: str | None = None,
    file_hosts: tuple[str, ...] = (),
    metrics: Metrics | None = None,
) -> Rig:
    store = SqliteStore(db)
    await store.open()
    client = ClickAIClient(
        base_url=base_url or fake.base_url,
        api_key=fake.key,
        idle_timeout_s=idle_timeout_s,
        max_retries=1,
        file_hosts=file_hosts,
    )
    channel = FakeChannel()
    pacer = Pacer(channel.pace_budget, name="fake")
    runner = TurnRunner(store=store, options=options or TurnOptions())
    relay = Relay(
        store=store,
        backends=ClickAIBackend(client),
        runner=runner,
        channels={"fake": channel},
        pacers={"fake": pacer},
        metrics=metrics or Metrics(),
        limits=limits,
    )
    await channel.start(relay)
    return Rig(fake, channel, relay, store, client, pacer)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(delta_delay=0.005, first_token_delay=0.0) as server:
        yield server


@pytest.fixture
async def rig(fake: FakeClickAI, tmp_path: Path) -> AsyncIterator[Rig]:
    r = await make_rig(fake, tmp_path / "bridge.db")
    yield r
    await r.relay.drain(5)
    await r.pacer.stop()
    await r.client.aclose()
    await r.store.close()


async def test_streams_answer_into_one_reply_and_persists_ids(rig: Rig) -> None:
    rig.fake.script(Reply(answer="Hello there, how can I help you today?", deltas=8))
    assert await rig.relay.submit(rig.channel.message("hi")) is IntakeResult.CLAIMED
    await rig.settle()
    shown = rig.channel.chat("42")
    assert len(shown) == 1
    assert shown[0].text == "Hello there, how can I help you today?"
    assert shown[0].feedback is True
    assert shown[0].notice is None
    request = rig.fake.calls("chat-messages")[0].json
    assert request["user"] == "fake:42"
    assert request["response_mode"] == "streaming"
    assert "conversation_id" not in request or not request["conversation_id"]
    row = await rig.store.get_conversation("fake:42")
    assert row is not None and row.user == "fake:42"
    reply = await rig.store.get_reply(ReplyRef(channel="fake", chat_id="42", message_id="100"))
    assert reply is not None and reply.conversation_id == row.conversation_id


async def test_second_message_continues_the_conversation(rig: Rig) -> None:
    await rig.relay.submit(rig.channel.message("one"))
    await rig.settle()
    await rig.relay.submit(rig.channel.message("two"))
    await rig.settle()
    first, second = (c.json for c in rig.fake.calls("chat-messages"))
    assert second["conversation_id"] and second["user"] == first["user"]
    assert len(rig.fake.conversations("fake:42")) == 1


async def test_concurrent_messages_in_one_scope_share_one_conversation(rig: Rig) -> None:
    msgs = [rig.channel.message(f"question {i}") for i in range(5)]
    results = await asyncio.gather(*(rig.relay.submit(m) for m in msgs))
    assert set(results) == {IntakeResult.CLAIMED}
    await rig.settle()
    requests = [c.json for c in rig.fake.calls("chat-messages")]
    assert len(requests) == 5
    assert not requests[0].get("conversation_id")
    ids = {r["conversation_id"] for r in requests[1:]}
    assert len(ids) == 1 and None not in ids
    assert len(rig.fake.conversations("fake:42")) == 1
    assert [m.text for m in rig.channel.chat("42")] == [
        f"You said: question {i}" for i in range(5)
    ]


async def test_other_scopes_run_in_parallel(rig: Rig) -> None:
    for chat in ("1", "2", "3"):
        await rig.relay.submit(rig.channel.message("hey", chat_id=chat))
    await rig.settle()
    assert {m.chat_id for m in rig.channel.messages} == {"1", "2", "3"}
    assert len({c.json["user"] for c in rig.fake.calls("chat-messages")}) == 3


async def test_duplicate_delivery_is_answered_once(rig: Rig) -> None:
    msg = rig.channel.message("hello", event_id="fake:upd:9")
    assert await rig.relay.submit(msg) is IntakeResult.CLAIMED
    assert await rig.relay.submit(msg) is IntakeResult.DUPLICATE
    await rig.settle()
    assert await rig.relay.submit(msg) is IntakeResult.DUPLICATE
    assert len(rig.fake.calls("chat-messages")) == 1
    assert len(rig.channel.chat("42")) == 1


async def test_gone_conversation_is_replaced_and_user_told(rig: Rig) -> None:
    await rig.store.set_conversation("fake:42", "0f0e0d0c-0000-4000-8000-000000000000", "fake:42")
    await rig.relay.submit(rig.channel.message("still there?", language="vi"))
    await rig.settle()
    calls = [c.json for c in rig.fake.calls("chat-messages")]
    assert calls[0]["conversation_id"] == "0f0e0d0c-0000-4000-8000-000000000000"
    assert not calls[1].get("conversation_id")
    shown = rig.channel.chat("42")[-1]
    assert shown.text == "You said: still there?"
    assert shown.notice == t("vi", "conversation_reset")
    row = await rig.store.get_conversation("fake:42")
    assert row is not None and row.conversation_id != "0f0e0d0c-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("failure", "key"),
    [
        (HttpFailure(status=401, code="unauthorized"), "err_auth"),
        (HttpFailure(status=403, code="forbidden"), "err_forbidden"),
        (HttpFailure(status=400, code="provider_quota_exceeded"), "err_quota"),
        (HttpFailure(status=400, code="invalid_param", message="bad"), "err_bad_request"),
        (HttpFailure(status=500, code="internal_server_error"), "err_upstream"),
        (HttpFailure(status=429, code="too_many_requests"), "err_rate_limited"),
    ],
)
async def test_errors_become_translated_notices(rig: Rig, failure: HttpFailure, key: str) -> None:
    rig.fake.fail_next(failure, times=5)
    await rig.relay.submit(rig.channel.message("hi", language="vi"))
    await rig.settle()
    shown = rig.channel.chat("42")
    assert len(shown) == 1
    assert shown[0].notice == t("vi", key)
    assert shown[0].feedback is False


async def test_mid_stream_error_keeps_the_partial_answer(rig: Rig) -> None:
    rig.fake.script(
        Reply(
            answer="one two three four", deltas=4, error="completion_request_error", error_after=2
        )
    )
    await rig.relay.submit(rig.channel.message("go"))
    await rig.settle()
    shown = rig.channel.chat("42")[0]
    assert shown.text.startswith("one")
    assert shown.notice == t("en", "err_upstream")


async def test_pings_only_hang_times_out_with_a_notice(fake: FakeClickAI, tmp_path: Path) -> None:
    fake.ping_interval = 0.05
    r = await make_rig(fake, tmp_path / "b.db", idle_timeout_s=0.3)
    try:
        fake.script(Reply(hang=True), Reply(hang=True))
        await r.relay.submit(r.channel.message("hello"))
        await r.settle()
        assert r.channel.chat("42")[0].notice == t("en", "err_timeout")
        assert len(fake.calls("chat-messages")) == 1  # accepted with 200: never sent again
    finally:
        await r.pacer.stop()
        await r.client.aclose()
        await r.store.close()


async def test_new_command_resets_the_scope(rig: Rig) -> None:
    await rig.relay.submit(rig.channel.message("one"))
    await rig.settle()
    await rig.relay.submit(rig.channel.message("/new", command="new"))
    await rig.settle()
    assert await rig.store.get_conversation("fake:42") is None
    assert rig.channel.chat("42")[-1].notice == t("en", "new_conversation")
    await rig.relay.submit(rig.channel.message("two"))
    await rig.settle()
    assert not rig.fake.calls("chat-messages")[-1].json.get("conversation_id")


async def test_stop_command_stops_the_running_task(rig: Rig) -> None:
    rig.fake.script(
        Reply(answer=" ".join(f"w{i}" for i in range(200)), deltas=200, delta_delay=0.02)
    )
    await rig.relay.submit(rig.channel.message("long please"))
    await rig.fake.wait_for_requests(1)
    for _ in range(200):
        if any(c[0] == "update" for c in rig.channel.calls):
            break
        await asyncio.sleep(0.01)
    await rig.relay.submit(rig.channel.message("/stop", command="stop"))
    await rig.settle()
    assert len(rig.fake.stops) == 1
    assert rig.fake.calls("/stop")[0].json["user"] == "fake:42"
    shown = rig.channel.chat("42")[0]
    assert shown.notice == t("en", "stopped")
    assert 0 < len(shown.text) < len(" ".join(f"w{i}" for i in range(200)))


async def test_stop_with_nothing_running(rig: Rig) -> None:
    await rig.relay.submit(rig.channel.message("/stop", command="stop"))
    await rig.settle()
    assert rig.channel.chat("42")[0].notice == t("en", "nothing_to_stop")
    assert rig.fake.stops == []


async def test_feedback_like_then_toggle_clears(rig: Rig) -> None:
    await rig.relay.submit(rig.channel.message("rate me"))
    await rig.settle()
    ref = ReplyRef(channel="fake", chat_id="42", message_id=rig.channel.chat("42")[0].message_id)
    first = await rig.relay.feedback(ref, "like", toggle=True, by="7")
    second = await rig.relay.feedback(ref, "like", toggle=True, by="7")
    stranger = await rig.relay.feedback(ref, "dislike", toggle=True, by="8")
    assert (stranger.found, stranger.allowed) == (True, False)
    assert (first.found, first.rating, first.ok) == (True, "like", True)
    assert (second.found, second.rating, second.ok) == (True, None, True)
    bodies = [c.json for c in rig.fake.calls("feedbacks")]
    assert [b["rating"] for b in bodies] == ["like", None]
    assert all(b["user"] == "fake:42" for b in bodies)
    unknown = await rig.relay.feedback(
        ReplyRef(channel="fake", chat_id="42", message_id="999"), "dislike", toggle=False
    )
    assert not unknown.found


async def test_files_are_uploaded_with_the_conversation_user(rig: Rig) -> None:
    rig.channel.files["f1"] = b"%PDF-1.4 fake"
    att = Attachment(
        ref="f1", name="report.pdf", mime_type="application/pdf", kind="document", size=13
    )
    await rig.relay.submit(rig.channel.message("", attachments=(att,)))
    await rig.settle()
    upload = rig.fake.calls("files/upload")[0]
    assert upload.form["user"] == "fake:42"
    chat = rig.fake.calls("chat-messages")[0].json
    assert chat["files"][0]["type"] == "document"
    assert chat["files"][0]["transfer_method"] == "local_file"
    assert chat["query"] == t("en", "default_file_query")


async def test_oversized_file_is_refused_before_download(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    r = await make_rig(fake, tmp_path / "b.db", options=TurnOptions(max_file_bytes=1000))
    try:
        att = Attachment(
            ref="nope",
            name="big.zip",
            mime_type="application/zip",
            kind="document",
            size=5_000_000,
        )
        await r.relay.submit(r.channel.message("look", attachments=(att,), language="vi"))
        await r.settle()
        assert "big.zip" in (r.channel.chat("42")[0].notice or "")
        assert fake.calls("files/upload") == [] and fake.calls("chat-messages") == []
    finally:
        await r.pacer.stop()
        await r.client.aclose()
        await r.store.close()


async def test_assistant_files_are_posted_back(rig: Rig) -> None:
    rig.fake.script(
        Reply(answer="Here is the chart", files=(FakeFile(),), files_via="message_end")
    )
    await rig.relay.submit(rig.channel.message("draw"))
    await rig.settle()
    assert rig.channel.chat("42")[0].files


async def test_too_long_and_empty_messages_never_reach_clickai(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    r = await make_rig(fake, tmp_path / "b.db", limits=RelayLimits(max_query_chars=100))
    try:
        await r.relay.submit(r.channel.message("x" * 101))
        await r.relay.submit(r.channel.message("   ", chat_id="43"))
        await r.settle()
        assert fake.calls("chat-messages") == []
        assert "101" in (r.channel.chat("42")[0].notice or "")
        assert r.channel.chat("43")[0].notice == t("en", "empty_message")
    finally:
        await r.pacer.stop()
        await r.client.aclose()
        await r.store.close()


async def test_user_rate_limit_tells_once(fake: FakeClickAI, tmp_path: Path) -> None:
    r = await make_rig(fake, tmp_path / "b.db", limits=RelayLimits(user_messages_per_minute=2))
    try:
        for i in range(5):
            await r.relay.submit(r.channel.message(f"m{i}"))
        await r.settle()
        assert len(fake.calls("chat-messages")) == 2
        notices = [m.notice for m in r.channel.chat("42") if m.notice]
        assert notices == [t("en", "user_rate_limited")]
    finally:
        await r.pacer.stop()
        await r.client.aclose()
        await r.store.close()


async def test_interrupted_messages_get_one_notice_after_restart(rig: Rig) -> None:
    row = EventRow(
        event_id="fake:old",
        channel="fake",
        scope="fake:77",
        chat_id="77",
        thread="",
        language="vi",
        status="accepted",
        created_at=1.0,
    )
    assert await rig.store.claim_event(row)
    pending = await rig.relay.pending()
    assert [e.event_id for e in pending] == ["fake:old"]
    assert await rig.relay.recover(pending) == 1
    assert rig.channel.chat("77")[0].notice == t("vi", "interrupted")
    assert await rig.store.pending_events() == []


async def test_shutdown_cuts_long_turns_with_a_resend_notice(rig: Rig) -> None:
    rig.fake.script(Reply(answer="slow " * 100, deltas=100, delta_delay=0.05))
    await rig.relay.submit(rig.channel.message("slow one", language="vi"))
    await rig.fake.wait_for_requests(1)
    await asyncio.sleep(0.2)
    await rig.relay.drain(0.1)
    shown = rig.channel.chat("42")[0]
    assert shown.notice == t("vi", "restarting")
    assert await rig.store.pending_events() == []
    assert await rig.relay.submit(rig.channel.message("after stop")) is IntakeResult.REFUSED


async def test_platform_rate_limit_still_delivers_the_final_text(rig: Rig) -> None:
    rig.channel.rate_limit_next = 3
    rig.fake.script(Reply(answer="final words", deltas=3))
    await rig.relay.submit(rig.channel.message("go"))
    await rig.settle()
    assert rig.channel.chat("42")[0].text == "final words"


async def test_shutdown_tells_messages_still_queued_behind_a_cut_turn(rig: Rig) -> None:
    rig.fake.script(Reply(answer="slow " * 100, deltas=100, delta_delay=0.05))
    await rig.relay.submit(rig.channel.message("first", language="vi"))
    await rig.relay.submit(rig.channel.message("second, queued", language="vi"))
    await rig.fake.wait_for_requests(1)
    await asyncio.sleep(0.2)
    await rig.relay.drain(0.1)
    notices = [m.notice for m in rig.channel.chat("42")]
    assert notices == [t("vi", "restarting"), t("vi", "restarting")]
    assert len(rig.fake.calls("chat-messages")) == 1
    assert await rig.store.pending_events() == []
