"""Bot commands: registration with setMyCommands (English + Vietnamese) and parsing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    Message,
    MessageEntity,
)
from telegram.error import TelegramError

from bridge.i18n import t

log = logging.getLogger(__name__)

KNOWN = frozenset({"start", "help", "new", "stop", "ask"})
_PRIVATE_MENU = ("start", "new", "stop", "help")
_GROUP_MENU = ("ask", "new", "stop", "help")


@dataclass(frozen=True, slots=True)
class Command:
    """A ``/name[@bot] args`` message. ``for_other_bot`` is True for ``/name@someone_else``."""

    name: str
    args: str
    for_other_bot: bool


def parse_command(message: Message, bot_username: str) -> Command | None:
    """The command a message starts with (text or caption), or None."""
    entities = message.parse_entities([MessageEntity.BOT_COMMAND])
    if not entities:
        entities = message.parse_caption_entities([MessageEntity.BOT_COMMAND])
    first = next((e for e in entities if e.offset == 0), None)
    if first is None:
        return None
    word = entities[first]
    name, _, target = word[1:].partition("@")
    full = message.text or message.caption or ""
    rest = full.encode("utf-16-le")[first.length * 2 :].decode("utf-16-le")
    other = bool(target) and target.lower() != bot_username.lower()
    return Command(name=name.lower(), args=rest.strip(), for_other_bot=other)


async def register_commands(bot: Bot) -> None:
    """Publish the command menus: private chats and groups, in English and Vietnamese.

    Failures are logged, never fatal: the bot works without a menu.
    """
    scopes: tuple[tuple[BotCommandScope, tuple[str, ...]], ...] = (
        (BotCommandScopeDefault(), _PRIVATE_MENU),
        (BotCommandScopeAllGroupChats(), _GROUP_MENU),
    )
    for language in ("en", "vi"):
        for scope, names in scopes:
            commands = [BotCommand(name, t(language, f"cmd_{name}")) for name in names]
            try:
                await bot.set_my_commands(
                    commands, scope=scope, language_code=None if language == "en" else language
                )
            except TelegramError as exc:
                log.warning("telegram: setMyCommands (%s) failed: %s", language, exc.message)
                return
