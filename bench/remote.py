"""The fakes' processes as the driver sees them: spawn, push messages, follow texts, collect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.proc import Child, clean_env

TextEvent = Callable[[int, float, str, int, str, bool], None]
"""(chat id, arrival time, method, message id, digest of the shown text, text not blank)."""


@dataclass(slots=True)
class TgReport:
    """What the fake Telegram saw: calls ``(at, method, chat id, status)``, text calls
    ``(at, chat id)``, each chat's bot messages (digests), the first poll."""

    calls: list[tuple[float, str, int | None, int]] = field(default_factory=list)
    texts: list[tuple[float, int]] = field(default_factory=list)
    shown: dict[int, list[str]] = field(default_factory=dict)
    polled_at: float | None = None


@dataclass(slots=True)
class AiReport:
    """When each query's first delta left the fake ClickAI, and when its stream ended."""

    first_at: dict[str, float] = field(default_factory=dict)
    end_at: dict[str, float] = field(default_factory=dict)


class FakeProcess:
    """One ``python -m bench.fakeproc`` child: its public URL and its control URL."""

    def __init__(self, kind: str, config: dict[str, Any], tmp: Path) -> None:
        folder = tmp / kind
        folder.mkdir(parents=True, exist_ok=True)
        self.child = Child(["bench.fakeproc", kind, json.dumps(config)], clean_env({}), folder)
        self.url = self.control = ""

    async def start(self, timeout_s: float = 20.0) -> None:
        await self.child.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.child.alive():
            with contextlib.suppress(OSError):
                first = self.child.log.read_text().split("\n", 1)
                if len(first) == 2 and first[0].startswith("http"):
                    self.url, self.control = first[0].split()
                    return
            await asyncio.sleep(0.02)
        raise RuntimeError(f"fake {self.child.args[1]} did not start:\n{self.child.tail()}")

    async def stop(self) -> None:
        await self.child.stop(timeout_s=5.0)


class Fakes:
    """Both fakes, each in its own process, plus an HTTP client for their controls."""

    def __init__(self, tg_config: dict[str, Any], ai_config: dict[str, Any], tmp: Path) -> None:
        self.tg = FakeProcess("telegram", tg_config, tmp)
        self.ai = FakeProcess("clickai", ai_config, tmp)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(120.0))
        self._follow: asyncio.Task[None] | None = None
        self._queue: list[dict[str, Any]] = []
        self._flush: asyncio.Task[None] | None = None
        self._pushes: set[asyncio.Task[None]] = set()
        self.push_errors: list[str] = []

    async def __aenter__(self) -> Fakes:
        await asyncio.gather(self.tg.start(), self.ai.start())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
        await asyncio.gather(*self._pushes, return_exceptions=True)
        await self.http.aclose()
        await asyncio.gather(self.tg.stop(), self.ai.stop())

    async def polled_at(self) -> float | None:
        report = (await self.http.get(f"{self.tg.control}/report")).json()
        return report["polled_at"]  # type: ignore[no-any-return]

    def say(self, chat: int, user: int, text: str) -> None:
        """Queue a user message; every message queued in one loop turn goes in one request
        (an onset's messages reach the fake together)."""
        self._queue.append({"chat": chat, "user": user, "text": text})
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._send())
            self._pushes.add(self._flush)
            self._flush.add_done_callback(self._pushes.discard)

    async def _send(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                r = await self.http.post(f"{self.tg.control}/push", json=batch)
                r.raise_for_status()
            except httpx.HTTPError as exc:
                self.push_errors.append(f"{len(batch)} messages not pushed: {exc!r}")

    def follow(self, on_text: TextEvent) -> None:
        """Call ``on_text`` for every text the fake Telegram shows, in order."""

        async def run() -> None:
            since = 0
            while True:
                rows = (await self.http.get(f"{self.tg.control}/events?since={since}")).json()
                since += len(rows)
                for chat, at, method, message_id, digest, nonblank in rows:
                    on_text(int(chat), float(at), method, int(message_id), digest, nonblank)

        self._follow = asyncio.create_task(run())

    async def reports(self) -> tuple[TgReport, AiReport]:
        tg_raw, ai_raw = await asyncio.gather(
            self.http.get(f"{self.tg.control}/report"), self.http.get(f"{self.ai.control}/report")
        )
        t, a = tg_raw.json(), ai_raw.json()
        tg = TgReport(
            calls=[(float(at), m, c, int(s)) for at, m, c, s in t["calls"]],
            texts=[(float(at), int(c)) for at, c in t["texts"]],
            shown={int(k): v for k, v in t["shown"].items()},
            polled_at=t["polled_at"],
        )
        return tg, AiReport(first_at=a["first_at"], end_at=a["end_at"])
