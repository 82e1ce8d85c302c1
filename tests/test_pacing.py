"""The pacing scheduler: budgets, priorities, penalties and coalescing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bridge.errors import RateLimited
from bridge.model import OutboundFile, PaceBudget
from bridge.pacing import (
    EVIDENCE_HOLD_S,
    FINAL,
    FIRST,
    INTERMEDIATE,
    Pacer,
    PaceState,
    Slot,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(
    chat: float = 1.0, group: float = 3.0, global_: float = 30.0
) -> tuple[PaceState, FakeClock]:
    clock = FakeClock()
    budget = PaceBudget(chat_interval_s=chat, group_interval_s=group, global_per_s=global_)
    return PaceState(budget=budget, now=clock), clock


def slot(seq: int, key: str = "c", group: bool = False) -> Slot:
    return Slot(key=key, is_group=group, seq=seq)


def test_one_update_per_chat_interval() -> None:
    st, clock = state(chat=1.0)
    s = slot(1)
    st.want(s, FIRST)
    assert st.pick() is s
    st.done(s)
    st.want(s, INTERMEDIATE)
    assert st.pick() is None
    assert st.next_wake() == pytest.approx(1.0)
    clock.now += 0.99
    assert st.pick() is None
    clock.now += 0.02
    assert st.pick() is s


def test_groups_use_the_slower_interval() -> None:
    st, clock = state(chat=1.0, group=3.0)
    g = slot(1, key="g", group=True)
    st.want(g, FIRST)
    assert st.pick() is g
    st.done(g)
    st.want(g, INTERMEDIATE)
    clock.now += 1.5
    assert st.pick() is None
    clock.now += 1.6
    assert st.pick() is g


def test_a_429_in_one_chat_does_not_hold_the_others() -> None:
    st, clock = state(chat=0.0)
    a, b = slot(1, key="a"), slot(2, key="b")
    assert st.penalise("a", 30.0, global_=False) == 0.0
    st.want(a, FINAL)
    st.want(b, FINAL)
    assert st.pick() is b  # no evidence that the penalty was bot-wide
    assert st.pick() is None  # chat a waits its own penalty
    clock.now += 30.01
    assert st.pick() is a


def test_several_chats_penalised_together_hold_the_whole_bot() -> None:
    st, clock = state(chat=0.0)
    assert st.penalise("a", 2.0, global_=False) == 0.0
    clock.now += 0.3
    assert st.penalise("b", 2.0, global_=False) == 0.0
    clock.now += 0.3
    # a third chat within a second, told to wait until about the same moment: bot-wide,
    # until the earliest of the penalties ends
    assert st.penalise("c", 2.0, global_=False) == pytest.approx(1.4)


def test_a_hold_inferred_from_evidence_is_short() -> None:
    st, clock = state(chat=0.0)
    for key in ("g1", "g2", "g3"):  # three groups over 20 a minute, all told ~40 s
        hold = st.penalise(key, 40.0, global_=False)
        clock.now += 0.1
    assert hold == pytest.approx(EVIDENCE_HOLD_S)
    assert st.penalise("g4", 40.0, global_=True) == 40.0  # said by the platform: all of it


def test_chats_over_their_own_limits_at_once_stay_per_chat() -> None:
    st, clock = state(chat=0.0)
    for key, wait in (("g1", 40.0), ("g2", 17.0), ("g3", 29.0), ("g4", 5.0)):
        assert st.penalise(key, wait, global_=False) == 0.0  # groups over 20 a minute
        clock.now += 0.1


def test_penalties_spread_over_time_are_per_chat() -> None:
    st, clock = state(chat=0.0)
    for key in ("a", "b", "c", "d"):
        assert st.penalise(key, 40.0, global_=False) == 0.0  # e.g. groups over 20/min
        clock.now += 1.5


def test_a_global_penalty_is_passed_on_whole() -> None:
    st, _ = state()
    assert st.penalise("a", 5.0, global_=True) == 5.0


def test_final_then_first_then_oldest_intermediate() -> None:
    st, _ = state()
    inter = [slot(i, key=f"i{i}") for i in range(3)]
    for s in inter:
        s.shown_once = True
        st.want(s, INTERMEDIATE)
    first = slot(10, key="f")
    final = slot(11, key="z")
    st.want(first, FIRST)
    st.want(final, FINAL)
    order = [st.pick() for _ in range(5)]
    assert order == [final, first, *inter]
    assert st.pick() is None


def test_penalty_blocks_chat_exactly_for_retry_after() -> None:
    st, clock = state(chat=1.0)
    s = slot(1)
    st.want(s, FIRST)
    assert st.pick() is s
    st.done(s)
    st.penalise("c", 35.0, global_=False)
    st.want(s, FINAL)
    clock.now += 34.9
    assert st.pick() is None
    clock.now += 0.2
    assert st.pick() is s


def test_inflight_slot_is_not_picked_twice() -> None:
    st, clock = state(chat=0.0)
    s = slot(1)
    st.want(s, FIRST)
    assert st.pick() is s
    st.want(s, INTERMEDIATE)
    clock.now += 5
    assert st.pick() is None  # still in flight
    st.done(s)
    assert st.pick() is s


class RecordingReply:
    """A ReplyStream that records calls; the first N updates answer 429."""

    def __init__(self, key: str, *, fail_first: int = 0, retry_after: float = 0.05) -> None:
        self.pace_key = key
        self.is_group = False
        self.wants_title = False
        self.calls: list[tuple[str, str]] = []
        self._fail = fail_first
        self._retry_after = retry_after

    async def start(self) -> None:
        self.calls.append(("start", ""))

    async def update(self, text: str) -> None:
        if self._fail:
            self._fail -= 1
            raise RateLimited("test", self._retry_after)
        self.calls.append(("update", text))
        await asyncio.sleep(0)

    async def set_title(self, title: str) -> None:
        self.calls.append(("title", title))

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        if self._fail:
            self._fail -= 1
            raise RateLimited("test", self._retry_after)
        self.calls.append(("finish", text))
        return ["m1"]


async def test_driver_coalesces_and_lands_final() -> None:
    pacer = Pacer(PaceBudget(chat_interval_s=0.05, group_interval_s=0.05, global_per_s=100))
    reply = RecordingReply("chat")
    paced = pacer.open(reply)
    for i in range(1, 50):
        paced.set_text("x" * i)
    ids = await paced.finish("x" * 60)
    await pacer.stop()
    assert ids == ["m1"]
    assert reply.calls[-1] == ("finish", "x" * 60)
    updates = [c for c in reply.calls if c[0] == "update"]
    assert len(updates) <= 2  # 49 deltas coalesced into at most a couple of edits
    assert len({text for _, text in updates}) == len(updates)  # never the same text twice


async def test_driver_retries_final_after_rate_limit() -> None:
    limited: list[str] = []
    pacer = Pacer(
        PaceBudget(chat_interval_s=0.01, group_interval_s=0.01, global_per_s=100),
        on_rate_limited=limited.append,
    )
    reply = RecordingReply("chat", fail_first=2, retry_after=0.02)
    paced = pacer.open(reply)
    paced.set_text("partial")
    ids = await paced.finish("complete")
    await pacer.stop()
    assert ids == ["m1"]
    assert reply.calls[-1] == ("finish", "complete")
    assert len(limited) == 2
    assert paced.rate_limited == 2


async def test_driver_propagates_other_failures_from_finish() -> None:
    class Broken(RecordingReply):
        async def finish(self, text: str, **kwargs: object) -> list[str]:  # type: ignore[override]
            raise RuntimeError("boom")

    pacer = Pacer(PaceBudget(chat_interval_s=0.01, group_interval_s=0.01, global_per_s=100))
    paced = pacer.open(Broken("c"))
    with pytest.raises(RuntimeError, match="boom"):
        await paced.finish("x")
    await pacer.stop()


async def test_texts_arriving_while_the_first_is_sent_are_intermediate() -> None:
    gate = asyncio.Event()

    class Slow(RecordingReply):
        async def update(self, text: str) -> None:
            self.calls.append(("update", text))
            await gate.wait()

    pacer = Pacer(PaceBudget(chat_interval_s=0.0, group_interval_s=0.0, global_per_s=100))
    reply = Slow("a")
    paced = pacer.open(reply)
    paced.set_text("one")
    for _ in range(100):
        if reply.calls:
            break
        await asyncio.sleep(0)
    assert reply.calls == [("update", "one")]  # the first text is on its way
    paced.set_text("one two")
    # not a second "first" text competing with other chats' real first texts
    assert paced._slot.priority == INTERMEDIATE
    gate.set()
    assert await paced.finish("one two three") == ["m1"]
    await pacer.stop()
