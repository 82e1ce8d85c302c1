"""One flood-safe scheduler per platform: decides which reply may touch the platform next.

Every reply update goes through a :class:`Pacer`. It keeps each chat at most one call per
``chat_interval_s`` (``group_interval_s`` for groups), the whole bot under ``global_per_s``,
honours ``retry_after`` penalties exactly, coalesces deltas (only the newest text is sent), and
when demand exceeds the budget spends it on final texts first, then first texts, and only then
on intermediate edits (oldest waiting first). Intermediate edits never spend the last
``RESERVE`` share of the global bucket, so a first or final text finds a token at once.

The decision logic (:class:`PaceState`) is pure and driven by an injected clock; the async
driver (:class:`Pacer`) only sleeps until the next moment something can be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bridge.errors import ChannelError, RateLimited
from bridge.model import OutboundFile, PaceBudget, ReplyStream

log = logging.getLogger(__name__)

FINAL, FIRST, INTERMEDIATE = 0, 1, 2
RESERVE = 0.2  # share of the global burst that only first and final texts may spend
GLOBAL_HOLD_S = 1.0
"""After any 429 every chat waits this long (at most ``retry_after``): the platform does not say
whether a penalty is per chat or bot-wide, and calls from other chats during a bot-wide penalty
would each earn a 429 of their own (a cascade seen under load)."""
Clock = Callable[[], float]


@dataclass(eq=False, slots=True)
class Slot:
    """Scheduling state of one reply."""

    key: str
    is_group: bool
    seq: int
    priority: int = INTERMEDIATE
    waiting_since: float = 0.0
    pending: bool = False
    inflight: bool = False
    shown_once: bool = False


@dataclass(slots=True)
class PaceState:
    """Pure bookkeeping: chat readiness, global token bucket and penalties."""

    budget: PaceBudget
    now: Clock
    _chat_ready: dict[str, float] = field(default_factory=dict)
    _tokens: float = 0.0
    _token_time: float = 0.0
    _global_block: float = 0.0
    _waiting: dict[int, Slot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tokens = self._burst
        self._token_time = self.now()

    @property
    def _burst(self) -> float:
        return max(1.0, self.budget.global_per_s)

    @property
    def _reserve(self) -> float:
        return float(int(self._burst * RESERVE))

    def want(self, slot: Slot, priority: int) -> bool:
        """``slot`` has something to send at ``priority`` (lower is more urgent).

        Returns False when nothing changed for the scheduler (the slot was already waiting at
        this priority: only its newest text changes), so the driver need not wake up.
        """
        changed = not slot.pending or priority < slot.priority
        if slot.pending:
            slot.priority = min(slot.priority, priority)
        else:
            slot.waiting_since = self.now()
            slot.pending = True
            slot.priority = priority
        self._waiting[slot.seq] = slot
        return changed

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._token_time)
        self._tokens = min(self._burst, self._tokens + elapsed * self.budget.global_per_s)
        self._token_time = now

    def pick(self) -> Slot | None:
        """The most urgent slot that may be sent now (and charge the budget for it)."""
        now = self.now()
        if now < self._global_block:
            return None
        self._refill(now)
        if self._tokens < 1.0:
            return None
        best: Slot | None = None
        for slot in self._waiting.values():
            if slot.inflight or self._chat_ready.get(slot.key, 0.0) > now:
                continue
            if best is None or (slot.priority, slot.waiting_since, slot.seq) < (
                best.priority,
                best.waiting_since,
                best.seq,
            ):
                best = slot
        if best is None:
            return None
        if best.priority == INTERMEDIATE and self._tokens < 1.0 + self._reserve:
            return None
        self._tokens -= 1.0
        interval = self.budget.group_interval_s if best.is_group else self.budget.chat_interval_s
        self._chat_ready[best.key] = now + interval
        best.pending = False
        best.inflight = True
        best.priority = INTERMEDIATE
        del self._waiting[best.seq]
        return best

    def done(self, slot: Slot) -> None:
        """The call for ``slot`` returned."""
        slot.inflight = False
        if slot.pending:
            self._waiting[slot.seq] = slot

    def penalise(self, key: str, retry_after: float, *, global_: bool) -> None:
        """The platform said wait: nothing goes to ``key`` (or anywhere) before it passes."""
        now = self.now()
        until = now + max(0.0, retry_after)
        if global_:
            self._global_block = max(self._global_block, until)
        else:
            self._chat_ready[key] = max(self._chat_ready.get(key, 0.0), until)
            hold = now + min(max(0.0, retry_after), GLOBAL_HOLD_S)
            self._global_block = max(self._global_block, hold)

    def forget(self, slot: Slot) -> None:
        self._waiting.pop(slot.seq, None)

    def next_wake(self) -> float | None:
        """Seconds until something might become sendable (None: nothing is waiting)."""
        now = self.now()
        self._refill(now)
        rate, ready = self.budget.global_per_s, self._chat_ready
        earliest: float | None = None
        for s in self._waiting.values():
            if s.inflight:
                continue
            need = 1.0 if s.priority < INTERMEDIATE else 1.0 + self._reserve
            at = max(ready.get(s.key, 0.0), now + max(0.0, need - self._tokens) / rate)
            if earliest is None or at < earliest:
                earliest = at
        if earliest is None:
            return None
        return max(0.0, max(earliest, self._global_block) - now)

    def drop_idle_chats(self) -> None:
        """Forget readiness entries that are in the past (keeps memory bounded)."""
        now = self.now()
        for key in [k for k, t in self._chat_ready.items() if t <= now]:
            del self._chat_ready[key]


class Pacer:
    """Async driver around :class:`PaceState`; one per platform."""

    def __init__(
        self,
        budget: PaceBudget,
        *,
        name: str = "",
        clock: Clock = time.monotonic,
        on_rate_limited: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._state = PaceState(budget=budget, now=clock)
        self._wake = asyncio.Event()
        self._seq = itertools.count()
        self._jobs: dict[int, Callable[[], Awaitable[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._on_rate_limited = on_rate_limited

    def open(self, reply: ReplyStream) -> PacedReply:
        """Wrap ``reply`` so its updates are scheduled by this pacer."""
        slot = Slot(key=reply.pace_key, is_group=reply.is_group, seq=next(self._seq))
        return PacedReply(self, slot, reply)

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"pacer-{self.name}")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None

    # --- used by PacedReply -------------------------------------------------------------------
    def _request(self, slot: Slot, priority: int, job: Callable[[], Awaitable[None]]) -> None:
        self._jobs[slot.seq] = job
        if self._state.want(slot, priority):
            self._wake.set()
        self.start()

    def _withdraw(self, slot: Slot) -> None:
        self._jobs.pop(slot.seq, None)
        self._state.forget(slot)

    def _penalise(self, slot: Slot, exc: RateLimited) -> None:
        log.warning(
            "%s: rate limited for %.1fs (%s)",
            self.name,
            exc.retry_after,
            "global" if exc.global_ else "chat",
        )
        if self._on_rate_limited is not None:
            self._on_rate_limited(self.name)
        self._state.penalise(slot.key, exc.retry_after, global_=exc.global_)

    # --- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            slot = self._state.pick()
            while slot is not None:
                job = self._jobs.pop(slot.seq, None)
                if job is None:
                    self._state.done(slot)
                else:
                    self._launch(slot, job)
                slot = self._state.pick()
            delay = self._state.next_wake()
            self._wake.clear()
            if delay is None:
                self._state.drop_idle_chats()
                await self._wake.wait()
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
            else:
                await asyncio.sleep(0)

    def _launch(self, slot: Slot, job: Callable[[], Awaitable[None]]) -> None:
        async def runner() -> None:
            try:
                await job()
            finally:
                self._state.done(slot)
                self._wake.set()

        task = asyncio.create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class PacedReply:
    """A reply whose updates wait for the pacer; ``finish`` returns once the final text landed."""

    def __init__(self, pacer: Pacer, slot: Slot, reply: ReplyStream) -> None:
        self._pacer = pacer
        self._slot = slot
        self._reply = reply
        self._text = ""
        self._shown = ""
        self._final = False
        self.updates = 0
        self.rate_limited = 0

    async def start(self) -> None:
        """Show the platform's typing / loading indicator (not paced: it sends no text)."""
        await self._reply.start()

    @property
    def shown(self) -> str:
        """The text the platform shows so far (as last sent)."""
        return self._shown

    def set_text(self, text: str) -> None:
        """The answer so far; sent when the budget allows (intermediate texts may be skipped)."""
        if self._final or not text.strip() or text == self._text:
            return
        self._text = text
        priority = INTERMEDIATE if self._slot.shown_once else FIRST
        self._pacer._request(self._slot, priority, self._send_update)

    async def _send_update(self) -> None:
        text = self._text
        if self._final or text == self._shown:
            return
        try:
            await self._reply.update(text)
        except RateLimited as exc:
            self.rate_limited += 1
            self._pacer._penalise(self._slot, exc)
            if not self._final:
                self._pacer._request(self._slot, FIRST, self._send_update)
            return
        except ChannelError as exc:
            # An intermediate text is disposable: the next update or the final one carries the
            # text again, and finish() reports a chat that is really unreachable.
            log.info("%s: intermediate update failed: %s", self._pacer.name, exc)
            return
        self._shown = text
        self._slot.shown_once = True
        self.updates += 1

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
    ) -> list[str]:
        """Deliver the final text with top priority, retrying after every ``retry_after``."""
        self._final = True
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            try:
                ids = await self._reply.finish(text, notice=notice, files=files, feedback=feedback)
            except RateLimited as exc:
                self.rate_limited += 1
                self._pacer._penalise(self._slot, exc)
                self._pacer._request(self._slot, FINAL, job)
            except BaseException as exc:
                if not done.done():
                    done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                self._shown = text
                if not done.done():
                    done.set_result(ids)

        self._pacer._request(self._slot, FINAL, job)
        try:
            return await done
        finally:
            self._pacer._withdraw(self._slot)
