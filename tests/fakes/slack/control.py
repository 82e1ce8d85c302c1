"""A small HTTP control API for a standalone fake Slack: act as a user, read what channels show.

The bridge connects to the fake over Socket Mode (``slack.mode = "socket"``); the control API
then delivers a user's message as Slack would (``app_mention`` in a channel, a ``message`` in a
``D…`` DM), presses an answer's 👍/👎 feedback buttons, and lists the bot's messages.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.control import ControlServer, json_body, json_response
from tests.fakes.slack.events import Events
from tests.fakes.slack.model import BOT_USER, Message
from tests.fakes.slack.server import FakeSlack

USAGE = """fake Slack control API (the bridge must be connected over Socket Mode)
POST /channels/{channel}/messages  {"text": "hello", "user": "U1", "thread_ts": ""}
                                   (C… channels: an @mention; D… channels: a DM;
                                   "language": "vi" makes the user Vietnamese)
POST /channels/{channel}/press     {"button": "like"}  (or "dislike"; the newest answer)
GET  /channels/{channel}           the bot's messages there, in every thread
"""


class SlackControl(ControlServer):
    """Serves the control API for ``fake`` on its own port."""

    usage = USAGE

    def __init__(self, fake: FakeSlack, *, events: Events | None = None) -> None:
        super().__init__()
        self.fake = fake
        self.events = events or Events()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/channels/{channel}", self._show),
            web.post("/channels/{channel}/messages", self._message),
            web.post("/channels/{channel}/press", self._press),
        ]

    async def _show(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        shown = [
            shown_message(m) for m in self.fake.messages if m.channel == channel and not m.deleted
        ]
        return json_response({"channel": channel, "messages": shown})

    async def _message(self, request: web.Request) -> web.Response:
        channel, body = request.match_info["channel"], await json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise web.HTTPBadRequest(text='give the message as {"text": "…"}')
        user, thread_ts = str(body.get("user") or "U1"), str(body.get("thread_ts") or "")
        language = body.get("language")
        if user not in self.fake.users:  # users.info knows every user of the control API
            self.fake.add_user(user)
        if language:
            self.fake.users[user]["locale"] = {"vi": "vi-VN"}.get(str(language), "en-US")
        if channel.startswith("D"):
            event = self.events.dm(text, channel=channel, user=user, thread_ts=thread_ts)
        else:
            mention = text if f"<@{BOT_USER}>" in text else f"<@{BOT_USER}> {text}"
            event = self.events.mention(mention, channel=channel, user=user, thread_ts=thread_ts)
        await self._send(self.events.envelope(event), kind="events_api")
        return json_response({"ts": event["ts"]})

    async def _press(self, request: web.Request) -> web.Response:
        channel, body = request.match_info["channel"], await json_body(request)
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
        return json_response({"ts": target.ts})

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
