"""The one retry policy for AI-platform calls: which failures to retry and how long to wait."""

from __future__ import annotations

import random

from bridge.errors import BackendError

RETRYABLE_KINDS = frozenset({"rate_limited", "upstream", "timeout"})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0
MAX_RETRY_AFTER_S = 60.0
"""A ``Retry-After`` longer than this is not waited out: the user is told instead."""


def retry_delay(
    exc: BackendError, tries: int, max_retries: int, rng: random.Random
) -> float | None:
    """Seconds before retry ``tries + 1``, or None to give up (honours ``Retry-After``)."""
    if exc.kind not in RETRYABLE_KINDS or tries >= max_retries:
        return None
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= MAX_RETRY_AFTER_S else None
    base: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**tries)
    return base + rng.uniform(0, base / 4)
