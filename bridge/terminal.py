"""``clickai-bridge chat``: talk to the app from a terminal through the same core as the platforms.

A banner names the app and the commands; ``/help``, ``/like``, ``/dislike`` and ``/quit`` are
answered locally and unknown ``/commands`` never reach the assistant. Ctrl-C stops the answer
being written; a second Ctrl-C (or one while nothing is written) exits.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import signal
import threading
from typing import Any, Literal, TextIO

from bridge.app import BridgeApp
from bridge.config import Settings
from bridge.errors import ClickAIError
from bridge.i18n import pick_language, t
from bridge.model import InboundMessage, IntakeResult, ReplyRef
from bridge.relay import Relay
from channels.console import LAST_REPLY, ConsoleChannel

_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_]*)(?:\s|$)")
RELAYED = ("new", "stop")
LOCAL = ("help", "like", "dislike", "quit")


async def chat(
    settings: Settings, stdin: TextIO, out: TextIO, *, backend: str | None = None
) -> None:
    """Talk to the app (or the backend named ``backend``) from the terminal; the conversation
    persists in the store."""
    lang = pick_language(os.environ.get("LANG"), settings.bridge.default_language)
    console = ConsoleChannel(user=getpass.getuser(), language=lang, out=out)
    app = BridgeApp(settings, channels=[console], serve_http=False, backend=backend)
    await app.start()
    try:
        assert app.relay is not None and app.backend is not None
        name, mode = await _app_info(app)
        session = _Session(console, app.relay, out, lang, interactive=stdin.isatty())
        session.say(t(lang, "console_banner", app=name, mode=mode))
        _start_reader(stdin, session.lines)
        with _interrupts(session):
            await session.run()
    finally:
        await app.stop()


async def _app_info(app: BridgeApp) -> tuple[str, str]:
    """The app's name and mode for the banner (what is known when ClickAI does not answer);
    another backend is shown by its configured name and its kind."""
    backend = app.backend
    assert backend is not None
    client = app.clickai if backend.kind == "clickai" and backend.name == "clickai" else None
    if client is None:
        return backend.name, backend.kind
    known = app.app_mode if app.app_mode != "auto" else "?"
    try:
        info = await client.info()
    except ClickAIError:
        return "ClickAI", known
    return str(info.get("name") or "ClickAI"), str(info.get("mode") or known)


class _Session:
    """The read-submit-wait loop; one answer at a time, like a chat user."""

    def __init__(
        self, console: ConsoleChannel, relay: Relay, out: TextIO, lang: str, *, interactive: bool
    ) -> None:
        self.console, self.relay, self.out, self.lang = console, relay, out, lang
        self.interactive = interactive
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.quit = asyncio.Event()
        self._answering: InboundMessage | None = None
        self._stop_sent = False
        self._pending: set[asyncio.Future[IntakeResult]] = set()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def interrupt(self) -> None:
        """Ctrl-C: stop the answer being written; otherwise (or a second time) quit."""
        if self._answering is not None and not self._stop_sent:
            self._stop_sent = True
            self.say("\n" + t(self.lang, "console_stopping"))
            task = asyncio.ensure_future(self.relay.submit(self.console.message("/stop", "stop")))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return
        self.out.write("\n")
        self.quit.set()

    async def run(self) -> None:
        backlog: list[str | None] = []
        while not self.quit.is_set():
            if self.interactive:
                self.out.write("> ")
                self.out.flush()
            line = backlog.pop(0) if backlog else await self._next_line()
            if line is None:
                return
            text = line.strip()
            if not text or await self._local(text):
                continue
            match = _COMMAND.match(text)
            command = match.group(1).lower() if match else None
            msg = self.console.message(text, command if command in RELAYED else None)
            if not await self.relay.submit(msg):
                self.console.forget(msg.message_id)
                continue
            backlog += await self._wait(msg)

    async def _next_line(self) -> str | None:
        getter = asyncio.ensure_future(self.lines.get())
        quitter = asyncio.ensure_future(self.quit.wait())
        await asyncio.wait([getter, quitter], return_when=asyncio.FIRST_COMPLETED)
        quitter.cancel()
        if not getter.done():
            getter.cancel()
            return None
        return getter.result()

    async def _local(self, text: str) -> bool:
        """Answer the terminal's own commands; True when ``text`` was one (or unknown)."""
        match = _COMMAND.match(text)
        if match is None:
            return False
        name = match.group(1).lower()
        if name in RELAYED:
            return False
        if name == "help":
            self.say(t(self.lang, "console_help"))
        elif name in ("like", "dislike"):
            await self._rate("like" if name == "like" else "dislike")
        elif name == "quit":
            self.quit.set()
        else:
            self.say(t(self.lang, "console_unknown", command=f"/{name}"))
        return True

    async def _wait(self, msg: InboundMessage) -> list[str | None]:
        """Wait for the answer; ``/stop`` typed meanwhile stops it, other lines wait their turn."""
        waiter = self.console.waiter(msg.message_id)
        later: list[str | None] = []
        self._answering, self._stop_sent = msg, False
        try:
            while waiter is not None and not waiter.done() and not self.quit.is_set():
                getter = asyncio.ensure_future(self.lines.get())
                quitter = asyncio.ensure_future(self.quit.wait())
                racing: list[asyncio.Future[Any]] = [waiter, getter, quitter]
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                quitter.cancel()
                if not getter.done():
                    getter.cancel()
                    continue
                nxt = getter.result()
                if nxt is not None and nxt.strip() == "/stop" and not self._stop_sent:
                    self._stop_sent = True
                    await self.relay.submit(self.console.message("/stop", "stop"))
                else:
                    later.append(nxt)
        finally:
            self._answering = None
        return later

    async def _rate(self, rating: Literal["like", "dislike"]) -> None:
        # The newest answer is always stored under LAST_REPLY, so this also works on the last
        # answer of an earlier session.
        ref = ReplyRef(channel="console", chat_id=self.console.key.chat_id, message_id=LAST_REPLY)
        outcome = await self.relay.feedback(ref, rating, toggle=True, by=self.console.key.chat_id)
        if not outcome.ok:
            key = "feedback_failed"
        elif not outcome.found:
            key = "feedback_unknown"
        else:
            key = f"feedback_{outcome.rating}" if outcome.rating else "feedback_cleared"
        self.say(t(self.lang, key))


class _interrupts:
    """Route SIGINT (Ctrl-C) to the session while it runs (main thread only)."""

    def __init__(self, session: _Session) -> None:
        self._session = session
        self._installed = False

    def __enter__(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._session.interrupt)
            self._installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or no signals on this platform

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)


def _start_reader(stdin: TextIO, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin on a daemon thread so a blocked read never holds up exit."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
