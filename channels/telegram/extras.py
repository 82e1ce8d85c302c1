"""What a reply sends besides its text: assistant files and the typing indicator."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import BadRequest

from bridge.budget import Denied, FloodBudget, Kind
from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.model import OutboundFile

from .calls import Target, call

log = logging.getLogger(__name__)

T = TypeVar("T")
TYPING_EVERY_S = 4.5  # the indicator lasts 5 s
TYPING_MAX_S = 600.0  # never type forever if a reply is abandoned
PHOTO_MAX = 10 * 1024 * 1024  # Bot API upload limits
UPLOAD_MAX = 50 * 1024 * 1024


class Api(Protocol):
    """A reply's paced, error-translating call: ``api(fn, what, idempotent=...)``."""

    def __call__(
        self, fn: Callable[[int, int | None], Awaitable[T]], what: str, *, idempotent: bool
    ) -> Awaitable[T]: ...


async def send_file(bot: Bot, api: Api, file: OutboundFile) -> None:
    """sendPhoto for images (sendDocument when refused or too big for a photo), else sendDocument.

    A file Telegram refuses is logged and skipped: the answer text is already delivered.
    """
    if len(file.data) > UPLOAD_MAX:
        log.warning("telegram: %s is too large to upload (%d bytes)", file.name, len(file.data))
        return
    if file.kind == "image" and len(file.data) <= PHOTO_MAX:
        try:
            await api(
                lambda chat, thread: bot.send_photo(
                    chat, file.data, filename=file.name, message_thread_id=thread
                ),
                "sendPhoto",
                idempotent=False,
            )
            return
        except BadRequest as exc:
            log.info("telegram: photo %s refused (%s); sending a document", file.name, exc.message)
    try:
        await api(
            lambda chat, thread: bot.send_document(
                chat, file.data, filename=file.name, message_thread_id=thread
            ),
            "sendDocument",
            idempotent=False,
        )
    except BadRequest as exc:
        log.warning("telegram: file %s refused: %s", file.name, exc.message)


async def keep_typing(
    bot: Bot, target: Target, every_s: float, flood: FloodBudget | None = None
) -> None:
    """sendChatAction(typing) every ``every_s`` until cancelled (at most TYPING_MAX_S).

    Each indicator needs a chat-action slot of the bot-wide budget at once; without one it is
    skipped (a courtesy, dropped first under pressure)."""
    deadline = time.monotonic() + TYPING_MAX_S
    while time.monotonic() < deadline:
        permit = await flood.try_acquire(Kind.ACTION) if flood is not None else None
        if isinstance(permit, Denied):
            await asyncio.sleep(every_s)
            continue
        try:
            await call(
                target,
                lambda chat, thread: bot.send_chat_action(
                    chat, ChatAction.TYPING, message_thread_id=thread
                ),
                what="sendChatAction",
                idempotent=True,
            )
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after)
            continue
        except ReplyGone:
            return
        except (ChannelError, BadRequest) as exc:
            log.debug("telegram: typing indicator failed: %s", exc)
        finally:
            if permit is not None:
                await permit.release()
        await asyncio.sleep(every_s)
