"""What a Telegram answer looks like: Markdown pieces rendered as HTML with a plain fallback."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from bridge.render import md_to_telegram_html, telegram_measure, telegram_plain
from bridge.text import Piece, split_pieces, utf16_len


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


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of a final answer; ``answer`` is False for a notice-only message."""

    content: Content
    answer: bool


def render(md: str) -> Content:
    return Content(md_to_telegram_html(md), lambda: telegram_plain(md))


def pieces(text: str, limit: int, start: int) -> list[Piece]:
    """``text[start:]`` split so each piece's HTML fits ``limit`` UTF-16 units.

    Streaming keeps ``start`` at the end of the frozen messages, so frozen text is never
    recomputed and every character lands in exactly one message.
    """
    if not text[start:].strip():
        return []
    return split_pieces(text, limit, measure=telegram_measure, start=start)


def final_entries(text: str, notice: str | None, *, limit: int, start: int) -> list[Entry]:
    """The messages that finish an answer from ``start`` on; the notice joins the last one
    (in italics) when it fits, else it becomes a message of its own."""
    entries = [Entry(render(p.text), True) for p in pieces(text, limit, start)]
    entries = [e for e in entries if e.content.html.strip()]
    if notice:
        note = Content(f"<i>{html.escape(notice, quote=False)}</i>", notice)
        last = entries[-1].content if entries else None
        if last is not None and utf16_len(f"{last.html}\n\n{note.html}") <= limit:
            joined = Content(f"{last.html}\n\n{note.html}", lambda: f"{last.plain}\n\n{notice}")
            entries[-1] = Entry(joined, True)
        else:
            entries.append(Entry(note, False))
    return entries
