"""Tests for bridge.render: Markdown → Telegram HTML / plain text / Slack mrkdwn, and chunking."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.render import (
    md_to_slack_mrkdwn,
    md_to_telegram_html,
    render_telegram_chunks,
    telegram_measure,
    telegram_plain,
)
from bridge.text import split_pieces, utf16_len

# --- a Telegram HTML validator ----------------------------------------------------------------

TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
FORMATTING = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
BAD_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)")
TAG = re.compile(r'</?[a-z][a-z0-9-]*(?:\s+[a-z-]+(?:="[^"<>]*")?)*\s*>')


class TelegramHtmlValidator(HTMLParser):
    """Checks what Telegram's HTML parse mode accepts, plus its entity nesting rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.pre_has_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag not in TELEGRAM_TAGS:
            self.errors.append(f"tag <{tag}> not allowed")
        if tag == "a" and (set(names) != {"href"} or not names["href"]):
            self.errors.append("a needs exactly href")
        elif tag == "code" and names:
            if set(names) != {"class"} or not re.fullmatch(r"language-\S+", names["class"] or ""):
                self.errors.append(f"bad code attrs {attrs}")
            if not self.stack or self.stack[-1] != "pre":
                self.errors.append("code class outside pre")
        elif tag not in ("a", "code", "span", "tg-emoji", "blockquote") and names:
            self.errors.append(f"unexpected attrs on {tag}: {attrs}")
        if self.stack and self.stack[-1] == "pre":
            if tag != "code" or self.pre_has_data:
                self.errors.append("pre may only wrap one code")
        elif {"pre", "code"} & set(self.stack):
            self.errors.append(f"<{tag}> inside code")
        if tag in ("a", "code", "pre") and "a" in self.stack:
            self.errors.append(f"<{tag}> inside a link")
        if tag == "blockquote" and "blockquote" in self.stack:
            self.errors.append("nested blockquote")
        if tag == "pre" and FORMATTING & set(self.stack):
            self.errors.append("pre inside formatting")
        if tag == "pre":
            self.pre_has_data = False
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> with open {self.stack}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "pre":
            self.pre_has_data = True

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append(f"named entity &{name};")

    def handle_comment(self, data: str) -> None:
        self.errors.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.errors.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.errors.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.errors.append("unknown declaration")


def telegram_html_errors(markup: str) -> list[str]:
    errors: list[str] = []
    if BAD_AMP.search(markup):
        errors.append("bare & or unknown entity")
    if re.search(r"[<>]", TAG.sub("", markup)):
        errors.append("stray < or > outside a tag")
    parser = TelegramHtmlValidator()
    parser.feed(markup)
    parser.close()
    errors += parser.errors
    if parser.stack:
        errors.append(f"unclosed {parser.stack}")
    return errors


def visible(markup: str) -> str:
    return html.unescape(TAG.sub("", markup))


def test_validator_rejects_what_telegram_rejects() -> None:
    assert telegram_html_errors('<b>x</b> <a href="http://a">y</a> &amp; &#128512;') == []
    for bad in [
        "<b>x",
        "<b><i>x</b></i>",
        "<div>x</div>",
        "a & b",
        "a > b",
        "&nbsp;",
        "<code><b>x</b></code>",
        "<a href='http://a'><code>x</code></a>",
        "<blockquote><blockquote>x</blockquote></blockquote>",
        "<br/>",
    ]:
        assert telegram_html_errors(bad), bad


# --- Telegram HTML: constructs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("**bold** and __also__", "<b>bold</b> and <b>also</b>"),
        ("*it* _it_", "<i>it</i> <i>it</i>"),
        ("~~gone~~", "<s>gone</s>"),
        ("`a < b && c`", "<code>a &lt; b &amp;&amp; c</code>"),
        ("***both***", "<i><b>both</b></i>"),
        (
            "[site](https://example.com/a?b=1&c=2)",
            '<a href="https://example.com/a?b=1&amp;c=2">site</a>',
        ),
        ("<https://x.org>", '<a href="https://x.org">https://x.org</a>'),
        (
            "[mail](mailto:a@b.c) [me](tg://user?id=1) <tg://user?id=2>",
            '<a href="mailto:a@b.c">mail</a> me ',
        ),
        ("[rel](/path) [ftp](ftp://h/x)", "rel (/path) ftp (ftp://h/x)"),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
        ("![a cat](https://i.example/cat.png)", '<a href="https://i.example/cat.png">a cat</a>'),
        ("![](https://i.example/cat.png)", '<a href="https://i.example/cat.png">image</a>'),
        ("[`code` **b**](https://u.v)", '<a href="https://u.v">code <b>b</b></a>'),
        ("# Title\n\n## Sub *x*", "<b>Title</b>\n\n<b>Sub <i>x</i></b>"),
        ("Title\n===", "<b>Title</b>"),
        ("a\nb  \nc", "a\nb\nc"),
        ("one\n\n---\n\ntwo", "one\n\n———\n\ntwo"),
        ("> quoted **text**\n> more", "<blockquote>quoted <b>text</b>\nmore</blockquote>"),
        ("> outer\n>\n> > inner", "<blockquote>outer\n\ninner</blockquote>"),
        ("&copy; &#x1F600; \\*not\\*", "© 😀 *not*"),
    ],
)
def test_telegram_html_constructs(md: str, expected: str) -> None:
    out = md_to_telegram_html(md)
    assert out == expected
    assert telegram_html_errors(out) == []


