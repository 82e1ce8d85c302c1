"""Split chat text into platform-sized chunks at clean boundaries; measure UTF-16 length.

The one rule every function here keeps ("nothing lost or duplicated"): the chunks are
consecutive, non-overlapping slices of the source in order, and what lies before the first,
between two neighbours and after the last is whitespace only (possibly empty). The only
additions are code-fence markers: a chunk that ends inside a fenced block gets a closing
``tail`` ("\\n```") and the next chunk a reopening ``head`` ("```lang\\n"), so each chunk renders
as code on its own. :class:`Piece` records exactly which slice and which markers a chunk holds.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

Measure = Callable[[str], int]
"""Length of a candidate chunk in the platform's unit (``len``, :func:`utf16_len`, …)."""

_FENCE = re.compile(r"( *)(`{3,}|~{3,})(.*)")
_PARAGRAPH, _FENCE_EDGE, _LINE, _CODE_LINE, _WORD = range(5)


def utf16_len(s: str) -> int:
    """Length of ``s`` in UTF-16 code units (astral characters count 2), as Telegram counts."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk: ``text == head + source[start:end] + tail``.

    ``head``/``tail`` are the inserted fence markers ("" when the chunk does not start / end
    inside a fenced code block). ``start`` is where a channel continues after freezing the
    previous chunk (pass it back as ``split_pieces(..., start=piece.start)``).
    """

    start: int
    end: int
    head: str
    tail: str
    text: str


@dataclass(frozen=True, slots=True)
class _Fence:
    indent: int
    marker: str
    info: str
    body_start: int  # index just after the opening line's newline


class Fences:
    """Which fenced block (if any) is open at the start of each complete line of a text.

    :meth:`extend` continues the scan for a text that grew (a streamed answer), so each line
    is scanned once per answer instead of once per update.
    """

    def __init__(self, text: str = "") -> None:
        self._starts: list[int] = [0]
        self._states: list[_Fence | None] = [None]
        self._current: _Fence | None = None
        self._text = ""
        self._scan(text)

    def extend(self, text: str) -> Fences:
        """This scan continued over ``text`` if it extends the text scanned so far, else anew."""
        done = self._starts[-1]
        if len(text) >= done and text.startswith(self._text[:done]):
            self._scan(text)
            return self
        return Fences(text)

    def _scan(self, text: str) -> None:
        self._text = text
        current = self._current
        i = self._starts[-1]
        while (nl := text.find("\n", i)) != -1:
            m = _FENCE.fullmatch(text, i, nl)
            if current is None:
                if m and not (m[2][0] == "`" and "`" in m[3]):
                    current = _Fence(len(m[1]), m[2], m[3].strip(), nl + 1)
            elif m and _closes(current, m[2], m[3]):
                current = None
            i = nl + 1
            self._starts.append(i)
            self._states.append(current)
        self._current = current

    def at(self, index: int) -> _Fence | None:
        """The fence open at the start of the line that contains ``index``."""
        return self._states[bisect.bisect_right(self._starts, index) - 1]


def _closes(fence: _Fence, marker: str, rest: str) -> bool:
    return marker[0] == fence.marker[0] and len(marker) >= len(fence.marker) and not rest.strip()


def split_pieces(text: str, limit: int, *, measure: Measure = len, start: int = 0) -> list[Piece]:
    """Split ``text[start:]`` into pieces with ``measure(piece.text) <= limit``.

    Boundaries, best first: paragraph breaks (a blank line); the edges of a fenced block
    (a block that fits in one chunk is never split); line breaks; line breaks inside a fenced
    block (the piece is closed with ``tail`` and the next reopened with ``head``); word
    boundaries; finally a hard cut between code points that avoids splitting a grapheme
    (base + ZWJ / variation selector / combining mark / skin tone, flag pairs, CRLF) whenever
    a clean cut fits. A boundary in the first half of the window is used only when none of
    the line-level kinds exists in its second half. The whitespace at a cut is dropped up to
    and including its last newline, so the next piece keeps its indentation. Leading blank
    lines and trailing whitespace of the text are dropped; no piece is empty or blank.

    Streaming rollover (any ``measure``): a channel edits message N with ``pieces[-1]`` while
    the answer grows; whenever more than one piece comes back it finalises its message with
    ``pieces[0].text``, remembers ``cursor = pieces[1].start`` and continues in a new message,
    calling ``split_pieces(answer, limit, start=cursor)`` from then on. Frozen text is never
    recomputed, so the messages together hold the whole answer exactly once.

    For a ``measure`` that never shrinks when text is appended (``len``, :func:`utf16_len`)
    the split is also prefix-stable: every piece but the last of a prefix's split equals
    the corresponding piece of any extension's split (see :func:`split_stable`).

    Raises ``ValueError`` when ``limit`` cannot hold a single character.
    """
    return list(iter_pieces(text, limit, measure=measure, start=start))


