"""Suggested questions on Telegram: buttons under an answer (or /start) and what a tap asks.

Each question is one button whose ``callback_data`` is ``sq:<index>`` (64 bytes would not hold
the question); the question itself is read back from the pressed message's keyboard, so
nothing has to be remembered between the answer and the tap. After a tap the asked question
stays, marked, and the others go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from .feedback import feedback_markup

PREFIX = "sq:"
ASKED = "✓ "


def answer_markup(*, feedback: bool, suggestions: Sequence[str]) -> InlineKeyboardMarkup | None:
    """The buttons under a final answer: 👍/👎 first, then one row per suggested question."""
    rows = [list(row) for row in feedback_markup().inline_keyboard] if feedback else []
    rows += [
        [InlineKeyboardButton(question, callback_data=f"{PREFIX}{index}")]
        for index, question in enumerate(suggestions)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def is_suggestion(data: str | None) -> bool:
    return bool(data) and str(data).startswith(PREFIX)


@dataclass(frozen=True, slots=True)
class Tap:
    """A press on a suggested question: which one, and whether it was asked before."""

    message: Message
    index: int
    question: str
    asked_before: bool


def tap_of(query: CallbackQuery) -> Tap | None:
    """The question a press asks (None when the message or its keyboard is gone)."""
    data = query.data or ""
    message = query.message
    if not is_suggestion(data) or not isinstance(message, Message):
        return None
    index = data[len(PREFIX) :]
    markup = message.reply_markup
    if not index.isdigit() or markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                text = button.text
                asked = text.startswith(ASKED)
                question = text[len(ASKED) :] if asked else text
                return Tap(message, int(index), question.strip(), asked)
    return None


def asked_markup(markup: InlineKeyboardMarkup | None, index: int) -> InlineKeyboardMarkup:
    """The keyboard after question ``index`` was asked: it stays (marked), the others go."""
    rows: list[list[InlineKeyboardButton]] = []
    wanted = f"{PREFIX}{index}"
    for row in markup.inline_keyboard if markup is not None else ():
        kept: list[InlineKeyboardButton] = []
        for button in row:
            data = button.callback_data if isinstance(button.callback_data, str) else ""
            if not is_suggestion(data):
                kept.append(button)
            elif data == wanted:
                text = button.text if button.text.startswith(ASKED) else ASKED + button.text
                kept.append(InlineKeyboardButton(text, callback_data=data))
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(rows)
