"""Lay out a Markdown syntax tree as lines of chat text, spelled by a platform :class:`Style`."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

Line = tuple[str, bool]
"""One output line and whether it may be indented or prefixed (False inside code blocks)."""


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where an inline or block node sits; styles use it to respect platform nesting rules."""

    in_link: bool = False
    in_bold: bool = False
    in_quote: bool = False
    in_list: bool = False


class Style:
    """How one platform spells each construct; this base spells plain text."""

    rule = "———"
    quote_mark = "> "
    link_schemes: frozenset[str] = frozenset({"http", "https", "mailto"})
    dropped_schemes: frozenset[str] = frozenset({"tg", "slack", "javascript", "data"})
    """Links to these never show their target: a ``tg://user?id=`` link is a mention."""

    def text(self, s: str) -> str:
        return s

    def bold(self, s: str, ctx: Ctx) -> str:
        return s

    def italic(self, s: str) -> str:
        return s

    def strike(self, s: str) -> str:
        return s

    def code(self, s: str, ctx: Ctx) -> str:
        return self.text(s)

    def link(self, label: str, url: str, ctx: Ctx) -> str:
        """``label`` is already spelled; ``url`` is raw. Plain: "label (url)"."""
        if ctx.in_link:
            return label
        shown = self.text(url)
        return shown if label in ("", shown) else f"{label} ({shown})"

    def pre(self, code: str, lang: str) -> list[str]:
        return code.split("\n")

    def quote(self, lines: list[Line], ctx: Ctx) -> list[Line]:
        if not self.quote_mark:
            return lines
        return [(self.quote_mark + s if s else self.quote_mark.rstrip(), f) for s, f in lines]

    def heading(self, s: str) -> str:
        return s

    def allowed(self, url: str) -> bool:
        """Whether ``url`` may become a clickable link on this platform."""
        scheme, sep, rest = url.partition(":")
        if not sep or scheme.lower() not in self.link_schemes or not rest:
            return False
        if scheme.lower() in ("http", "https"):
            try:
                return bool(urlsplit(url).hostname)
            except ValueError:
                return False
        return True


_MAX_DEPTH = 40
"""Deeper nesting (absurd for an answer) is shown as escaped source text instead."""


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Reference definitions are off: a definition would hide its own text, and a chunk cut
    # off from its definitions would render differently anyway. The nesting cap is raised
    # above _MAX_DEPTH because markdown-it drops content beyond it.
    return (
        MarkdownIt("commonmark", {"html": False, "maxNesting": 2 * _MAX_DEPTH})
        .enable(["table", "strikethrough"])
        .disable("reference")
    )


def _depth(tokens: Sequence[Token]) -> int:
    depth = 0
    for token in tokens:
        inner = max((c.level + 1 for c in token.children or ()), default=0)
        depth = max(depth, token.level + inner)
    return depth


@lru_cache(maxsize=32)
def _tree(md: str) -> SyntaxTreeNode | None:
    """The syntax tree of ``md`` (None when nested too deeply), cached: a streamed reply renders
    the same text several times (measure, HTML, plain) and the parse is most of the cost."""
    tokens = _parser().parse(md)
    if _depth(tokens) > _MAX_DEPTH:
        return None
    return SyntaxTreeNode(tokens)


def render_markdown(md: str, style: Style) -> str:
    """Render ``md`` with ``style``; blank input gives "", any other input non-blank text."""
    if not md.strip():
        return ""
    tree = _tree(md)
    if tree is None:
        return style.text(md.strip())
    lines = _blocks(tree.children, style, Ctx(), gap=True)
    out = "\n".join(s for s, _ in lines).strip("\n")
    if not out.strip() and md.strip():
        return style.text(md.strip())
    return out


def _blocks(nodes: Sequence[SyntaxTreeNode], style: Style, ctx: Ctx, *, gap: bool) -> list[Line]:
    """Lines of consecutive block nodes; ``gap`` puts a blank line between blocks."""
    out: list[Line] = []
    for node in nodes:
        lines = _block(node, style, ctx)
        if not lines:
            continue
        if out and gap:
            out.append(("", True))
        out += lines
    return out


