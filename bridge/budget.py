"""The bot-wide flood budget: every call that reaches a chat holds a slot of a sliding log.

**Algorithm (sliding log, counted at completion).** A call takes a slot when the bridge decides
to send it and keeps it until ``window_s`` (1 s) after its response came back. A new call is
allowed only while fewer than ``limit`` slots are held. That bounds what the platform sees at
*arrival*, whatever the event loop or the network does:

    Telegram receives a call somewhere between our decision ``d`` and the moment we saw its
    response ``c``. Take any 1-second window ``[t, t+1)`` and the calls that arrived in it;
    let ``k`` be the last of them we decided. Every other one was decided no later than
    ``d_k`` and returned no earlier than its arrival ``≥ t > d_k - 1``, so at ``d_k`` it still
    held its slot (``c + 1 > d_k``). ``k`` was allowed, hence fewer than ``limit`` were held:
    at most ``limit`` calls arrive in any 1-second window.

A busy loop (CPU contention) only makes the bridge *see* responses later, which holds slots
longer: throughput drops (``limit / (1 s + round trip)``), safety does not. A token bucket
that refills from decision times gives no such bound: calls decided in one second can arrive
bunched into the next together with that second's own (the 429s at flood onset).

**Numbers.** ``limit`` is the configured ``global_per_second`` (default 25, at most 30), below
Telegram's documented 30 per second: the proof above already holds at 30, and the 5 spare
calls absorb what the bridge cannot see (another process using the same token, an operator's
script). Budgets below 1/s use one slot over a longer window.

**Priorities.** Kinds may fill only a share of the slots: final and first texts all of them,
intermediate edits 60 % (the rest stays free for first and final texts, which come in bursts
when many answers start or end together), chat actions 10 %, and none at all while a text was
refused a slot in the last window: typing indicators are a courtesy and are dropped first
under pressure (at a flood onset every slot they took would delay a first text by a second).

:class:`FloodBudget` is the protocol (a Redis implementation shares one budget between
replicas); :class:`SlidingLogBudget` is the in-memory default. The bookkeeping
(:class:`SlidingLog`) is pure and driven by an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, runtime_checkable

Clock = Callable[[], float]
WINDOW_S = 1.0
MIN_WAIT_S = 0.002  # never spin: a denied caller sleeps at least this long


class Kind(IntEnum):
    """What a call carries, most urgent first (also the pacer's priorities)."""

    FINAL = 0
    FIRST = 1
    INTERMEDIATE = 2
    ACTION = 3


SHARE: dict[Kind, float] = {
    Kind.FINAL: 1.0,
    Kind.FIRST: 1.0,
    Kind.INTERMEDIATE: 0.6,
    Kind.ACTION: 0.1,
}
"""Share of the slots each kind may fill (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Denied:
    """No slot now; ``retry_in`` is when one may free up (a hint: a release can come sooner)."""

    retry_in: float


class Permit(Protocol):
    """One granted slot; release it once the call returned (or was never made)."""

    async def release(self, *, sent: bool = True) -> None:
        """``sent``: the call may have reached the platform (hold the slot one more window)."""


@runtime_checkable
class FloodBudget(Protocol):
    """A bot-wide budget of platform calls, shared by every chat of one bot."""

    async def try_acquire(self, kind: Kind) -> Permit | Denied:
        """A slot for one call of ``kind`` now, or how long to wait before asking again."""
        ...

    async def penalise(self, retry_after: float) -> None:
        """The platform penalised the whole bot: grant nothing before ``retry_after`` passed."""


def threshold(limit: int, kind: Kind) -> int:
    """How many held slots still let a call of ``kind`` in (at least one for texts)."""
    share = math.floor(limit * SHARE[kind])
    return share if kind == Kind.ACTION else max(1, share)


@dataclass(slots=True)
class SlidingLog:
    """Pure bookkeeping of held slots: ``limit`` per ``window_s`` counted from completion."""

    limit: int
    window_s: float
    now: Clock
    _inflight: int = 0
    _expiries: deque[float] = field(default_factory=deque)
    _blocked_until: float = 0.0
    _pressed_at: float = -math.inf

    @classmethod
    def for_rate(cls, per_s: float, now: Clock = time.monotonic) -> SlidingLog:
        """``per_s`` calls per second: ``floor(per_s)`` per second, or 1 per ``1/per_s`` s."""
        if per_s >= 1.0:
            return cls(limit=int(per_s), window_s=WINDOW_S, now=now)
        return cls(limit=1, window_s=1.0 / max(per_s, 1e-3), now=now)

    def held(self) -> int:
        """Slots held now (in flight, or returned less than a window ago)."""
        self._expire(self.now())
        return self._inflight + len(self._expiries)

    def _expire(self, now: float) -> None:
        while self._expiries and self._expiries[0] <= now:
            self._expiries.popleft()

    def try_acquire(self, kind: Kind) -> float:
        """0.0 when a slot was granted, else the seconds until one may free up."""
        now = self.now()
        if now < self._blocked_until:
            return self._blocked_until - now
        self._expire(now)
        if kind == Kind.ACTION and now - self._pressed_at < self.window_s:
            return self._pressed_at + self.window_s - now
        held = self._inflight + len(self._expiries)
        cap = threshold(self.limit, kind)
        if held < cap:
            self._inflight += 1
            return 0.0
        if kind != Kind.ACTION:
            self._pressed_at = now
        # ``held - cap + 1`` slots must go; completed ones expire in order, in-flight ones
        # hold at least a full window after they return.
        need = held - cap
        if need < len(self._expiries):
            return max(MIN_WAIT_S, self._expiries[need] - now)
        return self.window_s

    def release(self, *, sent: bool = True) -> None:
        """A granted call returned (``sent``) or was never made."""
        self._inflight = max(0, self._inflight - 1)
        if sent:
            self._expiries.append(self.now() + self.window_s)

    def penalise(self, retry_after: float) -> None:
        self._blocked_until = max(self._blocked_until, self.now() + max(0.0, retry_after))


class _LogPermit:
    __slots__ = ("_log", "_released")

    def __init__(self, log: SlidingLog) -> None:
        self._log = log
        self._released = False

    async def release(self, *, sent: bool = True) -> None:
        if not self._released:
            self._released = True
            self._log.release(sent=sent)


class SlidingLogBudget:
    """The in-memory :class:`FloodBudget` (one process): a :class:`SlidingLog`."""

    def __init__(self, per_s: float, *, clock: Clock = time.monotonic) -> None:
        self.log = SlidingLog.for_rate(per_s, clock)

    async def try_acquire(self, kind: Kind) -> Permit | Denied:
        wait = self.log.try_acquire(kind)
        return _LogPermit(self.log) if wait == 0.0 else Denied(wait)

    async def penalise(self, retry_after: float) -> None:
        self.log.penalise(retry_after)


async def acquire(budget: FloodBudget, kind: Kind) -> Permit:
    """Wait for a slot of ``kind`` (sleeping exactly as long as the budget says)."""
    while True:
        got = await budget.try_acquire(kind)
        if not isinstance(got, Denied):
            return got
        await asyncio.sleep(max(MIN_WAIT_S, got.retry_in))


@dataclass(slots=True)
class Cover:
    """A slot the pacer already granted for the first platform call of a paced job."""

    permit: Permit
    kind: Kind
    task: asyncio.Task[None] | None = None
    used: bool = False


COVER: contextvars.ContextVar[Cover | None] = contextvars.ContextVar("flood_cover", default=None)
"""Set by the pacer around a paced job: its first call spends the pacer's slot."""


@contextlib.asynccontextmanager
async def spend(budget: FloodBudget | None, kind: Kind) -> AsyncIterator[None]:
    """Hold a slot around one platform call.

    Inside a paced job the first call spends the pacer's slot; every further call (a second
    message part, a file, a plain-text retry) waits for its own, of the job's kind.
    """
    cover = COVER.get()
    if cover is not None and cover.task is not asyncio.current_task():
        cover = None  # a task the job spawned: not the job's own call
    if cover is not None and not cover.used:
        cover.used = True
        yield
        return
    if budget is None:
        yield
        return
    permit = await acquire(budget, cover.kind if cover is not None else kind)
    try:
        yield
    finally:
        await permit.release()
