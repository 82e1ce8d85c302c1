"""``python -m bench.fakeproc KIND CONFIG``: one instrumented fake in a process of its own.

The fakes run apart from the driver and from each other, so a busy driver or a fake ClickAI
streaming thousands of deltas never delays (and bunches) the moment the fake Telegram records
a call's arrival. Prints ``<fake url> <control url>`` on its first line, then serves until
SIGTERM. Control routes: ``POST /push`` (Telegram: user messages), ``GET /events?since=N``
(Telegram: shown texts, long-polled), ``GET /report`` (everything measured, as JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import sys
from typing import Any

from aiohttp import web

from bench.fakes import BenchClickAI, BenchTelegram, visible
from tests.fakes.telegram import FloodLimits, TgUser

BOT_CHATS = {"getUpdates", "getMe", "setMyCommands", "deleteMyCommands", "deleteWebhook"}


def digest(text: str) -> str:
    """A short fingerprint of what a chat shows of ``text``."""
    return hashlib.sha1(visible(text).encode()).hexdigest()[:16]


class TelegramControl:
    """Drives and reads a :class:`BenchTelegram` over HTTP."""

    def __init__(self, tg: BenchTelegram) -> None:
        self.tg = tg
        self.changed = asyncio.Event()
        tg.on_text = lambda *_: self.changed.set()

    async def push(self, request: web.Request) -> web.Response:
        """``[{"chat": id, "user": id, "text": str}, …]``: each becomes one update, in order."""
        for item in await request.json():
            user = TgUser(id=int(item["user"]), first_name=f"U{item['user']}")
            chat_id = int(item["chat"])
            if chat_id < 0:
                self.tg.chat(chat_id, type="supergroup")
            self.tg.push(self.tg.text(chat_id, user, str(item["text"])))
        return web.json_response({"ok": True})

    async def events(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        if len(self.tg.texts) <= since:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 5.0)
        rows = [
            [c.chat_id, c.at, c.method, c.message_id, digest(c.text), bool(c.text.strip())]
            for c in self.tg.texts[since:]
        ]
        return web.json_response(rows)

    async def report(self, request: web.Request) -> web.Response:
        tg = self.tg
        calls = [
            [c.at, c.method, c.params.get("chat_id"), c.status]
            for c in tg.calls
            if c.method not in BOT_CHATS
        ]
        texts = [[c.at, c.chat_id] for c in tg.texts]
        shown = {
            str(chat_id): [digest(m.text) for m in chat.bot_messages()]
            for chat_id, chat in tg.chats.items()
        }
        body = {"calls": calls, "texts": texts, "shown": shown, "polled_at": tg.polled_at}
        return web.Response(text=json.dumps(body), content_type="application/json")


async def _control(routes: list[tuple[str, str, Any]]) -> tuple[web.AppRunner, str]:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _serve(kind: str, config: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if kind == "telegram":
        tg = BenchTelegram(limits=FloodLimits(**config["limits"]))
        ctl = TelegramControl(tg)
        async with tg:
            runner, url = await _control(
                [
                    ("POST", "/push", ctl.push),
                    ("GET", "/events", ctl.events),
                    ("GET", "/report", ctl.report),
                ]
            )
            print(tg.url, url, flush=True)
            await stop.wait()
            await runner.cleanup()
        return
    ai = BenchClickAI(**config)

    async def report(request: web.Request) -> web.Response:
        return web.json_response({"first_at": ai.first_at, "end_at": ai.end_at})

    async with ai:
        runner, url = await _control([("GET", "/report", report)])
        print(ai.base_url, url, flush=True)
        await stop.wait()
        await runner.cleanup()


def main() -> int:
    kind, raw = sys.argv[1], sys.argv[2]
    asyncio.run(_serve(kind, json.loads(raw)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
