"""Splitting a growing answer into Slack-sized messages: lossless, bounded, stable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.slack.split import best_cut, split, utf16_len

TEXT = st.text(alphabet=st.sampled_from(list("ab \n`😀é#*-")), max_size=400)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, limit=st.integers(min_value=2, max_value=60), keep=st.integers(0, 60))
def test_split_is_lossless_and_bounded(text: str, limit: int, keep: int) -> None:
    keep = min(keep, len(text), limit // 2)
    pieces = split(text, limit, keep=keep)
    assert "".join(pieces) == text
    assert all(piece for piece in pieces)
    assert all(utf16_len(piece) <= limit for piece in pieces)
    if len(pieces) > 1:
        assert len(pieces[0]) >= keep


def test_prefers_paragraphs_then_lines_then_words() -> None:
    assert split("aaaaaaa\n\nbbbb cccc", 12) == ["aaaaaaa\n\n", "bbbb cccc"]
    assert split("aaaa bb\ncccc dddd", 12) == ["aaaa bb\n", "cccc dddd"]
    assert split("aaaa bbbb cccc", 12) == ["aaaa bbbb ", "cccc"]
    assert split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_avoids_cutting_inside_a_code_fence_when_possible() -> None:
    text = "intro line\n\n```\ncode a\n\ncode b\n```\nafter"
    cut = best_cut(text, 30)
    assert text[:cut] == "intro line\n\n"


def test_never_cuts_before_what_is_already_shown() -> None:
    text = "para one\n\n" + "y" * 20
    assert best_cut(text, 25, min_cut=15) >= 15
    assert best_cut(text, 25, min_cut=25) == 25
