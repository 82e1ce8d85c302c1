"""Bot API calls with Telegram's failure modes translated into the bridge's error tree."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bridge.budget import FloodBudget, Kind, spend
from bridge.errors import ChannelError, RateLimited, ReplyGone

log = logging.getLogger(__name__)

T = TypeVar("T")
CHANNEL = "telegram"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRIES = 2
_BACKOFF_S = 0.5


def retry_after_seconds(exc: RetryAfter) -> float:
    """The exact wait Telegram asked for (PTB 22 keeps it as a timedelta internally)."""
    raw = getattr(exc, "_retry_after", None)
    if isinstance(raw, dtm.timedelta):
        return raw.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _says(exc: BadRequest, *needles: str) -> bool:
    text = exc.message.lower()
    return any(n in text for n in needles)


def not_modified(exc: BadRequest) -> bool:
    return _says(exc, "message is not modified")


def parse_failed(exc: BadRequest) -> bool:
    return _says(exc, "can't parse entities", "can't find end", "unsupported start tag")


def refuses_stop(exc: BadRequest) -> bool:
    """An older Bot API server does not know the draft stop button's parameters."""
    return _says(exc, "can_stop", "keep_on_stop")


def edit_gone(exc: BadRequest) -> bool:
    """The message can no longer be edited (deleted by the user, too old, not ours)."""
    return _says(exc, "message to edit not found", "message can't be edited")


def thread_missing(exc: BadRequest) -> bool:
    return _says(exc, "message thread not found", "topic_deleted", "topic_closed")


@dataclass(slots=True)
class Target:
    """Where a reply goes; changes when a group migrates or a topic disappears."""

    chat_id: int
    thread_id: int | None = None
    on_migrate: Callable[[int, int], Awaitable[None]] | None = None


async def call(
    target: Target,
    fn: Callable[[int, int | None], Awaitable[T]],
    *,
    what: str,
    idempotent: bool,
    flood: FloodBudget | None = None,
    kind: Kind = Kind.FINAL,
) -> T:
    """Run ``fn(chat_id, thread_id)`` and translate failures.

    RetryAfter → RateLimited (exact seconds); Forbidden → ReplyGone; ChatMigrated → follow the
    new id (and tell ``on_migrate``) and retry; "message thread not found" → retry without the
    thread. Transport failures are retried when the request cannot have reached Telegram (or
    the call is ``idempotent``); otherwise ChannelError, so a send is never doubled. Other
    BadRequests propagate for the caller to interpret. Every attempt holds a slot of the
    bot-wide ``flood`` budget (see ``bridge.budget.spend``).
    """
    failures = 0
    migrations = 0
    while True:
        try:
            async with spend(flood, kind):
                return await fn(target.chat_id, target.thread_id)
        except RetryAfter as exc:
            raise RateLimited(CHANNEL, retry_after_seconds(exc)) from exc
        except ChatMigrated as exc:
            migrations += 1
            if migrations > 2:
                raise ChannelError(CHANNEL, f"{what}: chat keeps migrating") from exc
            old, target.chat_id = target.chat_id, int(exc.new_chat_id)
            log.info("telegram chat %s migrated to %s", old, target.chat_id)
            if target.on_migrate is not None:
                await target.on_migrate(old, target.chat_id)
        except Forbidden as exc:
            raise ReplyGone(CHANNEL, f"chat {target.chat_id}: {exc.message}") from exc
        except BadRequest as exc:
            if thread_missing(exc) and target.thread_id is not None:
                log.info("telegram topic %s of %s is gone", target.thread_id, target.chat_id)
                target.thread_id = None
                continue
            raise
        except NetworkError as exc:
            failures += 1
            safe = idempotent or isinstance(exc.__cause__, _NOT_SENT) or exc.__cause__ is None
            if failures > _RETRIES or not safe:
                raise ChannelError(CHANNEL, f"{what} failed: {exc.message}") from exc
            log.info("telegram %s failed (%s); retrying", what, exc.message)
            await asyncio.sleep(_BACKOFF_S * failures)
        except TelegramError as exc:
            raise ChannelError(CHANNEL, f"{what} failed: {exc.message}") from exc
