"""What a Telegram answer looks like: Markdown pieces rendered as HTML with a plain fallback."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from bridge.render import md_to_telegram_html, telegram_measure, telegram_plain
from bridge.text import Fences, Piece, continues_at, step_pieces, utf16_len


class Content:
    """One message's text: Telegram HTML, and the same text plain for "can't parse entities".

    The plain version is only needed after Telegram refuses the HTML, so it is built on first use
    (rendering it on every streamed update was a measurable share of the bridge's CPU).
    """

    __slots__ = ("_plain", "html")

    def __init__(self, html: str, plain: str | Callable[[], str]) -> None:
        self.html = html
        self._plain = plain

    @property
    def plain(self) -> str:
        if callable(self._plain):
            self._plain = self._plain()
        return self._plain


TOLERANCE = 0.03
"""A message may end up to 3% shorter than the most that fits: far fewer renders per message."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of a final answer; ``answer`` is False for a notice-only message and
    ``last`` marks the last message that holds answer text (it carries the buttons)."""

    content: Content
    answer: bool
    last: bool = False


@dataclass(frozen=True, slots=True)
class Head:
    """The message about to be shown from a cursor, and where the next one would start."""

    content: Content
    next_start: int | None


def render(md: str) -> Content:
    return Content(md_to_telegram_html(md), lambda: telegram_plain(md))


async def _pieces(
    text: str, limit: int, start: int, fences: Fences | None
) -> AsyncIterator[Piece]:
    """The pieces from ``start`` on, giving the event loop a turn after every render."""
    steps = step_pieces(
        text, limit, measure=telegram_measure, start=start, tolerance=TOLERANCE, fences=fences
    )
    for step in steps:
        if step is None:
            await asyncio.sleep(0)
        else:
            yield step


async def head(text: str, limit: int, start: int, fences: Fences | None = None) -> Head | None:
    """Only the first message of ``text[start:]`` (None when nothing visible is left).

    Streaming needs no more: when more follows, the channel freezes this message and moves
    its cursor to ``next_start``; the rest is measured when it is about to be shown.
    """
    async for piece in _pieces(text, limit, start, fences):
        return Head(render(piece.text), continues_at(text, piece))
    return None


async def iter_final_entries(
    text: str, notice: str | None, *, limit: int, start: int, fences: Fences | None = None
) -> AsyncIterator[Entry]:
    """The messages that finish an answer from ``start`` on, each computed when asked for.

    The notice joins the last answer message (in italics) when it fits, else it becomes a
    message of its own. One message is looked ahead to know which one is the last.
    """
    current: Entry | None = None
    async for piece in _pieces(text, limit, start, fences):
        entry = Entry(render(piece.text), True)
        if not entry.content.html.strip():
            continue
        if current is not None:
            yield current
        current = entry
    if not notice:
        if current is not None:
            yield replace(current, last=True)
        return
    note = Content(f"<i>{html.escape(notice, quote=False)}</i>", notice)
    if current is None:
        yield Entry(note, False)
        return
    last = current.content
    if utf16_len(f"{last.html}\n\n{note.html}") <= limit:
        joined = Content(f"{last.html}\n\n{note.html}", lambda: f"{last.plain}\n\n{notice}")
        yield Entry(joined, True, last=True)
    else:
        yield replace(current, last=True)
        yield Entry(note, False)
