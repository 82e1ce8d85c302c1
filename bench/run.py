"""One measured run: start both fakes, spawn the bridge (or the floor), drive, measure, stop."""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.driver import DriveConfig, Driver
from bench.metrics import figures, priority
from bench.proc import ROOT, Child, Hogs, clean_env, cpu_seconds, free_port, peak_rss_mb
from bench.remote import Fakes
from tests.fakes.telegram import TOKEN, FloodLimits

KEY = "app-test"


@dataclass(slots=True)
class RunConfig:
    """Everything one run needs."""

    drive: DriveConfig
    ttft_s: float
    tokens_per_s: float
    global_per_s: float
    edit_interval_s: float
    group_edit_interval_s: float = 3.0
    cpu_hog: int = 0
    bridge_root: Path = ROOT
    ready_timeout_s: float = 30.0


class LagMonitor:
    """Event-loop lag of the bench process itself (a saturated harness distorts the figures)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s, self.lags = every_s, [0.0]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.every_s)
            self.lags.append(time.monotonic() - before - self.every_s)

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        lags = sorted(self.lags)
        return {
            "p99_ms": round(lags[max(0, math.ceil(0.99 * len(lags)) - 1)] * 1000, 1),
            "mean_ms": round(statistics.fmean(lags) * 1000, 1),
        }


def bridge_env(fakes: Fakes, cfg: RunConfig, tmp: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__API_KEY": KEY,
        "BRIDGE_CLICKAI__BASE_URL": fakes.ai.url,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "1000000",
        "BRIDGE_TELEGRAM__ENABLED": "true",
        "BRIDGE_TELEGRAM__TOKEN": TOKEN,
        "BRIDGE_TELEGRAM__API_BASE_URL": fakes.tg.url,
        "BRIDGE_TELEGRAM__MODE": "polling",
        "BRIDGE_TELEGRAM__GLOBAL_PER_SECOND": str(cfg.global_per_s),
        "BRIDGE_TELEGRAM__EDIT_INTERVAL_S": str(cfg.edit_interval_s),
        "BRIDGE_TELEGRAM__GROUP_EDIT_INTERVAL_S": str(cfg.group_edit_interval_s),
        "BRIDGE_STORE__URL": f"sqlite:///{tmp / 'bridge.db'}",
        "BRIDGE_SERVER__LISTEN": f"127.0.0.1:{free_port()}",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_BRIDGE__SHUTDOWN_GRACE_S": "2",
        "BRIDGE_LOG__LEVEL": "WARNING",
    }


def floor_args(fakes: Fakes) -> list[str]:
    return [
        "bench.floor",
        *("--clickai", fakes.ai.url, "--key", KEY, "--telegram", fakes.tg.url, "--token", TOKEN),
    ]


def fake_limits(global_per_s: float) -> FloodLimits:
    """Telegram's documented limits; the bot-wide one is 30/s, or 1.2× a reduced bridge budget."""
    fake_global = 30 if global_per_s >= 25 else max(1, math.ceil(global_per_s * 1.2))
    return FloodLimits(
        chat_per_second=1.0, chat_burst=3, group_per_minute=20, global_per_second=fake_global
    )


async def measure(
    kind: str, cfg: RunConfig, module: Sequence[str] = ("bridge",)
) -> dict[str, Any]:
    """Run ``kind`` ("bridge" or "floor") once and return its figures."""
    d = cfg.drive
    ai_config = {"ttft_s": cfg.ttft_s, "tokens_per_s": cfg.tokens_per_s, "tokens": d.tokens}
    tg_config = {"limits": asdict(fake_limits(cfg.global_per_s))}
    lag = LagMonitor()
    with tempfile.TemporaryDirectory(prefix="bench-") as raw:
        tmp = Path(raw)
        async with Fakes(tg_config, ai_config, tmp) as fakes, Hogs(cfg.cpu_hog):
            if kind == "bridge":
                args = [*module, "run"]
                env = clean_env(bridge_env(fakes, cfg, tmp), cfg.bridge_root)
            else:
                args, env = floor_args(fakes), clean_env({})
            child = Child(args, env, tmp)
            spawned = time.monotonic()
            await child.start()
            polled = await _wait_polled(fakes, child, spawned + cfg.ready_timeout_s)
            if polled is None:
                await child.stop()
                raise RuntimeError(f"{kind} never polled getUpdates:\n{child.tail()}")
            ready = polled - spawned
            cpu0 = cpu_seconds(child.pid)
            driver = Driver(fakes, d)
            lag.start()
            start, end = await driver.run()
            cpu1, rss = cpu_seconds(child.pid), peak_rss_mb(child.pid)
            lag_figures = lag.stop()
            code = await child.stop()
            tg, ai = await fakes.reports()
        out = figures(driver, ai, tg, end - start, cfg.global_per_s, start)
        replies = out["replies"]
        out |= {
            "cpu_s_per_1000_replies": round((cpu1 - cpu0) / replies * 1000, 3)
            if replies
            else None,
            "cpu_s": round(cpu1 - cpu0, 3),
            "rss_peak_mb": round(rss, 1),
            "ready_s": round(ready, 3),
            "exit_code": code,
            "bench_loop_lag": lag_figures,
            "priority": priority(driver, ai, tg, cfg.edit_interval_s, start),
        }
        if code not in (0, None):
            out["log_tail"] = child.tail()
        if fakes.push_errors:
            out["push_errors"] = fakes.push_errors[:5]
        return out


async def _wait_polled(fakes: Fakes, child: Child, deadline: float) -> float | None:
    while child.alive() and time.monotonic() < deadline:
        polled = await fakes.polled_at()
        if polled is not None:
            return polled
        await asyncio.sleep(0.05)
    return None
