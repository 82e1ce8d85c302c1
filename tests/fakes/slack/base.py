"""The fake Slack's state, faults and fixtures, Web API dispatch, file hosting, Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.slack.model import (
    APP_ID,
    APP_TOKEN,
    BOT_TOKEN,
    LOGIN_PAGE,
    Call,
    Message,
    Upload,
    _Fault,
)


class _Base:
    """State and plumbing shared with the Web API methods."""

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
        self._held: dict[str, asyncio.Event] = {}
        self._appends: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._socket_seen = asyncio.Event()
        self._socket_gone = asyncio.Event()
        self.url = self.cdn_url = ""

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

    def hold(self, method: str) -> asyncio.Event:
        """Calls of ``method`` hang (recorded, unanswered) until the returned event is set."""
        return self._held.setdefault(method, asyncio.Event())

    def expire(self, ts: str) -> None:
        """The stream of message ``ts`` expires server-side (what was streamed stays)."""
        self.message(ts).streaming = False

    def add_user(
        self, user_id: str, *, locale: str = "en-US", name: str = "", admin: bool = False
    ) -> None:
        self.users[user_id] = {"locale": locale, "name": name or user_id.lower(), "admin": admin}

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
        held = self._held.get(method)
        if held is not None:
            await held.wait()
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
        future = await self.socket_push(payload, kind=kind, retry=retry)
        return await asyncio.wait_for(future, timeout=10)

    async def socket_push(
        self, payload: dict[str, Any], *, kind: str = "events_api", retry: int = 0
    ) -> asyncio.Future[dict[str, Any]]:
        """Deliver an envelope over Socket Mode; the future resolves with the app's ack."""
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
        return future
