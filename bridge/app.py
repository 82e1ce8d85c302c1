"""Composition root: builds store, ClickAI client, relay, pacers, channels and server; owns order.

Start: store → ClickAI (app mode) → relay → HTTP server → channels → recovery notices.
Stop:  channels stop intake → relay drains (``shutdown_grace_s``) → channels close → pacers →
       server → ClickAI client → store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bridge.budget import FloodBudget, SlidingLogBudget
from bridge.clickai import ClickAIClient
from bridge.config import Settings
from bridge.errors import BridgeError, ClickAIError
from bridge.file_rules import FileRulesSource
from bridge.metrics import Metrics
from bridge.model import Channel
from bridge.namespaces import DEFAULT_BACKEND, default_namespaces
from bridge.pacing import Pacer
from bridge.relay import Relay, RelayLimits
from bridge.server import HttpRoute, HttpServer
from bridge.store import open_store
from bridge.store.base import Namespace, Store
from bridge.turn import ApiMode, TurnOptions, TurnRunner

log = logging.getLogger(__name__)

API_MODES: dict[str, ApiMode] = {
    "chat": "chat",
    "agent-chat": "chat",
    "advanced-chat": "chat",
    "completion": "completion",
    "workflow": "workflow",
}


def build_channels(settings: Settings) -> list[Channel]:
    """The platform channels the configuration enables (imported only when enabled)."""
    channels: list[Channel] = []
    if settings.telegram.enabled:
        from channels.telegram import TelegramChannel

        channels.append(TelegramChannel(settings.telegram, settings.bridge))
    if settings.slack.enabled:
        from channels.slack import SlackChannel

        channels.append(SlackChannel(settings.slack, settings.bridge))
    return channels


class BridgeApp:
    """One running bridge. ``channels=None`` builds them from the settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        channels: Sequence[Channel] | None = None,
        serve_http: bool = True,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.channels: list[Channel] = (
            list(channels) if channels is not None else build_channels(settings)
        )
        self._serve_http = serve_http
        self.store: Store | None = None
        self.clickai: ClickAIClient | None = None
        self.relay: Relay | None = None
        self.server: HttpServer | None = None
        self.pacers: dict[str, Pacer] = {}
        self.namespaces: dict[str, Namespace] = {}
        """Each channel's store namespace (bot identity, backend name)."""
        self.app_mode = settings.clickai.app_mode
        self._started: list[Channel] = []
        self._housekeeping: asyncio.Task[None] | None = None

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
        self.clickai = ClickAIClient.from_config(s.clickai)
        mode = await self._resolve_mode(self.clickai)
        await self._check_inputs(self.clickai)
        file_rules = FileRulesSource(self.clickai.parameters)
        await file_rules.get()  # read the app's file settings now; again when they may change
        # /info unreachable at start-up: the mode is not guessed but detected on first use.
        runner = TurnRunner(
            clickai=self.clickai,
            store=self.store,
            options=self._turn_options(mode or "chat"),
            detect=None if mode is not None else self._detect_options,
            file_rules=file_rules,
        )
        for channel in self.channels:
            self.pacers[channel.name] = Pacer(
                channel.pace_budget,
                name=channel.name,
                flood=flood_budget(channel),
                on_rate_limited=lambda name: self.metrics.rate_limited.labels(name).inc(),
            )
        self.relay = Relay(
            store=self.store,
            clickai=self.clickai,
            runner=runner,
            channels={c.name: c for c in self.channels},
            pacers=self.pacers,
            metrics=self.metrics,
            namespaces=namespaces,
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
            )
            await self.server.start()
        for channel in self.channels:
            await channel.start(self.relay)
            self._started.append(channel)
            log.info("channel %s started", channel.name)
        self._housekeeping = asyncio.create_task(self._prune_forever(), name="prune events")
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

    def _turn_options(self, mode: str) -> TurnOptions:
        s = self.settings
        return TurnOptions(
            mode=API_MODES[mode],
            streaming=s.clickai.response_mode == "streaming" or mode == "agent-chat",
            inputs=s.clickai.inputs,
            query_variable=s.clickai.query_variable,
            workflow_output=s.clickai.workflow_output,
            auto_generate_name=s.clickai.auto_generate_name,
            max_file_bytes=int(s.bridge.max_file_mb * 1024 * 1024),
            default_file_query=s.bridge.default_file_query,
            show_reset_notice=s.bridge.show_conversation_reset_notice,
            suggestions=s.bridge.suggested_questions,
        )

    async def _detect_options(self) -> TurnOptions:
        """First use after a start-up that could not read ``/info``: ask again (raises
        ``ClickAIError`` while ClickAI is still unreachable; the next message asks again)."""
        assert self.clickai is not None
        info = await self.clickai.info()
        mode = self._mode_of(info)
        log.info("ClickAI app mode detected on first use: %s", mode)
        return self._turn_options(mode)

    async def _resolve_mode(self, client: ClickAIClient) -> str | None:
        """The app mode from config or ``/info``; None when ``/info`` is unreachable now."""
        if self.app_mode != "auto":
            return self.app_mode
        try:
            info = await client.info()
        except ClickAIError as exc:
            if exc.kind in ("auth", "forbidden"):
                raise BridgeError(f"ClickAI refused the API key: {exc}") from exc
            log.warning("cannot read the app mode (%s); detecting it on first use", exc)
            return None
        mode = self._mode_of(info)
        log.info("ClickAI app mode: %s", mode)
        return mode

    def _mode_of(self, info: dict[str, object]) -> str:
        mode = str(info.get("mode") or "chat")
        if mode not in API_MODES:
            log.warning("unknown app mode %r; treating it as a chat app", mode)
            mode = "chat"
        self.app_mode = mode  # type: ignore[assignment]
        return mode

    async def _check_inputs(self, client: ClickAIClient) -> None:
        """Warn at start-up about required app inputs the config does not fill."""
        try:
            params = await client.parameters()
        except ClickAIError as exc:
            log.warning("cannot read the app's parameters: %s", exc)
            return
        missing = [
            name for name in required_inputs(params) if name not in self.settings.clickai.inputs
        ]
        query_var = self.settings.clickai.query_variable
        missing = [
            m for m in missing if not (API_MODES.get(self.app_mode) != "chat" and m == query_var)
        ]
        if missing:
            log.warning(
                "the app requires inputs %s; set them in [clickai] inputs or every turn fails",
                ", ".join(missing),
            )

    def _health(self) -> dict[str, object]:
        return {
            "status": "ok",
            "channels": [c.name for c in self._started],
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
        for channel in reversed(self._started):
            await _quietly(channel.close(), f"closing {channel.name}")
        self._started.clear()
        for pacer in self.pacers.values():
            await pacer.stop()
        if self.server is not None:
            await _quietly(self.server.stop(), "stopping the HTTP server")
            self.server = None
        if self.clickai is not None:
            await _quietly(self.clickai.aclose(), "closing the ClickAI client")
            self.clickai = None
        if self.store is not None:
            await _quietly(self.store.close(), "closing the store")
            self.store = None


def required_inputs(params: dict[str, object]) -> list[str]:
    """Names of required variables in a ``GET /parameters`` ``user_input_form``."""
    names: list[str] = []
    form = params.get("user_input_form")
    if not isinstance(form, list):
        return names
    for item in form:
        if not isinstance(item, dict):
            continue
        for spec in item.values():
            if isinstance(spec, dict) and spec.get("required") and spec.get("variable"):
                names.append(str(spec["variable"]))
    return names


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