def iter_pieces(
    text: str, limit: int, *, measure: Measure = len, start: int = 0, tolerance: float = 0.0
) -> Iterator[Piece]:
    """The pieces of :func:`split_pieces`, each computed only when the caller asks for it.

    ``tolerance`` (a fraction, e.g. 0.03) lets the window a piece is cut from fall that much
    short of the longest that fits: with a rendering ``measure`` that saves most renders.
    """
    steps = step_pieces(text, limit, measure=measure, start=start, tolerance=tolerance)
    return (step for step in steps if step is not None)


def step_pieces(
    text: str,
    limit: int,
    *,
    measure: Measure = len,
    start: int = 0,
    tolerance: float = 0.0,
    fences: Fences | None = None,
) -> Iterator[Piece | None]:
    """:func:`iter_pieces` with a ``None`` after every call of ``measure``.

    A channel that sends one message at a time measures only the part about to be sent,
    however long the rest of the answer is, and an async caller can give the event loop a
    turn at every ``None``: it is then held for one measure at a time, never for a whole
    message's search. ``fences`` (kept by the caller for a growing text) saves rescanning
    the text before ``start`` for open code fences on every call.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    fences = fences.extend(text) if fences is not None else Fences(text)
    stop = len(text.rstrip())
    pos = _after_newline(text, start)
    while pos < stop:
        piece = yield from _next_piece(text, pos, stop, limit, measure, fences, tolerance)
        yield piece
        if piece.end >= stop:
            return
        pos = _skip_separator(text, piece.end)


def continues_at(text: str, piece: Piece) -> int | None:
    """Where the piece after ``piece`` starts (pass it as ``start``), or None if it is the last."""
    if piece.end >= len(text.rstrip()):
        return None
    return _skip_separator(text, piece.end)


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """The texts of :func:`split_pieces`: non-blank chunks, each ``measure(chunk) <= limit``."""
    return [p.text for p in split_pieces(text, limit, measure=measure)]


def split_stable(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Split a still-growing text: every chunk but the last is final.

    With a non-shrinking ``measure``, for any ``extra``, ``split_stable(text, n)[:-1]`` is a
    prefix of ``split_stable(text + extra, n)``: a channel may freeze a message at those chunks
    and keep editing only the last one. (Same chunks as :func:`split_text`; for a rendering
    measure use the cursor form of :func:`split_pieces` instead.)
    """
    return split_text(text, limit, measure=measure)


def _after_newline(text: str, i: int) -> int:
    """Skip a leading whitespace run up to and including its last newline."""
    run_end = _run_end(text, i)
    nl = text.rfind("\n", i, run_end)
    return i if nl == -1 else nl + 1


def _skip_separator(text: str, i: int) -> int:
    """Skip the whitespace at a cut: through its last newline, or all of it within a line."""
    run_end = _run_end(text, i)
    nl = text.rfind("\n", i, run_end)
    return run_end if nl == -1 else nl + 1


