"""Lossless splitting of a growing Markdown answer into Slack-sized messages."""

from __future__ import annotations

from collections.abc import Callable

LIMIT = 12_000
"""Markdown characters per message and per ``chat.appendStream`` call."""

Measure = Callable[[str], int]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: never less than the code point count Slack might use."""
    return len(text.encode("utf-16-le")) // 2


def _hard_end(text: str, limit: int, measure: Measure) -> int:
    """The longest prefix length whose measure fits ``limit``."""
    if measure(text[:limit]) <= limit:
        return min(limit, len(text))
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _in_fence(text: str, end: int) -> bool:
    return text.count("```", 0, end) % 2 == 1


def best_cut(text: str, limit: int, *, min_cut: int = 0, measure: Measure = utf16_len) -> int:
    """Where to end the first message of ``text``: after a paragraph, line or word if possible.

    The cut is never before ``min_cut`` (text already shown in that message stays there).
    Breaks outside fenced code blocks win, first in the second half of the allowed window,
    then anywhere after ``min_cut``; a cut inside a fence would break both messages' rendering.
    """
    hard = max(1, _hard_end(text, limit, measure))
    if min_cut >= hard:
        return hard
    floor = max(min_cut, hard // 2)
    passes = (
        ("\n\n", True, floor),
        ("\n", True, floor),
        ("\n\n", True, min_cut),
        ("\n", True, min_cut),
        ("\n", False, floor),
        (" ", False, floor),
    )
    for sep, fence_aware, lowest in passes:
        end = hard
        while True:
            pos = text.rfind(sep, lowest, end)
            if pos < 0:
                break
            cut = pos + len(sep)
            if lowest < cut <= hard and (not fence_aware or not _in_fence(text, cut)):
                return cut
            end = pos
    return hard


def split(
    text: str, limit: int = LIMIT, *, keep: int = 0, measure: Measure = utf16_len
) -> list[str]:
    """Split ``text`` into pieces that each fit ``limit``; ``"".join(pieces) == text``.

    ``keep`` is how much of the first piece is already shown and must stay in it.
    """
    pieces: list[str] = []
    min_cut = keep
    while measure(text) > limit:
        cut = best_cut(text, limit, min_cut=min_cut, measure=measure)
        pieces.append(text[:cut])
        text = text[cut:]
        min_cut = 0
    if text:
        pieces.append(text)
    return pieces
