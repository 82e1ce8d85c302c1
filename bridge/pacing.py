"""One flood-safe scheduler per platform: decides which reply may touch the platform next.

Every reply update goes through a :class:`Pacer`. It keeps each chat at most one call per
``chat_interval_s`` (``group_interval_s`` for groups), takes a slot of the bot-wide
:class:`bridge.budget.FloodBudget` for every call (see that module for why the budget holds at
arrival), honours ``retry_after`` penalties exactly, coalesces deltas (only the newest text is
sent), and when demand exceeds the budget spends it on final texts first, then first texts,
and only then on intermediate edits (oldest waiting first).

A 429 holds only its own chat, unless there is evidence that the penalty is bot-wide: the
platform says so, or ``BOT_WIDE_CHATS`` different chats were penalised within ``EVIDENCE_S``
with penalties that end together (within ``EVIDENCE_S``); then the whole budget waits until
the earliest of those ends, at most ``EVIDENCE_HOLD_S`` (a penalty that really is bot-wide
answers the next calls with 429s again, which renews the hold). Groups over their own
20-a-minute limit that happen to be penalised together cost everyone at most that.

The decision logic (:class:`PaceState`) is pure and driven by an injected clock; the async
driver (:class:`Pacer`) only sleeps until the next moment something can be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bridge.budget import COVER, Cover, Denied, FloodBudget, Kind, Permit, SlidingLogBudget
from bridge.errors import ChannelError, RateLimited
from bridge.model import OutboundFile, PaceBudget, ReplyStream

log = logging.getLogger(__name__)

FINAL, FIRST, INTERMEDIATE = Kind.FINAL, Kind.FIRST, Kind.INTERMEDIATE
BOT_WIDE_CHATS = 3
"""This many different chats penalised within ``EVIDENCE_S``: treat the penalty as bot-wide."""
EVIDENCE_S = 1.0
EVIDENCE_HOLD_S = 2.0
"""The longest bot-wide hold inferred from evidence (not said by the platform): groups that
reach their own limits together look the same and must not stall every chat for 40 s."""
Clock = Callable[[], float]
Job = Callable[[], Awaitable[bool]]
"""A paced call; returns False when it did not call the platform after all."""


@dataclass(eq=False, slots=True)
class Slot:
    """Scheduling state of one reply."""

    key: str
    is_group: bool
    seq: int
    priority: Kind = INTERMEDIATE
    waiting_since: float = 0.0
    pending: bool = False
    inflight: bool = False
    shown_once: bool = False
    """A text was sent or is on its way: later texts are intermediate, not first."""


@dataclass(slots=True)
class PaceState:
    """Pure bookkeeping: chat readiness, priorities and penalties (the budget is separate)."""

    budget: PaceBudget
    now: Clock
    _chat_ready: dict[str, float] = field(default_factory=dict)
    _waiting: dict[int, Slot] = field(default_factory=dict)
    _recent: deque[tuple[float, str, float]] = field(default_factory=deque)

    def want(self, slot: Slot, priority: Kind) -> bool:
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

    def candidate(self) -> Slot | None:
        """The most urgent waiting slot whose chat may be written to now."""
        now = self.now()
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
        return best

    def take(self, slot: Slot) -> None:
        """``slot`` is being sent now: charge its chat's interval."""
        interval = self.budget.group_interval_s if slot.is_group else self.budget.chat_interval_s
        self._chat_ready[slot.key] = self.now() + interval
        slot.pending = False
        slot.inflight = True
        slot.priority = INTERMEDIATE
        self._waiting.pop(slot.seq, None)

    def pick(self) -> Slot | None:
        """:meth:`candidate` and :meth:`take` in one (the budget already said yes)."""
        slot = self.candidate()
        if slot is not None:
            self.take(slot)
        return slot

    def done(self, slot: Slot) -> None:
        """The call for ``slot`` returned."""
        slot.inflight = False
        if slot.pending:
            self._waiting[slot.seq] = slot

    def penalise(self, key: str, retry_after: float, *, global_: bool) -> float:
        """The platform said wait. Nothing goes to ``key`` before it passes; returns how long
        the whole bot must wait too (0.0 without evidence that the penalty is bot-wide)."""
        now = self.now()
        until = now + max(0.0, retry_after)
        self._chat_ready[key] = max(self._chat_ready.get(key, 0.0), until)
        if global_:
            return max(0.0, retry_after)
        recent = self._recent
        recent.append((now, key, until))
        while recent and recent[0][0] < now - EVIDENCE_S:
            recent.popleft()
        # A bot-wide penalty ends at the same moment for every chat it hits; chats over their
        # own limits (a group's 20 a minute) are told different waits.
        ends: dict[str, float] = {}
        for _, k, end in recent:
            if abs(end - until) <= EVIDENCE_S:
                ends[k] = end
        if len(ends) < BOT_WIDE_CHATS:
            return 0.0
        return max(0.0, min(min(ends.values()) - now, EVIDENCE_HOLD_S))

    def forget(self, slot: Slot) -> None:
        self._waiting.pop(slot.seq, None)

    def next_wake(self, *, later_only: bool = False) -> float | None:
        """Seconds until a waiting slot's chat is writable (None: nothing is waiting).

        ``later_only`` skips slots that are writable already (their turn depends on the
        budget): the answer is when another slot joins them.
        """
        now = self.now()
        ready = self._chat_ready
        earliest: float | None = None
        for s in self._waiting.values():
            if s.inflight:
                continue
            at = ready.get(s.key, 0.0)
            if later_only and at <= now:
                continue
            if earliest is None or at < earliest:
                earliest = at
        return None if earliest is None else max(0.0, earliest - now)

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
        flood: FloodBudget | None = None,
        clock: Clock = time.monotonic,
        on_rate_limited: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.flood: FloodBudget = flood or SlidingLogBudget(budget.global_per_s)
        self._state = PaceState(budget=budget, now=clock)
        self._wake = asyncio.Event()
        self._seq = itertools.count()
        self._jobs: dict[int, Job] = {}
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
    def _request(self, slot: Slot, priority: Kind, job: Job) -> None:
        self._jobs[slot.seq] = job
        if self._state.want(slot, priority):
            self._wake.set()
        self.start()

    def _withdraw(self, slot: Slot) -> None:
        self._jobs.pop(slot.seq, None)
        self._state.forget(slot)

    async def _penalise(self, slot: Slot, exc: RateLimited) -> None:
        hold = self._state.penalise(slot.key, exc.retry_after, global_=exc.global_)
        log.warning(
            "%s: rate limited in %s for %.1fs%s",
            self.name,
            slot.key,
            exc.retry_after,
            f"; holding every chat for {hold:.1f}s" if hold else "",
        )
        if self._on_rate_limited is not None:
            self._on_rate_limited(self.name)
        if hold:
            await self.flood.penalise(hold)

    # --- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        state = self._state
        while True:
            self._wake.clear()
            slot = state.candidate()
            if slot is None:
                delay = state.next_wake()
                if delay is None:
                    state.drop_idle_chats()
            else:
                got = await self.flood.try_acquire(slot.priority)
                if not isinstance(got, Denied):
                    await self._dispatch(got)
                    continue
                later = state.next_wake(later_only=True)
                delay = got.retry_in if later is None else min(got.retry_in, later)
            if delay is None:
                await self._wake.wait()
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
            else:
                await asyncio.sleep(0)

    async def _dispatch(self, permit: Permit) -> None:
        """Spend ``permit`` on the most urgent sendable slot (things may have moved on)."""
        slot = self._state.candidate()
        job = self._jobs.pop(slot.seq, None) if slot is not None else None
        if slot is None or job is None:
            if slot is not None:
                self._state.forget(slot)
            await permit.release(sent=False)
            return
        kind = slot.priority
        self._state.take(slot)

        async def runner() -> None:
            cover = Cover(permit, kind, task=asyncio.current_task())
            COVER.set(cover)
            called = True
            try:
                called = await job()
            finally:
                self._state.done(slot)
                self._wake.set()
                await permit.release(sent=called or cover.used)

        task = asyncio.create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class PacedReply:
    """A reply whose updates wait for the pacer; ``finish`` returns once the final text landed."""

    def __init__(self, pacer: Pacer, slot: Slot, reply: ReplyStream) -> None:
        self._pacer = pacer
        self._slot = slot
        self._reply = reply
        self._text: str | Callable[[], str] = ""
        self._shown = ""
        self._final = False
        self.updates = 0
        self.rate_limited = 0

    async def start(self) -> None:
        """Show the platform's typing / loading indicator (not paced: it sends no text)."""
        await self._reply.start()

    @property
    def wants_title(self) -> bool:
        return self._reply.wants_title

    async def set_title(self, title: str) -> None:
        """Name the thread (not paced: it changes no message)."""
        await self._reply.set_title(title)

    @property
    def shown(self) -> str:
        """The text the platform shows so far (as last sent)."""
        return self._shown

    def set_text(self, text: str | Callable[[], str]) -> None:
        """The answer so far; sent when the budget allows (intermediate texts may be skipped).

        A function is called only when an update is actually sent, so a caller that gets the
        answer token by token need not build the whole text for every token.
        """
        if self._final:
            return
        if isinstance(text, str) and (not text.strip() or text == self._text):
            return
        self._text = text
        priority = INTERMEDIATE if self._slot.shown_once else FIRST
        self._pacer._request(self._slot, priority, self._send_update)

    async def _send_update(self) -> bool:
        text = self._text() if callable(self._text) else self._text
        if self._final or not text.strip() or text == self._shown:
            return False
        was_shown, self._slot.shown_once = self._slot.shown_once, True
        try:
            await self._reply.update(text)
        except RateLimited as exc:
            self._slot.shown_once = was_shown
            self.rate_limited += 1
            await self._pacer._penalise(self._slot, exc)
            if not self._final:
                again = INTERMEDIATE if was_shown else FIRST
                self._pacer._request(self._slot, again, self._send_update)
            return True
        except ChannelError as exc:
            # An intermediate text is disposable: the next update or the final one carries the
            # text again, and finish() reports a chat that is really unreachable.
            log.info("%s: intermediate update failed: %s", self._pacer.name, exc)
            self._slot.shown_once = was_shown
            return True
        self._shown = text
        self.updates += 1
        return True

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        """Deliver the final text with top priority, retrying after every ``retry_after``."""
        self._final = True
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        async def job() -> bool:
            try:
                ids = await self._reply.finish(
                    text, notice=notice, files=files, feedback=feedback, suggestions=suggestions
                )
            except RateLimited as exc:
                self.rate_limited += 1
                await self._pacer._penalise(self._slot, exc)
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
            return True

        self._pacer._request(self._slot, FINAL, job)
        try:
            return await done
        finally:
            self._pacer._withdraw(self._slot)
