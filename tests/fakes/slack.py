"""A fake Slack: Web API at /api/<method>, file hosting, Socket Mode, and request builders.

The fake keeps every channel's messages (text, markdown, blocks, native streaming state), the
files users shared and the bot uploaded, loading statuses and ephemeral notes, and records every
call. Faults are injectable per method (429 with Retry-After, 5xx, any error code), as are a
refused streaming API, stream expiry and a Tier-3-like ``chat.update`` limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import ClientSession, WSMsgType, web
from prometheus_client import CollectorRegistry

from bridge.config import BridgeConfig, SlackConfig
from bridge.model import FeedbackOutcome, InboundMessage, Rating, ReplyRef
from bridge.server import HttpServer
from channels.slack import SlackChannel

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
SIGNING_SECRET = "fake-signing-secret"
TEAM_ID, BOT_USER, BOT_ID, APP_ID = "T0FAKE", "UBOT", "BBOT", "AFAKE"
MARKDOWN_LIMIT = 12_000
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


@dataclass
class Message:
    """A bot message as Slack would show it."""

    channel: str
    ts: str
    thread_ts: str
    text: str = ""
    body: str = ""
    """The Markdown the message displays (streamed text, markdown_text or markdown blocks)."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False
    files: list[str] = field(default_factory=list)
    deleted: bool = False
    updates: int = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.blocks if b.get("type") == kind]

    @property
    def feedback(self) -> dict[str, Any] | None:
        for block in self.of_type("context_actions"):
            for element in block.get("elements", []):
                if element.get("type") == "feedback_buttons":
                    return dict(element)
        return None

    @property
    def notices(self) -> list[str]:
        return [e.get("text", "") for b in self.of_type("context") for e in b.get("elements", [])]


@dataclass
class Upload:
    id: str
    filename: str
    data: bytes = b""


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: float | None
    applied: bool = False
    channel: str | None = None


def _blocks_markdown(blocks: list[dict[str, Any]]) -> str:
    return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "markdown")


