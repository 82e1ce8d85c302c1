"""A relay over any Backend, a real SQLite store and the recording FakeChannel (backend tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bridge.backends.base import Backend
from bridge.metrics import Metrics
from bridge.pacing import Pacer
from bridge.relay import Relay
from bridge.store import SqliteStore
from bridge.turn import TurnOptions, TurnRunner
from tests.fakes.channel import FakeChannel


@dataclass
class BackendRig:
    backend: Backend
    channel: FakeChannel
    relay: Relay
    store: SqliteStore
    pacer: Pacer

    async def say(self, text: str, **kwargs: object) -> None:
        """Submit one message and wait until its answer is final."""
        await self.relay.submit(self.channel.message(text, **kwargs))  # type: ignore[arg-type]
        await self.settle()

    async def settle(self) -> None:
        await asyncio.wait_for(self.relay.wait_idle(), 15)

    async def close(self) -> None:
        await self.relay.drain(5)
        await self.pacer.stop()
        await self.backend.aclose()
        await self.store.close()


async def backend_rig(
    backend: Backend, db: Path, *, max_file_bytes: int = 1_000_000
) -> BackendRig:
    store = SqliteStore(db)
    await store.open()
    channel = FakeChannel()
    pacer = Pacer(channel.pace_budget, name="fake")
    relay = Relay(
        store=store,
        backends=backend,
        runner=TurnRunner(store=store, options=TurnOptions(max_file_bytes=max_file_bytes)),
        channels={"fake": channel},
        pacers={"fake": pacer},
        metrics=Metrics(),
    )
    await channel.start(relay)
    return BackendRig(backend, channel, relay, store, pacer)
