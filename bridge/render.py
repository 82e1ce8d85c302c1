"""Render ClickAI's Markdown as Telegram HTML, plain text or Slack mrkdwn (pure functions).

Markdown is parsed by markdown-it-py (CommonMark + GFM tables and strikethrough, raw HTML
off, so ``<b>`` in an answer is shown as text). The syntax tree is laid out once by
:mod:`bridge.render_base` and spelled by a per-platform style, so the output is balanced by
construction, also for a partial answer cut at any character.
"""

from __future__ import annotations

from functools import lru_cache

from bridge.render_base import render_markdown
from bridge.render_slack import SlackMrkdwn
from bridge.render_slack import unmention as slack_unmention
from bridge.render_telegram import TelegramHtml, TelegramPlain, TelegramPlainCompact
from bridge.text import split_pieces, utf16_len

TELEGRAM_LIMIT = 4096
"""Telegram's message length limit, budgeted here in UTF-16 units of the rendered HTML."""

__all__ = [
    "TELEGRAM_LIMIT",
    "md_to_slack_mrkdwn",
    "md_to_telegram_html",
    "render_telegram_chunks",
    "slack_unmention",
    "telegram_measure",
    "telegram_plain",
]


@lru_cache(maxsize=32)
def md_to_telegram_html(md: str) -> str:
    """Telegram ``parse_mode=HTML`` text for ``md``.

    Uses only b, i, s, code, pre, pre>code class="language-…", a href (http, https, mailto;
    other links become "label (url)", tg:// links only their label) and blockquote; every
    text node is escaped and an ``@name`` gets an invisible word joiner (no mention).
    Headings become bold lines, lists "• " / "1. " lines indented per level, tables a
    ``<pre>`` grid, images links, rules "———". Returns "" only for blank input. A partial
    answer renders as what it is so far: an unclosed "**" or link stays literal text, an
    unterminated fence is a code block of what has arrived.
    """
    return render_markdown(md, TelegramHtml())


def telegram_plain(md: str) -> str:
    """Plain-text fallback for ``md`` (no markup, no escaping) after "can't parse entities".

    Never longer in UTF-16 units than :func:`md_to_telegram_html` of the same ``md``, so a
    chunk sized for HTML also fits as plain text (long quotes then lose their "> " marks).
    """
    plain = render_markdown(md, TelegramPlain())
    if utf16_len(plain) > telegram_measure(md):
        plain = render_markdown(md, TelegramPlainCompact())
    return plain


def md_to_slack_mrkdwn(md: str) -> str:
    """Slack mrkdwn ``text`` for ``md`` (the ``chat.update`` path without blocks).

    *bold*, _italic_, ~strike~, `code`, ``` blocks, <url|label> links (http, https, mailto),
    "• " bullets, headings as *bold*, one quote level; & < > escaped in text.
    """
    return render_markdown(md, SlackMrkdwn())


def telegram_measure(md: str) -> int:
    """UTF-16 length of the Telegram HTML for ``md``; the measure for splitting Markdown."""
    return utf16_len(md_to_telegram_html(md))


def render_telegram_chunks(md: str, limit: int = TELEGRAM_LIMIT, *, start: int = 0) -> list[str]:
    """Telegram HTML messages for ``md`` (from offset ``start``), each ≤ ``limit`` UTF-16 units.

    The Markdown is split first with :func:`bridge.text.split_pieces` using
    :func:`telegram_measure` (render each candidate and measure it), then every piece is
    rendered on its own, so each message is balanced HTML and the visible text of the
    messages, in order, is the whole answer (only whitespace at the cuts is dropped; a code
    block cut in two is closed and reopened). For streaming, call ``split_pieces(md, limit,
    measure=telegram_measure, start=cursor)`` and render ``piece.text`` to keep the cursor.
    """
    pieces = split_pieces(md, limit, measure=telegram_measure, start=start)
    return [md_to_telegram_html(piece.text) for piece in pieces]
