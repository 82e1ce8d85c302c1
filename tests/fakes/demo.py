"""``python -m tests.fakes.demo``: the real bridge against fake ClickAI, Telegram and Slack.

It starts the fake ClickAI (answers "You said: …", streamed), the fake Telegram Bot API and the
fake Slack with their control APIs, and the bridge itself (SQLite store in a temporary
directory), then lets you chat as a Telegram user from the terminal. Everything listens on fixed
ports, so you can also drive it with curl (``curl http://127.0.0.1:8903/`` and ``:8905/``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from bridge.app import BridgeApp
from bridge.config import load_settings
from bridge.logs import setup_logging
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.fakes.slack.control import SlackControl
from tests.fakes.telegram import TOKEN, FakeTelegram, FloodLimits
from tests.fakes.telegram.control import TelegramControl

CHAT_ID = 4242
"""The demo user's private chat with the bot (its user id too)."""


@dataclass
class Demo:
    clickai: FakeClickAI
    telegram: FakeTelegram
    control: TelegramControl
    slack: FakeSlack
    slack_control: SlackControl
    app: BridgeApp


@asynccontextmanager
async def running_demo(
    store_dir: Path,
    *,
    clickai_port: int = 0,
    telegram_port: int = 0,
    control_port: int = 0,
    slack_port: int = 0,
    slack_control_port: int = 0,
    listen: str = "127.0.0.1:0",
    delta_delay: float = 0.1,
    drafts: bool = False,
) -> AsyncIterator[Demo]:
    """The fakes and a bridge wired to them; everything stops on exit."""
    clickai = FakeClickAI(
        app_name="Demo Assistant",
        opening_statement="Hello! I am a fake assistant: I repeat what you say, slowly.",
        port=clickai_port,
        deltas=12,
        delta_delay=delta_delay,
        first_token_delay=delta_delay,
    )
    telegram = FakeTelegram(limits=FloodLimits())
    control = TelegramControl(telegram)
    await clickai.start()
    await telegram.start(telegram_port)
    await control.start(control_port)
    slack = FakeSlack()
    slack_control = SlackControl(slack)
    await slack.start(slack_port)
    await slack_control.start(slack_control_port)
    settings = load_settings(
        environ={
            "BRIDGE_CONFIG": str(store_dir / "no-config.toml"),
            "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
            "BRIDGE_CLICKAI__API_KEY": clickai.key,
            "BRIDGE_STORE__URL": f"sqlite:///{store_dir / 'demo.db'}",
            "BRIDGE_SERVER__LISTEN": listen,
            "BRIDGE_TELEGRAM__ENABLED": "true",
            "BRIDGE_TELEGRAM__TOKEN": TOKEN,
            "BRIDGE_TELEGRAM__API_BASE_URL": telegram.url,
            "BRIDGE_TELEGRAM__DRAFTS": str(drafts).lower(),
            "BRIDGE_SLACK__ENABLED": "true",
            "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
            "BRIDGE_SLACK__APP_TOKEN": APP_TOKEN,
            "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
        }
    )
    app = BridgeApp(settings)
    try:
        await app.start()
        yield Demo(clickai, telegram, control, slack, slack_control, app)
    finally:
        await app.stop()
        await slack_control.stop()
        await slack.close()
        await control.stop()
        await telegram.stop()
        await clickai.close()


async def say(session: ClientSession, control_url: str, text: str) -> dict[str, Any]:
    """Send ``text`` as the demo user, or press 👍/👎 for ``/like`` and ``/dislike``."""
    chat = f"{control_url}/chats/{CHAT_ID}"
    if text in ("/like", "/dislike"):
        button = "👍" if text == "/like" else "👎"
        async with session.post(f"{chat}/press", json={"button": button}) as resp:
            return {"status": resp.status, "text": await resp.text()}
    async with session.post(f"{chat}/messages", json={"text": text, "name": "You"}) as resp:
        result: dict[str, Any] = await resp.json()
        return result


async def answer_after(
    session: ClientSession, control_url: str, message_id: int, *, within_s: float = 60
) -> list[str]:
    """The bot's messages after ``message_id`` once they are final (feedback buttons, or no
    change for two seconds)."""
    last: list[dict[str, Any]] = []
    still = 0
    for _ in range(int(within_s / 0.25)):
        async with session.get(f"{control_url}/chats/{CHAT_ID}") as resp:
            shown = (await resp.json())["messages"]
        mine = [m for m in shown if m["from"] == "bot" and m["message_id"] > message_id]
        if mine and (mine[-1]["buttons"] or still >= 8):
            return [m["text"] for m in mine]
        still = still + 1 if mine and mine == last else 0
        last = mine
        await asyncio.sleep(0.25)
    return [m["text"] for m in last]


async def _chat_in_terminal(demo: Demo) -> None:
    loop = asyncio.get_running_loop()
    async with ClientSession() as session:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            text = line.strip()
            if not text:
                continue
            toasts = len(demo.telegram.callback_answers)
            sent = await say(session, demo.control.url, text)
            if text in ("/like", "/dislike"):
                for _ in range(20):
                    if len(demo.telegram.callback_answers) > toasts:
                        print(f"bot (toast)> {demo.telegram.callback_answers[-1].get('text')}")
                        break
                    await asyncio.sleep(0.25)
            elif "message_id" in sent:
                for part in await answer_after(session, demo.control.url, sent["message_id"]):
                    print(f"bot> {part}", flush=True)


async def main_async(args: argparse.Namespace) -> None:
    setup_logging("INFO", "text", [TOKEN, BOT_TOKEN, APP_TOKEN])
    with tempfile.TemporaryDirectory(prefix="clickai-demo-") as tmp:
        async with running_demo(
            Path(tmp),
            clickai_port=args.clickai_port,
            telegram_port=args.telegram_port,
            control_port=args.control_port,
            slack_port=args.slack_port,
            slack_control_port=args.slack_control_port,
            listen=args.listen,
        ) as demo:
            print(
                f"\nfake ClickAI {demo.clickai.base_url} · fake Telegram {demo.telegram.url} "
                f"(control {demo.control.url}) · fake Slack {demo.slack.api_url} "
                f"(control {demo.slack_control.url}) · bridge /metrics on http://{args.listen}\n"
                "Type a message as a Telegram user (/start, /help, /new, /like, /dislike; "
                "Ctrl-D or Ctrl-C ends the demo). Or from another terminal:\n"
                f'  curl -d \'{{"text": "hi"}}\' {demo.control.url}/chats/{CHAT_ID}/messages\n'
                f"  curl {demo.control.url}/chats/{CHAT_ID}\n"
                f'  curl -d \'{{"text": "hi"}}\' {demo.slack_control.url}/channels/C1/messages\n'
                f"  curl {demo.slack_control.url}/channels/C1\n",
                flush=True,
            )
            if not args.serve:
                await _chat_in_terminal(demo)
            else:
                await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Watch the bridge work against fakes.")
    parser.add_argument("--clickai-port", type=int, default=8901)
    parser.add_argument("--telegram-port", type=int, default=8902)
    parser.add_argument("--control-port", type=int, default=8903)
    parser.add_argument("--slack-port", type=int, default=8904)
    parser.add_argument("--slack-control-port", type=int, default=8905)
    parser.add_argument("--listen", default="127.0.0.1:8080", help="the bridge's server.listen")
    parser.add_argument(
        "--serve", action="store_true", help="no terminal chat; serve until Ctrl-C"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
