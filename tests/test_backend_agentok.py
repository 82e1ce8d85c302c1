"""Agentok as an agent-job backend: runs polled to the end, human input relayed, failures told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.backends.agentok import AgentokBackend
from bridge.config import BackendConfig
from bridge.i18n import t
from bridge.model import Attachment
from tests.backend_rig import BackendRig, backend_rig
from tests.fakes.agentok import Ask, Fail, FakeAgentok, Flow, Hang, Say


def agentok(fake: FakeAgentok, **overrides: object) -> AgentokBackend:
    values: dict[str, object] = {
        "kind": "agentok",
        "base_url": fake.base_url,
        "api_key": SecretStr(fake.key),
        "flow_id": fake.project,
        "max_retries": 1,
        "poll_interval_s": 0.02,
        "run_timeout_s": 5.0,
    }
    values.update(overrides)
    return AgentokBackend.from_config("agents", BackendConfig.model_validate(values))


@pytest.fixture
async def fake() -> AsyncIterator[FakeAgentok]:
    async with FakeAgentok() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeAgentok, tmp_path: Path) -> AsyncIterator[BackendRig]:
    r = await backend_rig(agentok(fake), tmp_path / "b.db")
    yield r
    await r.close()


async def test_a_run_posts_each_agent_message_in_order(fake: FakeAgentok, rig: BackendRig) -> None:
    await rig.say("plan a trip")
    (create,) = fake.calls("/v1/chats", "POST")
    assert create.headers["X-API-KEY"] == fake.key
    assert create.json["from_type"] == "project"
    assert create.json["from_project"] == "7"
    (send,) = fake.calls("/messages", "POST")
    assert send.json == {"type": "user", "content": "plan a trip"}
    shown = rig.channel.chat("42")[0]
    assert shown.text == "**planner**: Plan for: plan a trip\n\n**writer**: Answer: plan a trip"
    assert not shown.feedback
    assert "__STATUS" not in shown.text
    row = await rig.store.get_conversation("fake:42")
    assert row is not None and row.conversation_id == "1"


async def test_follow_up_reuses_the_chat(fake: FakeAgentok, rig: BackendRig) -> None:
    await rig.say("one")
    await rig.say("two")
    assert len(fake.calls("/v1/chats", "POST")) == 1
    assert [c.path for c in fake.calls("/messages", "POST")] == ["/v1/chats/1/messages"] * 2
    assert rig.channel.chat("42")[1].text.endswith("**writer**: Answer: two")


async def test_human_input_is_relayed_to_the_waiting_run(
    fake: FakeAgentok, rig: BackendRig
) -> None:
    fake.script(
        Flow(
            steps=(
                Say("planner", "Let me plan"),
                Ask("Which city?"),
                Say("writer", "Go to {input}"),
            )
        )
    )
    await rig.say("trip please", language="vi")
    first = rig.channel.chat("42")[0]
    assert first.text == "**planner**: Let me plan\n\nWhich city?"
    assert first.notice == t("vi", "awaiting_input")
    await rig.say("Hanoi")
    (answer,) = fake.calls("/input", "POST")
    assert answer.json == {"type": "user", "content": "Hanoi"}
    assert len(fake.calls("/messages", "POST")) == 1  # the run continued, not restarted
    second = rig.channel.chat("42")[1]
    assert second.text == "**writer**: Go to Hanoi"
    assert second.notice is None


async def test_a_failed_run_is_told(fake: FakeAgentok, rig: BackendRig) -> None:
    fake.script(Flow(steps=(Say("planner", "Trying"), Fail())))
    await rig.say("break")
    shown = rig.channel.chat("42")[0]
    assert shown.text.startswith("**planner**: Trying")
    assert shown.notice == t("en", "err_upstream")


async def test_a_run_that_never_ends_times_out_and_is_aborted(
    fake: FakeAgentok, tmp_path: Path
) -> None:
    fake.script(Flow(steps=(Say("planner", "Thinking"), Hang())))
    r = await backend_rig(agentok(fake, run_timeout_s=0.5), tmp_path / "b.db")
    try:
        await r.say("forever")
    finally:
        await r.close()
    shown = r.channel.chat("42")[0]
    assert shown.notice == t("en", "err_timeout")
    assert len(fake.calls("/abort", "POST")) == 1
    assert fake.chats[1].status == "aborted"


async def test_stop_aborts_the_run(fake: FakeAgentok, rig: BackendRig) -> None:
    fake.script(Flow(steps=(Say("planner", "Step one"), Hang())))
    await rig.relay.submit(rig.channel.message("go"))
    await fake.wait_for(
        lambda: any(m["type"] == "assistant" for c in fake.chats.values() for m in c.messages)
    )
    for _ in range(300):
        if any(c[0] == "update" for c in rig.channel.calls):
            break
        await asyncio.sleep(0.01)
    await rig.say("/stop", command="stop")
    assert len(fake.calls("/abort", "POST")) == 1
    shown = rig.channel.chat("42")[0]
    assert shown.notice == t("en", "stopped")
    assert shown.text == "**planner**: Step one"


async def test_deleted_chat_starts_a_new_one(fake: FakeAgentok, rig: BackendRig) -> None:
    await rig.say("one")
    del fake.chats[1]
    await rig.say("two")
    assert len(fake.calls("/v1/chats", "POST")) == 2
    assert rig.channel.chat("42")[-1].notice == t("en", "conversation_reset")


async def test_files_are_refused(fake: FakeAgentok, rig: BackendRig) -> None:
    att = Attachment(ref="p", name="x.png", mime_type="image/png", kind="image", size=3)
    await rig.say("look", attachments=(att,))
    assert rig.channel.chat("42")[0].notice == t("en", "files_unsupported")
    assert fake.requests == []


async def test_wrong_key_is_an_auth_error(fake: FakeAgentok, tmp_path: Path) -> None:
    r = await backend_rig(agentok(fake, api_key=SecretStr("bad")), tmp_path / "b.db")
    try:
        await r.say("hi")
    finally:
        await r.close()
    assert r.channel.chat("42")[0].notice == t("en", "err_auth")