class FakeSlack:
    """Start with ``await fake.start()``; point AsyncWebClient at ``fake.api_url``."""

    def __init__(self, *, update_limit_per_minute: int = 10_000, update_retry_after: int = 7):
        self.calls: list[Call] = []
        self.messages: list[Message] = []
        self.statuses: list[tuple[str, str, str]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.uploads: dict[str, Upload] = {}
        self.downloads: list[tuple[str, bool]] = []
        """(path, had Authorization header) for every file request on the main host."""
        self.cdn_requests: list[tuple[str, bool]] = []
        """The same for the other host (where cross-host redirects lead)."""
        self.stream_refusal: str | None = None
        self.expire_after_appends: int | None = None
        self.gone: dict[str, str] = {}
        self.update_limit = update_limit_per_minute
        self.update_retry_after = update_retry_after
        self._update_times: deque[float] = deque()
        self._faults: dict[str, list[_Fault]] = {}
        self._appends: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._socket_seen = asyncio.Event()
        self._socket_gone = asyncio.Event()
        self.url = self.cdn_url = ""

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{id}/{name}", self._file)
        app.router.add_get("/files-redirect/{id}/{name}", self._redirect_same)
        app.router.add_get("/files-cross/{id}/{name}", self._redirect_cross)
        app.router.add_get("/files-sniff/{id}/{name}", self._sniff)
        app.router.add_post("/upload/{id}", self._upload)
        app.router.add_get("/socket", self._socket)
        cdn = web.Application()
        cdn.router.add_get("/cdn/{id}/{name}", self._cdn)
        self.url = await self._serve(app, "127.0.0.1")
        self.cdn_url = (await self._serve(cdn, "127.0.0.1")).replace("127.0.0.1", "localhost")

    async def _serve(self, app: web.Application, host: str) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # --- faults and fixtures -------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: float | None = 3,
        times: int = 1,
        applied: bool = False,
        channel: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` fail (429 + Retry-After by default).

        ``applied=True`` performs the call and then reports the failure (a lost response).
        ``channel`` limits the fault to calls into that channel (None = any).
        """
        code = status if status is not None else (429 if error == "ratelimited" else 200)
        after = retry_after if code == 429 else None
        fault = _Fault(error, code, after, applied, channel)
        self._faults.setdefault(method, []).extend([fault] * times)

    def expire(self, ts: str) -> None:
        """The stream of message ``ts`` expires server-side (what was streamed stays)."""
        self.message(ts).streaming = False

    def add_user(self, user_id: str, *, locale: str = "en-US", name: str = "") -> None:
        self.users[user_id] = {"locale": locale, "name": name or user_id.lower()}

    def add_file(
        self, name: str, data: bytes, mimetype: str, *, route: str = "files"
    ) -> dict[str, Any]:
        """A file a user shared; ``route`` picks the download variant (redirects, sniff)."""
        file_id = f"F{next(self._ids):05d}"
        self.file_bytes[file_id] = data
        url = f"{self.url}/{route}/{file_id}/{name}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "size": len(data),
            "mode": "hosted",
            "url_private": url,
            "url_private_download": url,
        }
        self.files[file_id] = info
        return dict(info)

    # --- reading the state -----------------------------------------------------------------
    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    def message(self, ts: str) -> Message:
        return next(m for m in self.messages if m.ts == ts)

    def thread(self, channel: str, thread_ts: str = "") -> list[Message]:
        """The bot's visible messages in a thread ("" = top level of the channel)."""
        return [
            m
            for m in self.messages
            if m.channel == channel and m.thread_ts == thread_ts and not m.deleted
        ]

    def thread_text(self, channel: str, thread_ts: str = "") -> str:
        return "".join(m.body for m in self.thread(channel, thread_ts))

    # --- Web API -------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(parse_qsl((await request.read()).decode(), keep_blank_values=True)))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, args, token))
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        called = str(args.get("channel") or args.get("channel_id") or "")
        faults = [f for f in self._faults.get(method, []) if f.channel in (None, called)]
        if faults:
            fault = faults[0]
            self._faults[method].remove(fault)
            if fault.applied:
                getattr(self, "_m_" + method.replace(".", "_"))(args)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return web.json_response(
                {"ok": False, "error": fault.error}, status=fault.status, headers=headers
            )
        channel = str(args.get("channel") or args.get("channel_id") or "")
        if channel in self.gone:
            return web.json_response({"ok": False, "error": self.gone[channel]})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result: dict[str, Any] = handler(args)
        status = 429 if result.get("error") == "ratelimited" else 200
        headers = {"Retry-After": str(self.update_retry_after)} if status == 429 else {}
        return web.json_response(
            {"ok": "error" not in result, **result}, status=status, headers=headers
        )

    def _new_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n:06d}"

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "team_id": TEAM_ID,
            "team": "Fake",
            "user": "clickai",
            "url": self.url + "/",
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/socket"}

    @staticmethod
    def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = args.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _content(self, msg: Message, args: dict[str, Any]) -> dict[str, Any] | None:
        blocks = self._blocks(args)
        markdown = _blocks_markdown(blocks)
        if (
            len(markdown) > MARKDOWN_LIMIT
            or len(str(args.get("markdown_text") or "")) > MARKDOWN_LIMIT
        ):
            return {"error": "msg_blocks_too_long"}
        msg.text = str(args.get("text") or "")
        msg.blocks = blocks
        msg.body = (
            str(args.get("markdown_text") or "") or markdown or (msg.text if not blocks else "")
        )
        return None

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = Message(
            channel=str(args["channel"]),
            ts=self._new_ts(),
            thread_ts=str(args.get("thread_ts") or ""),
        )
        error = self._content(msg, args)
        if error:
            return error
        self.messages.append(msg)
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        while self._update_times and self._update_times[0] <= now - 60:
            self._update_times.popleft()
        if len(self._update_times) >= self.update_limit:
            return {"error": "ratelimited"}
        self._update_times.append(now)
        msg = next((m for m in self.messages if m.ts == args.get("ts") and not m.deleted), None)
        if msg is None:
            return {"error": "message_not_found"}
        if msg.streaming:
            return {"error": "cant_update_message"}
        error = self._content(msg, args)
        if error:
            return error
        msg.updates += 1
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = next((m for m in self.messages if m.ts == args.get("ts")), None)
        if msg is None:
            return {"error": "message_not_found"}
        msg.deleted = True
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.stream_refusal:
            return {"error": self.stream_refusal}
        channel, thread = str(args.get("channel") or ""), str(args.get("thread_ts") or "")
        if not thread:
            return {"error": "invalid_arguments"}
        if not channel.startswith("D"):
            if not args.get("recipient_user_id"):
                return {"error": "missing_recipient_user_id"}
            if not args.get("recipient_team_id"):
                return {"error": "missing_recipient_team_id"}
        text = str(args.get("markdown_text") or "")
        if len(text) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        msg = Message(
            channel=channel, ts=self._new_ts(), thread_ts=thread, body=text, streaming=True
        )
        self.messages.append(msg)
        return {"channel": channel, "ts": msg.ts}

    def _streaming(self, args: dict[str, Any]) -> Message | dict[str, Any]:
        msg = next((m for m in self.messages if m.ts == args.get("ts")), None)
        if msg is None:
            return {"error": "message_not_found"}
        if not msg.streaming:
            return {"error": "message_not_in_streaming_state"}
        text = str(args.get("markdown_text") or "")
        if len(text) > MARKDOWN_LIMIT or len(msg.body) + len(text) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        return msg

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming(args)
        if not isinstance(msg, Message):
            return msg
        if not args.get("markdown_text"):
            return {"error": "invalid_arguments"}
        msg.body += str(args["markdown_text"])
        count = self._appends[msg.ts] = self._appends.get(msg.ts, 0) + 1
        if self.expire_after_appends is not None and count >= self.expire_after_appends:
            msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming(args)
        if not isinstance(msg, Message):
            return msg
        msg.body += str(args.get("markdown_text") or "")
        msg.blocks = self._blocks(args)
        msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append(dict(args))
        return {"message_ts": self._new_ts()}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        self.statuses.append(
            (str(args["channel_id"]), str(args["thread_ts"]), str(args["status"]))
        )
        return {}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"error": "user_not_found"}
        out: dict[str, Any] = {
            "id": args["user"],
            "name": user["name"],
            "profile": {"display_name": user["name"]},
        }
        if str(args.get("include_locale")).lower() in ("1", "true"):
            out["locale"] = user["locale"]
        return {"user": out}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(args.get("file")))
        return {"file": dict(info)} if info else {"error": "file_not_found"}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"FUP{next(self._ids):04d}"
        self.uploads[file_id] = Upload(id=file_id, filename=str(args.get("filename")))
        return {"file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(str(args["files"]))
        channel, thread = str(args.get("channel_id") or ""), str(args.get("thread_ts") or "")
        if any(f["id"] not in self.uploads or not self.uploads[f["id"]].data for f in files):
            return {"error": "file_not_found"}
        if channel:
            ids = [f["id"] for f in files]
            self.messages.append(
                Message(channel=channel, ts=self._new_ts(), thread_ts=thread, files=ids)
            )
        return {"files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        msgs = self.thread(str(args["channel"]), str(args["ts"]))
        return {
            "messages": [
                {"ts": m.ts, "text": m.text, "user": BOT_USER, "bot_id": BOT_ID} for m in msgs
            ]
        }

    # --- files -----------------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["id"])
        if upload is None:
            return web.Response(status=404)
        upload.data = await request.read()
        return web.Response(text=f"OK - {len(upload.data)}")

    async def _file(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.downloads.append((request.path, bool(auth)))
        data = self.file_bytes.get(request.match_info["id"])
        if auth != f"Bearer {BOT_TOKEN}" or data is None:
            return web.Response(body=LOGIN_PAGE, content_type="text/html")
        info = self.files[request.match_info["id"]]
        return web.Response(body=data, content_type=info["mimetype"])

    async def _redirect_same(self, request: web.Request) -> web.Response:
        self.downloads.append((request.path, "Authorization" in request.headers))
        raise web.HTTPFound(f"/files/{request.match_info['id']}/{request.match_info['name']}")

    async def _redirect_cross(self, request: web.Request) -> web.Response:
        self.downloads.append((request.path, "Authorization" in request.headers))
        raise web.HTTPFound(
            f"{self.cdn_url}/cdn/{request.match_info['id']}/{request.match_info['name']}"
        )

    async def _sniff(self, request: web.Request) -> web.Response:
        self.downloads.append((request.path, "Authorization" in request.headers))
        return web.Response(body=b"\n  " + LOGIN_PAGE, content_type="application/octet-stream")

    async def _cdn(self, request: web.Request) -> web.Response:
        self.cdn_requests.append((request.path, "Authorization" in request.headers))
        data = self.file_bytes.get(request.match_info["id"], b"")
        return web.Response(body=data, content_type="application/octet-stream")

    # --- Socket Mode -------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self._socket_seen.set()
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": APP_ID}}
        )
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                data = json.loads(frame.data)
                future = self._acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            self._sockets.remove(ws)
            self._socket_gone.set()
        return ws

    async def socket_connected(self, *, within_s: float = 5.0) -> bool:
        """True once a Socket Mode client holds a WebSocket (polls up to ``within_s``)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._socket_seen.wait(), timeout=within_s)
        return bool(self._sockets)

    async def socket_closed(self, *, within_s: float = 5.0) -> bool:
        """True once no Socket Mode client is connected (polls up to ``within_s``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while self._sockets:
                    await self._socket_gone.wait()
                    self._socket_gone.clear()
        return not self._sockets

    async def socket_send(
        self, payload: dict[str, Any], *, kind: str = "events_api", retry: int = 0
    ) -> dict[str, Any]:
        """Deliver an envelope over Socket Mode and wait for the app's ack."""
        envelope_id = f"env-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
            "retry_attempt": retry,
            "retry_reason": "timeout" if retry else "",
        }
        await self._sockets[0].send_json(envelope)
        return await asyncio.wait_for(future, timeout=10)


# --- building deliveries -----------------------------------------------------------------------
class Events:
    """Builds event envelopes and interactivity payloads like Slack sends them."""

    def __init__(self, *, team_id: str = TEAM_ID, bot_user: str = BOT_USER) -> None:
        self.team_id = team_id
        self.bot_user = bot_user
        self._n = itertools.count(1)

    def ts(self) -> str:
        n = next(self._n)
        return f"{1_700_000_000 + n}.{n:06d}"

    def envelope(self, event: dict[str, Any], *, event_id: str = "") -> dict[str, Any]:
        return {
            "token": "legacy",
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._n):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": self.team_id, "user_id": self.bot_user, "is_bot": True}
            ],
        }

    def mention(
        self,
        text: str,
        *,
        channel: str = "C1",
        user: str = "U1",
        ts: str = "",
        thread_ts: str = "",
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        ts = ts or self.ts()
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{self.bot_user}> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "team": self.team_id,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files is not None:
            event["files"] = files
        return event

    def message(
        self,
        text: str,
        *,
        channel: str = "C1",
        user: str = "U1",
        ts: str = "",
        thread_ts: str = "",
        channel_type: str = "channel",
        subtype: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        ts = ts or self.ts()
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type,
            "team": self.team_id,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if subtype:
            event["subtype"] = subtype
        event.update(extra)
        return event

    def dm(self, text: str, *, channel: str = "D1", **kw: Any) -> dict[str, Any]:
        return self.message(text, channel=channel, channel_type="im", **kw)

    def reaction(
        self,
        name: str,
        *,
        ts: str,
        channel: str = "C1",
        user: str = "U1",
        added: bool = True,
        item_user: str = BOT_USER,
    ) -> dict[str, Any]:
        return {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": self.ts(),
        }

    def feedback_click(
        self,
        value: str,
        *,
        message_ts: str,
        channel: str = "C1",
        user: str = "U1",
        thread_ts: str = "",
    ) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "team": {"id": self.team_id},
            "user": {"id": user, "team_id": self.team_id},
            "api_app_id": APP_ID,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel},
            "message": {"ts": message_ts, "thread_ts": thread_ts or message_ts, "type": "message"},
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "feedback_buttons",
                    "action_id": "clickai_feedback",
                    "block_id": "b1",
                    "value": value,
                    "action_ts": self.ts(),
                }
            ],
        }


def signed_headers(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    retry_num: int | None = None,
) -> dict[str, str]:
    """Headers Slack would send with ``body`` (signature over the raw bytes)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def form_body(payload: dict[str, Any]) -> bytes:
    """Interactivity payloads arrive form-encoded as ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload)}).encode()


# --- a recording core and a running channel, for tests ------------------------------------------
class RecordingIntake:
    """Plays the relay's ``Intake`` role: records submits (deduping by event_id) and feedback."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.accepted: list[InboundMessage] = []
        self.feedback_calls: list[tuple[ReplyRef, Rating, bool]] = []
        self.known_replies: set[tuple[str, str]] = set()
        self.feedback_ok = True

    async def submit(self, msg: InboundMessage) -> bool:
        self.messages.append(msg)
        if any(m.event_id == msg.event_id for m in self.accepted):
            return False
        self.accepted.append(msg)
        return True

    async def feedback(self, ref: ReplyRef, rating: Rating, *, toggle: bool) -> FeedbackOutcome:
        self.feedback_calls.append((ref, rating, toggle))
        found = (ref.chat_id, ref.message_id) in self.known_replies
        return FeedbackOutcome(found=found, rating=rating if found else None, ok=self.feedback_ok)

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        return None

    async def opening_statement(self) -> str:
        return ""


def slack_config(fake: FakeSlack, **overrides: Any) -> SlackConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "mode": "http",
        "api_base_url": fake.api_url,
    }
    values.update(overrides)
    return SlackConfig(**values)


@dataclass
class Harness:
    """A started SlackChannel in HTTP mode behind the bridge's HttpServer, on a FakeSlack."""

    fake: FakeSlack
    channel: SlackChannel
    intake: RecordingIntake
    server: HttpServer
    session: ClientSession
    events: Events

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.bound_port}/slack/events"

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(self.endpoint, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def send(
        self, event: dict[str, Any], *, event_id: str = "", retry_num: int | None = None
    ) -> int:
        """POST a signed event envelope; returns the status once the handlers have run."""
        body = json_body(self.events.envelope(event, event_id=event_id))
        status, _ = await self.post(body, signed_headers(body, retry_num=retry_num))
        await self.channel.idle()
        return status

    async def click(self, payload: dict[str, Any]) -> int:
        body = form_body(payload)
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        status, _ = await self.post(body, headers)
        await self.channel.idle()
        return status


@asynccontextmanager
async def running_slack(
    *,
    start: bool = True,
    bridge: BridgeConfig | None = None,
    options: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """A FakeSlack plus a SlackChannel (``overrides`` go to SlackConfig, ``options`` to the
    channel's keyword-only constructor arguments) behind the bridge's HttpServer."""
    fake = FakeSlack()
    await fake.start()
    channel = SlackChannel(
        slack_config(fake, **overrides), bridge or BridgeConfig(), **(options or {})
    )
    server = HttpServer(
        host="127.0.0.1", port=0, registry=CollectorRegistry(), routes=channel.http_routes()
    )
    await server.start()
    intake = RecordingIntake()
    session = ClientSession()
    try:
        if start:
            await channel.start(intake)
        yield Harness(fake, channel, intake, server, session, Events())
    finally:
        await session.close()
        await channel.stop()
        await channel.close()
        await server.stop()
        await fake.close()
