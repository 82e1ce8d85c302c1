"""The ``apps`` and ``chat`` commands (``run``: bridge.cli, ``check``: bridge.check)."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Literal, TextIO

from bridge.app import BridgeApp
from bridge.clickai import StudioClient
from bridge.config import Settings
from bridge.errors import ClickAIError
from bridge.i18n import pick_language, t
from bridge.model import ReplyRef
from bridge.relay import Relay
from channels.console import ConsoleChannel

Printer = Callable[[str], None]


async def apps(settings: Settings, mode: str | None, say: Printer) -> bool:
    """List the workspace's assistants with the Studio List Assistants API."""
    c = settings.clickai
    if c.studio_token is None or not c.workspace_id:
        say("apps: set clickai.studio_token and clickai.workspace_id first")
        return False
    client = StudioClient.from_config(c)
    try:
        async for item in client.iter_assistants(workspace_id=c.workspace_id, mode=mode):
            say(f"{item.get('id', '?')}\t{item.get('mode', '?')}\t{item.get('name', '')}")
    except ClickAIError as exc:
        say(f"apps: FAIL: {exc}")
        return False
    finally:
        await client.aclose()
    return True


async def chat(settings: Settings, stdin: TextIO, out: TextIO) -> None:
    """Talk to the app from the terminal; the conversation persists in the store."""
    lang = pick_language(os.environ.get("LANG"), settings.bridge.default_language)
    console = ConsoleChannel(user=getpass.getuser(), language=lang, out=out)
    app = BridgeApp(settings, channels=[console], serve_http=False)
    await app.start()
    assert app.relay is not None
    relay = app.relay
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    _start_reader(stdin, lines)
    backlog: deque[str | None] = deque()
    interactive = stdin.isatty()
    try:
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = backlog.popleft() if backlog else await lines.get()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text == "/like":
                await _rate(console, relay, "like", out, lang)
                continue
            if text == "/dislike":
                await _rate(console, relay, "dislike", out, lang)
                continue
            command = text[1:] if text in ("/new", "/stop") else None
            msg = console.message(text, command)
            if not await relay.submit(msg):
                console.forget(msg.message_id)
                continue
            waiter = console.waiter(msg.message_id)
            while waiter is not None and not waiter.done():
                getter: asyncio.Future[str | None] = asyncio.ensure_future(lines.get())
                await asyncio.wait([waiter, getter], return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    nxt = getter.result()
                    if nxt is not None and nxt.strip() == "/stop":
                        await relay.submit(console.message("/stop", "stop"))
                    else:
                        backlog.append(nxt)
                else:
                    getter.cancel()
    finally:
        await app.stop()


async def _rate(
    console: ConsoleChannel,
    relay: Relay,
    rating: Literal["like", "dislike"],
    out: TextIO,
    lang: str,
) -> None:
    if not console.last_reply:
        out.write(t(lang, "feedback_unknown") + "\n")
        return
    ref = ReplyRef(channel="console", chat_id=console.key.chat_id, message_id=console.last_reply)
    outcome = await relay.feedback(ref, rating, toggle=True)
    if not outcome.ok:
        key = "feedback_failed"
    elif not outcome.found:
        key = "feedback_unknown"
    else:
        key = f"feedback_{outcome.rating}" if outcome.rating else "feedback_cleared"
    out.write(t(lang, key) + "\n")
    out.flush()


def _start_reader(stdin: TextIO, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin on a daemon thread so a blocked read never holds up exit."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()


def printer(stream: TextIO = sys.stdout) -> Printer:
    def say(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return say
