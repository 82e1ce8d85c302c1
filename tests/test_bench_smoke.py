"""Smoke test: ``python -m bench`` runs end to end on a tiny load and writes every JSON key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = (
    "replies",
    "lost",
    "duplicates",
    "platform_429",
    "replies_per_s",
    "first_visible_overhead_ms",
    "final_overhead_ms",
    "calls_per_reply",
    "cpu_s_per_1000_replies",
    "rss_peak_mb",
    "ready_s",
)


def test_bench_runs_and_reports_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "bench", "--chats", "3", "--messages", "2"]
    cmd += ["--answer-tokens", "20", "--ttft-ms", "50", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    for section in (doc, doc["floor"]):
        for key in REQUIRED:
            assert key in section, key
        for key in ("first_visible_overhead_ms", "final_overhead_ms"):
            assert set(section[key]) >= {"p50", "p95", "p99"}
        assert section["lost"] == 0
        assert section["duplicates"] == 0
    assert doc["replies"] == 6
