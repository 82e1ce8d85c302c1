"""docs/metrics.md, the Grafana dashboard and the alert rules name only metrics that exist, and
every metric and outcome is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bridge.metrics import OUTCOMES, Metrics

ROOT = Path(__file__).resolve().parent.parent
METRIC = re.compile(r"\bbridge_[a-z_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def registered() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES[:3]:
        if name.endswith(suffix) and not name.endswith("_total"):
            return name.removesuffix(suffix)
    return name


def test_every_metric_and_outcome_is_documented() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    documented = {base(m) for m in METRIC.findall(doc)}
    assert registered() <= documented
    assert documented <= registered()
    section = doc.split("### Outcomes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    assert sorted(rows) == sorted(OUTCOMES)


def test_dashboard_and_alerts_use_existing_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = (ROOT / "deploy" / "prometheus-alerts.yml").read_text()
    used = {base(m) for text in [*exprs, alerts] for m in METRIC.findall(text)}
    assert used <= registered(), used - registered()
    for alert in ("ClickAIAuthFailing", "PlatformRateLimited", "TurnsFailing", "TurnsQueued"):
        assert f"alert: {alert}" in alerts
        assert f"`{alert}`" in (ROOT / "docs" / "metrics.md").read_text()
    for outcome in re.findall(r'outcome=~?"([a-z_|]+)"', alerts):
        assert set(outcome.split("|")) <= set(OUTCOMES), outcome
