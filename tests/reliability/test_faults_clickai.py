"""ClickAI-side faults: every failure gives the user an honest, translated notice, keeps what was
already answered, finishes the accepted event, and never holds up a healthy chat next to it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.i18n import t
from tests.fakes.clickai import FakeClickAI, HttpFailure, Reply
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.helpers_faults import (
    FaultyTransport,
    Rig,
    connect_timeout,
    connection_reset,
    make_rig,
    running,
    wait_requests,
)

HEALTHY = "The healthy chat gets every word of this answer."
PARTIAL = "alpha beta gamma delta epsilon zeta"


@dataclass(frozen=True)
class Fault:
    """One ClickAI fault: how to inject it, the notice the user must see, and whether part of
    the answer reached the chat before the failure (it must stay)."""

    name: str
    notice: str | None
    partial: bool = False
    http: HttpFailure | None = None
    reply: Reply | None = None
    reset: bool = False
    transport: Callable[[httpx.Request], Exception] | None = None

    def arm(self, fake: FakeClickAI, transport: FaultyTransport) -> None:
        if self.http is not None:
            fake.fail_next(self.http)
        if self.reply is not None:
            fake.script(self.reply)
        if self.reset:
            fake.reset_next(path="chat-messages")
        if self.transport is not None:
            transport.arm("chat-messages", self.transport)


FAULTS = [
    Fault("401", "err_auth", http=HttpFailure(status=401, code="unauthorized")),
    Fault("403", "err_forbidden", http=HttpFailure(status=403, code="app_unavailable")),
    Fault("404", "err_bad_request", http=HttpFailure(status=404, code="not_found")),
    Fault("429", "err_rate_limited", http=HttpFailure(status=429, code="too_many_requests")),
    Fault("500", "err_upstream", http=HttpFailure(status=500)),
    Fault("connect-timeout", "err_timeout", transport=connect_timeout),
    Fault("connection-reset", "err_upstream", reset=True),
    Fault("reset-in-transport", "err_upstream", transport=connection_reset),
    Fault(
        "read-timeout-mid-stream",
        "err_timeout",
        partial=True,
        reply=Reply(answer=PARTIAL, deltas=3, delta_delay=3.0),
    ),
    Fault("sse-cut", "err_upstream", partial=True, reply=Reply(answer=PARTIAL, cut_after=2)),
    Fault(
        "sse-error-frame",
        "err_upstream",
        partial=True,
        reply=Reply(answer=PARTIAL, deltas=3, error="completion_request_error", error_after=1),
    ),
    Fault("pings-only-hang", "err_timeout", reply=Reply(hang=True, hang_seconds=30)),
    Fault("slow-trickle", None, reply=Reply(answer=PARTIAL, deltas=6, delta_delay=0.15)),
]
IDS = [f.name for f in FAULTS]


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(ping_interval=0.1) as server:
        yield server


def healthy_reply() -> Reply:
    return Reply(answer=HEALTHY, deltas=6, delta_delay=0.1)


# --- through the relay ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
async def test_relay_fault_is_told_kept_and_isolated(
    fake: FakeClickAI, tmp_path: Path, fault: Fault
) -> None:
    transport = FaultyTransport()
    rig: Rig = await make_rig(
        fake, tmp_path / "b.db", transport=transport, idle_timeout_s=1.0, read_timeout_s=1.0
    )
    try:
        fake.script(healthy_reply())
        assert await rig.relay.submit(rig.channel.message("healthy", chat_id="99")) == "claimed"
        await wait_requests(fake, "chat-messages", 1)
        fault.arm(fake, transport)
        result = await rig.relay.submit(rig.channel.message("hi", chat_id="42", language="vi"))
        assert result == "claimed"
        await rig.settle()

        [healthy] = rig.channel.chat("99")
        assert (healthy.text, healthy.notice, healthy.feedback) == (HEALTHY, None, True)
        [shown] = rig.channel.chat("42")
        if fault.notice is None:
            assert (shown.text, shown.notice) == (PARTIAL, None)
        else:
            assert shown.notice == t("vi", fault.notice)
            assert shown.feedback is False
            if fault.partial:
                assert shown.text and PARTIAL.startswith(shown.text.strip())
            else:
                assert shown.text == ""
        # one attempt per message: no silent retries, nothing doubled
        assert len(fake.calls("chat-messages")) + len(transport.injected) == 2
        assert await rig.store.pending_events() == []
        finishes = [c for c in rig.channel.calls if c[0] == "finish" and c[1] == "42"]
        assert len(finishes) == 1
    finally:
        await rig.close()


async def test_gone_conversation_404_starts_a_new_one_without_losing_the_message(
    fake: FakeClickAI, tmp_path: Path
) -> None:
    rig = await make_rig(fake, tmp_path / "b.db")
    try:
        await rig.store.set_conversation(
            "fake:42", "00000000-0000-4000-8000-00000000dead", "fake:42"
        )
        await rig.relay.submit(rig.channel.message("still there?", language="vi"))
        await rig.settle()
        [shown] = rig.channel.chat("42")
        assert shown.text == "You said: still there?"
        assert shown.notice == t("vi", "conversation_reset")
    finally:
        await rig.close()


# --- end to end through the real Telegram channel ------------------------------------------------

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
async def test_telegram_end_to_end_fault_is_told_kept_and_isolated(
    fake: FakeClickAI, tg: FakeTelegram, tmp_path: Path, fault: Fault
) -> None:
    env = {"BRIDGE_CLICKAI__IDLE_TIMEOUT_S": "1.0", "BRIDGE_CLICKAI__READ_TIMEOUT_S": "1.0"}
    async with running(fake, tmp_path / "b.db", tg=tg, env=env) as b:
        transport = b.inject_clickai_transport()
        fake.script(healthy_reply())
        tg.push(tg.text(ANN.id, ANN, "healthy"))
        await wait_requests(fake, "chat-messages", 1)
        fault.arm(fake, transport)
        tg.push(tg.text(BINH.id, BINH, "hi"))
        await b.settle()

        assert tg.chat(ANN.id).texts() == [HEALTHY]
        [shown] = tg.chat(BINH.id).bot_messages()
        if fault.notice is None:
            assert shown.text == PARTIAL and shown.buttons() == ["👍", "👎"]
        else:
            notice = t("vi", fault.notice)
            assert shown.text.endswith(notice)
            assert shown.buttons() == []
            before = shown.text.removesuffix(notice).strip()
            assert bool(before) == fault.partial
            assert PARTIAL.startswith(before)
        assert len(fake.calls("chat-messages")) + len(transport.injected) == 2
        assert await b.app_store_pending() == []
    assert tg.rate_limited == 0


async def test_an_ambiguous_final_send_is_not_repeated(
    fake: FakeClickAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A finish that may have been applied (the platform's answer was lost) is not finished
    again with an error notice: that would show the answer twice."""
    rig = await make_rig(fake, tmp_path / "b.db")
    try:
        rig.channel.lose_finish_response["42"] = 1
        await rig.relay.submit(rig.channel.message("hello", chat_id="42"))
        await rig.relay.submit(rig.channel.message("healthy", chat_id="99"))
        await rig.settle()
        finishes = sorted(c for c in rig.channel.calls if c[0] == "finish")
        assert finishes == [
            ("finish", "42", "You said: hello"),
            ("finish", "99", "You said: healthy"),
        ]
        [shown] = rig.channel.chat("42")
        assert (shown.text, shown.notice) == ("You said: hello", None)
        assert await rig.store.pending_events() == []
        assert any("response lost" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        await rig.close()
