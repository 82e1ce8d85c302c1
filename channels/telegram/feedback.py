"""👍/👎 feedback on Telegram: inline buttons (callback queries) and message reactions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageReactionUpdated,
    ReactionType,
    ReactionTypeEmoji,
)
from telegram.error import BadRequest, RetryAfter, TelegramError

from bridge.budget import FloodBudget, Kind, spend
from bridge.i18n import t
from bridge.model import FeedbackOutcome, Intake, Rating, ReplyRef
from bridge.tasks import TaskSet

from .calls import CHANNEL, not_modified, retry_after_seconds

log = logging.getLogger(__name__)

LIKE, DISLIKE = "👍", "👎"
CALLBACK_LIKE, CALLBACK_DISLIKE = "fb:like", "fb:dislike"
_CALLBACKS: dict[str, Rating] = {CALLBACK_LIKE: "like", CALLBACK_DISLIKE: "dislike"}
Ignore = Literal["ignore"]
SHOWN_KEPT = 10_000


def feedback_markup(rating: Rating = None) -> InlineKeyboardMarkup:
    """The 👍/👎 row; the current rating carries a check mark."""
    like = f"{LIKE} ✓" if rating == "like" else LIKE
    dislike = f"{DISLIKE} ✓" if rating == "dislike" else DISLIKE
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(like, callback_data=CALLBACK_LIKE),
                InlineKeyboardButton(dislike, callback_data=CALLBACK_DISLIKE),
            ]
        ]
    )


def rated_markup(current: InlineKeyboardMarkup | None, rating: Rating) -> InlineKeyboardMarkup:
    """The 👍/👎 row showing ``rating``, with the message's other rows (suggestions) kept."""
    rows = [list(row) for row in feedback_markup(rating).inline_keyboard]
    for row in current.inline_keyboard if current is not None else ():
        if not any(button.callback_data in _CALLBACKS for button in row):
            rows.append(list(row))
    return InlineKeyboardMarkup(rows)


def _emoji(reactions: Sequence[ReactionType]) -> list[str]:
    return [r.emoji for r in reactions if isinstance(r, ReactionTypeEmoji)]


def reaction_rating(old: Sequence[ReactionType], new: Sequence[ReactionType]) -> Rating | Ignore:
    """What a reaction change means: 👍/👎 added → that rating, removed → None, else ignore."""
    before, after = set(_emoji(old)), _emoji(new)
    added = [e for e in after if e not in before]
    for emoji in reversed(added):
        if emoji == LIKE:
            return "like"
        if emoji == DISLIKE:
            return "dislike"
    removed = before - set(after)
    if removed & {LIKE, DISLIKE} and not set(after) & {LIKE, DISLIKE}:
        return None
    return "ignore"


def outcome_text(language: str, outcome: FeedbackOutcome) -> str:
    if not outcome.found:
        return t(language, "feedback_unknown")
    if not outcome.allowed:
        return t(language, "feedback_not_yours")
    if not outcome.ok:
        return t(language, "feedback_failed")
    if outcome.rating is None:
        return t(language, "feedback_cleared")
    return t(language, f"feedback_{outcome.rating}")