def test_code_fences() -> None:
    assert md_to_telegram_html("```python\nif a < b:\n    pass\n```") == (
        '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>'
    )
    assert md_to_telegram_html("```\nplain\n```") == "<pre>plain</pre>"
    assert md_to_telegram_html('```c"><script>\nx\n```') == (
        '<pre><code class="language-cscript">x</code></pre>'
    )
    assert md_to_telegram_html("    indented code") == "<pre>indented code</pre>"


def test_lists_are_prefixed_and_indented() -> None:
    md = "- one\n- two\n  - nested **b**\n    1. deep\n- three\n\n3. c\n4. d"
    assert md_to_telegram_html(md) == (
        "• one\n• two\n  • nested <b>b</b>\n    1. deep\n• three\n\n3. c\n4. d"
    )


def test_code_inside_a_list_item_is_not_indented() -> None:
    out = md_to_telegram_html("1. Run:\n   ```sh\n   make\n   ```\n2. Done")
    assert out == '1. Run:\n<pre><code class="language-sh">make</code></pre>\n2. Done'


def test_table_becomes_a_monospace_grid() -> None:
    md = "| Name | Qty |\n|:-----|----:|\n| apple & pear | 3 |\n| 中文 | 12 |"
    assert md_to_telegram_html(md) == (
        "<pre>Name         | Qty\n"
        "-------------+----\n"
        "apple &amp; pear |   3\n"
        "中文         |  12</pre>"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "<b>bold?</b>",
        "<div>\nblock\n</div>",
        "<!-- c -->",
        "a <br> b",
    ],
)
def test_raw_html_is_shown_as_text(raw: str) -> None:
    out = md_to_telegram_html(raw)
    assert telegram_html_errors(out) == []
    assert visible(out).split() == raw.split()


@pytest.mark.parametrize(
    ("partial", "expected"),
    [
        ("**bold", "**bold"),
        ("[text](http://ex", "[text](http://ex"),
        (
            "```py\nprint(1)\nprint(",
            '<pre><code class="language-py">print(1)\nprint(</code></pre>',
        ),
        ("```py", "```py"),
        ("#", "#"),
        ("- ", "•"),
        ("Hi &", "Hi &amp;"),
        ("| a | b |\n|---|", "| a | b |\n|---|"),
    ],
)
def test_partial_answers_render_sensibly(partial: str, expected: str) -> None:
    out = md_to_telegram_html(partial)
    assert out == expected
    assert telegram_html_errors(out) == []


@pytest.mark.parametrize(
    "md",
    ["*" * 600 + "deep" + "*" * 600, "> " * 300 + "deep", "- " * 60 + "deep", "[" * 500 + "deep"],
)
def test_absurd_nesting_neither_crashes_nor_loses_text(md: str) -> None:
    for render in (md_to_telegram_html, telegram_plain, md_to_slack_mrkdwn):
        assert "deep" in render(md)
    assert telegram_html_errors(md_to_telegram_html(md)) == []


def test_blank_input_renders_empty() -> None:
    assert md_to_telegram_html("") == ""
    assert md_to_telegram_html(" \n\t") == ""
    assert telegram_plain("") == ""
    assert md_to_slack_mrkdwn("\n") == ""


# --- plain text and Slack -------------------------------------------------------------------


def test_telegram_plain_strips_markers() -> None:
    md = "# Head\n\n**b** _i_ `c` [l](https://x.y) <https://a.b>\n\n- item\n\n> q\n\n```\n<x>\n```"
    assert telegram_plain(md) == (
        "Head\n\nb i c l (https://x.y) https://a.b\n\n• item\n\n> q\n\n<x>"
    )


def test_plain_fallback_never_outgrows_the_html() -> None:
    md = "> " + "\n> ".join("line" for _ in range(40))
    assert telegram_plain("> a\n> b") == "> a\n> b"
    assert telegram_plain(md) == "\n".join("line" for _ in range(40))
    assert utf16_len(telegram_plain(md)) <= telegram_measure(md)


def test_slack_mrkdwn() -> None:
    md = (
        "# Head\n\n**bold** *it* ~~s~~ `a<b` [label](https://x.y/?a=1&b=2) <https://auto.x>\n\n"
        "- one\n  - two\n\n> quote\n\n```js\nif (a < b) {}\n```\n\n1 < 2 & 3 > 2"
    )
    assert md_to_slack_mrkdwn(md) == (
        "*Head*\n\n*bold* _it_ ~s~ `a&lt;b` <https://x.y/?a=1&amp;b=2|label> <https://auto.x>\n\n"
        "• one\n  • two\n\n> quote\n\n```\nif (a &lt; b) {}\n```\n\n1 &lt; 2 &amp; 3 &gt; 2"
    )


