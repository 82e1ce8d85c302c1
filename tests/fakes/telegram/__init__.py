"""A fake Telegram Bot API on 127.0.0.1 that models chats and enforces Telegram's limits.

Real python-telegram-bot code talks to it over HTTP (``base_url=f"{fake.url}/bot"``,
``base_file_url=f"{fake.url}/file/bot"``). It keeps a model of every chat (what the bot sent,
every edit, chat actions, drafts, files), serves ``getUpdates`` with long-poll semantics and
``allowed_updates`` filtering, and answers like Telegram: 429 with ``retry_after`` on flood,
"message is not modified", "message is too long", "can't parse entities", "message to edit not
found", "message thread not found", 403 for a blocked bot, ``migrate_to_chat_id`` for an
upgraded group, and injectable faults. Every call is recorded in :attr:`FakeTelegram.calls`.
"""

from tests.fakes.telegram.harness import RecordingIntake, eventually, feed, telegram_config
from tests.fakes.telegram.markup import EntityError, auto_entities, parse_html, utf16_len
from tests.fakes.telegram.model import (
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    MAX_DOWNLOAD,
    MAX_TEXT,
    TOKEN,
    BotApiError,
    Call,
    Chat,
    Fault,
    FloodLimits,
    Sent,
    TgUser,
)
from tests.fakes.telegram.server import FakeTelegram

__all__ = [
    "BOT_ID",
    "BOT_USER",
    "BOT_USERNAME",
    "MAX_DOWNLOAD",
    "MAX_TEXT",
    "TOKEN",
    "BotApiError",
    "Call",
    "Chat",
    "EntityError",
    "FakeTelegram",
    "Fault",
    "FloodLimits",
    "RecordingIntake",
    "Sent",
    "TgUser",
    "auto_entities",
    "eventually",
    "feed",
    "parse_html",
    "telegram_config",
    "utf16_len",
]
