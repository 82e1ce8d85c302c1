"""Prometheus metrics of one bridge instance (its own registry; nothing global)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Counters and histograms the relay and pacers update; served at ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            "bridge_messages_total",
            "Inbound messages by outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.inflight = Gauge(
            "bridge_turns_inflight", "Turns being answered now", registry=self.registry
        )
        self.clickai_errors = Counter(
            "bridge_clickai_errors_total",
            "ClickAI failures by kind",
            ["kind"],
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
        self.first_text_seconds = Histogram(
            "bridge_first_text_seconds",
            "From accepting a message to the first answer text from ClickAI",
            ["channel"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )
