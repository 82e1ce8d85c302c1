"""Figures from the traces: latencies, calls, lost/duplicates, and the priority check."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench.driver import Driver, Turn
from bench.remote import AiReport, TgReport

ACTION = "sendChatAction"
SLACK_S = 0.05  # the bridge cannot act on an upstream event before it crossed the loopback


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 (nearest rank) of ``values`` in ms, or None when empty."""
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        rank = max(1, math.ceil(q * len(ordered)))
        out[name] = round(ordered[rank - 1] * 1000.0, 1)
    return out


def peak_per_s(times: list[float]) -> int:
    """The largest number of ``times`` in any sliding window ``[t, t + 1 s)``."""
    ordered, lo, peak = sorted(times), 0, 0
    for hi, at in enumerate(ordered):
        while ordered[lo] <= at - 1.0:
            lo += 1
        peak = max(peak, hi - lo + 1)
    return peak


def per_s_timeline(times: list[float], t0: float, end: float, step: float = 0.1) -> list[int]:
    """Calls in the 1-second window ending at each ``step`` from ``t0`` to ``end``."""
    ordered = sorted(times)
    out, lo, hi = [], 0, 0
    for k in range(int((end - t0) / step) + 2):
        at = t0 + k * step
        while hi < len(ordered) and ordered[hi] <= at:
            hi += 1
        while lo < hi and ordered[lo] <= at - 1.0:
            lo += 1
        out.append(hi - lo)
    return out


def onset_slack(driver: Driver, ai: AiReport, budget: float) -> list[float]:
    """For every chat's first turn, ordered by when its first text arrived: how much later
    than ``rank / budget`` after its upstream first delta it came (seconds)."""
    firsts = sorted(
        (t.first_at, t.query) for t in driver.turns if t.index == 0 and t.first_at is not None
    )
    out = []
    for rank, (at, query) in enumerate(firsts, start=1):
        up = ai.first_at.get(query)
        if up is not None:
            out.append(at - up - rank / budget)
    return out


def figures(
    driver: Driver, ai: AiReport, tg: TgReport, span: float, budget: float, t0: float
) -> dict[str, Any]:
    """The required keys (except process figures) for one run."""
    planned = len(driver.turns)
    counts = driver.shown_counts(tg.shown)
    replies = sum(1 for t in driver.turns if t.final_at is not None)
    shown = sum(1 for n in counts.values() if n > 0)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    first, final = [], []
    for t in driver.turns:
        up_first, up_end = ai.first_at.get(t.query), ai.end_at.get(t.query)
        if t.first_at is not None and up_first is not None:
            first.append(t.first_at - up_first)
        if t.final_at is not None and up_end is not None:
            final.append(t.final_at - up_end)
    slow = sorted(
        (t.first_at - ai.first_at[t.query], t.chat_id, t.index)
        for t in driver.turns
        if t.first_at is not None and t.query in ai.first_at
    )[-5:]
    by_method = Counter(method for _, method, _, _ in tg.calls)
    every = [at for at, _, _, _ in tg.calls]
    actions = [at for at, method, _, _ in tg.calls if method == ACTION]
    private = [at for at, chat in tg.texts if chat > 0]
    private_replies = sum(1 for t in driver.turns if t.final_at is not None and t.chat_id > 0)
    # over the private chats' own part of the run (groups held by penalties may run longer)
    private_span = max(private, default=t0) - t0
    limited = [c for c in tg.calls if c[3] == 429]
    return {
        "replies": replies,
        "lost": planned - min(shown, replies),
        "duplicates": duplicates,
        "platform_429": len(limited),
        "platform_calls_peak_per_s": {
            "all": peak_per_s(every),
            "chat_actions": peak_per_s(actions),
            "without_chat_actions": peak_per_s([at for at, m, _, _ in tg.calls if m != ACTION]),
        },
        "replies_per_s": round(replies / span, 3) if span > 0 else 0.0,
        "private_replies_per_s": round(private_replies / private_span, 3) if private else 0.0,
        "private_text_calls_per_s": round(len(private) / private_span, 3) if private else 0.0,
        "first_visible_overhead_ms": percentiles(first),
        "final_overhead_ms": percentiles(final),
        "onset_first_text_slack_ms": percentiles(onset_slack(driver, ai, budget)),
        "calls_per_reply": round(len(tg.calls) / replies, 3) if replies else None,
        "calls_by_method": dict(sorted(by_method.items())),
        "first_429s": [[round(at - t0, 3), m, c] for at, m, c, _ in limited][:10],
        "slowest_first_visible": [[round(d * 1000, 1), c, k] for d, c, k in slow],
        "timeouts": driver.timeouts,
        "stray_texts": driver.stray_texts,
        "span_s": round(span, 3),
        "calls_per_s_timeline": {
            "step_s": 0.1,
            "all": per_s_timeline(every, t0, max(every, default=t0)),
            "chat_actions": per_s_timeline(actions, t0, max(every, default=t0)),
        },
    }


def _kinds(driver: Driver, tg: TgReport) -> list[tuple[float, int, str]]:
    """Every successful text call as (time, chat, "first" | "final" | "intermediate")."""
    firsts = {(t.chat_id, t.first_at) for t in driver.turns if t.first_at is not None}
    finals = {(t.chat_id, t.final_at) for t in driver.turns if t.final_at is not None}
    out = []
    for at, chat in tg.texts:
        kind = "intermediate"
        if (chat, at) in finals:
            kind = "final"
        elif (chat, at) in firsts:
            kind = "first"
        out.append((at, chat, kind))
    return out


def _windows(turn: Turn, ai: AiReport) -> list[tuple[float, float]]:
    out = []
    up_first, up_end = ai.first_at.get(turn.query), ai.end_at.get(turn.query)
    if up_first is not None and turn.first_at is not None:
        out.append((up_first + SLACK_S, turn.first_at))
    if up_end is not None and turn.final_at is not None:
        out.append((up_end + SLACK_S, turn.final_at))
    return out


def priority(
    driver: Driver, ai: AiReport, tg: TgReport, interval_s: float, t0: float
) -> dict[str, Any]:
    """Did any intermediate edit take budget while another reply could have had its first or
    final text (waiting, and its chat's own interval already passed)? Plus a per-second
    timeline of call kinds and of replies waiting for a first/final text."""
    kinds = _kinds(driver, tg)
    last_call: dict[int, list[float]] = {}
    for at, chat, _ in kinds:
        last_call.setdefault(chat, []).append(at)
    waits = [(w, t.chat_id) for t in driver.turns for w in _windows(t, ai)]
    violations = 0
    for at, chat, kind in kinds:
        if kind != "intermediate":
            continue
        for (start, end), other in waits:
            if other == chat or not start <= at < end:
                continue
            prev = [x for x in last_call.get(other, []) if x <= at]
            if not prev or prev[-1] <= at - interval_s:
                violations += 1
                break
    horizon = max([at for at, _, _ in kinds] + [t0]) - t0
    seconds = int(horizon) + 1
    timeline = {k: [0] * seconds for k in ("first", "final", "intermediate", "waiting")}
    for at, _, kind in kinds:
        timeline[kind][int(at - t0)] += 1
    for (start, end), _ in waits:
        for s in range(max(0, int(start - t0)), min(seconds, int(end - t0) + 1)):
            timeline["waiting"][s] += 1
    total = Counter(kind for _, _, kind in kinds)
    return {
        "intermediate_edits_while_first_or_final_waited": violations,
        "text_calls": dict(total),
        "timeline_per_s": timeline,
    }
