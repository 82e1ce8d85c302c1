"""A small HTTP control API for a standalone fake Slack: act as a user, read what channels show.

The bridge connects to the fake over Socket Mode (``slack.mode = "socket"``); the control API
then delivers a user's message as Slack would (``app_mention`` in a channel, a ``message`` in a
``D…`` DM), presses an answer's 👍/👎 feedback buttons, and lists the bot's messages.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.slack.events import Events
from tests.fakes.slack.model import BOT_USER, Message
from tests.fakes.slack.server import FakeSlack

USAGE = """fake Slack control API (the bridge must be connected over Socket Mode)
POST /channels/{channel}/messages  {"text": "hello", "user": "U1", "thread_ts": ""}
                                   (C… channels: an @mention; D… channels: a DM)
POST /channels/{channel}/press     {"button": "like"}  (or "dislike"; the newest answer)
GET  /channels/{channel}           the bot's messages there, in every thread
"""


class SlackControl:
    """Serves the control API for ``fake`` on its own port."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.events = Events()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/", self._usage)
        app.router.add_get("/channels/{channel}", self._show)
        app.router.add_post("/channels/{channel}/messages", self._message)
        app.router.add_post("/channels/{channel}/press", self._press)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _usage(self, request: web.Request) -> web.Response:
        return web.Response(text=USAGE)

    async def _show(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        shown = [shown_message(m) for m in self.fake.messages if m.channel == channel]
        return _json({"channel": channel, "messages": [m for m in shown if not m["deleted"]]})

    async def _message(self, request: web.Request) -> web.Response:
        channel, body = request.match_info["channel"], await _body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise web.HTTPBadRequest(text='give the message as {"text": "…"}')
        user, thread_ts = str(body.get("user") or "U1"), str(body.get("thread_ts") or "")
        if channel.startswith("D"):
            event = self.events.dm(text, channel=channel, user=user, thread_ts=thread_ts)
        else:
            mention = text if f"<@{BOT_USER}>" in text else f"<@{BOT_USER}> {text}"
            event = self.events.mention(mention, channel=channel, user=user, thread_ts=thread_ts)
        await self._send(self.events.envelope(event), kind="events_api")
        return _json({"ts": event["ts"]})

    async def _press(self, request: web.Request) -> web.Response:
        channel, body = request.match_info["channel"], await _body(request)
        button = str(body.get("button") or "like")
        rated = [m for m in self.fake.messages if m.channel == channel and m.feedback]
        wanted = body.get("ts")
        target = next((m for m in reversed(rated) if wanted in (None, m.ts)), None)
        if target is None or button not in ("like", "dislike"):
            raise web.HTTPNotFound(text="no answer with feedback buttons (button: like|dislike)")
        click = self.events.feedback_click(
            button,
            message_ts=target.ts,
            channel=channel,
            user=str(body.get("user") or "U1"),
            thread_ts=target.thread_ts,
        )
        await self._send(click, kind="interactive")
        return _json({"ts": target.ts})

    async def _send(self, payload: dict[str, Any], *, kind: str) -> None:
        if not await self.fake.socket_connected(within_s=1.0):
            raise web.HTTPConflict(text="no bridge is connected over Socket Mode yet")
        await self.fake.socket_send(payload, kind=kind)


def shown_message(message: Message) -> dict[str, Any]:
    """A bot message as the control API shows it."""
    return {
        "ts": message.ts,
        "thread_ts": message.thread_ts,
        "text": message.body or message.text,
        "notices": message.notices,
        "feedback_buttons": message.feedback is not None,
        "streaming": message.streaming,
        "updates": message.updates,
        "files": list(message.files),
        "deleted": message.deleted,
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text="the body must be JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _json(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, dumps=lambda v: json.dumps(v, ensure_ascii=False))
