"""``python -m tests.fakes.slack --port 8904 --control-port 8905``: a standalone fake Slack.

Point the bridge at it in Socket Mode with the printed settings, then act as a user through the
control API (``curl http://127.0.0.1:8905/`` lists it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from tests.fakes.slack.control import USAGE, SlackControl
from tests.fakes.slack.events import Events
from tests.fakes.slack.model import APP_TOKEN, BOT_TOKEN
from tests.fakes.slack.server import FakeSlack


async def serve(port: int, control_port: int) -> None:
    fake = FakeSlack()
    # Message timestamps go on from the clock, so a restarted fake never repeats one a bridge's
    # store already holds (it would ignore the message as a redelivery).
    control = SlackControl(fake, events=Events(first_ts=int(time.time())))
    await fake.start(port)
    await control.start(control_port)
    try:
        print(f"fake Slack Web API: {fake.api_url}", flush=True)
        print(f"control API: {control.url}\n{USAGE}", flush=True)
        print(
            "bridge settings: BRIDGE_SLACK__ENABLED=true BRIDGE_SLACK__MODE=socket "
            f"BRIDGE_SLACK__API_BASE_URL={fake.api_url} BRIDGE_SLACK__BOT_TOKEN={BOT_TOKEN} "
            f"BRIDGE_SLACK__APP_TOKEN={APP_TOKEN}",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await control.stop()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Slack standalone.")
    parser.add_argument("--port", type=int, default=8904)
    parser.add_argument("--control-port", type=int, default=8905)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.control_port))


main()
