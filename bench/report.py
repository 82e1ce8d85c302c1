"""The printed table, the JSON document and the PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REQUIRED = (
    "replies",
    "lost",
    "duplicates",
    "platform_429",
    "platform_calls_peak_per_s",
    "replies_per_s",
    "private_replies_per_s",
    "private_text_calls_per_s",
    "first_visible_overhead_ms",
    "final_overhead_ms",
    "onset_first_text_slack_ms",
    "calls_per_reply",
    "cpu_s_per_1000_replies",
    "rss_peak_mb",
    "ready_s",
)


def _ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return round(a / b, 2)
    return None


def ratios(bridge: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """bridge / floor for every scalar figure (and each percentile)."""
    out: dict[str, float | None] = {}
    for key in REQUIRED:
        a, b = bridge.get(key), floor.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            for p in a:
                out[f"{key}.{p}"] = _ratio(a.get(p), b.get(p))
        else:
            out[key] = _ratio(a, b)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _rows(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any, str]]:
    floor, ratio, targets = doc.get("floor", {}), doc.get("ratios", {}), doc["targets"]
    rows = []
    for key in REQUIRED:
        value = doc[key]
        if isinstance(value, dict):
            for p in value:
                name = f"{key}.{p}"
                rows.append(
                    (
                        name,
                        value.get(p),
                        floor.get(key, {}).get(p),
                        ratio.get(name),
                        targets.get(name, ""),
                    )
                )
        else:
            rows.append((key, value, floor.get(key), ratio.get(key), targets.get(key, "")))
    prio = doc["priority"]["intermediate_edits_while_first_or_final_waited"]
    rows.append(("intermediate edits while a first/final waited", prio, None, None, "0"))
    return rows


def table(doc: dict[str, Any]) -> str:
    """A fixed-width table: figure | bridge | floor | bridge/floor | target."""
    head = ("figure", "bridge", "floor", "ratio", "target")
    rows = [head] + [(r[0], _cell(r[1]), _cell(r[2]), _cell(r[3]), r[4]) for r in _rows(doc)]
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                 for i, c in enumerate(row)]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_png(doc: dict[str, Any], path: Path) -> bool:
    """Call kinds over time (bridge) and overhead percentiles; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    timeline = doc["priority"]["timeline_per_s"]
    fig, (rate, top, bottom) = plt.subplots(3, 1, figsize=(10, 10))
    sliding = doc["calls_per_s_timeline"]
    step = sliding["step_s"]
    ts = [k * step for k in range(len(sliding["all"]))]
    rate.plot(ts, sliding["all"], color="tab:blue", label="bridge: all calls (sliding 1 s)")
    rate.plot(ts, sliding["chat_actions"], color="tab:orange", label="of which chat actions")
    floor_line = doc.get("floor", {}).get("calls_per_s_timeline")
    if floor_line:
        fts = [k * step for k in range(len(floor_line["all"]))]
        rate.plot(fts, floor_line["all"], color="tab:gray", alpha=0.6, label="minimal client")
    budget = doc["config"]["global_per_s"]
    rate.axhline(budget, color="tab:green", linestyle="--", label=f"budget {budget:g}/s")
    rate.axhline(30, color="tab:red", linestyle=":", label="Telegram 30/s")
    rate.set_xlabel("seconds since the first message")
    rate.set_ylabel("Bot API calls in the last 1 s")
    rate.legend(loc="upper right", fontsize="small")
    rate.set_title(doc["title"], fontsize="medium")
    xs = range(len(timeline["first"]))
    bottoms = [0] * len(xs)
    for kind, colour in (("final", "tab:green"), ("first", "tab:blue"),
                         ("intermediate", "tab:gray")):  # fmt: skip
        top.bar(xs, timeline[kind], bottom=bottoms, color=colour, label=f"{kind} texts")
        bottoms = [a + b for a, b in zip(bottoms, timeline[kind], strict=True)]
    top.plot(xs, timeline["waiting"], color="tab:red", label="replies waiting first/final")
    top.set_xlabel("seconds since the first message")
    top.set_ylabel("text calls per second")
    top.legend(loc="upper right", fontsize="small")
    labels, bridge_vals, floor_vals = [], [], []
    for key in ("first_visible_overhead_ms", "final_overhead_ms"):
        for p in ("p50", "p95", "p99"):
            labels.append(f"{key.split('_')[0]} {p}")
            bridge_vals.append(doc[key].get(p) or 0)
            floor_vals.append(doc.get("floor", {}).get(key, {}).get(p) or 0)
    pos = range(len(labels))
    bottom.bar([p - 0.2 for p in pos], bridge_vals, width=0.4, label="bridge")
    bottom.bar([p + 0.2 for p in pos], floor_vals, width=0.4, label="floor")
    bottom.set_xticks(list(pos), labels)
    bottom.set_ylabel("overhead after upstream (ms)")
    bottom.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return True
