"""Tests for bridge.text: UTF-16 length, boundary-aware splitting and streaming rollover."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.text import Piece, split_pieces, split_stable, split_text, utf16_len

HEAD = re.compile(r" {0,3}(`{3,}|~{3,})[^\n]*\n")
TAIL = re.compile(r"\n *(`{3,}|~{3,})")

SNIPPETS = [
    "a", "word", "Hello", " ", "  ", "\n", "\n\n", "\n\n\n", "\t", "    ", "```", "```py\n",
    "\n```\n", "~~~\n", "````md\n", "**", "*", "_", "~~", "`", "[", "](", ")", "#", "# ", "> ",
    "- ", "  - ", "1. ", "|", "---", "<b>", "&", "&amp;", '"', "\\", "שלום", "مرحبا", "\u200f",
    "👨\u200d👩\u200d👧\u200d👦", "👍🏽", "🇻🇳", "🇺🇸", "❤️", "😀", "𝔘𝔫𝔦", "e\u0301", "中文", "\r\n",
    "\xa0", "\u2028", "1️⃣",
]  # fmt: skip

texts = st.lists(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=6)), max_size=120).map(
    "".join
)
measures = st.sampled_from([len, utf16_len])
limits = st.integers(min_value=8, max_value=160)
FAST = settings(max_examples=200, deadline=None)


def check_pieces(text: str, pieces: list[Piece], limit: int, measure: object) -> None:
    """The documented "nothing lost or duplicated" rule, checked exactly."""
    assert callable(measure)
    prev = 0
    for piece in pieces:
        assert piece.start >= prev
        assert text[prev : piece.start].strip() == "", "only whitespace between pieces"
        body = text[piece.start : piece.end]
        assert piece.text == piece.head + body + piece.tail
        assert body.strip(), "no blank piece"
        assert piece.head == "" or HEAD.fullmatch(piece.head)
        assert piece.tail == "" or TAIL.fullmatch(piece.tail)
        assert measure(piece.text) <= limit
        prev = piece.end
    assert text[prev:].strip() == ""


# --- utf16_len ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "n"),
    [("", 0), ("abc", 3), ("é", 1), ("😀", 2), ("👨\u200d👩\u200d👧", 8), ("中文", 2), ("𝔘a", 3)],
)
def test_utf16_len(s: str, n: int) -> None:
    assert utf16_len(s) == n


# --- split_text: boundaries ---------------------------------------------------------------------


def test_short_text_is_one_chunk_and_blank_text_none() -> None:
    assert split_text("hello world", 100) == ["hello world"]
    assert split_text("", 10) == []
    assert split_text(" \n\n \t", 10) == []
    assert split_text("\n\nhi  \n", 10) == ["hi"]


def test_prefers_paragraph_break_in_second_half() -> None:
    text = "A" * 50 + "\n\n" + "B" * 10 + "\n" + "C" * 30
    assert split_text(text, 80) == ["A" * 50, "B" * 10 + "\n" + "C" * 30]


def test_line_break_in_second_half_beats_early_paragraph_break() -> None:
    text = "A" * 10 + "\n\n" + "B" * 50 + "\n" + "C" * 30
    assert split_text(text, 80) == ["A" * 10 + "\n\n" + "B" * 50, "C" * 30]


def test_line_then_word_then_hard_cut() -> None:
    assert split_text("one two\nthree four", 12) == ["one two", "three four"]
    assert split_text("alpha beta gamma", 11) == ["alpha beta", "gamma"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_indentation_survives_a_line_cut() -> None:
    assert split_text("- item one\n  - nested item", 15) == ["- item one", "  - nested item"]


def test_code_block_that_fits_is_not_split() -> None:
    code = "```py\nprint(1)\nprint(2)\n```"
    text = "Intro sentence here.\n" + code + "\nafter"
    chunks = split_text(text, 40)
    assert code in chunks[1]
    assert chunks[0] == "Intro sentence here."


def test_oversized_code_block_is_closed_and_reopened() -> None:
    lines = [f"x{i} = {i}" for i in range(40)]
    text = "Code:\n\n```python\n" + "\n".join(lines) + "\n```\n\nDone."
    pieces = split_pieces(text, 80)
    check_pieces(text, pieces, 80, len)
    inside = [p for p in pieces if "x1 " in p.text or "x3" in p.text]
    assert len(inside) > 2
    for piece in pieces[1:-1]:
        assert piece.text.startswith("```python\n")
        assert piece.text.endswith("\n```")
    joined = "\n".join(p.text.removeprefix("```python\n").removesuffix("\n```") for p in pieces)
    assert all(line in joined for line in lines)


def test_tilde_and_long_fences_close_with_their_own_marker() -> None:
    text = "````md\n```py\n" + "code line\n" * 12 + "```\n````"
    pieces = split_pieces(text, 60)
    check_pieces(text, pieces, 60, len)
    assert all(p.tail in ("", "\n````") for p in pieces)
    assert pieces[1].head == "````md\n"
    tilde = "~~~\n" + "abc def\n" * 10 + "~~~"
    assert all(p.tail in ("", "\n~~~") for p in split_pieces(tilde, 30))


def test_astral_character_is_never_cut() -> None:
    assert split_text("a" * 9 + "😀", 10, measure=utf16_len) == ["a" * 9, "😀"]
    assert split_text("😀" * 5, 4, measure=utf16_len) == ["😀😀", "😀😀", "😀"]


@pytest.mark.parametrize(
    ("unit", "limit"),
    [
        ("👨\u200d👩\u200d👧", 8),  # ZWJ sequence, 8 UTF-16 units
        ("🇻🇳", 5),  # a flag is a pair of regional indicators
        ("❤️", 5),  # base + variation selector
        ("e\u0301", 5),  # base + combining mark
        ("👍🏽", 5),  # emoji + skin tone
    ],
)
def test_hard_cut_keeps_graphemes_whole(unit: str, limit: int) -> None:
    chunks = split_text(unit * 7, limit, measure=utf16_len)
    assert "".join(chunks) == unit * 7
    assert all(c.replace(unit, "") == "" for c in chunks)


def test_oversized_grapheme_is_cut_as_last_resort() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"  # 11 UTF-16 units
    chunks = split_text(family, 6, measure=utf16_len)
    assert "".join(chunks) == family
    assert all(utf16_len(c) <= 6 for c in chunks)


def test_tiny_limit_degrades_instead_of_failing() -> None:
    text = "``````````python\n" + "x" * 30
    pieces = split_pieces(text, 10)
    check_pieces(text, pieces, 10, len)


def test_invalid_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_text("abc", 0)
    with pytest.raises(ValueError, match="one character"):
        split_text("😀", 1, measure=utf16_len)


# --- streaming rollover ----------------------------------------------------------------------


def test_cursor_resumes_exactly_where_the_frozen_piece_stopped() -> None:
    text = "First paragraph here.\n\n" + "word " * 40 + "\n\n```\n" + "line\n" * 30 + "```"
    pieces = split_pieces(text, 50)
    for i in range(1, len(pieces)):
        assert split_pieces(text, 50, start=pieces[i].start) == pieces[i:]


def test_rollover_simulation_delivers_every_character_once() -> None:
    answer = "".join(
        f"Sentence number {i} is here. " + ("\n\n" if i % 7 == 0 else "") for i in range(200)
    )
    frozen: list[str] = []
    cursor, shown = 0, ""
    for n in range(0, len(answer) + 1, 37):
        pieces = split_pieces(answer[:n], 300, start=cursor)
        for done, nxt in itertools.pairwise(pieces):
            frozen.append(done.text)
            cursor = nxt.start
        shown = pieces[-1].text if pieces else ""
    pieces = split_pieces(answer, 300, start=cursor)
    frozen += [p.text for p in pieces]
    assert all(len(m) <= 300 for m in frozen)
    assert " ".join(frozen).split() == answer.split()
    assert shown  # the last edit showed the tail of the answer


# --- properties ------------------------------------------------------------------------------


@FAST
@given(text=texts, limit=limits, measure=measures)
def test_pieces_keep_the_documented_rule(text: str, limit: int, measure: object) -> None:
    assert callable(measure)
    pieces = split_pieces(text, limit, measure=measure)
    check_pieces(text, pieces, limit, measure)
    assert [p.text for p in pieces] == split_text(text, limit, measure=measure)
    if text.strip():
        assert pieces


@FAST
@given(text=texts, limit=limits, measure=measures, data=st.data())
def test_split_stable_is_prefix_stable(
    text: str, limit: int, measure: object, data: st.DataObject
) -> None:
    assert callable(measure)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    partial = split_stable(text[:cut], limit, measure=measure)
    full = split_stable(text, limit, measure=measure)
    final = partial[:-1]
    assert full[: len(final)] == final


@FAST
@given(text=texts, limit=limits, data=st.data())
def test_cursor_split_equals_the_tail_of_the_full_split(
    text: str, limit: int, data: st.DataObject
) -> None:
    pieces = split_pieces(text, limit, measure=utf16_len)
    if len(pieces) > 1:
        i = data.draw(st.integers(min_value=1, max_value=len(pieces) - 1))
        assert split_pieces(text, limit, measure=utf16_len, start=pieces[i].start) == pieces[i:]


@FAST
@given(text=texts, limit=limits)
def test_utf16_chunks_never_cut_an_astral_character(text: str, limit: int) -> None:
    units = text.encode("utf-16-le")
    for piece in split_pieces(text, limit, measure=utf16_len):
        lo, hi = utf16_len(text[: piece.start]) * 2, utf16_len(text[: piece.end]) * 2
        # strict decoding fails if a surrogate pair was cut at either end
        assert units[lo:hi].decode("utf-16-le") == text[piece.start : piece.end]
