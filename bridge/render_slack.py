"""Slack mrkdwn spelling of the Markdown layout, for ``chat.update``'s ``text`` field."""

from __future__ import annotations

import re

from bridge.render_base import Ctx, Line, Style

_SPECIAL = re.compile(r"<(?=[!@])")
ZERO_WIDTH_SPACE = "\u200b"


def unmention(md: str) -> str:
    """Answer text with Slack's mention syntax (``<!channel>``, ``<!here>``, ``<!everyone>``,
    ``<@U…>``, ``<!subteam^…>``) broken by a zero-width space after the ``<``.

    The change at a ``<`` depends only on the next character, so the result for a prefix of
    a streamed answer is a prefix of the result for the whole answer.
    """
    return _SPECIAL.sub("<" + ZERO_WIDTH_SPACE, md) if "<" in md else md


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackMrkdwn(Style):
    """*bold*, _italic_, ~strike~, `code`, ``` blocks, <url|label>; & < > escaped in text."""

    link_schemes = frozenset({"http", "https", "mailto"})

    def text(self, s: str) -> str:
        return _escape(s)

    def bold(self, s: str, ctx: Ctx) -> str:
        return f"*{s}*" if s.strip() and not ctx.in_bold else s

    def italic(self, s: str) -> str:
        return f"_{s}_" if s.strip() else s

    def strike(self, s: str) -> str:
        return f"~{s}~" if s.strip() else s

    def code(self, s: str, ctx: Ctx) -> str:
        # A backtick cannot be escaped inside mrkdwn code, so such code stays plain text.
        plain = ctx.in_link or "`" in s or not s.strip()
        return self.text(s) if plain else f"`{self.text(s)}`"

    def link(self, label: str, url: str, ctx: Ctx) -> str:
        target = _escape(url).replace("|", "%7C")
        return f"<{target}|{label}>" if label and label != _escape(url) else f"<{target}>"

    def pre(self, code: str, lang: str) -> list[str]:
        return ["```", *self.text(code.replace("```", "`\u200b``")).split("\n"), "```"]

    def quote(self, lines: list[Line], ctx: Ctx) -> list[Line]:
        # Slack has one quote level, at the start of a line: an inner quote joins the outer
        # one, and a quote inside a list item is marked with a visible "> " instead.
        if ctx.in_quote:
            return lines
        mark = "&gt; " if ctx.in_list else "> "
        return [(mark + s if s else mark.rstrip(), flow) for s, flow in lines]

    def heading(self, s: str) -> str:
        return f"*{s}*"