def _run_end(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _next_piece(
    text: str,
    pos: int,
    stop: int,
    limit: int,
    measure: Measure,
    fences: Fences,
    tolerance: float = 0.0,
) -> Generator[None, None, Piece]:
    """The piece starting at ``pos``; degrades gracefully when ``limit`` is tiny.

    Tried in order: fence markers with the info string, bare markers, no markers; each
    first with the indentation at ``pos`` and then without it.
    """
    first_visible = _run_end(text, pos)
    for markers in (2, 1, 0):
        for at in dict.fromkeys((pos, first_visible)):
            piece = yield from _try_piece(
                text, at, stop, limit, measure, fences, markers, tolerance
            )
            if piece is not None:
                return piece
    raise ValueError(f"limit {limit} cannot hold one character")


def _try_piece(
    text: str,
    pos: int,
    stop: int,
    limit: int,
    measure: Measure,
    fences: Fences,
    markers: int,
    tolerance: float,
) -> Generator[None, None, Piece | None]:
    open_fence = fences.at(pos) if markers else None
    head = _reopen(open_fence, with_info=markers == 2) if open_fence else ""

    def tail_at(fence: _Fence | None) -> str:
        if fence is None or not markers:
            return ""
        indent = min(fence.indent, 3) if fence is open_fence else fence.indent
        return "\n" + " " * indent + fence.marker

    def size(end: int) -> int:
        return measure(head + text[pos:end])

    def fits(end: int, tail: str = "") -> bool:
        return measure(head + text[pos:end] + tail) <= limit

    def make(end: int, tail: str = "") -> Piece:
        return Piece(pos, end, head, tail, head + text[pos:end] + tail)

    window = yield from _last_fitting(size, pos, stop, limit, tolerance)
    if window == stop:
        return make(stop)
    first_visible = _run_end(text, pos)
    if window <= first_visible:
        return None
    for end, fence in _candidates(text, pos, window, fences):
        tail = tail_at(fence)
        ok = fits(end, tail)  # also what the caller renders next, if its measure caches
        yield None
        if ok:
            return make(end, tail)
    ends = range(window, first_visible, -1)
    for clean in (True, False):
        for end in ends:
            if clean and not _breakable(text, end):
                continue
            tail = tail_at(fences.at(end))
            ok = fits(end, tail)
            yield None
            if ok:
                return make(end, tail)
    return None


def _reopen(fence: _Fence, *, with_info: bool) -> str:
    info = fence.info if with_info else ""
    return f"{' ' * min(fence.indent, 3)}{fence.marker}{info}\n"


def _last_fitting(
    size: Callable[[int], int], pos: int, stop: int, limit: int, tolerance: float = 0.0
) -> Generator[None, None, int]:
    """Largest ``end`` in [pos, stop] with ``size(end) <= limit`` (``size`` non-decreasing).

    The rest of the text is measured whole only when it could plausibly fit (a rendering
    measure costs as much as the text it renders). Otherwise the first probe is ``limit``
    characters on, then each probe interpolates between the closest fitting and non-fitting
    ends, clamped so the bracket shrinks by at least an eighth per probe: a handful of
    measures per piece instead of one per halving. With ``tolerance`` 0 and a non-decreasing
    ``size`` the answer is the unique largest fitting end whatever the probes, so it is the
    same for every extension of the text that does not fit either; a ``tolerance`` stops the
    search once the bracket is that fraction of the window.
    """
    if 4 * (stop - pos) <= 5 * limit:  # longer rests hardly ever render shorter than the limit
        whole = size(stop)
        yield None
        if whole <= limit:
            return stop  # the common streaming case: the rest fits in one message
    good, f_good = pos, 0
    bad, f_bad = -1, 0
    probe = min(stop, pos + max(1, limit))
    while True:
        f = size(probe)
        yield None
        if f <= limit:
            good, f_good = probe, f
            if good == stop:
                return stop
        else:
            bad, f_bad = probe, f
        if bad == -1:  # nothing too long yet: extrapolate past the limit
            reach = (good - pos) * limit / max(f_good, 1)
            probe = min(stop, max(good + 1, pos + int(reach * 1.1) + 1, 2 * good - pos))
            continue
        span = bad - good
        if span <= max(1, int((bad - pos) * tolerance)):
            return good
        guess = good + int((limit - f_good) * span / max(f_bad - f_good, 1))
        margin = span // 8
        probe = min(max(guess, good + 1 + margin), bad - 1 - margin)


def _candidates(
    text: str, pos: int, window: int, fences: Fences
) -> list[tuple[int, _Fence | None]]:
    """Whitespace cuts in ``(pos, window]``, best first, with the fence open at each."""
    tiers: list[list[tuple[int, _Fence | None]]] = [[] for _ in range(5)]
    for p in range(pos + 1, window + 1):
        if not text[p].isspace() or text[p - 1].isspace():
            continue
        run_end = _run_end(text, p)
        nl = text.find("\n", p, run_end)
        if nl == -1:
            tiers[_WORD].append((p, fences.at(p)))
            continue
        after = fences.at(nl + 1)
        if after is not None:
            if after.body_start <= p:
                tiers[_CODE_LINE].append((p, after))
        elif text.count("\n", p, run_end) >= 2:
            tiers[_PARAGRAPH].append((p, None))
        elif fences.at(p) is not None or _opens_fence(text, run_end, window, fences):
            tiers[_FENCE_EDGE].append((p, None))
        else:
            tiers[_LINE].append((p, None))
    half = pos + (window - pos) // 2
    ordered: list[tuple[int, _Fence | None]] = []
    for tier in tiers[:_CODE_LINE]:
        ordered += [c for c in reversed(tier) if c[0] >= half]
    lower = [c for tier in tiers[:_CODE_LINE] for c in tier if c[0] < half]
    ordered += sorted(lower, key=lambda c: c[0], reverse=True)
    for tier in tiers[_CODE_LINE:]:
        ordered += reversed(tier)
    return ordered


def _opens_fence(text: str, line_at: int, window: int, fences: Fences) -> bool:
    """Whether the line containing ``line_at`` opens a fence and ends within the window."""
    line_end = text.find("\n", line_at, window)
    if line_end == -1:
        return False
    fence = fences.at(line_end + 1)
    return fence is not None and fence.body_start == line_end + 1


def _extends(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp == 0x200D
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or 0xE0100 <= cp <= 0xE01EF
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _breakable(text: str, i: int) -> bool:
    """Whether a cut between ``text[i-1]`` and ``text[i]`` keeps grapheme clusters whole."""
    before, after = text[i - 1], text[i]
    if (before == "\r" and after == "\n") or before == "\u200d" or _extends(after):
        return False
    if _is_regional(before) and _is_regional(after):
        run = 0
        while i - run - 1 >= 0 and _is_regional(text[i - run - 1]):
            run += 1
        return run % 2 == 0
    return True
