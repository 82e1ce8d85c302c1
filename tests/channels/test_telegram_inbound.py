"""Telegram updates → InboundMessage: private chats, group addressing, scopes, commands, access."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bridge.config import BridgeConfig
from bridge.i18n import t
from channels.telegram import TelegramChannel
from tests.fakes.telegram import (
    BOT_ID,
    BOT_USERNAME,
    FakeTelegram,
    RecordingIntake,
    TgUser,
    feed,
    telegram_config,
)

ANN = TgUser(id=111, first_name="Ann", last_name="Lee", language_code="en-US")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")
OTTO = TgUser(id=333, first_name="Otto", language_code="de")
GROUP = -1001234

Run = Callable[..., Awaitable[TelegramChannel]]


@pytest.fixture
async def run(tg: FakeTelegram, intake: RecordingIntake) -> AsyncIterator[Run]:
    started: list[TelegramChannel] = []

    async def _run(default_language: str = "en", **cfg: Any) -> TelegramChannel:
        channel = TelegramChannel(
            telegram_config(tg, **cfg),
            BridgeConfig(default_language=default_language),
            poll_timeout_s=1,
        )
        await channel.start(intake)
        started.append(channel)
        return channel

    yield _run
    for channel in started:
        await channel.close()


async def test_private_text_is_normalised(tg: FakeTelegram, intake: RecordingIntake, run: Run):
    channel = await run()
    update = tg.text(ANN.id, ANN, "Hello there")
    await feed(channel, tg, update)
    [msg] = intake.messages
    assert msg.key.channel == "telegram" and msg.key.chat_id == str(ANN.id)
    assert (msg.key.thread_id, msg.key.user_id) == ("", "")
    assert msg.event_id == f"telegram:upd:{update['update_id']}"
    assert msg.message_id == str(update["message"]["message_id"])
    assert msg.sender.id == str(ANN.id) and msg.sender.display_name == "Ann Lee"
    assert msg.text == "Hello there" and msg.is_direct and msg.command is None
    assert msg.language == "en" and msg.reply_thread == "" and msg.attachments == ()


async def test_language_follows_the_sender(tg: FakeTelegram, intake: RecordingIntake, run: Run):
    channel = await run(default_language="vi")
    await feed(channel, tg, tg.text(ANN.id, ANN, "hi"))
    await feed(channel, tg, tg.text(BINH.id, BINH, "chào"))
    await feed(channel, tg, tg.text(OTTO.id, OTTO, "hallo"))
    assert [m.language for m in intake.messages] == ["en", "vi", "vi"]


async def test_polling_delivers_in_order_with_explicit_allowed_updates(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    await run()
    for i in range(20):
        tg.push(tg.text(ANN.id, ANN, f"m{i}"))
    tg.push(tg.reaction(ANN.id, ANN, 1, new=["👍"]))
    await intake.wait_for(lambda: len(intake.messages) == 20 and intake.feedbacks)
    assert [m.text for m in intake.messages] == [f"m{i}" for i in range(20)]
    polls = tg.calls_to("getUpdates")
    assert polls and all("allowed_updates" in c.params for c in polls)
    allowed = polls[0].params["allowed_updates"]
    assert {"message", "callback_query", "message_reaction"} <= set(allowed)


async def test_commands_are_registered_in_english_and_vietnamese(tg: FakeTelegram, run: Run):
    await run()
    assert set(tg.commands) == {
        ("default", ""),
        ("default", "vi"),
        ("all_group_chats", ""),
        ("all_group_chats", "vi"),
    }
    en = {c["command"]: c["description"] for c in tg.commands[("default", "")]}
    vi = {c["command"]: c["description"] for c in tg.commands[("default", "vi")]}
    assert en["new"] == t("en", "cmd_new") and vi["new"] == t("vi", "cmd_new")
    assert "ask" in {c["command"] for c in tg.commands[("all_group_chats", "")]}


# --- groups -------------------------------------------------------------------------------------


async def test_group_answers_only_when_addressed(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    other = tg.text(GROUP, ANN, "just chatting")
    mention = tg.text(GROUP, ANN, f"@{BOT_USERNAME.lower()}  what is   2+2?")
    await feed(channel, tg, other)
    await feed(channel, tg, mention)
    [msg] = intake.messages
    assert msg.text == "what is 2+2?" and not msg.is_direct
    assert msg.key.chat_id == str(GROUP) and msg.key.user_id == ""
    assert tg.chat(GROUP).bot_messages() == []


async def test_mention_in_the_middle_and_text_mention(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.text(GROUP, ANN, f"tell me 🙂 @{BOT_USERNAME} a joke"))
    linked = tg.text(
        GROUP,
        ANN,
        "ClickAI translate this",
        entities=[
            {
                "type": "text_mention",
                "offset": 0,
                "length": 7,
                "user": {"id": BOT_ID, "is_bot": True, "first_name": "ClickAI"},
            }
        ],
    )
    await feed(channel, tg, linked)
    await feed(channel, tg, tg.text(GROUP, ANN, "hey @someone_else look"))
    assert [m.text for m in intake.messages] == ["tell me 🙂 a joke", "translate this"]


async def test_reply_to_bot_counts_but_not_to_others(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    chat = tg.chat(GROUP)
    bot_msg = tg._new_message(chat, from_bot=True, text="earlier answer")
    user_msg = tg.text(GROUP, BINH, "a user message")["message"]["message_id"]
    await feed(channel, tg, tg.text(GROUP, ANN, "replying to a user", reply_to=user_msg))
    await feed(channel, tg, tg.text(GROUP, ANN, "and why?", reply_to=bot_msg.message_id))
    assert [m.text for m in intake.messages] == ["and why?"]


async def test_forum_topic_root_is_not_a_reply_to_the_bot(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    topic = tg.topic(GROUP, "Support", by_bot=True)
    trap = tg.text(GROUP, ANN, "people talking", thread_id=topic, topic=True, reply_to=topic)
    asked = tg.text(
        GROUP, ANN, f"@{BOT_USERNAME} help", thread_id=topic, topic=True, reply_to=topic
    )
    await feed(channel, tg, trap)
    await feed(channel, tg, asked)
    [msg] = intake.messages
    assert msg.text == "help" and msg.reply_thread == str(topic)
    assert msg.key.thread_id == str(topic)


@pytest.mark.parametrize(
    ("scope", "thread", "user"),
    [("group", "", ""), ("user", "", str(ANN.id)), ("topic", "T", "")],
)
async def test_group_scopes(
    tg: FakeTelegram, intake: RecordingIntake, run: Run, scope: str, thread: str, user: str
):
    channel = await run(group_scope=scope)
    topic = tg.topic(GROUP, "Ideas")
    ask = f"@{BOT_USERNAME} hi"
    await feed(channel, tg, tg.text(GROUP, ANN, ask, thread_id=topic, topic=True))
    await feed(channel, tg, tg.text(GROUP, ANN, ask))  # General: no topic
    first, general = intake.messages
    assert first.key.thread_id == (str(topic) if thread else "")
    assert first.key.user_id == user and general.key.user_id == user
    assert general.key.thread_id == "" and general.reply_thread == ""
    assert first.reply_thread == str(topic)


async def test_general_topic_replies_never_echo_thread_one(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    bot_msg = tg._new_message(tg.chat(GROUP, is_forum=True), from_bot=True, text="x")
    # In General, replies carry a message_thread_id that is not a topic (no is_topic_message).
    update = tg.text(
        GROUP, ANN, "more?", thread_id=bot_msg.message_id, reply_to=bot_msg.message_id
    )
    await feed(channel, tg, update)
    [msg] = intake.messages
    assert msg.reply_thread == "" and msg.key.thread_id == ""


async def test_bots_and_channel_forwards_are_ignored(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    robot = TgUser(id=555, first_name="Robo", is_bot=True)
    await feed(channel, tg, tg.text(ANN.id, robot, "beep"))
    forwarded = tg.text(GROUP, None, f"@{BOT_USERNAME} news")  # type: ignore[arg-type]
    forwarded["message"]["sender_chat"] = {"id": -100999, "type": "channel", "title": "News"}
    forwarded["message"]["is_automatic_forward"] = True
    await feed(channel, tg, forwarded)
    assert intake.messages == []


# --- commands -----------------------------------------------------------------------------------


async def test_new_and_stop_go_to_the_core_as_commands(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.text(ANN.id, ANN, "/new"))
    await feed(channel, tg, tg.text(GROUP, ANN, f"/stop@{BOT_USERNAME}"))
    await feed(channel, tg, tg.text(GROUP, ANN, "/new@OtherBot"))
    await feed(channel, tg, tg.text(ANN.id, ANN, "/stop@otherbot"))
    assert [(m.command, m.key.chat_id) for m in intake.messages] == [
        ("new", str(ANN.id)),
        ("stop", str(GROUP)),
    ]


async def test_ask_in_groups(tg: FakeTelegram, intake: RecordingIntake, run: Run):
    channel = await run()
    await feed(channel, tg, tg.text(GROUP, ANN, "/ask what time is it?"))
    await feed(channel, tg, tg.text(GROUP, BINH, f"/ask@{BOT_USERNAME}\nxin chào"))
    await feed(channel, tg, tg.text(GROUP, BINH, "/ask"))
    assert [m.text for m in intake.messages] == ["what time is it?", "xin chào"]
    assert intake.messages[0].command is None
    [hint] = tg.chat(GROUP).texts()
    assert hint == t("vi", "tg_ask_empty")


async def test_unknown_commands_are_text_in_private(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.text(ANN.id, ANN, "/translate hello"))
    assert [m.text for m in intake.messages] == ["/translate hello"]


async def test_start_shows_the_opening_statement(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.text(BINH.id, BINH, "/start"))
    intake.statement = "Welcome to **ACME** support"
    await feed(channel, tg, tg.text(ANN.id, ANN, "/start"))
    assert tg.chat(BINH.id).texts() == [t("vi", "tg_start")]
    [welcome] = tg.chat(ANN.id).bot_messages()
    assert welcome.text == "Welcome to ACME support" and "<b>ACME</b>" in welcome.raw
    assert intake.messages == []


async def test_help_is_answered_by_the_channel(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.text(BINH.id, BINH, "/help"))
    await feed(channel, tg, tg.text(GROUP, ANN, f"/help@{BOT_USERNAME}"))
    assert tg.chat(BINH.id).texts() == [t("vi", "tg_help")]
    [group_help] = tg.chat(GROUP).bot_messages()
    assert group_help.text.startswith("In this group I answer when you mention me (@")
    assert BOT_USERNAME in group_help.text and "/ask" in group_help.text
    assert group_help.reply_to is not None
    assert intake.messages == []


# --- access -------------------------------------------------------------------------------------


async def test_strangers_get_one_refusal_and_nothing_reaches_the_core(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run(allowed_user_ids=[ANN.id])
    for text in ("hi", "hello?", "/new"):
        await feed(channel, tg, tg.text(BINH.id, BINH, text))
    await feed(channel, tg, tg.text(ANN.id, ANN, "I am allowed"))
    assert tg.chat(BINH.id).texts() == [t("vi", "access_denied")]
    assert [m.text for m in intake.messages] == ["I am allowed"]
    assert intake.refusals == [("telegram", "access")] * 3  # counted, one notice


async def test_allowed_chat_lets_everyone_in_that_group(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run(allowed_chat_ids=[GROUP])
    other_group = -100777
    await feed(channel, tg, tg.text(GROUP, BINH, f"@{BOT_USERNAME} ok?"))
    await feed(channel, tg, tg.text(other_group, BINH, "not addressed, no refusal"))
    await feed(channel, tg, tg.text(other_group, BINH, f"@{BOT_USERNAME} me too"))
    await feed(channel, tg, tg.text(other_group, ANN, f"@{BOT_USERNAME} and me"))
    assert [m.text for m in intake.messages] == ["ok?"]
    assert tg.chat(other_group).texts() == [t("vi", "access_denied")]


# --- content types ------------------------------------------------------------------------------


async def test_files_become_attachments(tg: FakeTelegram, intake: RecordingIntake, run: Run):
    channel = await run()
    await feed(channel, tg, tg.photo(ANN.id, ANN, b"\xff\xd8" * 500, caption="what is this?"))
    await feed(channel, tg, tg.document(ANN.id, ANN, b"%PDF-1.7", name="cv.pdf"))
    await feed(
        channel, tg, tg.document(ANN.id, ANN, b"OggS", kind="voice", mime="audio/ogg", size=4)
    )
    await feed(
        channel,
        tg,
        tg.document(ANN.id, ANN, b"ID3", kind="audio", name="a.mp3", mime="audio/mpeg"),
    )
    await feed(
        channel,
        tg,
        tg.document(
            ANN.id, ANN, b"mp4", kind="video", name="v.mp4", mime="video/mp4", caption="clip"
        ),
    )
    photo, pdf, voice, audio, video = intake.messages
    [p] = photo.attachments
    assert photo.text == "what is this?" and p.kind == "image" and p.mime_type == "image/jpeg"
    assert p.size == 1000  # the largest size
    largest = tg.calls_to("getFile")  # nothing downloaded while normalising
    assert largest == []
    [d] = pdf.attachments
    assert pdf.text == "" and (d.name, d.mime_type, d.kind, d.size) == (
        "cv.pdf",
        "application/pdf",
        "document",
        8,
    )
    assert voice.attachments[0].kind == "audio" and voice.attachments[0].name.endswith(".ogg")
    assert audio.attachments[0].name == "a.mp3" and audio.attachments[0].kind == "audio"
    assert video.text == "clip" and video.attachments[0].kind == "video"


async def test_group_caption_mention_is_stripped(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.photo(GROUP, ANN, b"img", caption="no mention"))
    await feed(channel, tg, tg.photo(GROUP, ANN, b"img", caption=f"@{BOT_USERNAME} describe"))
    [msg] = intake.messages
    assert msg.text == "describe" and msg.attachments[0].kind == "image"


async def test_stickers_get_a_notice_in_private_and_silence_in_groups(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.sticker(BINH.id, BINH))
    bot_msg = tg._new_message(tg.chat(GROUP), from_bot=True, text="answer")
    await feed(channel, tg, tg.sticker(GROUP, ANN, reply_to=bot_msg.message_id))
    assert tg.chat(BINH.id).texts() == [t("vi", "unsupported")]
    assert [m.text for m in tg.chat(GROUP).bot_messages()] == ["answer"]
    assert intake.messages == []


async def test_empty_messages_are_ignored(tg: FakeTelegram, intake: RecordingIntake, run: Run):
    channel = await run()
    await feed(channel, tg, tg.text(GROUP, ANN, f"@{BOT_USERNAME}"))
    await feed(channel, tg, tg.bot_added(GROUP, ANN))
    assert intake.messages == [] and tg.chat(GROUP).bot_messages() == []


async def test_group_upgrade_migrates_the_conversation(
    tg: FakeTelegram, intake: RecordingIntake, run: Run
):
    channel = await run()
    await feed(channel, tg, tg.migrate(-4242, -1004242, ANN))
    assert intake.migrations == [("telegram", "-4242", "-1004242")]
    assert intake.messages == []


class SlowForAnn(RecordingIntake):
    """Holds Ann's first message until released, as a slow core would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def submit(self, msg: Any) -> Any:
        if msg.sender.id == str(ANN.id) and msg.text == "slow":
            await self.release.wait()
        return await super().submit(msg)


async def test_a_slow_chat_never_holds_up_other_chats_or_reorders_its_own(tg: FakeTelegram):
    intake = SlowForAnn()
    channel = TelegramChannel(telegram_config(tg), BridgeConfig(), poll_timeout_s=1)
    await channel.start(intake)
    try:
        tg.push(tg.text(ANN.id, ANN, "slow"))
        tg.push(tg.text(ANN.id, ANN, "after slow"))
        tg.push(tg.text(BINH.id, BINH, "independent"))
        await intake.wait_for(lambda: [m.text for m in intake.messages] == ["independent"])
        intake.release.set()
        await intake.wait_for(lambda: len(intake.messages) == 3)
    finally:
        await channel.close()
    assert [m.text for m in intake.messages] == ["independent", "slow", "after slow"]
