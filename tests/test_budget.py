"""The bot-wide flood budget: sliding log counted at completion, shares per kind, penalties."""

from __future__ import annotations

import asyncio
import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.budget import (
    COVER,
    Cover,
    Denied,
    Kind,
    SlidingLog,
    SlidingLogBudget,
    spend,
    threshold,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_of(limit: int = 10) -> tuple[SlidingLog, FakeClock]:
    clock = FakeClock()
    return SlidingLog.for_rate(float(limit), clock), clock


def test_limit_slots_then_wait_until_a_window_after_completion() -> None:
    log, clock = log_of(5)
    for _ in range(5):
        assert log.try_acquire(Kind.FINAL) == 0.0
    assert log.try_acquire(Kind.FINAL) == pytest.approx(1.0)  # all still in flight
    clock.now += 0.2
    log.release()  # the first returned at +0.2: its slot is held until +1.2
    assert log.try_acquire(Kind.FINAL) == pytest.approx(1.0)
    clock.now += 0.999
    assert log.try_acquire(Kind.FINAL) > 0.0
    clock.now += 0.002
    assert log.try_acquire(Kind.FINAL) == 0.0


def test_a_slow_response_holds_its_slot_longer() -> None:
    log, clock = log_of(1)
    assert log.try_acquire(Kind.FINAL) == 0.0
    clock.now += 5.0  # the loop was busy: the response is seen late
    assert log.try_acquire(Kind.FINAL) > 0.0
    log.release()
    clock.now += 0.99
    assert log.try_acquire(Kind.FINAL) > 0.0
    clock.now += 0.02
    assert log.try_acquire(Kind.FINAL) == 0.0


def test_an_unsent_call_frees_its_slot_at_once() -> None:
    log, _ = log_of(1)
    assert log.try_acquire(Kind.FIRST) == 0.0
    log.release(sent=False)
    assert log.try_acquire(Kind.FIRST) == 0.0


def test_shares_keep_room_for_first_and_final_texts() -> None:
    log, _ = log_of(10)
    granted = 0
    while log.try_acquire(Kind.INTERMEDIATE) == 0.0:
        granted += 1
    assert granted == threshold(10, Kind.INTERMEDIATE) == 6
    for _ in range(2):
        assert log.try_acquire(Kind.FIRST) == 0.0
        assert log.try_acquire(Kind.FINAL) == 0.0
    assert log.try_acquire(Kind.FINAL) > 0.0


def test_chat_actions_fill_a_tenth_and_yield_to_waiting_texts() -> None:
    log, clock = log_of(20)
    actions = 0
    while log.try_acquire(Kind.ACTION) == 0.0:
        actions += 1
    assert actions == 2
    for _ in range(20 - 2):
        assert log.try_acquire(Kind.FINAL) == 0.0
    assert log.try_acquire(Kind.FIRST) > 0.0  # a text was refused: pressure
    for _ in range(20):
        log.release()
    clock.now += 1.01  # every slot is free again, but the pressure is recent
    clock.now -= 0.02
    assert log.try_acquire(Kind.ACTION) > 0.0
    clock.now += 1.0
    assert log.try_acquire(Kind.ACTION) == 0.0


def test_a_bot_wide_penalty_blocks_every_kind() -> None:
    log, clock = log_of(10)
    log.penalise(3.0)
    assert log.try_acquire(Kind.FINAL) == pytest.approx(3.0)
    clock.now += 3.01
    assert log.try_acquire(Kind.FINAL) == 0.0


def test_rates_below_one_per_second_use_a_longer_window() -> None:
    log = SlidingLog.for_rate(0.5, FakeClock())
    assert (log.limit, log.window_s) == (1, 2.0)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=30),
    calls=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=0.3),  # when the bridge wants to send
            st.floats(min_value=0.0, max_value=1.0),  # loop lag before the call leaves
            st.floats(min_value=0.0, max_value=0.5),  # network, then response seen
        ),
        min_size=1,
        max_size=150,
    ),
)
def test_no_sliding_second_at_arrival_exceeds_the_limit(
    limit: int, calls: list[tuple[float, float, float]]
) -> None:
    """Simulate callers that ask the budget, leave late and return later: wherever inside
    [decision, seen completion] the platform counts a call, any 1-second window holds at most
    ``limit`` of them."""
    log, clock = log_of(limit)
    start = clock.now
    # events: (time, order, kind, index); kind 0 = release, 1 = ask
    events: list[tuple[float, int, int, int]] = []
    for i, (gap, _, _) in enumerate(calls):
        heapq.heappush(events, (start + gap * i, 1, 1, i))
    arrivals: list[float] = []
    while events:
        at, _, what, i = heapq.heappop(events)
        clock.now = max(clock.now, at)
        if what == 0:
            log.release()
            continue
        wait = log.try_acquire(Kind.FINAL)
        if wait > 0.0:
            heapq.heappush(events, (clock.now + wait, 1, 1, i))
            continue
        _, lag, network = calls[i]
        arrivals.append(clock.now + lag)  # counted at the latest moment it could be
        heapq.heappush(events, (clock.now + lag + network, 0, 0, i))
    arrivals.sort()
    lo = 0
    for hi, at in enumerate(arrivals):
        while arrivals[lo] <= at - 1.0:
            lo += 1
        assert hi - lo + 1 <= limit


async def test_spend_uses_the_pacers_slot_once_then_takes_its_own() -> None:
    clock = FakeClock()
    budget = SlidingLogBudget(2.0, clock=clock)
    granted = await budget.try_acquire(Kind.FINAL)
    assert not isinstance(granted, Denied)
    COVER.set(Cover(granted, Kind.FINAL, task=asyncio.current_task()))
    async with spend(budget, Kind.INTERMEDIATE):
        assert budget.log.held() == 1  # the cover, no new slot
    async with spend(budget, Kind.INTERMEDIATE):
        assert budget.log.held() == 2  # a second call of the job takes its own
    assert budget.log.held() == 2  # returned, but held for a window
    clock.now += 1.01
    assert budget.log.held() == 1  # only the pacer's cover is left
    COVER.set(None)
