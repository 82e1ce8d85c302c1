"""MaiAgent through the relay: streamed completions, spellings, attachments, no feedback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.backends.maiagent import MaiAgentBackend
from bridge.config import BackendConfig
from bridge.errors import BackendError
from bridge.i18n import t
from bridge.model import Attachment, ReplyRef
from tests.backend_rig import BackendRig, backend_rig
from tests.fakes.maiagent import FakeMaiAgent, MaiReply
from tests.fakes.wire import Failure


def maiagent(fake: FakeMaiAgent, **overrides: object) -> MaiAgentBackend:
    values: dict[str, object] = {
        "kind": "maiagent",
        "base_url": fake.base_url,
        "api_key": SecretStr(fake.key),
        "chatbot_id": fake.chatbot_id,
        "max_retries": 1,
        "idle_timeout_s": 5.0,
    }
    values.update(overrides)
    return MaiAgentBackend.from_config("docs", BackendConfig.model_validate(values))


@pytest.fixture
async def fake() -> AsyncIterator[FakeMaiAgent]:
    async with FakeMaiAgent() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeMaiAgent, tmp_path: Path) -> AsyncIterator[BackendRig]:
    r = await backend_rig(maiagent(fake), tmp_path / "b.db")
    yield r
    await r.close()


@pytest.mark.parametrize(
    "reply", [MaiReply(), MaiReply(snake_case=True), MaiReply(done_marker=True)]
)
async def test_streamed_answer_and_follow_up(
    fake: FakeMaiAgent, rig: BackendRig, reply: MaiReply
) -> None:
    fake.script(reply, reply)
    await rig.say("hello")
    await rig.say("again")
    first, second = fake.calls("/completions/")
    assert first.headers["Authorization"] == f"Api-Key {fake.key}"
    assert first.json == {
        "conversation": None,
        "message": {"content": "hello"},
        "isStreaming": True,
    }
    cid = next(iter(fake.conversations))
    assert second.json["conversation"] == cid
    shown = rig.channel.chat("42")
    assert [s.text for s in shown] == ["You said: hello", "You said: again"]
    assert not any(s.feedback for s in shown)  # no message id, no feedback API


async def test_no_feedback_is_stored_or_sent(fake: FakeMaiAgent, rig: BackendRig) -> None:
    await rig.say("hi")
    ref = ReplyRef(channel="fake", chat_id="42", message_id=rig.channel.chat("42")[0].message_id)
    outcome = await rig.relay.feedback(ref, "like", toggle=True)
    assert not outcome.found
    assert [r.path for r in fake.requests] == ["/api/v1/chatbots/bot-1/completions/"]


async def test_blocking_mode(fake: FakeMaiAgent, tmp_path: Path) -> None:
    r = await backend_rig(maiagent(fake, response_mode="blocking"), tmp_path / "b.db")
    try:
        await r.say("hi")
    finally:
        await r.close()
    assert fake.calls("/completions/")[0].json["isStreaming"] is False
    assert r.channel.chat("42")[0].text == "You said: hi"


async def test_attachments_are_uploaded_first_and_passed_unchanged(
    fake: FakeMaiAgent, rig: BackendRig
) -> None:
    att = Attachment(ref="f1", name="report.pdf", mime_type="application/pdf", kind="document")
    rig.channel.files["f1"] = b"%PDF-1.4 data"
    await rig.say("summarise", attachments=(att,))
    (upload,) = fake.calls("/attachments-upload/")
    assert upload.files["file"] == ("report.pdf", b"%PDF-1.4 data")
    sent = fake.calls("/completions/")[0].json["message"]["attachments"]
    assert sent == list(fake.uploads.values())
    assert rig.channel.chat("42")[0].text == "You said: summarise"


async def test_video_is_refused_up_front(fake: FakeMaiAgent, rig: BackendRig) -> None:
    att = Attachment(ref="v", name="clip.mp4", mime_type="video/mp4", kind="video", size=5)
    rig.channel.files["v"] = b"mp4"
    await rig.say("look", attachments=(att,), language="vi")
    assert rig.channel.chat("42")[0].notice == t("vi", "file_kind_unsupported", name="clip.mp4")
    assert fake.requests == []


async def test_conversation_gone_starts_a_new_one(fake: FakeMaiAgent, rig: BackendRig) -> None:
    await rig.say("one")
    old = next(iter(fake.conversations))
    fake.forget(old)
    await rig.say("two")
    calls = fake.calls("/completions/")
    assert [c.json["conversation"] for c in calls] == [None, old, None]
    assert rig.channel.chat("42")[-1].notice == t("en", "conversation_reset")
    assert rig.channel.chat("42")[-1].text == "You said: two"


async def test_connection_cut_mid_stream_keeps_partial_text(
    fake: FakeMaiAgent, rig: BackendRig
) -> None:
    fake.script(MaiReply(answer="abcdef", deltas=3, cut_after=2))
    await rig.say("go")
    shown = rig.channel.chat("42")[0]
    assert shown.text == "abcd"
    assert shown.notice == t("en", "err_upstream")
    assert len(fake.calls("/completions/")) == 1


async def test_auth_failure_is_told(fake: FakeMaiAgent, tmp_path: Path) -> None:
    r = await backend_rig(maiagent(fake, api_key=SecretStr("wrong")), tmp_path / "b.db")
    try:
        await r.say("hi")
    finally:
        await r.close()
    assert r.channel.chat("42")[0].notice == t("en", "err_auth")


async def test_server_error_is_retried_before_any_text(
    fake: FakeMaiAgent, rig: BackendRig
) -> None:
    fake.fail_next(Failure(status=502, body={"detail": "bad gateway"}, path="/completions/"))
    await rig.say("hi")
    assert len(fake.calls("/completions/")) == 2
    assert rig.channel.chat("42")[0].text == "You said: hi"


async def test_stop_stops_reading(fake: FakeMaiAgent, rig: BackendRig) -> None:
    fake.script(MaiReply(answer="y" * 40, deltas=40, delay=0.05))
    await rig.relay.submit(rig.channel.message("long"))
    for _ in range(300):
        if any(c[0] == "update" for c in rig.channel.calls):
            break
        await asyncio.sleep(0.01)
    await rig.say("/stop", command="stop")
    shown = rig.channel.chat("42")[0]
    assert shown.notice == t("en", "stopped_local")
    assert 0 < len(shown.text) < 40


async def test_health(fake: FakeMaiAgent) -> None:
    good, bad = maiagent(fake), maiagent(fake, api_key=SecretStr("nope"))
    await good.health()
    with pytest.raises(BackendError) as info:
        await bad.health()
    assert info.value.kind == "auth"
    await good.aclose()
    await bad.aclose()