def test_slack_special_cases() -> None:
    assert md_to_slack_mrkdwn("# **Big** title") == "*Big title*"
    assert md_to_slack_mrkdwn("[a|b](https://x.y/p|q)") == "<https://x.y/p%7Cq|a|b>"
    assert md_to_slack_mrkdwn("``a`b``") == "a`b"
    assert md_to_slack_mrkdwn("[x](tg://user?id=1)") == "x"
    assert md_to_slack_mrkdwn("<script>") == "&lt;script&gt;"
    assert md_to_slack_mrkdwn("> a\n>\n> > b") == "> a\n>\n> b"
    assert md_to_slack_mrkdwn("- > quoted in a list") == "• &gt; quoted in a list"


# --- chunking ---------------------------------------------------------------------------------


def test_render_telegram_chunks_splits_long_answers() -> None:
    para = "Some **bold** text & a [link](https://example.com/?q=1&r=2). " * 8
    code = "```python\n" + "\n".join(f"value_{i} = {i} < {i + 1}" for i in range(60)) + "\n```"
    md = "\n\n".join([f"## Part {i}\n\n{para}\n\n{code}" for i in range(6)])
    chunks = render_telegram_chunks(md, 1000)
    assert len(chunks) > 6
    for chunk in chunks:
        assert utf16_len(chunk) <= 1000
        assert telegram_html_errors(chunk) == []
    assert sum(chunk.count("value_30 = 30") for chunk in chunks) == 6
    code_chunks = [c for c in chunks if "value_" in c]
    assert all('<pre><code class="language-python">' in c for c in code_chunks)
    shown = "".join(visible(c) for c in chunks)
    assert "".join(shown.split()) == "".join(visible(md_to_telegram_html(md)).split())


def test_render_telegram_chunks_cursor_matches_split_pieces() -> None:
    md = "word " * 2000
    pieces = split_pieces(md, 4096, measure=telegram_measure)
    chunks = render_telegram_chunks(md)
    assert len(chunks) == len(pieces) == 3
    assert render_telegram_chunks(md, start=pieces[1].start) == chunks[1:]


# --- properties -------------------------------------------------------------------------------

SNIPPETS = [
    "a", "word", " ", "\n", "\n\n", "**", "*", "_", "__", "~~", "`", "```", "```py\n", "\n```\n",
    "~~~\n", "[", "]", "(", ")", "](", "](http://ex.am/ple?a=1&b=\"2\")", "<http://a.b>", "![",
    "#", "## ", "> ", ">> ", "- ", "  - ", "* ", "1. ", "3) ", "|", "| a | b |\n|---|:-:|\n",
    "---", "***", "<b>", "</i>", "<script>", "<!--", "&", "&amp;", "&nbsp;", "&#x1F600;", '"',
    "'", "\\", "    ", "\t", "שלום", "مرحبا", "\u200f", "\u202e", "👨\u200d👩\u200d👧\u200d👦",
    "👍🏽", "🇻🇳", "❤️", "𝔘", "e\u0301", "中文", "\r\n", "\x00", "\u2028", "[a]: http://x\n",
]  # fmt: skip
markdown = st.lists(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=4)), max_size=60).map(
    "".join
)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(md=markdown, data=st.data())
def test_any_prefix_renders_valid_telegram_html(md: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(md)))
    for text in (md, md[:cut]):
        out = md_to_telegram_html(text)
        assert telegram_html_errors(out) == [], out
        assert bool(out.strip()) == bool(text.strip())


@FAST
@given(md=markdown)
def test_plain_and_slack_are_safe(md: str) -> None:
    plain = telegram_plain(md)
    assert bool(plain.strip()) == bool(md.strip())
    assert utf16_len(plain) <= telegram_measure(md)
    if "<" not in md and "&" not in md:
        assert "<" not in plain
    slack = md_to_slack_mrkdwn(md)
    assert bool(slack.strip()) == bool(md.strip())
    assert not re.search(r"&(?!(?:amp|lt|gt);)", slack)
    links = re.sub(r"<(?:https?://|mailto:)[^<>|\s]*(?:\|[^<>]*)?>", "", slack)
    assert "<" not in links
    assert ">" not in re.sub(r"^>", "", links, flags=re.MULTILINE)


@settings(max_examples=120, deadline=None)
@given(md=markdown.map(lambda s: s * 4), limit=st.integers(min_value=64, max_value=400))
def test_telegram_chunks_are_valid_and_fit(md: str, limit: int) -> None:
    chunks = render_telegram_chunks(md, limit)
    assert bool(chunks) == bool(md.strip())
    for chunk in chunks:
        assert chunk.strip()
        assert utf16_len(chunk) <= limit
        assert telegram_html_errors(chunk) == [], chunk
