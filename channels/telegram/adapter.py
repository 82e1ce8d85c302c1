"""TelegramChannel: the PTB Application's lifecycle, update routing and the Channel contract."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackContext, TypeHandler
from telegram.request import HTTPXRequest

from bridge.budget import FloodBudget, SlidingLogBudget
from bridge.config import BridgeConfig, TelegramConfig
from bridge.errors import AttachmentError, ChannelError, ConfigError
from bridge.i18n import t
from bridge.model import (
    Attachment,
    InboundMessage,
    Intake,
    IntakeResult,
    PaceBudget,
    all_acknowledged,
    file_limit,
)
from bridge.server import HttpRoute
from bridge.tasks import TaskSet

from .calls import CHANNEL, Target
from .commands import register_commands
from .feedback import MarkupSync
from .inbound import Inbound
from .logfilter import TokenRedaction
from .normalize import Me
from .ordering import ChatOrderProcessor, ConfirmingPoller
from .reply import TelegramReply
from .stops import UPDATE as STOP_UPDATE
from .stops import DraftStops
from .webhook import PATH, WebhookEndpoint

log = logging.getLogger(__name__)

TgApp = Application[Any, Any, Any, Any, Any, Any]
ALLOWED_UPDATES = ("message", "callback_query", "message_reaction", "my_chat_member")
MAX_DOWNLOAD = 20 * 1000 * 1000  # Bot API getFile limit (20 MB) unless a local Bot API server
NOOP = "noop"
"""Callback data of buttons that only show something (pressing them does nothing)."""
HANDOFF_WAIT_S = 10.0  # a webhook update is answered 200 only once the core has taken it


class TelegramChannel:
    """The Telegram side of the bridge (``bridge.model.Channel``).

    Args:
        config: the ``[telegram]`` section.
        bridge: the ``[bridge]`` section (default language).
        poll_timeout_s: long-poll timeout for ``getUpdates``.
        request_timeout_s: read timeout of ordinary Bot API calls.
        typing_every_s: how often the typing indicator is repeated.
    """

    name = CHANNEL

    def __init__(
        self,
        config: TelegramConfig,
        bridge: BridgeConfig,
        *,
        poll_timeout_s: float = 25.0,
        request_timeout_s: float = 15.0,
        typing_every_s: float = 4.5,
    ) -> None:
        if config.token is None:
            raise ConfigError("telegram.token: required")
        self.config = config
        self.bridge = bridge
        self.max_download_bytes: int | None = None if config.local_bot_api else MAX_DOWNLOAD
        self.pace_budget = PaceBudget(
            chat_interval_s=config.edit_interval_s,
            group_interval_s=config.group_edit_interval_s,
            global_per_s=config.global_per_second,
        )
        self.flood: FloodBudget = SlidingLogBudget(config.global_per_second)
        """Every call that reaches a chat holds a slot (shared with the core's pacer)."""
        self._token = config.token.get_secret_value()
        self._root = config.api_base_url.rstrip("/")
        self._poll_timeout = poll_timeout_s
        self._request_timeout = request_timeout_s
        self._typing_every = typing_every_s
        self._app: TgApp | None = None
        self._poller: ConfirmingPoller | None = None
        self._handoffs: dict[int, tuple[Update, asyncio.Future[IntakeResult | None]]] = {}
        self._unacked: set[int] = set()  # polled update ids whose message was not claimed
        self._intake: Intake | None = None
        self._me: Me | None = None
        self._inbound: Inbound | None = None
        self._accepting = False
        self._tasks = TaskSet("telegram")  # the channel's own answers and button marks
        self._typing = TaskSet("telegram")  # typing indicators of live replies
        self._redaction = TokenRedaction(self._token)
        self._markup = MarkupSync(
            lambda: self._application.bot, self._interval, self._tasks, lambda: self.flood
        )
        self._stops = DraftStops(config.drafts and config.stop_button)
        self._allowed_updates = ALLOWED_UPDATES + ((STOP_UPDATE,) if self._stops.enabled else ())
        secret = config.webhook_secret.get_secret_value() if config.webhook_secret else ""
        self._webhook = WebhookEndpoint(secret, self._deliver, lambda: self._accepting)

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def polling(self) -> bool:
        """True when this channel fetches updates itself (only one replica may do that)."""
        return self.config.mode != "webhook"

    def http_routes(self) -> list[HttpRoute]:
        """``POST /telegram/webhook`` in webhook mode; nothing when polling."""
        if self.config.mode != "webhook":
            return []
        return [HttpRoute("POST", PATH, self._webhook.handle)]

    async def start(self, intake: Intake) -> None:
        """Connect (getMe), register commands, begin polling or set the webhook, then return."""
        if self._app is not None:
            return
        self._intake = intake
        self._redaction.install()
        app = self._build()
        self._app = app
        try:
            await app.initialize()
            me = app.bot.bot
            self._me = Me(id=me.id, username=me.username or "")
            self._inbound = Inbound(
                config=self.config,
                bridge=self.bridge,
                intake=intake,
                me=self._me,
                tasks=self._tasks,
                reply=lambda chat, thread, group, quote: self._reply(
                    chat, thread, group, quote, False
                ),
                markup=self._markup,
                bot=lambda: self._application.bot,
                flood=self.flood,
                stops=self._stops,
            )
            await register_commands(app.bot)
            if self.config.mode == "webhook":
                await app.bot.set_webhook(
                    str(self.config.webhook_url),
                    secret_token=self._webhook_secret(),
                    allowed_updates=list(self._allowed_updates),
                )
            await app.start()
            if self.config.mode != "webhook":
                self._poller = ConfirmingPoller(
                    app.bot,
                    app.update_queue,
                    timeout_s=int(self._poll_timeout),
                    allowed_updates=self._allowed_updates,
                    on_error=self._poll_error,
                    first_unacknowledged=self._first_unacknowledged,
                )
                await self._poller.start()
        except TelegramError as exc:
            await self._shutdown()
            raise ChannelError(CHANNEL, f"cannot start Telegram: {exc.message}") from exc
        except BaseException:
            await self._shutdown()
            raise
        self._accepting = True
        log.info("telegram: @%s is running (%s)", self._me.username, self.config.mode)

    async def stop(self) -> None:
        """Stop taking updates (queued ones are still handed to the core); idempotent."""
        self._accepting = False
        app = self._app
        if app is None:
            return
        poller, self._poller = self._poller, None
        if poller is not None:
            await poller.stop()
        if app.running:
            await app.stop()

    async def close(self) -> None:
        """Release PTB's connections once replies are done; idempotent."""
        await self.stop()
        await self._tasks.wait(5.0)
        await self._tasks.cancel_all()
        await self._typing.cancel_all()
        await self._shutdown()

    async def idle(self) -> None:
        """Return once every update taken so far was handled and the channel's own answers
        (/start, /help, refusals, button marks) were sent; for tests and orderly shutdown."""
        app = self._app
        if app is not None and app.running:
            await app.update_queue.join()
        while len(self._tasks):
            await self._tasks.wait(60.0)

    async def _shutdown(self) -> None:
        app, self._app = self._app, None
        try:
            if app is not None:
                await app.shutdown()
        finally:
            self._redaction.remove()

    def _build(self) -> TgApp:
        request = HTTPXRequest(
            connection_pool_size=64,
            read_timeout=self._request_timeout,
            write_timeout=self._request_timeout,
            connect_timeout=10.0,
            pool_timeout=5.0,
            media_write_timeout=60.0,
        )
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(f"{self._root}/bot")
            .base_file_url(f"{self._root}/file/bot")
            .request(request)
            .concurrent_updates(ChatOrderProcessor(256))
            .job_queue(None)
        )
        if self.config.mode != "webhook":
            builder = builder.get_updates_request(
                HTTPXRequest(connection_pool_size=2, read_timeout=10.0, connect_timeout=10.0)
            )
        builder = builder.updater(None)  # polling is ConfirmingPoller's job (see ordering.py)
        app: TgApp = builder.build()
        app.add_handler(TypeHandler(Update, self._on_update))
        app.add_error_handler(self._on_error)
        return app

    def _webhook_secret(self) -> str:
        secret = self.config.webhook_secret
        return secret.get_secret_value() if secret is not None else ""

    def _poll_error(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            log.error("telegram: another poller or a webhook uses this bot: %s", exc.message)
        elif isinstance(exc, InvalidToken):
            log.error("telegram: the bot token was refused")
        else:
            log.warning("telegram: getUpdates failed (%s); retrying", exc.message)

    @property
    def _application(self) -> TgApp:
        if self._app is None:
            raise ChannelError(CHANNEL, "telegram channel is not running")
        return self._app

    def _interval(self, chat_id: int) -> float:
        budget = self.pace_budget
        return budget.group_interval_s if chat_id < 0 else budget.chat_interval_s

    # --- replies and files ----------------------------------------------------------------------
    def open_reply(self, msg: InboundMessage) -> TelegramReply:
        is_group = not msg.is_direct
        reply_to = int(msg.message_id) if is_group and msg.message_id.isdigit() else None
        drafts = self.config.drafts and msg.is_direct
        return self._reply(msg.key.chat_id, msg.reply_thread, is_group, reply_to, drafts)

    def notice_reply(
        self, channel: str, chat_id: str, thread: str, language: str
    ) -> TelegramReply:
        return self._reply(chat_id, thread, int(chat_id) < 0, None, False)

    def _reply(
        self, chat_id: str, thread: str, is_group: bool, reply_to: int | None, drafts: bool
    ) -> TelegramReply:
        target = Target(int(chat_id), int(thread) if thread else None, self._migrated)
        return TelegramReply(
            bot=self._application.bot,
            target=target,
            is_group=is_group,
            tasks=self._typing,
            flood=self.flood,
            reply_to=reply_to,
            drafts=drafts,
            stops=self._stops if drafts else None,
            on_buttons=self._markup.note,
            interval_s=self._interval(target.chat_id),
            typing_every_s=self._typing_every,
        )

    async def _migrated(self, old: int, new: int) -> None:
        if self._intake is not None:
            await self._intake.migrate_chat(CHANNEL, str(old), str(new))

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        """getFile + download; too_large before any byte moves when the size is known."""
        limit = file_limit(max_bytes, self)
        if attachment.size is not None and attachment.size > limit:
            raise AttachmentError("too_large", attachment.name)
        try:
            file = await self._application.bot.get_file(attachment.ref)
            if file.file_size is not None and file.file_size > limit:
                raise AttachmentError("too_large", attachment.name)
            data = await file.download_as_bytearray()
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise AttachmentError("too_large", attachment.name) from exc
            raise AttachmentError("download_failed", attachment.name) from exc
        except TelegramError as exc:
            log.warning("telegram: download of %s failed: %s", attachment.ref, exc.message)
            raise AttachmentError("download_failed", attachment.name) from exc
        if len(data) > max_bytes:
            raise AttachmentError("too_large", attachment.name)
        return bytes(data)

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        """Mark a partial answer an earlier run left behind: a ⚠️ button under it says it is
        incomplete (its text is unknown after a crash, so the message itself is not edited)."""
        if not reply_id.isdigit():
            return
        mark = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t(language, "interrupted_mark"), callback_data=NOOP)]]
        )
        try:
            await self._application.bot.edit_message_reply_markup(
                chat_id=int(chat_id), message_id=int(reply_id), reply_markup=mark
            )
        except (TelegramError, ChannelError) as exc:
            log.info("telegram: could not mark %s:%s as interrupted: %s", chat_id, reply_id, exc)

    # --- webhook --------------------------------------------------------------------------------
    async def _deliver(self, data: dict[str, Any]) -> int:
        """Queue a webhook update and answer once it was handled.

        200 only when the intake claimed its message (or knew it already), so a crash can never
        follow a 200 for an update the store does not know. A refused (shutting down) or failed
        claim (store locked, database down) answers 503, and Telegram resends the update.
        """
        app = self._app
        if app is None or not app.running:
            return 503
        try:
            update = Update.de_json(data, app.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("telegram webhook: unusable update: %s", type(exc).__name__)
            return 400
        handled: asyncio.Future[IntakeResult | None] = asyncio.get_running_loop().create_future()
        self._handoffs[id(update)] = (update, handled)
        try:
            app.update_queue.put_nowait(update)
            result = await asyncio.wait_for(asyncio.shield(handled), HANDOFF_WAIT_S)
        except TimeoutError:
            log.warning("telegram webhook: update %s not handled in time", update.update_id)
            return 503
        finally:
            self._handoffs.pop(id(update), None)
        return 200 if all_acknowledged([result]) else 503

    def _first_unacknowledged(self, update_ids: list[int]) -> int | None:
        """For the poller: the first id of a handled batch whose message was not claimed."""
        first = next((u for u in update_ids if u in self._unacked), None)
        self._unacked.difference_update(update_ids)
        return first

    # --- incoming updates -----------------------------------------------------------------------
    async def _on_update(
        self, update: Update, context: CallbackContext[Any, Any, Any, Any]
    ) -> None:
        result: IntakeResult | None = IntakeResult.FAILED  # unless the handler returns
        try:
            if self._inbound is not None:
                result = await self._inbound.on_update(update, context)
        finally:
            handoff = self._handoffs.get(id(update))
            if handoff is not None and handoff[0] is update:
                if not handoff[1].done():
                    handoff[1].set_result(result)
            elif self._poller is not None and not all_acknowledged([result]):
                self._unacked.add(update.update_id)

    async def _on_error(
        self, update: object, context: CallbackContext[Any, Any, Any, Any]
    ) -> None:
        update_id = update.update_id if isinstance(update, Update) else "?"
        log.error("telegram: handling update %s failed", update_id, exc_info=context.error)
