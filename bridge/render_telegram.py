"""Telegram spellings of the Markdown layout: ``parse_mode=HTML`` and a plain-text fallback."""

from __future__ import annotations

import html
import re

from bridge.render_base import Ctx, Line, Style

_LANG_JUNK = re.compile(r"[^A-Za-z0-9_+#.-]")
_MENTION = re.compile(r"(?<![\w@])@(?=\w)")
WORD_JOINER = "\u2060"


def unmention(s: str) -> str:
    """``@name`` with an invisible word joiner after the ``@``, so Telegram sees no mention.

    E-mail addresses (``a@b.c``, ``@`` after a word character) are left alone.
    """
    return _MENTION.sub("@" + WORD_JOINER, s) if "@" in s else s


class TelegramHtml(Style):
    """Only tags Telegram accepts, nested as its entity rules allow; all text escaped.

    Code never contains other tags and is not put inside a link; blockquotes are not nested
    (an inner quote is flattened into the outer one).
    """

    def text(self, s: str) -> str:
        return html.escape(unmention(s), quote=False)

    def bold(self, s: str, ctx: Ctx) -> str:
        return f"<b>{s}</b>" if s and not ctx.in_bold else s

    def italic(self, s: str) -> str:
        return f"<i>{s}</i>" if s else s

    def strike(self, s: str) -> str:
        return f"<s>{s}</s>" if s else s

    def code(self, s: str, ctx: Ctx) -> str:
        return self.text(s) if ctx.in_link else f"<code>{self.text(s)}</code>"

    def link(self, label: str, url: str, ctx: Ctx) -> str:
        return f'<a href="{html.escape(url, quote=True)}">{label or self.text(url)}</a>'

    def pre(self, code: str, lang: str) -> list[str]:
        lang = _LANG_JUNK.sub("", lang)
        opening = f'<pre><code class="language-{lang}">' if lang else "<pre>"
        closing = "</code></pre>" if lang else "</pre>"
        return f"{opening}{self.text(code)}{closing}".split("\n")

    def quote(self, lines: list[Line], ctx: Ctx) -> list[Line]:
        if ctx.in_quote:
            return lines
        first, last = lines[0], lines[-1]
        if len(lines) == 1:
            return [(f"<blockquote>{first[0]}</blockquote>", first[1])]
        return [
            ("<blockquote>" + first[0], first[1]),
            *lines[1:-1],
            (last[0] + "</blockquote>", last[1]),
        ]

    def heading(self, s: str) -> str:
        return f"<b>{s}</b>"


class TelegramPlain(Style):
    """Text without any markup, for sending with no ``parse_mode``."""

    def text(self, s: str) -> str:
        return unmention(s)


class TelegramPlainCompact(TelegramPlain):
    """Plain text whose quotes carry no per-line "> " mark (never longer than the HTML)."""

    quote_mark = ""
