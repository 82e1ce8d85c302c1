"""TelegramReply against the fake Bot API, driven the way the relay drives a ReplyStream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from bridge.config import BridgeConfig
from bridge.errors import RateLimited, ReplyGone
from bridge.model import InboundMessage, OutboundFile, Sender, ThreadKey
from bridge.render import md_to_telegram_html, render_telegram_chunks
from bridge.text import utf16_len
from channels.telegram import TelegramChannel
from channels.telegram.reply import TelegramReply
from tests.fakes.telegram import (
    FakeTelegram,
    FloodLimits,
    RecordingIntake,
    eventually,
    parse_html,
    telegram_config,
)

T = TypeVar("T")
USER = 4242
GROUP = -1005000
PARSE_ERROR = 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 0'


@pytest.fixture
async def make_channel(
    tg: FakeTelegram, intake: RecordingIntake
) -> AsyncIterator[Callable[..., Awaitable[TelegramChannel]]]:
    started: list[TelegramChannel] = []

    async def _make(**cfg: Any) -> TelegramChannel:
        channel = TelegramChannel(
            telegram_config(tg, **cfg), BridgeConfig(), poll_timeout_s=1, typing_every_s=0.02
        )
        await channel.start(intake)
        started.append(channel)
        return channel

    yield _make
    for channel in started:
        await channel.close()


@pytest.fixture
async def channel(make_channel: Callable[..., Awaitable[TelegramChannel]]) -> TelegramChannel:
    return await make_channel()


def inbound(chat_id: int = USER, *, thread: str = "", message_id: str = "77") -> InboundMessage:
    return InboundMessage(
        key=ThreadKey(channel="telegram", chat_id=str(chat_id), thread_id=thread),
        event_id="telegram:upd:1",
        message_id=message_id,
        sender=Sender(id="1", display_name="Ann"),
        text="question",
        is_direct=chat_id > 0,
        reply_thread=thread,
    )


async def relay_style(call: Callable[[], Awaitable[T]]) -> T:
    """What the core does on a 429: wait exactly retry_after, then call again."""
    while True:
        try:
            return await call()
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after)


async def play(reply: TelegramReply, updates: list[str], final: str, **finish: Any) -> list[str]:
    await reply.start()
    for text in updates:
        await relay_style(lambda text=text: reply.update(text))
    return await relay_style(lambda: reply.finish(final, **finish))


def long_answer() -> str:
    words = "Telegram bridge 🚀 streaming **bold text** tiếng Việt có dấu _italic_ `code` & <tags>"
    paragraphs = [f"Paragraph {i}: " + " ".join([words] * 6) for i in range(30)]
    code = "```python\n" + "\n".join(f"print('line {i}')  # 😀" for i in range(120)) + "\n```"
    listing = "\n".join(f"- item {i} with **emphasis**" for i in range(40))
    return "\n\n".join([*paragraphs[:12], code, *paragraphs[12:20], listing, *paragraphs[20:]])


def visible(html: str) -> str:
    return parse_html(html)[0]


# --- streaming ----------------------------------------------------------------------------------


async def test_streamed_answer_grows_in_one_message(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    ids = await play(
        reply, ["Hel", "Hello **wor", "Hello **world**"], "Hello **world**!", feedback=True
    )
    [msg] = tg.chat(USER).bot_messages()
    assert ids == [str(msg.message_id)]
    assert msg.text == "Hello world!" and msg.raw == "Hello <b>world</b>!"
    assert msg.parse_mode == "HTML" and msg.buttons() == ["👍", "👎"]
    assert msg.callback_data() == ["fb:like", "fb:dislike"]
    assert all(len(d.encode()) <= 64 for d in msg.callback_data())
    assert msg.edits == ["Hel", "Hello **wor", "Hello world", "Hello world!"]
    assert len(tg.calls_to("sendMessage")) == 1


async def test_typing_until_the_first_text(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    await reply.start()
    await eventually(lambda: len(tg.chat(USER).actions) >= 3)
    await reply.update("first words")
    shown = len(tg.chat(USER).actions)
    await reply.update("first words and more")
    await reply.finish("first words and more.")
    assert len(tg.chat(USER).actions) == shown
    assert {a for a, _ in tg.chat(USER).actions} == {"typing"}


async def test_identical_renders_are_not_sent_again(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    await reply.update("Hello")
    await reply.update("Hello")
    await reply.update("Hello   \n")
    tg.fail(
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new "
        "message content and reply markup are exactly the same",
    )
    await reply.update("Hello!")  # Telegram says "not modified": that is success
    await reply.update("Hello!")
    assert len(tg.calls_to("sendMessage")) == 1
    assert len(tg.calls_to("editMessageText")) == 1  # the one Telegram called "not modified"
    ids = await reply.finish("Hello!", feedback=True)  # only the buttons are new
    assert len(tg.calls_to("editMessageText")) == 2
    assert tg.chat(USER).texts() == ["Hello!"] and len(ids) == 1


async def test_long_answer_rolls_over_without_loss_or_repeat(
    tg: FakeTelegram, channel: TelegramChannel
):
    md = long_answer()
    steps = [md[:n] for n in range(600, len(md), 600)]
    reply = channel.open_reply(inbound())
    ids = await play(reply, steps, md, feedback=True)
    messages = tg.chat(USER).bot_messages()
    assert len(messages) >= 3 and ids == [str(m.message_id) for m in messages]
    assert all(c.status == 200 for c in tg.calls)  # never too long, never unbalanced
    assert all(utf16_len(m.raw) <= 4096 for m in messages)
    shown = " ".join(m.text for m in messages).split()
    assert shown == visible(md_to_telegram_html(md)).split()
    assert [m.buttons() for m in messages] == [[]] * (len(messages) - 1) + [["👍", "👎"]]
    for m in messages[:-1]:  # frozen parts were never edited past their final text
        assert m.edits[-1] == m.text and all(utf16_len(e) <= 4096 for e in m.edits)


async def test_blocking_answer_is_split_exactly_like_the_renderer(
    tg: FakeTelegram, channel: TelegramChannel
):
    md = long_answer()
    reply = channel.open_reply(inbound())
    ids = await play(reply, [], md)
    messages = tg.chat(USER).bot_messages()
    assert [m.raw for m in messages] == render_telegram_chunks(md)
    assert len(ids) == len(messages) > 2


async def test_finish_resumes_after_a_429_without_duplicates(
    tg: FakeTelegram, channel: TelegramChannel
):
    md = long_answer()
    reply = channel.open_reply(inbound())
    await reply.update(md[:500])
    tg.flood("sendMessage", 3)
    with pytest.raises(RateLimited) as caught:
        await reply.finish(md, feedback=True)
    assert caught.value.retry_after == 3 and caught.value.channel == "telegram"
    ids = await reply.finish(md, feedback=True)  # the core retries after waiting
    messages = tg.chat(USER).bot_messages()
    assert [m.raw for m in messages] == render_telegram_chunks(md)
    assert ids == [str(m.message_id) for m in messages]
    assert not any(c.params.get("parse_mode") is None for c in tg.calls_to("sendMessage"))


async def test_429_is_reported_with_the_exact_retry_after(
    tg: FakeTelegram, channel: TelegramChannel
):
    reply = channel.open_reply(inbound())
    await reply.update("one")
    tg.flood("editMessageText", 7)
    with pytest.raises(RateLimited) as caught:
        await reply.update("one two")
    assert caught.value.retry_after == 7.0
    await reply.update("one two three")  # the newest text, after the wait
    assert tg.chat(USER).texts() == ["one two three"]
    assert all(c.params.get("parse_mode") == "HTML" for c in tg.calls_to("editMessageText"))


# --- formatting fallbacks -----------------------------------------------------------------------


async def test_unparsable_html_is_resent_as_plain_text(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    tg.fail("sendMessage", 400, PARSE_ERROR)
    await reply.update("**Hi**")
    [msg] = tg.chat(USER).bot_messages()
    assert (msg.text, msg.parse_mode) == ("Hi", None)
    await reply.update("**Hi** there")  # this part keeps streaming as plain text
    assert tg.calls_to("editMessageText")[-1].params.get("parse_mode") is None
    tg.fail("editMessageText", 400, PARSE_ERROR)
    await reply.finish("**Hi** there!")  # the final render tries HTML again, then falls back
    assert (msg.text, msg.parse_mode) == ("Hi there!", None)
    edits = tg.calls_to("editMessageText")
    assert [c.params.get("parse_mode") for c in edits[-2:]] == ["HTML", None]


# --- chats that change under us -----------------------------------------------------------------


async def test_deleted_reply_is_sent_anew(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    await reply.update("Hello")
    first = tg.chat(USER).bot_messages()[0]
    tg.delete_by_user(USER, first.message_id)
    await reply.update("Hello world")
    ids = await reply.finish("Hello world, again", feedback=True)
    [msg] = tg.chat(USER).bot_messages()
    assert msg.message_id != first.message_id and ids == [str(msg.message_id)]
    assert msg.text == "Hello world, again" and msg.buttons() == ["👍", "👎"]


async def test_blocked_bot_raises_reply_gone(tg: FakeTelegram, channel: TelegramChannel):
    tg.chat(USER).blocked = True
    reply = channel.open_reply(inbound())
    with pytest.raises(ReplyGone):
        await reply.update("hi")
    with pytest.raises(ReplyGone):
        await reply.finish("hi")


async def test_migrated_group_continues_in_the_new_chat(
    tg: FakeTelegram, intake: RecordingIntake, channel: TelegramChannel
):
    old, new = -4242, -1004242
    tg.chat(old, type="group").migrated_to = new
    tg.chat(new)
    reply = channel.open_reply(inbound(old))
    await reply.update("Answer")
    ids = await reply.finish("Answer done")
    [msg] = tg.chat(new).bot_messages()
    assert ids == [str(msg.message_id)] and msg.text == "Answer done"
    assert intake.migrations == [("telegram", str(old), str(new))]
    assert tg.chat(old).bot_messages() == []


async def test_missing_topic_falls_back_to_the_chat(tg: FakeTelegram, channel: TelegramChannel):
    live = tg.topic(GROUP, "Live")
    await relay_style(lambda: channel.open_reply(inbound(GROUP, thread=str(live))).finish("ok"))
    reply = channel.open_reply(inbound(GROUP, thread="999"))
    await relay_style(lambda: reply.finish("still answered"))
    first, second = tg.chat(GROUP).bot_messages()
    assert (first.text, first.thread_id) == ("ok", live)
    assert (second.text, second.thread_id) == ("still answered", None)
    assert first.reply_to == 77


# --- extras: notices, files, drafts -------------------------------------------------------------


async def test_notice_joins_the_last_message(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    ids = await reply.finish("Partial answer", notice="(stopped)", feedback=True)
    [msg] = tg.chat(USER).bot_messages()
    assert msg.text == "Partial answer\n\n(stopped)" and ids == [str(msg.message_id)]
    assert msg.raw.endswith("<i>(stopped)</i>") and msg.buttons() == ["👍", "👎"]
    notice_only = channel.notice_reply("telegram", str(USER), "", "en")
    assert await notice_only.finish("", notice="Please resend <that>") == []
    assert tg.chat(USER).texts()[-1] == "Please resend <that>"


async def test_shrunk_answer_drops_surplus_parts(tg: FakeTelegram, channel: TelegramChannel):
    md = long_answer()
    reply = channel.open_reply(inbound())
    await relay_style(lambda: reply.update(md))
    await relay_style(lambda: reply.update(md))
    assert len(tg.chat(USER).bot_messages()) == 2
    ids = await reply.finish("Short final answer")
    assert tg.chat(USER).texts() == ["Short final answer"] and len(ids) == 1


async def test_assistant_files_are_uploaded_once(tg: FakeTelegram, channel: TelegramChannel):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    files = [
        OutboundFile(name="chart.png", mime_type="image/png", data=png, kind="image"),
        OutboundFile(
            name="report.pdf", mime_type="application/pdf", data=b"%PDF", kind="document"
        ),
    ]
    reply = channel.open_reply(inbound())
    tg.flood("sendDocument", 1)
    with pytest.raises(RateLimited):
        await reply.finish("Here you go", files=files, feedback=True)
    ids = await reply.finish("Here you go", files=files, feedback=True)
    text, photo, doc = tg.chat(USER).bot_messages()
    assert ids == [str(text.message_id)] and text.buttons() == ["👍", "👎"]
    assert (photo.kind, photo.file_data) == ("photo", png)
    assert (doc.kind, doc.file_name, doc.file_data) == ("document", "report.pdf", b"%PDF")
    assert len(tg.calls_to("sendPhoto")) == 1 and len(tg.calls_to("sendMessage")) == 1


async def test_drafts_stream_privately_and_finish_with_a_message(
    tg: FakeTelegram, make_channel: Callable[..., Awaitable[TelegramChannel]]
):
    channel = await make_channel(drafts=True)
    reply = channel.open_reply(inbound())
    ids = await play(
        reply, ["Thinking", "Thinking hard", "Thinking hard"], "Done **now**", feedback=True
    )
    drafts = tg.chat(USER).drafts
    assert [text for _, text in drafts] == ["Thinking", "Thinking hard"]
    assert len({d for d, _ in drafts}) == 1 and drafts[0][0] != 0
    [msg] = tg.chat(USER).bot_messages()
    assert ids == [str(msg.message_id)] and msg.raw == "Done <b>now</b>"
    assert tg.calls_to("editMessageText") == []
    group = channel.open_reply(inbound(GROUP))
    await play(group, ["in a group"], "in a group.")
    assert tg.chat(GROUP).drafts == [] and tg.chat(GROUP).texts() == ["in a group."]


async def test_drafts_refused_fall_back_to_messages(
    tg: FakeTelegram, make_channel: Callable[..., Awaitable[TelegramChannel]]
):
    channel = await make_channel(drafts=True)
    tg.fail("sendMessageDraft", 400, "Bad Request: TEXTDRAFT_PEER_INVALID")
    reply = channel.open_reply(inbound())
    ids = await play(reply, ["a", "a b"], "a b c")
    assert len(tg.calls_to("sendMessageDraft")) == 1
    assert tg.chat(USER).texts() == ["a b c"] and len(ids) == 1


async def test_transient_server_errors_are_retried(tg: FakeTelegram, channel: TelegramChannel):
    reply = channel.open_reply(inbound())
    tg.fail("sendMessage", 502, "Bad Gateway")
    await reply.update("one")
    tg.fail("editMessageText", 500, "Internal Server Error")
    await reply.finish("one two")
    assert tg.chat(USER).texts() == ["one two"]


async def test_the_fake_really_enforces_telegrams_flood_limits(intake: RecordingIntake):
    # Guards the "zero 429s" end-to-end test: unpaced writes to one chat do get refused.
    async with FakeTelegram(limits=FloodLimits(chat_per_second=1.0, chat_burst=3)) as fake:
        channel = TelegramChannel(telegram_config(fake), BridgeConfig(), poll_timeout_s=1)
        await channel.start(intake)
        try:
            reply = channel.open_reply(inbound())
            with pytest.raises(RateLimited) as caught:
                for n in range(1, 10):
                    await reply.update("word " * n)
            assert caught.value.retry_after >= 1 and fake.rate_limited == 1
            assert len(fake.chat(USER).bot_messages()[0].edits) == 3  # the burst
        finally:
            await channel.close()
