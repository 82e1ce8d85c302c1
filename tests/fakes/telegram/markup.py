"""Telegram's HTML parse mode as the fake checks it: tags, entities, UTF-16 offsets."""

from __future__ import annotations

import html
import re
from typing import Any

_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's unit for entities and limits)."""
    return len(text.encode("utf-16-le")) // 2


class EntityError(ValueError):
    """Invalid HTML for parse_mode=HTML."""


def parse_html(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Telegram-style HTML → (visible text, [(tag, start, end)] in UTF-16 units)."""
    out: list[str] = []
    stack: list[tuple[str, int, int]] = []  # tag, start (utf16), byte offset
    entities: list[tuple[str, int, int]] = []
    pos = 0
    length = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            m = _TAG_RE.match(text, pos)
            offset = len(text[:pos].encode())
            if m is None:
                raise EntityError(f"Unexpected end of name token at byte offset {offset}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise EntityError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise EntityError(
                        f'Can\'t find end tag corresponding to start tag "{name}"'
                        if not stack
                        else f'Unmatched end tag at byte offset {offset}, expected "</'
                        f'{stack[-1][0]}>", found "</{name}>"'
                    )
                tag, start, _ = stack.pop()
                entities.append((tag, start, length))
            else:
                if name == "span" and "tg-spoiler" not in m.group(3):
                    raise EntityError('Tag "span" must have class "tg-spoiler"')
                stack.append((name, length, offset))
            pos = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, pos)
            if m is None:
                offset = len(text[:pos].encode())
                raise EntityError(f"Unsupported HTML entity at byte offset {offset}")
            piece = html.unescape(m.group(0))
            out.append(piece)
            length += utf16_len(piece)
            pos = m.end()
        elif ch == ">":
            raise EntityError(f"Unexpected > at byte offset {len(text[:pos].encode())}")
        else:
            out.append(ch)
            length += utf16_len(ch)
            pos += 1
    if stack:
        tag, _, offset = stack[-1]
        raise EntityError(
            f'Can\'t find end tag corresponding to start tag "{tag}" at byte offset {offset}'
        )
    return "".join(out), sorted(entities, key=lambda e: (e[1], e[2], e[0]))


def auto_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` at the start and every ``@mention``, with UTF-16 offsets."""
    found: list[dict[str, Any]] = []
    for m in re.finditer(r"(?:^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|(?:@[A-Za-z0-9_]{3,})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        found.append(
            {
                "type": kind,
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return found
