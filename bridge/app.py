"""Composition root: builds store, backends, relay, pacers, channels and server; owns order.

Start: store → backends (ClickAI app mode) → relay → HTTP server → channels → recovery notices.
Stop:  channels stop intake → relay drains (``shutdown_grace_s``) → channels close → pacers →
       server → backends → store.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bridge.backends.base import Backend
from bridge.backends.clickai import API_MODES, ClickAIBackend, required_inputs
from bridge.backends.factory import backend_configs, build_backends
from bridge.backends.routing import BackendRouter, plan_routes
from bridge.bots import NamedBot
from bridge.budget import FloodBudget, SlidingLogBudget
from bridge.clickai import ClickAIClient
from bridge.config import Settings
from bridge.coordination.wiring import (
    coordination_for,
    gate_pollers,
    keep_leases,
    open_redis,
    share_flood,
)
from bridge.errors import BackendError, BridgeError
from bridge.metrics import Metrics
from bridge.model import MB, Channel
from bridge.namespaces import DEFAULT_BACKEND, default_namespaces
from bridge.pacing import Pacer
from bridge.ready import Readiness
from bridge.relay import Relay, RelayLimits
from bridge.server import HttpRoute, HttpServer
from bridge.store import open_store
from bridge.store.base import Namespace, Store
from bridge.turn import TurnOptions, TurnRunner

log = logging.getLogger(__name__)

__all__ = ["API_MODES", "BridgeApp", "build_channels", "flood_budget", "required_inputs"]


def build_channels(settings: Settings) -> list[Channel]:
    """The platform channels the configuration enables (imported only when enabled): the
    default bot of each platform, then every enabled ``[[telegram.bots]]`` / ``[[slack.apps]]``
    as a :class:`NamedBot`."""
    channels: list[Channel] = []
    more_tg = [(n, c) for n, c in settings.telegram.more_bots() if c.enabled]
    if settings.telegram.enabled or more_tg:
        from channels.telegram import TelegramChannel

        if settings.telegram.enabled:
            channels.append(TelegramChannel(settings.telegram, settings.bridge))
        for name, config in more_tg:
            channels.append(NamedBot(TelegramChannel(config, settings.bridge), "telegram", name))
    more_slack = [(n, c) for n, c in settings.slack.more_bots() if c.enabled]
    if settings.slack.enabled or more_slack:
        from channels.slack import SlackChannel

        if settings.slack.enabled:
            channels.append(SlackChannel(settings.slack, settings.bridge))
        for name, app in more_slack:
            channels.append(NamedBot(SlackChannel(app, settings.bridge), "slack", name))
    return channels


def settle_heap() -> None:
    """Collect once, then exempt everything alive after start-up from later collections.

    Libraries, config and clients then never make a full collection walk them again, which
    otherwise held the event loop for 100-200 ms whenever rendering a long answer triggered
    one (see ``python -m bench.longanswer``). Call it once per process, after start-up.
    """
    gc.collect()
    gc.freeze()


class BridgeApp:
    """One running bridge. ``channels=None`` builds them from the settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        channels: Sequence[Channel] | None = None,
        serve_http: bool = True,
        backend: str | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.channels: list[Channel] = (
            list(channels) if channels is not None else build_channels(settings)
        )
        self._serve_http = serve_http
        self.store: Store | None = None
        self.backend: Backend | None = None
        """The default backend (``chat --backend``, else the default bot's)."""
        self.backends: dict[str, Backend] = {}
        self._default_backend = backend
        self._app_mode: str = settings.clickai.app_mode if settings.clickai else ""
        self.relay: Relay | None = None
        self.server: HttpServer | None = None
        self.pacers: dict[str, Pacer] = {}
        self.namespaces: dict[str, Namespace] = {}
        """Each channel's store namespace (bot identity, backend name)."""
        self._started: list[Channel] = []
        self._housekeeping: asyncio.Task[None] | None = None
        self._leases: asyncio.Task[None] | None = None
        self._redis: Any = None
        self.fatal = asyncio.Event()
        """Set when this replica must stop (it lost its polling leadership); ``run`` exits 1."""
        self.readiness = Readiness(
            store=self._probe_store,
            backend=self._probe_backend,
            cache_s=settings.server.readyz_cache_s,
        )

    async def start(self) -> None:
        """Start everything; on failure undo what was started and raise ``BridgeError``."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        self.store = open_store(
            s.store.url, schema=s.store.schema_, busy_timeout_s=s.store.busy_timeout_s
        )
        await self.store.open()
        self.namespaces = namespaces = await self._namespaces(self.store)
        self._redis = open_redis(s)
        share_flood(s, self.channels, namespaces, self._redis)
        coordination = coordination_for(s, self.store)
        self.channels = gate_pollers(
            self.channels, self.store, namespaces, self.metrics, on_lost=self.fatal.set
        )
        router = await self._start_backends()
        options = TurnOptions(
            max_file_bytes=int(s.bridge.max_file_mb * MB),
            default_file_query=s.bridge.default_file_query,
            show_reset_notice=s.bridge.show_conversation_reset_notice,
            suggestions=s.bridge.suggested_questions,
        )
        runner = TurnRunner(store=self.store, options=options)
        for channel in self.channels:
            self.pacers[channel.name] = Pacer(
                channel.pace_budget,
                name=channel.name,
                flood=flood_budget(channel),
                on_rate_limited=lambda name: self.metrics.rate_limited.labels(name).inc(),
            )
        self.relay = Relay(
            store=self.store,
            backends=router,
            runner=runner,
            channels={c.name: c for c in self.channels},
            pacers=self.pacers,
            metrics=self.metrics,
            namespaces=namespaces,
            coordination=coordination,
            limits=RelayLimits(
                max_query_chars=s.bridge.max_query_chars,
                user_messages_per_minute=s.bridge.user_messages_per_minute,
                chat_messages_per_minute=s.bridge.chat_messages_per_minute,
            ),
        )
        interrupted = await self.relay.pending()
        if self._serve_http:
            routes = [r for c in self.channels for r in _routes(c)]
            self.server = HttpServer(
                host=s.server.host,
                port=s.server.port,
                registry=self.metrics.registry,
                routes=routes,
                health=self._health,
                ready=self.readiness.check,
            )
            await self.server.start()
        for channel in self.channels:
            await channel.start(self.relay)
            self._started.append(channel)
            log.info("channel %s started", channel.name)
        self._housekeeping = asyncio.create_task(self._prune_forever(), name="prune events")
        relay = self.relay
        self._leases = asyncio.create_task(
            keep_leases(
                relay.renew, relay.sweep, coordination.timings, shared=coordination.shared
            ),
            name="leases",
        )
        if interrupted:
            told = await self.relay.recover(interrupted)
            log.warning(
                "%d message(s) were interrupted by the last stop; told %d", len(interrupted), told
            )

    async def _namespaces(self, store: Store) -> dict[str, Namespace]:
        """Each channel's namespace; each adopts its own rows written before namespaces."""
        defaults = default_namespaces(self.settings)
        namespaces: dict[str, Namespace] = {}
        for channel in self.channels:
            ns = defaults.get(channel.name) or Namespace(bot=channel.name, backend=DEFAULT_BACKEND)
            namespaces[channel.name] = ns
            moved = await store.scoped(ns).adopt_legacy_rows(channel.name)
            if moved:
                log.info(
                    "store: %d %s row(s) moved into namespace %s", moved, channel.name, ns.bot
                )
        return namespaces

    async def _start_backends(self) -> BackendRouter:
        """Build and prepare the backends the running channels can reach; route them."""
        default, bots, chats = plan_routes(
            self.settings, [c.name for c in self.channels], default=self._default_backend
        )
        if default not in backend_configs(self.settings):
            raise BridgeError(f"no backend named {default!r} (clickai or a [backends.NAME])")
        names = {default, *bots.values(), *chats.values()}
        self.backends = build_backends(self.settings, names)
        for name, backend in self.backends.items():
            try:
                await backend.prepare()
            except BackendError as exc:
                if exc.kind in ("auth", "forbidden"):
                    raise BridgeError(f"backend {name} refused the API key: {exc}") from exc
                log.warning("backend %s is not answering yet: %s", name, exc)
            log.info("backend %s (%s) ready", name, backend.kind)
        self.backend = self.backends[default]
        return BackendRouter(self.backends, default=default, bots=bots, chats=chats)

    @property
    def clickai(self) -> ClickAIClient | None:
        """The ClickAI client of the ``clickai`` backend while running (library and test use)."""
        backend = self.backends.get("clickai")
        return backend.client if isinstance(backend, ClickAIBackend) else None

    @property
    def app_mode(self) -> str:
        """The ClickAI app's mode once started (``auto`` resolved), else the configured one."""
        backend = self.backends.get("clickai")
        if isinstance(backend, ClickAIBackend):
            return backend.app_mode
        return self._app_mode

    async def _probe_store(self) -> None:
        if self.store is None:
            raise BridgeError("the store is not open")
        await self.store.get_conversation("readyz:probe")

    async def _probe_backend(self) -> None:
        """The default backend accepts the key (ClickAI: ``GET /parameters``)."""
        backend = self.backend
        if isinstance(backend, ClickAIBackend):
            await backend.client.parameters()
        elif backend is not None:
            await backend.prepare()
        else:
            raise BridgeError("no backend is running")

    def _health(self) -> dict[str, object]:
        return {
            "status": "ok",
            "channels": [c.name for c in self._started if getattr(c, "active", True)],
            "standby": [c.name for c in self._started if not getattr(c, "active", True)],
            "inflight": self.relay.busy if self.relay else 0,
        }

    async def _prune_forever(self) -> None:
        """Forget answered deliveries older than the retention, once now and then hourly."""
        retention_s = self.settings.bridge.event_retention_hours * 3600
        while self.store is not None:
            try:
                pruned = await self.store.prune_events(time.time() - retention_s)
                if pruned:
                    log.info("pruned %d answered deliveries from the event log", pruned)
            except Exception:
                log.exception("pruning the event log failed")
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        """Stop in reverse order; safe to call more than once or after a failed start."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        for channel in self._started:
            await _quietly(channel.stop(), f"stopping {channel.name}")
        if self.relay is not None:
            await self.relay.drain(self.settings.bridge.shutdown_grace_s)
        if self._leases is not None:  # kept renewing while the last turns finished
            self._leases.cancel()
            await asyncio.gather(self._leases, return_exceptions=True)
            self._leases = None
        for channel in reversed(self._started):
            await _quietly(channel.close(), f"closing {channel.name}")
        self._started.clear()
        for pacer in self.pacers.values():
            await pacer.stop()
        if self.server is not None:
            await _quietly(self.server.stop(), "stopping the HTTP server")
            self.server = None
        self._app_mode = self.app_mode
        for name, backend in self.backends.items():
            await _quietly(backend.aclose(), f"closing backend {name}")
        self.backends = {}
        self.backend = None
        if self.store is not None:
            await _quietly(self.store.close(), "closing the store")
            self.store = None
        if self._redis is not None:
            await _quietly(self._redis.aclose(), "closing the Redis client")
            self._redis = None


def flood_budget(channel: Channel) -> FloodBudget:
    """The bot-wide budget a channel's own calls already use (its ``flood`` attribute), so
    the pacer shares it; an in-memory one for channels without."""
    flood = getattr(channel, "flood", None)
    if isinstance(flood, FloodBudget):
        return flood
    return SlidingLogBudget(channel.pace_budget.global_per_s)


def _routes(channel: Channel) -> list[HttpRoute]:
    """Webhook routes a channel serves (channels without any have no ``http_routes``)."""
    routes: Callable[[], Sequence[HttpRoute]] | None = getattr(channel, "http_routes", None)
    return list(routes()) if routes is not None else []


async def _quietly(awaitable: Awaitable[object], what: str) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout=30)
    except Exception:
        log.exception("error while %s", what)
