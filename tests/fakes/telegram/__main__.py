"""``python -m tests.fakes.telegram --port 8902 --control-port 8903``: a standalone fake Telegram.

Point the bridge at it with ``BRIDGE_TELEGRAM__API_BASE_URL`` and the printed token, then act as
a user through the control API (``curl http://127.0.0.1:8903/`` lists it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from tests.fakes.telegram.control import USAGE, TelegramControl
from tests.fakes.telegram.model import FloodLimits
from tests.fakes.telegram.server import FakeTelegram


async def serve(port: int, control_port: int, *, flood: bool) -> None:
    # Update ids go on from the clock (ms), so a restarted fake never repeats the ids a bridge's
    # store already holds (it would ignore them as redeliveries), as real Telegram never does.
    fake = FakeTelegram(
        limits=FloodLimits() if flood else None, first_update_id=time.time_ns() // 1_000_000
    )
    control = TelegramControl(fake)
    await fake.start(port)
    await control.start(control_port)
    try:
        print(f"fake Telegram Bot API: {fake.url}  (token {fake.token})", flush=True)
        print(f"control API: {control.url}\n{USAGE}", flush=True)
        print(
            "bridge settings: BRIDGE_TELEGRAM__ENABLED=true "
            f"BRIDGE_TELEGRAM__API_BASE_URL={fake.url} BRIDGE_TELEGRAM__TOKEN={fake.token}",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await control.stop()
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Telegram Bot API standalone.")
    parser.add_argument("--port", type=int, default=8902)
    parser.add_argument("--control-port", type=int, default=8903)
    parser.add_argument(
        "--no-flood-limits", action="store_true", help="do not enforce Telegram's flood limits"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.control_port, flood=not args.no_flood_limits))


main()
