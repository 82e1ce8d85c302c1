"""Routes Telegram updates to the core: messages, commands, access control, buttons, reactions."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from telegram import Bot, CallbackQuery, ChatMember, Message, MessageReactionUpdated, Update
from telegram.error import TelegramError
from telegram.ext import CallbackContext

from bridge.budget import FloodBudget
from bridge.config import BridgeConfig, TelegramConfig
from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.i18n import pick_language, t
from bridge.model import InboundMessage, Intake, IntakeResult, Sender, ThreadKey
from bridge.tasks import TaskSet

from . import normalize as norm
from .calls import CHANNEL
from .commands import KNOWN, parse_command
from .feedback import MarkupSync, answer_query, on_callback, on_reaction
from .reply import TelegramReply
from .stops import DraftStops, StopPress, stop_press
from .suggest import asked_markup, is_suggestion, tap_of

log = logging.getLogger(__name__)

# (chat_id, thread, is_group, reply_to) → a reply stream for the channel's own answers
ReplyFactory = Callable[[str, str, bool, int | None], TelegramReply]
_REMEMBERED_REFUSALS = 10_000
_FIRST_WORD = re.compile(r"\S+\s*")


class Inbound:
    """Turns updates into ``Intake`` calls; answers /start, /help, refusals and stickers itself.

    Handlers only normalise and hand over (``Intake.submit`` returns fast); anything that talks
    to Telegram runs as a tracked background task, so the dispatcher is never held up.
    """

    def __init__(
        self,
        *,
        config: TelegramConfig,
        bridge: BridgeConfig,
        intake: Intake,
        me: norm.Me,
        tasks: TaskSet,
        reply: ReplyFactory,
        markup: MarkupSync,
        bot: Callable[[], Bot],
        flood: FloodBudget | None = None,
        stops: DraftStops | None = None,
    ) -> None:
        self._config = config
        self._default_language = bridge.default_language
        self._intake = intake
        self._me = me
        self._tasks = tasks
        self._reply = reply
        self._markup = markup
        self._bot = bot
        self._flood = flood
        self._stops = stops
        self._users = frozenset(config.allowed_user_ids)
        self._chats = frozenset(config.allowed_chat_ids)
        self._refused: dict[int, None] = {}

    async def on_update(
        self, update: Update, context: CallbackContext[Any, Any, Any, Any]
    ) -> IntakeResult | None:
        """Handle one update; the intake's verdict when it carried a message for the core."""
        if update.message is not None:
            return await self._on_message(update, update.message)
        if update.callback_query is not None:
            return await self._on_callback(update.callback_query)
        if update.message_reaction is not None:
            await self._on_reaction(update.message_reaction)
        elif update.my_chat_member is not None:
            change = update.my_chat_member
            status = change.new_chat_member.status
            log.info("telegram: bot is %s in chat %s", status, change.chat.id)
        elif (press := stop_press(update.api_kwargs)) is not None:
            await self._on_stop_press(press)
        return None

    def allowed(self, user_id: int | None, chat_id: int | None) -> bool:
        """Empty allow-lists admit everyone; otherwise the user or the chat must be listed."""
        if not self._users and not self._chats:
            return True
        return (user_id in self._users) or (chat_id in self._chats)

    def _language(self, code: str | None) -> str:
        return pick_language(code, self._default_language)

    async def _on_message(self, update: Update, message: Message) -> IntakeResult | None:
        if message.migrate_to_chat_id:
            old, new = str(message.chat.id), str(message.migrate_to_chat_id)
            await self._intake.migrate_chat(CHANNEL, old, new)
            return None
        if message.chat.type not in ("private", "group", "supergroup"):
            return None
        sender = norm.sender_of(message)
        if sender is None:
            return None
        private = norm.is_private(message)
        user = message.from_user
        language = self._language(user.language_code if user else None)
        command = parse_command(message, self._me.username)
        if command is not None and command.for_other_bot:
            return None
        if command is not None and command.name not in KNOWN:
            command = None  # e.g. /translate: ordinary text for the assistant
        if not private and not (
            command is not None
            or norm.mentions_bot(message, self._me)
            or norm.replies_to_bot(message, self._me)
        ):
            return None
        user_id = user.id if user is not None and not user.is_bot else None
        if not self.allowed(user_id, message.chat.id):
            self._intake.refused(CHANNEL, "access")
            self._refuse(message, language)
            return None
        name = command.name if command is not None else None
        if name == "start":
            self._answer(message, language, opening=True)
            return None
        if name == "help":
            help_key = "tg_help" if private else "tg_help_group"
            self._answer(message, language, text=t(language, help_key, bot=self._me.username))
            return None
        text = norm.clean_text(message, self._me)
        if command is not None:
            text = _FIRST_WORD.sub("", text, count=1).strip()
        attachments = norm.attachments_of(message)
        if name not in ("new", "stop") and not text and not attachments:
            if private and norm.is_unsupported(message):
                self._answer(message, language, notice=t(language, "unsupported"))
            elif name == "ask":
                self._answer(message, language, notice=t(language, "tg_ask_empty"))
            return None
        if name == "stop" and not private:
            sender = replace(sender, is_admin=await self._is_admin(message.chat.id, sender.id))
        thread = norm.thread_of(message)
        inbound = InboundMessage(
            key=norm.thread_key(message, sender, self._config.group_scope),
            event_id=f"telegram:upd:{update.update_id}",
            message_id=str(message.message_id),
            sender=sender,
            text=text,
            attachments=attachments,
            is_direct=private,
            command="new" if name == "new" else "stop" if name == "stop" else None,
            language=language,
            reply_thread=str(thread) if thread is not None else "",
        )
        return await self._intake.submit(inbound)

    async def _is_admin(self, chat_id: int, user_id: str) -> bool:
        """A group's creator or administrators may /stop anyone's answer (getChatMember)."""
        if user_id == str(chat_id):
            return True  # an anonymous admin, speaking as the group itself
        if not user_id.isdigit():
            return False
        try:
            member = await self._bot().get_chat_member(chat_id, int(user_id))
        except TelegramError as exc:
            log.info("telegram: getChatMember in %s failed (%s); not an admin", chat_id, exc)
            return False
        return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)

    async def _on_callback(self, query: CallbackQuery) -> IntakeResult | None:
        chat_id = query.message.chat.id if query.message is not None else None
        if is_suggestion(query.data):
            return await self._on_suggestion(query)
        await on_callback(
            query,
            intake=self._intake,
            language=self._language(query.from_user.language_code),
            allowed=self.allowed(query.from_user.id, chat_id),
            sync=self._markup,
            flood=self._flood,
        )
        return None

    async def _on_stop_press(self, press: StopPress) -> None:
        """A draft's stop button (private chats only): stop that chat's running turn."""
        if not self.allowed(press.chat_id, press.chat_id):
            return
        if self._stops is not None and not self._stops.pressed(press):
            log.info(
                "telegram: stop pressed on a draft in %s that is not live here", press.chat_id
            )
        await self._intake.stop_turn(ThreadKey(channel=CHANNEL, chat_id=str(press.chat_id)))

    async def _on_suggestion(self, query: CallbackQuery) -> IntakeResult | None:
        """A tap on a suggested question asks it, once, in the conversation of that chat."""
        user = query.from_user
        language = self._language(user.language_code)
        tap = tap_of(query)
        if tap is None:
            await answer_query(query, t(language, "suggestion_gone"), self._flood)
            return None
        message = tap.message
        if not self.allowed(user.id, message.chat.id):
            await answer_query(query, t(language, "access_denied"), self._flood)
            return None
        sender = Sender(id=str(user.id), display_name=user.full_name)
        thread = norm.thread_of(message)
        inbound = InboundMessage(
            key=norm.thread_key(message, sender, self._config.group_scope),
            event_id=f"telegram:sq:{message.chat.id}:{message.message_id}:{tap.index}",
            message_id=str(message.message_id),
            sender=sender,
            text=tap.question,
            is_direct=norm.is_private(message),
            language=language,
            reply_thread=str(thread) if thread is not None else "",
        )
        result = None if tap.asked_before else await self._intake.submit(inbound)
        fresh = result is IntakeResult.CLAIMED
        if result is not None and not result.acknowledged:
            return result  # not claimed: Telegram delivers the tap again
        await answer_query(query, None if fresh else t(language, "suggestion_asked"), self._flood)
        if fresh:
            marked = asked_markup(message.reply_markup, tap.index)
            self._markup.request(message.chat.id, message.message_id, marked)
        return result

    async def _on_reaction(self, reaction: MessageReactionUpdated) -> None:
        user_id = reaction.user.id if reaction.user is not None else None
        if self.allowed(user_id, reaction.chat.id):
            await on_reaction(reaction, intake=self._intake, sync=self._markup)

    # --- answers the channel gives itself ------------------------------------------------------
    def _refuse(self, message: Message, language: str) -> None:
        """One polite refusal per chat (remembered in memory), then silence."""
        chat_id = message.chat.id
        if chat_id in self._refused:
            return
        self._refused[chat_id] = None
        if len(self._refused) > _REMEMBERED_REFUSALS:
            self._refused.pop(next(iter(self._refused)))
        log.info("telegram: refused chat %s (not in the allow-lists)", chat_id)
        self._answer(message, language, notice=t(language, "access_denied"))

    def _answer(
        self,
        message: Message,
        language: str,
        *,
        text: str = "",
        notice: str = "",
        opening: bool = False,
    ) -> None:
        is_group = not norm.is_private(message)
        thread = norm.thread_of(message)
        reply = self._reply(
            str(message.chat.id),
            str(thread) if thread is not None else "",
            is_group,
            message.message_id if is_group else None,
        )
        say = self._say(reply, language, text, notice, opening)
        self._tasks.spawn(say, name=f"tg-say {message.chat.id}")

    async def _say(
        self, reply: TelegramReply, language: str, text: str, notice: str, opening: bool
    ) -> None:
        questions: tuple[str, ...] = ()
        if opening:
            start = await self._intake.opening()
            text = start.statement if start.statement.strip() else t(language, "tg_start")
            questions = start.questions
        for _ in range(4):
            try:
                await reply.finish(text, notice=notice or None, suggestions=questions)
                return
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
            except ReplyGone:
                return
            except ChannelError as exc:
                log.warning("telegram: could not answer in %s: %s", reply.pace_key, exc)
                return