def _block(node: SyntaxTreeNode, style: Style, ctx: Ctx) -> list[Line]:
    kind = node.type
    if kind == "paragraph":
        return _flow(_inline(node.children, style, ctx))
    if kind == "heading":
        inner = _inline(node.children, style, replace(ctx, in_bold=True))
        return _flow(style.heading(inner)) if inner.strip() else []
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, style, ctx)
    if kind == "blockquote":
        quoted = _blocks(node.children, style, replace(ctx, in_quote=True), gap=True)
        return style.quote(quoted, ctx) if quoted else []
    if kind in ("fence", "code_block"):
        code = node.content.removesuffix("\n")
        if not code:
            return _flow(style.text(node.markup + node.info)) if node.markup else []
        lang = node.info.split(maxsplit=1)[0] if node.info.strip() else ""
        return [(s, False) for s in style.pre(code, lang)]
    if kind == "hr":
        return [(style.rule, True)]
    if kind == "table":
        return [(s, False) for s in style.pre(_table(node), "")]
    if node.children:
        return _blocks(node.children, style, ctx, gap=True)
    return _flow(style.text(node.content))


def _flow(text: str) -> list[Line]:
    return [(s, True) for s in text.split("\n")] if text else []


def _list(node: SyntaxTreeNode, style: Style, ctx: Ctx) -> list[Line]:
    start = node.attrs.get("start", 1)
    number = start if isinstance(start, int) else 1
    out: list[Line] = []
    for item in node.children:
        marker = f"{number}. " if node.type == "ordered_list" else "• "
        number += 1
        lines = _blocks(item.children, style, replace(ctx, in_list=True), gap=False)
        pad = " " * len(marker)
        if not lines or not lines[0][1]:
            out.append((marker.rstrip(), True))
        else:
            out.append((marker + lines[0][0], True))
            lines = lines[1:]
        out += [(pad + s if flow and s else s, flow) for s, flow in lines]
    return out


def _inline(nodes: Sequence[SyntaxTreeNode], style: Style, ctx: Ctx) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.type
        if kind == "text":
            parts.append(style.text(node.content))
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "strong":
            parts.append(
                style.bold(_inline(node.children, style, replace(ctx, in_bold=True)), ctx)
            )
        elif kind == "em":
            parts.append(style.italic(_inline(node.children, style, ctx)))
        elif kind == "s":
            parts.append(style.strike(_inline(node.children, style, ctx)))
        elif kind == "code_inline":
            parts.append(style.code(node.content, ctx) if node.content else "")
        elif kind in ("link", "image"):
            parts.append(_link(node, style, ctx))
        elif node.children:
            parts.append(_inline(node.children, style, ctx))
        else:
            parts.append(style.text(node.content))
    return "".join(parts)


def _link(node: SyntaxTreeNode, style: Style, ctx: Ctx) -> str:
    inner = replace(ctx, in_link=True)
    if node.type == "image":
        alt = _inline(node.children, Style(), inner).strip() or "image"
        label, url = style.text(alt), str(node.attrs.get("src", ""))
    else:
        label, url = _inline(node.children, style, inner), str(node.attrs.get("href", ""))
    if ctx.in_link:
        return label
    if not url:
        return label
    if url.partition(":")[0].strip().lower() in style.dropped_schemes:
        return "" if label == style.text(url) else label
    return (
        style.link(label, url, ctx) if style.allowed(url) else Style.link(style, label, url, ctx)
    )


def _table(node: SyntaxTreeNode) -> str:
    """A GFM table as a plain-text grid padded to each column's display width."""
    rows: list[list[str]] = []
    aligns: list[str] = []
    for row in (r for section in node.children for r in section.children):
        cells = [
            _inline(cell.children, Style(), Ctx()).replace("\n", " ") for cell in row.children
        ]
        if not rows:
            aligns = [str(c.attrs.get("style", "")) for c in row.children]
        rows.append(cells)
    ncols = max(len(r) for r in rows)
    widths = [max((_width(r[i]) for r in rows if i < len(r)), default=0) for i in range(ncols)]

    def fmt(cells: list[str]) -> str:
        out = []
        for i in range(ncols):
            cell = cells[i] if i < len(cells) else ""
            fill = " " * (widths[i] - _width(cell))
            align = aligns[i] if i < len(aligns) else ""
            out.append(fill + cell if align.endswith("right") else cell + fill)
        return " | ".join(out).rstrip()

    lines = [fmt(rows[0]), "-+-".join("-" * w for w in widths)]
    return "\n".join(lines + [fmt(r) for r in rows[1:]])


def _width(s: str) -> int:
    """Approximate monospace display width (wide East Asian = 2, combining marks = 0)."""
    width = 0
    for ch in s:
        if unicodedata.combining(ch) or ch in "\u200d\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width
