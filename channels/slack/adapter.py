"""SlackChannel: the bolt AsyncApp, Socket Mode or HTTP delivery, and the Channel ports."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bridge.config import BridgeConfig, SlackConfig
from bridge.errors import AttachmentError, ChannelError
from bridge.model import Attachment, InboundMessage, Intake, PaceBudget
from bridge.server import HttpRoute
from bridge.tasks import TaskSet
from channels.slack import api
from channels.slack.ack import ClaimingSocketModeHandler, RequestTasks
from channels.slack.agent import AgentThread, Sessions
from channels.slack.events import Identity
from channels.slack.files import FileDownloader
from channels.slack.handlers import Handlers
from channels.slack.http import EVENTS_PATH, EventsEndpoint
from channels.slack.messages import StreamSupport, Target, close_orphaned_stream
from channels.slack.reply import SlackReply
from channels.slack.split import LIMIT

log = logging.getLogger("channels.slack")

API_TIMEOUT_S = 30
CLOSE_GRACE_S = 10.0
SOCKET_CONNECT_TIMEOUT_S = 30.0


def api_root(url: str) -> str:
    """The Web API root with its trailing slash (slack-sdk joins method names with urljoin)."""
    return url if url.endswith("/") else url + "/"


def _secret(value: SecretStr | None) -> str:
    return "" if value is None else value.get_secret_value()


class SlackChannel:
    """The Slack channel (``bridge.model.Channel``).

    Keyword-only extras exist for tests and embedding: ``client`` (a prepared AsyncWebClient),
    ``http`` (the httpx client used for file downloads), ``clock`` (user cache expiry),
    ``status_refresh_s`` (loading-status refresh period) and ``reply_limit`` (characters per
    message, 12,000 in production).
    """

    name = "slack"

    def __init__(
        self,
        config: SlackConfig,
        bridge: BridgeConfig,
        *,
        client: AsyncWebClient | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        status_refresh_s: float = 90.0,
        reply_limit: int = LIMIT,
    ) -> None:
        self._config = config
        self._token = _secret(config.bot_token)
        self._client = client or AsyncWebClient(
            token=self._token,
            base_url=api_root(config.api_base_url),
            timeout=API_TIMEOUT_S,
            logger=logging.getLogger("channels.slack.sdk"),
        )
        self.max_download_bytes: int | None = None  # Slack's own cap (1 GB) is never the lower
        self.pace_budget = PaceBudget(
            chat_interval_s=config.update_interval_s,
            group_interval_s=config.update_interval_s,
            global_per_s=config.updates_per_minute / 60,
        )
        self._tasks = RequestTasks("slack")  # event handlers: awaited (bounded) on close
        self._status_tasks = TaskSet("slack")  # loading-status refreshers: cancelled on close
        self._streams = StreamSupport(config.native_streaming)
        self._sessions = Sessions(enabled=config.agent_sessions, titles=config.thread_titles)
        self._status_refresh_s = status_refresh_s
        self._reply_limit = reply_limit
        self._me: Identity | None = None
        self._me_lock = asyncio.Lock()
        self._accepting = False
        self._socket: ClaimingSocketModeHandler | None = None
        self._http = http
        self._own_http = http is None
        self._downloader: FileDownloader | None = None
        self._handlers = Handlers(
            client=self._client,
            config=config,
            bridge=bridge,
            tasks=self._tasks,
            identity=self._identity,
            clock=clock,
            sessions=self._sessions,
        )
        self.app = AsyncApp(
            name="clickai-bridge",
            client=AsyncWebClient(  # token-less: bolt sets the token from authorize per request
                base_url=self._client.base_url,
                timeout=self._client.timeout,
                logger=self._client.logger,
            ),
            authorize=self._authorizer(),
            signing_secret=_secret(config.signing_secret),
            # Both modes: listeners only spawn work; the delivery is acked once that work handed
            # the message to the core and the core claimed it (see ack.dispatch).
            process_before_response=True,
            attaching_conversation_kwargs_enabled=False,  # say_stream etc. are not used
            request_verification_enabled=config.mode == "http",
            logger=logging.getLogger("channels.slack.bolt"),
        )
        self.app.middleware(self._gate())
        self._handlers.register(self.app)
        self._endpoint: EventsEndpoint | None = None
        if config.mode == "http":
            self._endpoint = EventsEndpoint(
                self.app,
                signing_secret=_secret(config.signing_secret),
                accepting=lambda: self._accepting,
            )

    # --- lifecycle ---------------------------------------------------------------------------
    def http_routes(self) -> list[HttpRoute]:
        """HTTP mode: ``POST /slack/events`` (Events API and interactivity). Socket Mode: none."""
        if self._endpoint is None:
            return []
        return [HttpRoute("POST", EVENTS_PATH, self._endpoint.handle)]

    async def start(self, intake: Intake) -> None:
        """Check the token (``auth.test``), then accept events; returns once connected."""
        self._handlers.intake = intake
        try:
            me = await self._identity()
        except ChannelError as exc:
            raise ChannelError(self.name, f"auth.test failed: {exc}") from exc
        log.info(
            "slack: authenticated as %s in %s (%s mode)", me.user_id, me.team_id, self._config.mode
        )
        self._accepting = True
        if self._config.mode == "socket":
            try:
                await self._connect_socket()
            except BaseException:
                self._accepting = False
                await self._close_socket()
                raise

    async def _connect_socket(self) -> None:
        """Open the WebSocket; a refused app token or no connection fails start-up clearly.

        The first WebSocket URL is asked for here (one ``apps.connections.open`` call), so a
        bad token is reported instead of being retried forever inside the Socket Mode client.
        """
        app_token = _secret(self._config.app_token)
        try:
            data = await api.call(
                "apps.connections.open", self._client.apps_connections_open(app_token=app_token)
            )
        except ChannelError as exc:
            raise ChannelError(self.name, f"Socket Mode: app token refused ({exc})") from exc
        self._socket = ClaimingSocketModeHandler(self.app, app_token, web_client=self._client)
        self._socket.client.wss_uri = str(data.get("url") or "") or None
        try:
            await asyncio.wait_for(
                self._socket.connect_async(),  # type: ignore[no-untyped-call]
                timeout=SOCKET_CONNECT_TIMEOUT_S,
            )
        except (TimeoutError, OSError) as exc:
            raise ChannelError(self.name, f"Socket Mode connection failed: {exc!r}") from exc

    async def stop(self) -> None:
        """Stop taking new events; those not yet acked are left for Slack to redeliver.

        HTTP answers 503; in Socket Mode the connection is closed (no reconnect) and anything
        still arriving is not acked.
        """
        self._accepting = False
        await self._close_socket()

    def _gate(self) -> Callable[..., Awaitable[BoltResponse]]:
        """Global bolt middleware: nothing is acked or handled while the channel is stopped."""

        async def gate(next_: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
            if not self._accepting:
                return BoltResponse(status=503, body="stopping")
            return await next_()

        return gate

    async def close(self) -> None:
        """Let handlers finish (bounded), then release the socket and HTTP clients."""
        await self.stop()
        await self._status_tasks.cancel_all()
        await self._tasks.join(within_s=CLOSE_GRACE_S)
        await self._tasks.cancel_all()
        await self._close_socket()
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None
        self._downloader = None

    async def _close_socket(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            try:
                await socket.close_async()  # type: ignore[no-untyped-call]
            except Exception:
                log.warning("slack: closing Socket Mode failed", exc_info=True)

    async def idle(self) -> None:
        """Wait until every scheduled handler has run (used by tests and shutdown)."""
        await self._tasks.join()

    # --- ports -------------------------------------------------------------------------------
    def open_reply(self, msg: InboundMessage) -> SlackReply:
        target = self._handlers.targets.get(msg.event_id) or Target(
            channel_id=msg.key.chat_id,
            thread_ts=msg.reply_thread,
            recipient_user_id=msg.sender.id,
            recipient_team_id=self._me.team_id if self._me else "",
            is_dm=msg.key.chat_id.startswith("D"),
        )
        if not target.is_dm:
            self._handlers.mark_active(target.channel_id, target.thread_ts)
        agent = AgentThread(
            self._client,
            self._sessions,
            channel_id=target.channel_id,
            thread_ts=target.thread_ts,
            user_id=target.recipient_user_id,
        )
        reply = self._reply(target, msg.language, streams=self._streams, agent=agent)
        if target.thread_ts:  # only a turn starts its reply; notices never take the thread over
            where = (target.channel_id, target.thread_ts)
            reply.on_start = lambda: self._handlers.live.put(where, (msg.key, reply))
        return reply

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> SlackReply:
        target = Target(channel_id=chat_id, thread_ts=thread, is_dm=chat_id.startswith("D"))
        return self._reply(target, language, streams=None)

    def _reply(
        self,
        target: Target,
        language: str,
        *,
        streams: StreamSupport | None,
        agent: AgentThread | None = None,
    ) -> SlackReply:
        return SlackReply(
            self._client,
            target,
            language=language,
            streams=streams,
            spawn=self._status_tasks.spawn,
            status_refresh_s=self._status_refresh_s,
            limit=self._reply_limit,
            agent=agent,
            titles=self._sessions.titles,
        )

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        if attachment.size is not None and attachment.size > max_bytes:
            raise AttachmentError("too_large", attachment.name)
        if self._downloader is None:
            if self._http is None:
                self._http = httpx.AsyncClient(
                    timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False
                )
                self._own_http = True
            self._downloader = FileDownloader(
                http=self._http,
                token=self._token,
                api_base_url=api_root(self._config.api_base_url),
                file_info=self._file_info,
            )
        return await self._downloader.download(attachment, max_bytes=max_bytes)

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        """A native stream an earlier run left open is closed (the notice follows it)."""
        await close_orphaned_stream(self._client, chat_id, reply_id)

    async def _file_info(self, file_id: str) -> dict[str, Any]:
        data = await api.call("files.info", self._client.files_info(file=file_id))
        info = data.get("file")
        return info if isinstance(info, dict) else {}

    # --- identity ------------------------------------------------------------------------------
    async def _identity(self) -> Identity:
        """The bot's ids from ``auth.test`` (asked once; a failure is retried next time)."""
        if self._me is not None:
            return self._me
        async with self._me_lock:
            if self._me is None:
                data = await api.call("auth.test", self._client.auth_test())
                self._me = Identity(
                    user_id=str(data.get("user_id") or ""),
                    bot_id=str(data.get("bot_id") or ""),
                    team_id=str(data.get("team_id") or ""),
                )
            return self._me

    def _authorizer(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """Bolt's authorize hook: our cached identity, so deliveries never re-run auth.test.

        A failure raises (bolt answers 500 and Slack redelivers) instead of acking the event
        and dropping it, which is what bolt's built-in single-team authorize would do.
        """

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            me = await self._identity()
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=me.team_id or team_id,
                bot_user_id=me.user_id,
                bot_id=me.bot_id,
                bot_token=self._token,
            )

        return authorize
