"""Chatbase API v2 through the relay: stream variants, ids, feedback, errors, no files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.backends.chatbase import ChatbaseBackend, chatbase_user_id
from bridge.config import BackendConfig
from bridge.i18n import t
from bridge.model import Attachment, ReplyRef
from tests.backend_rig import BackendRig, backend_rig
from tests.fakes.chatbase import CbReply, FakeChatbase
from tests.fakes.wire import Failure


def chatbase(fake: FakeChatbase, **overrides: object) -> ChatbaseBackend:
    values: dict[str, object] = {
        "kind": "chatbase",
        "base_url": fake.base_url,
        "api_key": SecretStr(fake.key),
        "agent_id": fake.agent_id,
        "max_retries": 1,
        "idle_timeout_s": 5.0,
    }
    values.update(overrides)
    return ChatbaseBackend.from_config("support", BackendConfig.model_validate(values))


@pytest.fixture
async def fake() -> AsyncIterator[FakeChatbase]:
    async with FakeChatbase() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeChatbase, tmp_path: Path) -> AsyncIterator[BackendRig]:
    r = await backend_rig(chatbase(fake), tmp_path / "b.db")
    yield r
    await r.close()


@pytest.mark.parametrize("variant", ["finish", "message-metadata", "legacy"])
async def test_streamed_answer_and_follow_up_in_the_same_conversation(
    fake: FakeChatbase, rig: BackendRig, variant: str
) -> None:
    fake.script(CbReply(variant=variant), CbReply(variant=variant))  # type: ignore[arg-type]
    await rig.say("hello")
    await rig.say("again")
    first, second = fake.calls("/chat")
    assert first.headers["Authorization"] == f"Bearer {fake.key}"
    assert first.json == {"message": "hello", "stream": True, "userId": "fake.42"}
    cid = next(iter(fake.conversations))
    assert second.json == {"message": "again", "stream": True, "conversationId": cid}
    shown = rig.channel.chat("42")
    assert [s.text for s in shown] == ["You said: hello", "You said: again"]
    assert all(s.feedback for s in shown)
    row = await rig.store.get_conversation("fake:42")
    assert row is not None and row.conversation_id == cid


async def test_a_stream_without_done_still_finishes(fake: FakeChatbase, rig: BackendRig) -> None:
    fake.script(CbReply(done=False))
    await rig.say("hi")
    assert rig.channel.chat("42")[0].text == "You said: hi"
    assert (await rig.store.get_conversation("fake:42")) is not None


async def test_blocking_mode_reads_the_data_envelope(fake: FakeChatbase, tmp_path: Path) -> None:
    r = await backend_rig(chatbase(fake, response_mode="blocking"), tmp_path / "b.db")
    try:
        await r.say("hi")
    finally:
        await r.close()
    assert fake.calls("/chat")[0].json["stream"] is False
    assert r.channel.chat("42")[0].text == "You said: hi"
    assert r.channel.chat("42")[0].feedback


async def test_feedback_patches_the_assistant_message(fake: FakeChatbase, rig: BackendRig) -> None:
    await rig.say("rate me")
    shown = rig.channel.chat("42")[0]
    ref = ReplyRef(channel="fake", chat_id="42", message_id=shown.message_id)
    liked = await rig.relay.feedback(ref, "like", toggle=True, by="7")
    cleared = await rig.relay.feedback(ref, "like", toggle=True, by="7")
    disliked = await rig.relay.feedback(ref, "dislike", toggle=True, by="7")
    assert (liked.rating, cleared.rating, disliked.rating) == ("like", None, "dislike")
    bodies = [c.json for c in fake.calls("/feedback", "PATCH")]
    assert bodies == [{"feedback": "positive"}, {"feedback": None}, {"feedback": "negative"}]
    assert list(fake.feedback().values()) == ["negative"]


async def test_ended_conversation_starts_a_new_one_and_says_so(
    fake: FakeChatbase, rig: BackendRig
) -> None:
    await rig.say("one")
    old = next(iter(fake.conversations))
    fake.end_conversation(old)
    await rig.say("two")
    calls = fake.calls("/chat")
    assert calls[1].json["conversationId"] == old
    assert "conversationId" not in calls[2].json
    latest = rig.channel.chat("42")[-1]
    assert latest.text == "You said: two"
    assert latest.notice == t("en", "conversation_reset")
    row = await rig.store.get_conversation("fake:42")
    assert row is not None and row.conversation_id != old


async def test_error_mid_stream_keeps_the_partial_text(
    fake: FakeChatbase, rig: BackendRig
) -> None:
    fake.script(CbReply(answer="abcdef", deltas=3, error_after=2))
    await rig.say("go", language="vi")
    shown = rig.channel.chat("42")[0]
    assert shown.text == "abcd"
    assert shown.notice == t("vi", "err_upstream")
    assert len(fake.calls("/chat")) == 1  # never re-sent once text was shown


async def test_rate_limit_honours_retry_after_then_answers(
    fake: FakeChatbase, rig: BackendRig
) -> None:
    body = {"error": {"code": "RATE_LIMIT_TOO_MANY_REQUESTS", "message": "Too many requests"}}
    fake.fail_next(Failure(status=429, body=body, headers={"Retry-After": "0"}, path="/chat"))
    await rig.say("hi")
    assert len(fake.calls("/chat")) == 2
    assert rig.channel.chat("42")[0].text == "You said: hi"


@pytest.mark.parametrize(
    ("code", "status", "notice"),
    [
        ("AUTH_INVALID_API_KEY", 401, "err_auth"),
        ("CHAT_CREDITS_EXHAUSTED", 402, "err_quota"),
        ("SUBSCRIPTION_PLAN_REQUIRED", 403, "err_quota"),
    ],
)
async def test_error_codes_become_translated_notices(
    fake: FakeChatbase, rig: BackendRig, code: str, status: int, notice: str
) -> None:
    body = {"error": {"code": code, "message": "no"}}
    fake.fail_next(Failure(status=status, body=body, path="/chat"))
    await rig.say("hi")
    assert rig.channel.chat("42")[0].notice == t("en", notice)


async def test_files_are_refused_before_any_download(fake: FakeChatbase, rig: BackendRig) -> None:
    att = Attachment(ref="f1", name="a.pdf", mime_type="application/pdf", kind="document", size=10)
    rig.channel.files["f1"] = b"%PDF"
    await rig.say("read this", attachments=(att,), language="vi")
    assert rig.channel.chat("42")[0].notice == t("vi", "files_unsupported")
    assert fake.calls("/chat") == []


async def test_stop_closes_the_stream_and_says_it_is_local(
    fake: FakeChatbase, rig: BackendRig
) -> None:
    fake.script(CbReply(answer="x" * 50, deltas=50, delay=0.05))
    await rig.relay.submit(rig.channel.message("long"))
    await fake.wait_for(lambda: bool(fake.calls("/chat")))
    for _ in range(200):
        if any(c[0] == "update" for c in rig.channel.calls):
            break
        await __import__("asyncio").sleep(0.01)
    await rig.say("/stop", command="stop")
    shown = rig.channel.chat("42")[0]
    assert shown.notice == t("en", "stopped_local")
    assert 0 < len(shown.text) < 50


async def test_health_proves_key_and_agent(fake: FakeChatbase) -> None:
    good = chatbase(fake)
    await good.health()
    bad = chatbase(fake, agent_id="nope")
    with pytest.raises(Exception) as info:
        await bad.health()
    assert getattr(info.value, "kind", "") == "auth"
    assert getattr(info.value, "code", "") == "AGENT_NOT_FOUND"
    await good.aclose()
    await bad.aclose()


def test_user_ids_fit_chatbase_rules() -> None:
    assert chatbase_user_id("telegram:42") == "telegram.42"
    assert chatbase_user_id("slack:T1:C2:t:17.5") == "slack.T1.C2.t.17.5"
    assert chatbase_user_id("x" * 300) == "x" * 128
    assert chatbase_user_id("a b/c") == "a_b_c"
