"""Chooses the coordination engines for a configuration (used by the composition root only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import Gauge

from bridge.budget import FloodBudget, SlidingLogBudget
from bridge.config import Settings
from bridge.coordination.base import Coordination, Timings, replica_id
from bridge.coordination.gate import LeaderGatedChannel
from bridge.coordination.leader import PostgresLeader
from bridge.coordination.locks import LocalScopeLocks, StoreScopeLocks
from bridge.errors import ConfigError
from bridge.metrics import Metrics
from bridge.model import Channel
from bridge.store.base import Namespace, Store
from bridge.store.postgres import PostgresStore

log = logging.getLogger(__name__)


def coordination_for(settings: Settings, store: Store) -> Coordination:
    """Store-backed locks and shared leases on PostgreSQL; in-process ones on SQLite."""
    c = settings.coordination
    timings = Timings(lease_s=c.lease_s, scope_wait_s=c.scope_wait_s)
    replica = c.replica_id or replica_id()
    if isinstance(store, PostgresStore):
        locks = StoreScopeLocks(
            store, owner=replica, lease_s=timings.lease_s, wait_s=timings.scope_wait_s
        )
        log.info("coordination: replica %s shares %s with other replicas", replica, "PostgreSQL")
        return Coordination(replica=replica, locks=locks, timings=timings, shared=True)
    return Coordination(
        replica=replica,
        locks=LocalScopeLocks(timings.scope_wait_s),
        timings=timings,
        shared=False,
    )


def gate_pollers(
    channels: Sequence[Channel],
    store: Store,
    namespaces: Mapping[str, Namespace],
    metrics: Metrics,
    on_lost: Callable[[], None],
) -> list[Channel]:
    """On a shared PostgreSQL store, polling channels run only on their bot's elected leader."""
    if not isinstance(store, PostgresStore):
        return list(channels)
    gated: list[Channel] = []
    for channel in channels:
        if not getattr(channel, "polling", False):
            gated.append(channel)
            continue
        name = channel.name
        bot = namespaces[name].bot if name in namespaces else name
        gauge = metrics.polling_leader.labels(name)

        def show(leading: bool, gauge: Gauge = gauge) -> None:
            gauge.set(1 if leading else 0)

        gated.append(
            LeaderGatedChannel(
                channel, PostgresLeader(store.dsn, bot), on_lost=on_lost, on_state=show
            )
        )
    return gated


def open_redis(settings: Settings) -> Any:
    """A ``redis.asyncio`` client for ``coordination.redis_url``, or None when it is unset."""
    url = settings.coordination.redis_url
    if url is None:
        return None
    try:
        import redis.asyncio  # optional dependency, imported only when configured
    except ImportError as exc:
        raise ConfigError(
            "coordination.redis_url needs redis-py: install clickai-bridge[redis]"
        ) from exc
    return redis.asyncio.from_url(
        url.get_secret_value(), socket_timeout=2.0, socket_connect_timeout=2.0
    )


def share_flood(
    settings: Settings,
    channels: Sequence[Channel],
    namespaces: Mapping[str, Namespace],
    redis: Any,
) -> None:
    """Give each channel with a bot-wide ``flood`` budget the replicas' shared one.

    With ``redis`` every replica draws on one budget (and one penalty) per bot; without it each
    replica keeps its own, sized ``global rate / coordination.replicas``.
    """
    replicas = settings.coordination.replicas
    for channel in channels:
        if not isinstance(getattr(channel, "flood", None), FloodBudget):
            continue
        per_s = channel.pace_budget.global_per_s
        flood: FloodBudget
        if redis is not None:
            from bridge.coordination.redis_budget import RedisFloodBudget

            bot = namespaces[channel.name].bot if channel.name in namespaces else channel.name
            prefix = f"{settings.coordination.redis_prefix}:flood:{bot}"
            flood = RedisFloodBudget(redis, prefix, per_s, fallback=per_s / replicas)
        elif replicas > 1:
            flood = SlidingLogBudget(per_s / replicas)
        else:
            continue
        setattr(channel, "flood", flood)  # noqa: B010 (an optional attribute of the port)


async def keep_leases(
    renew: Callable[[], Any], sweep: Callable[[], Any], timings: Timings, *, shared: bool
) -> None:
    """Renew this replica's leases every ``renew_s``; with replicas, sweep for expired ones."""
    while True:
        await asyncio.sleep(timings.renew_s)
        try:
            await renew()
        except Exception:
            log.exception("renewing leases failed (they expire after %ss)", timings.lease_s)
        if shared:
            try:
                await sweep()
            except Exception:
                log.exception("sweeping for expired leases failed")
