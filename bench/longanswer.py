"""``python -m bench.longanswer``: how long one very long answer holds the bridge's event loop.

The real BridgeApp (Telegram or Slack channel) runs in this process against FakeClickAI and the
fake platform. ClickAI sends an answer of N characters in ~4-character deltas as one burst, so
the answer is complete long before the chat could show it (the worst case for the final send);
a probe task wakes every millisecond and records how late it woke. Printed per size: the longest
single stall of the loop during the final send (``PacedReply.finish`` until the last message
landed), the longest stall while streaming (this one includes the in-process fake writing the
whole burst), the probe's p99, and how long the final send took (Telegram spaces the messages
of one answer by ``edit_interval_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge.app import BridgeApp, settle_heap
from bridge.config import load_settings
from bridge.pacing import PacedReply
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Events,
    FakeSlack,
    json_body,
    signed_headers,
)
from tests.fakes.telegram import FakeTelegram, TgUser, eventually

DELTA_DELAY = 0.0
USER = TgUser(id=111, first_name="Ann", language_code="en")
WORDS = (
    "alpha beta **gamma** delta `code` epsilon [link](https://example.org/x) zeta eta theta "
    "iota kappa _lambda_ mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
)
_WORDS = WORDS.split(" ")


def answer_of(size: int, seed: int = 7) -> str:
    """Markdown of ``size`` characters: paragraphs, lists, code blocks, links, emphasis."""
    rng = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < size:
        roll = rng.random()
        if roll < 0.04:
            piece = "\n\n"
        elif roll < 0.05:
            piece = "\n\n```python\nfor i in range(3):\n    print(i)\n```\n\n"
        elif roll < 0.07:
            piece = "\n- "
        else:
            piece = rng.choice(_WORDS) + " "
        out.append(piece)
        total += len(piece)
    return "".join(out)[:size].rstrip() + "."


@dataclass
class Figures:
    platform: str
    chars: int
    final_max_stall_ms: float
    stream_max_stall_ms: float
    probe_p99_ms: float
    final_send_ms: float
    messages: int


class Probe:
    """Wakes every ``every_s``; records (when, how late) for every wake-up."""

    def __init__(self, every_s: float = 0.001) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.every_s)
            now = time.perf_counter()
            self.samples.append((now, now - before - self.every_s))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def max_stall(self, start: float, end: float) -> float:
        """Longest stall overlapping [start, end] (a wake-up at t stalled over [t - lag, t])."""
        lags = [lag for t, lag in self.samples if t >= start and t - lag <= end]
        return max(lags, default=0.0)

    def p99(self) -> float:
        lags = sorted(lag for _, lag in self.samples)
        return lags[int(0.99 * (len(lags) - 1))] if lags else 0.0


@contextlib.contextmanager
def final_window(windows: list[tuple[float, float]]) -> Any:
    """Record when each PacedReply.finish starts and returns (bench-only instrumentation)."""
    original: Callable[..., Any] = PacedReply.finish

    async def timed(self: PacedReply, *args: Any, **kwargs: Any) -> list[str]:
        started = time.perf_counter()
        try:
            return list(await original(self, *args, **kwargs))
        finally:
            windows.append((started, time.perf_counter()))

    PacedReply.finish = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        PacedReply.finish = original  # type: ignore[method-assign]


def _env(clickai: FakeClickAI, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "100000",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_LOG__LEVEL": "WARNING",
    }


@contextlib.asynccontextmanager
async def _bridge(env: dict[str, str]) -> AsyncIterator[BridgeApp]:
    app = BridgeApp(load_settings(None, env))
    await app.start()
    settle_heap()  # as `clickai-bridge run` does once started
    try:
        yield app
    finally:
        await app.stop()


async def _telegram(clickai: FakeClickAI, db: Path, marks: list[float]) -> int:
    tg = FakeTelegram()
    await tg.start()
    try:
        env = _env(clickai, db) | {
            "BRIDGE_TELEGRAM__ENABLED": "true",
            "BRIDGE_TELEGRAM__TOKEN": tg.token,
            "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
        }
        async with _bridge(env) as app:
            assert app.relay is not None
            marks.append(time.perf_counter())
            tg.push(tg.text(USER.id, USER, "write a very long answer"))
            await eventually(lambda: not tg.updates, within_s=60)
            await asyncio.sleep(0.5)
            await asyncio.wait_for(app.relay.wait_idle(), 600)
            return len(tg.chat(USER.id).bot_messages())
    finally:
        await tg.stop()


async def _slack(clickai: FakeClickAI, db: Path, marks: list[float]) -> int:
    import aiohttp

    slack = FakeSlack()
    await slack.start()
    try:
        env = _env(clickai, db) | {
            "BRIDGE_SLACK__ENABLED": "true",
            "BRIDGE_SLACK__MODE": "http",
            "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
            "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
            "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        }
        async with _bridge(env) as app:
            assert app.relay is not None and app.server is not None
            events = Events()
            mention = events.mention("write a very long answer", user="U1")
            body = json_body(events.envelope(mention))
            url = f"http://127.0.0.1:{app.server.bound_port}/slack/events"
            marks.append(time.perf_counter())
            async with aiohttp.ClientSession() as http:
                await http.post(url, data=body, headers=signed_headers(body))
            await asyncio.sleep(0.5)
            await asyncio.wait_for(app.relay.wait_idle(), 600)
            return len(slack.thread("C1", mention["ts"]))
    finally:
        await slack.close()


async def run_one(platform: str, chars: int) -> Figures:
    text = answer_of(chars)
    deltas = max(1, chars // 4)
    windows: list[tuple[float, float]] = []
    marks: list[float] = []  # when the user's message was sent (the bridge is up by then)
    async with FakeClickAI(first_token_delay=0.0, delta_delay=0.0) as clickai:
        # A tiny pause per delta: the fake then yields the shared loop between frames instead
        # of writing the whole answer in one go (which would be the harness stalling, not us).
        clickai.script(Reply(answer=text, deltas=deltas, delta_delay=DELTA_DELAY))
        probe = Probe()
        with tempfile.TemporaryDirectory() as tmp, final_window(windows):
            probe.start()
            began = time.perf_counter()
            run = _telegram if platform == "telegram" else _slack
            messages = await run(clickai, Path(tmp) / "bridge.db", marks)
            await probe.stop()
    began = marks[-1] if marks else began
    start, end = windows[-1] if windows else (began, began)
    return Figures(
        platform=platform,
        chars=chars,
        final_max_stall_ms=round(probe.max_stall(start, end) * 1000, 1),
        stream_max_stall_ms=round(probe.max_stall(began, start) * 1000, 1),
        probe_p99_ms=round(probe.p99() * 1000, 1),
        final_send_ms=round((end - start) * 1000, 1),
        messages=messages,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.longanswer", description=__doc__)
    p.add_argument("--sizes", default="10000,50000,100000", help="answer sizes in characters")
    p.add_argument("--platforms", default="telegram,slack", help="telegram, slack or both")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    results: list[Figures] = []
    print(
        f"{'platform':<9} {'chars':>7} {'final max stall':>16} {'stream max stall':>17} "
        f"{'p99 stall':>10} {'final send':>11} {'msgs':>5}"
    )
    for platform in args.platforms.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            f = asyncio.run(run_one(platform.strip(), size))
            results.append(f)
            print(
                f"{f.platform:<9} {f.chars:>7} {f.final_max_stall_ms:>13.1f} ms "
                f"{f.stream_max_stall_ms:>14.1f} ms {f.probe_p99_ms:>7.1f} ms "
                f"{f.final_send_ms:>8.0f} ms {f.messages:>5}",
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
