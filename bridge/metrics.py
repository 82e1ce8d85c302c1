"""Prometheus metrics of one bridge instance (its own registry; nothing global).

docs/metrics.md lists every metric with its labels and meaning; keep the two in step.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bridge.version import bridge_version

OUTCOMES = (
    "answered",
    "stopped",
    "command",
    "failed",
    "restarting",
    "duplicate",
    "refused_empty",
    "refused_too_long",
    "refused_rate_limited",
    "refused_file",
    "refused_access",
    "refused_busy",
)
"""Every ``outcome`` label of ``bridge_messages_total``."""


class Metrics:
    """Counters and histograms the relay and pacers update; served at ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.build_info = Gauge(
            "bridge_build_info",
            "Always 1; the labels say which build runs",
            ["version", "python"],
            registry=self.registry,
        )
        self.build_info.labels(bridge_version(), platform.python_version()).set(1)
        self.messages = Counter(
            "bridge_messages_total",
            "Inbound messages by outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.inflight = Gauge(
            "bridge_turns_inflight", "Turns being answered now", registry=self.registry
        )
        self.queued = Gauge(
            "bridge_turns_queued",
            "Messages waiting for an earlier turn of their conversation to finish",
            registry=self.registry,
        )
        self.clickai_errors = Counter(
            "bridge_clickai_errors_total",
            "ClickAI failures by kind",
            ["kind"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "bridge_clickai_tokens_total",
            "Tokens ClickAI reported in message_end, by app and kind (prompt, completion)",
            ["app", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "bridge_clickai_cost_total",
            "Price ClickAI reported in message_end (total_price), by app and currency",
            ["app", "currency"],
            registry=self.registry,
        )
        self.backend_turns = Counter(
            "bridge_backend_turns_total",
            "Answered turns by bot (channel instance), backend and outcome",
            ["bot", "backend", "outcome"],
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "bridge_backend_errors_total",
            "Backend failures by bot, backend and kind",
            ["bot", "backend", "kind"],
            registry=self.registry,
        )
        self.operator_alerts = Counter(
            "bridge_operator_alerts_total",
            "Failures only the operator can fix (alert on any increase)",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "bridge_platform_rate_limited_total",
            "Platform 429 / flood-control answers",
            ["channel"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "bridge_feedback_total",
            "Feedback sent to ClickAI",
            ["channel", "rating"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "bridge_turn_seconds",
            "From accepting a message to its final reply",
            ["channel"],
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160),
        )
        self.scope_wait_seconds = Histogram(
            "bridge_scope_wait_seconds",
            "How long a message waited for the earlier turn of its conversation (any replica)",
            registry=self.registry,
            buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
        )
        self.scope_wait_timeouts = Counter(
            "bridge_scope_wait_timeouts_total",
            "Messages refused: their conversation stayed busy past coordination.scope_wait_s",
            registry=self.registry,
        )
        self.takeovers = Counter(
            "bridge_lease_takeovers_total",
            "Interrupted messages of a stopped replica taken over (their users told once)",
            registry=self.registry,
        )
        self.polling_leader = Gauge(
            "bridge_polling_leader",
            "1 while this replica polls Telegram for a bot, 0 while it stands by",
            ["channel"],
            registry=self.registry,
        )
        self.first_text_seconds = Histogram(
            "bridge_first_text_seconds",
            "From accepting a message to the first answer text from ClickAI",
            ["channel"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )

    def observe_usage(self, app: str, usage: Mapping[str, object]) -> None:
        """Add one turn's ``message_end`` usage (tokens, price) to the per-app counters."""
        for kind in ("prompt", "completion"):
            tokens = _number(usage.get(f"{kind}_tokens"))
            if tokens > 0:
                self.tokens.labels(app, kind).inc(tokens)
        price = _number(usage.get("total_price"))
        if price > 0:
            self.cost.labels(app, str(usage.get("currency") or "USD")).inc(price)


def _number(value: object) -> float:
    """Dify sends token counts as ints and prices as decimal strings; junk counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0