class MarkupSync:
    """Reflects the current rating on a message's buttons, one edit per chat interval.

    Requests for the same message coalesce (only the newest markup is sent); a 429 postpones
    the chat's next edit by exactly ``retry_after``.
    """

    def __init__(
        self,
        bot: Callable[[], Bot],
        interval: Callable[[int], float],
        tasks: TaskSet,
        flood: Callable[[], FloodBudget | None] = lambda: None,
    ):
        self._bot = bot
        self._flood = flood
        self._interval = interval
        self._tasks = tasks
        self._want: dict[tuple[int, int], InlineKeyboardMarkup] = {}
        self._next: dict[int, float] = {}
        self._shown: OrderedDict[tuple[int, int], InlineKeyboardMarkup] = OrderedDict()

    def note(self, chat_id: int, message_id: int, markup: InlineKeyboardMarkup) -> None:
        """Remember the buttons a message shows (kept for the last ``SHOWN_KEPT`` messages)."""
        self._shown[(chat_id, message_id)] = markup
        self._shown.move_to_end((chat_id, message_id))
        while len(self._shown) > SHOWN_KEPT:
            self._shown.popitem(last=False)

    def shown(self, chat_id: int, message_id: int) -> InlineKeyboardMarkup | None:
        """The buttons this process last put on a message (None: unknown or none)."""
        return self._shown.get((chat_id, message_id))

    def request(self, chat_id: int, message_id: int, markup: InlineKeyboardMarkup) -> None:
        key = (chat_id, message_id)
        self.note(chat_id, message_id, markup)
        running = key in self._want
        self._want[key] = markup
        if not running:
            self._tasks.spawn(self._run(key), name=f"tg-markup {chat_id}:{message_id}")

    async def _run(self, key: tuple[int, int]) -> None:
        chat_id, message_id = key
        try:
            while True:
                wait = self._next.get(chat_id, 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                markup = self._want[key]
                self._next[chat_id] = time.monotonic() + self._interval(chat_id)
                try:
                    async with spend(self._flood(), Kind.INTERMEDIATE):
                        await self._bot().edit_message_reply_markup(
                            chat_id=chat_id, message_id=message_id, reply_markup=markup
                        )
                except RetryAfter as exc:
                    self._next[chat_id] = time.monotonic() + retry_after_seconds(exc)
                    continue
                except BadRequest as exc:
                    if not not_modified(exc):
                        log.info("telegram: cannot update buttons of %s: %s", key, exc.message)
                except TelegramError as exc:
                    log.info("telegram: cannot update buttons of %s: %s", key, exc.message)
                if self._want[key] is markup:
                    return
        finally:
            self._want.pop(key, None)
            now = time.monotonic()
            if len(self._next) > 1000:
                self._next = {c: t_ for c, t_ in self._next.items() if t_ > now}


async def on_callback(
    query: CallbackQuery,
    *,
    intake: Intake,
    language: str,
    allowed: bool,
    sync: MarkupSync,
    flood: FloodBudget | None = None,
) -> None:
    """A button press: rate (toggling), always answer the query, then mark the buttons."""
    rating = _CALLBACKS.get(query.data or "")
    message = query.message
    if rating is None or message is None:
        await answer_query(query, None, flood)
        return
    if not allowed:
        await answer_query(query, t(language, "access_denied"), flood)
        return
    ref = ReplyRef(
        channel=CHANNEL, chat_id=str(message.chat.id), message_id=str(message.message_id)
    )
    try:
        outcome = await intake.feedback(ref, rating, toggle=True, by=str(query.from_user.id))
    except Exception:
        log.exception("telegram: feedback on %s:%s failed", ref.chat_id, ref.message_id)
        outcome = FeedbackOutcome(found=True, ok=False)
    await answer_query(query, outcome_text(language, outcome), flood)
    if outcome.found and outcome.ok and outcome.allowed:
        current = message.reply_markup if isinstance(message, Message) else None
        wanted = rated_markup(current, outcome.rating)
        if current != wanted:
            sync.request(message.chat.id, message.message_id, wanted)


async def answer_query(query: CallbackQuery, text: str | None, flood: FloodBudget | None) -> None:
    try:
        async with spend(flood, Kind.FIRST):  # the user watches a spinner
            await query.answer(text=text)
    except TelegramError as exc:
        # Late answers ("query is too old") are harmless: the spinner has already stopped.
        log.info("telegram: cannot answer callback query: %s", exc.message)


async def on_reaction(update: MessageReactionUpdated, *, intake: Intake, sync: MarkupSync) -> None:
    """A reaction change on a bot reply: 👍/👎 added rates it, removing it clears the rating;
    the buttons then show the same rating (✓), so the next press toggles from it."""
    rating = reaction_rating(update.old_reaction, update.new_reaction)
    if rating == "ignore":
        return
    ref = ReplyRef(channel=CHANNEL, chat_id=str(update.chat.id), message_id=str(update.message_id))
    by = str(update.user.id) if update.user is not None else ""
    outcome = await intake.feedback(ref, rating, toggle=False, by=by)
    if not outcome.found:
        log.debug("telegram: reaction on unknown message %s:%s", ref.chat_id, ref.message_id)
    elif not outcome.allowed:
        log.debug("telegram: reaction by %s on someone else's answer ignored", by or "?")
    elif not outcome.ok:
        log.warning("telegram: reaction feedback on %s:%s failed", ref.chat_id, ref.message_id)
    elif (current := sync.shown(update.chat.id, update.message_id)) is not None:
        # Only a message known to carry the buttons is marked (not another part of a long
        # answer; after a restart the next press shows the rating instead).
        wanted = rated_markup(current, outcome.rating)
        if wanted != current:
            sync.request(update.chat.id, update.message_id, wanted)
