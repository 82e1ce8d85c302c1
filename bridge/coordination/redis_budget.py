"""The bot-wide flood budget shared by every replica through Redis (one Lua script per step).

The same sliding log as :class:`bridge.budget.SlidingLogBudget`, kept in a sorted set: each
granted call is a member whose score is when its slot frees up; while the call is in flight that
is ``now + INFLIGHT_S`` (so a replica that dies holding slots frees them on its own), on release
``now + window``. The scripts read Redis' own clock (``TIME``), so replicas' clocks never matter,
and each step is atomic. A 429 penalty is one key every replica reads before granting anything.
If Redis cannot be reached the replica falls back to a local budget (``fallback`` calls per
second, normally ``rate / coordination.replicas``) and says so in the log once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from bridge.budget import Denied, Kind, Permit, SlidingLogBudget, threshold

log = logging.getLogger(__name__)

INFLIGHT_S = 30.0
"""How long an unreleased slot is held at most (a call's own timeout is shorter)."""
CALL_TIMEOUT_S = 1.0
"""A Redis step slower than this counts as Redis being down (the local share is used)."""

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

ACQUIRE = (
    _NOW_MS
    + """
local slots, blocked_key, pressed_key = KEYS[1], KEYS[2], KEYS[3]
local cap, window, inflight = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local action = ARGV[5] == '1'
if redis.call('ZSCORE', slots, ARGV[1]) then return 0 end
local blocked = tonumber(redis.call('GET', blocked_key) or '0')
if now < blocked then return blocked - now end
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
if action then
  local pressed = tonumber(redis.call('GET', pressed_key) or '0')
  if pressed > 0 and now - pressed < window then return pressed + window - now end
end
local held = redis.call('ZCARD', slots)
if held < cap then
  redis.call('ZADD', slots, now + inflight, ARGV[1])
  redis.call('PEXPIRE', slots, inflight + window)
  return 0
end
if not action then redis.call('SET', pressed_key, now, 'PX', window) end
local nth = redis.call('ZRANGE', slots, held - cap, held - cap, 'WITHSCORES')
local wait = window
if nth[2] then wait = math.min(window, tonumber(nth[2]) - now) end
return math.max(2, wait)
"""
)
"""KEYS: slots, blocked, pressed. ARGV: permit id, cap, window ms, in-flight ms, is-action.
Returns 0 when granted, else the milliseconds to wait (the in-memory log's rule). Idempotent per
permit id: redis-py sends a script again when a connection drops before its reply, and the
second run must find its own grant rather than count it against the budget."""

RELEASE = (
    _NOW_MS
    + """
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""
)
"""KEYS: slots. ARGV: permit id, sent (1/0), window ms."""

PENALISE = (
    _NOW_MS
    + """
local till = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > current then redis.call('SET', KEYS[1], till, 'PX', tonumber(ARGV[1]) + 1000) end
return 0
"""
)
"""KEYS: blocked. ARGV: retry-after ms."""


class _RedisPermit:
    __slots__ = ("_budget", "_id", "_released")

    def __init__(self, budget: RedisFloodBudget, permit_id: str) -> None:
        self._budget = budget
        self._id = permit_id
        self._released = False

    async def release(self, *, sent: bool = True) -> None:
        if not self._released:
            self._released = True
            await self._budget.release(self._id, sent=sent)


class RedisFloodBudget:
    """A :class:`bridge.budget.FloodBudget` shared by all replicas of one bot through Redis.

    Args:
        redis: a ``redis.asyncio.Redis`` client.
        prefix: key prefix naming the bot (e.g. ``clickai-bridge:flood:telegram:123``).
        per_s: the bot-wide calls per second (``telegram.global_per_second``).
        fallback: calls per second this replica may make alone while Redis is unreachable.
    """

    def __init__(self, redis: Any, prefix: str, per_s: float, *, fallback: float) -> None:
        self._redis = redis
        self._keys = [f"{prefix}:slots", f"{prefix}:blocked", f"{prefix}:pressed"]
        if per_s >= 1.0:
            self.limit, self.window_s = int(per_s), 1.0
        else:
            self.limit, self.window_s = 1, 1.0 / max(per_s, 1e-3)
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)
        self._penalise = redis.register_script(PENALISE)
        self._local = SlidingLogBudget(fallback)
        self._warned_at = -60.0
        self._ids = f"{secrets.token_hex(4)}:"
        self._pending: set[asyncio.Future[Any]] = set()
        self._n = 0

    def _down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 60:
            self._warned_at = now
            log.warning("flood budget: Redis failed (%s); using this replica's share", exc)

    async def try_acquire(self, kind: Kind) -> Permit | Denied:
        self._n += 1
        permit_id = f"{self._ids}{self._n}"
        args = [
            permit_id,
            threshold(self.limit, kind),
            int(self.window_s * 1000),
            int(INFLIGHT_S * 1000),
            1 if kind == Kind.ACTION else 0,
        ]
        call = asyncio.ensure_future(self._acquire(keys=self._keys, args=args))
        try:
            wait_ms = int(await asyncio.wait_for(asyncio.shield(call), CALL_TIMEOUT_S))
        except BaseException as exc:
            # Cancelled or timed out mid-call: a slot granted after all must not stay held.
            self._pending.add(call)
            call.add_done_callback(self._pending.discard)
            call.add_done_callback(lambda done: self._abandoned(done, permit_id))
            if not isinstance(exc, Exception):
                raise
            self._down(exc)  # redis.RedisError, OSError, TimeoutError: never stall
            return await self._local.try_acquire(kind)
        if wait_ms == 0:
            return _RedisPermit(self, permit_id)
        return Denied(wait_ms / 1000)

    def _abandoned(self, call: asyncio.Future[Any], permit_id: str) -> None:
        """A grant nobody received (the asker was cancelled or gave up): free its slot. A call
        that failed may still have run on the server, so it is released too (a no-op if not)."""
        if not call.cancelled() and call.exception() is None and int(call.result()) != 0:
            return
        task = asyncio.ensure_future(self.release(permit_id, sent=False))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait until every abandoned ask and every release in flight has reached Redis."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def release(self, permit_id: str, *, sent: bool) -> None:
        args = [permit_id, 1 if sent else 0, int(self.window_s * 1000)]
        await self._run(self._release, self._keys[:1], args)  # else it frees after INFLIGHT_S

    async def penalise(self, retry_after: float) -> None:
        await self._local.penalise(retry_after)
        await self._run(self._penalise, self._keys[1:2], [int(max(0.0, retry_after) * 1000)])

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> None:
        """One script call that a cancelled caller cannot cut in half (redis-py drops the
        connection when a read is cancelled), bounded by ``CALL_TIMEOUT_S``."""
        call = asyncio.ensure_future(script(keys=keys, args=args))
        self._pending.add(call)
        call.add_done_callback(self._pending.discard)
        try:
            await asyncio.wait_for(asyncio.shield(call), CALL_TIMEOUT_S)
        except Exception as exc:
            self._down(exc)
