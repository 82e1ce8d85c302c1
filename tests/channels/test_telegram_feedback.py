"""👍/👎 on Telegram: inline buttons (toggle, answers, marks) and message reactions."""

from __future__ import annotations

from typing import Any

from telegram import ReactionTypeCustomEmoji, ReactionTypeEmoji

from bridge.config import BridgeConfig
from bridge.i18n import t
from bridge.model import InboundMessage, Sender, ThreadKey
from channels.telegram import TelegramChannel
from channels.telegram.feedback import reaction_rating
from tests.fakes.telegram import (
    FakeTelegram,
    RecordingIntake,
    Sent,
    TgUser,
    eventually,
    feed,
    telegram_config,
)

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")


async def answer_with_buttons(
    tg: FakeTelegram, channel: TelegramChannel, intake: RecordingIntake, user: TgUser
) -> Sent:
    msg = InboundMessage(
        key=ThreadKey(channel="telegram", chat_id=str(user.id)),
        event_id="telegram:upd:9",
        message_id="9",
        sender=Sender(id=str(user.id)),
        text="q",
    )
    [ref] = await channel.open_reply(msg).finish("An answer", feedback=True)
    intake.known.add((str(user.id), ref))
    [sent] = tg.chat(user.id).bot_messages()
    return sent


def answers(tg: FakeTelegram) -> list[Any]:
    return [a.get("text") for a in tg.callback_answers]


async def test_buttons_rate_toggle_and_show_the_rating(
    tg: FakeTelegram, channel: TelegramChannel, intake: RecordingIntake
):
    sent = await answer_with_buttons(tg, channel, intake, ANN)
    await feed(channel, tg, tg.callback(ANN.id, ANN, sent.message_id, "fb:like"))
    assert sent.buttons() == ["👍 ✓", "👎"]
    await feed(channel, tg, tg.callback(ANN.id, ANN, sent.message_id, "fb:like"))
    assert sent.buttons() == ["👍", "👎"]
    await feed(channel, tg, tg.callback(ANN.id, ANN, sent.message_id, "fb:dislike"))
    assert sent.buttons() == ["👍", "👎 ✓"]
    ref = intake.feedbacks[0][0]
    assert (ref.channel, ref.chat_id, ref.message_id) == (
        "telegram",
        str(ANN.id),
        str(sent.message_id),
    )
    assert [(r, tog) for _, r, tog in intake.feedbacks] == [
        ("like", True),
        ("like", True),
        ("dislike", True),
    ]
    assert answers(tg) == [
        t("en", "feedback_like"),
        t("en", "feedback_cleared"),
        t("en", "feedback_dislike"),
    ]
    assert sent.text == "An answer"  # only the buttons changed


async def test_every_press_is_answered_in_the_users_language(
    tg: FakeTelegram, channel: TelegramChannel, intake: RecordingIntake
):
    sent = await answer_with_buttons(tg, channel, intake, BINH)
    intake.known.clear()
    await feed(channel, tg, tg.callback(BINH.id, BINH, sent.message_id, "fb:like"))
    intake.known.add((str(BINH.id), str(sent.message_id)))
    intake.feedback_ok = False
    await feed(channel, tg, tg.callback(BINH.id, BINH, sent.message_id, "fb:dislike"))
    await feed(channel, tg, tg.callback(BINH.id, BINH, sent.message_id, "something-else"))
    assert answers(tg) == [t("vi", "feedback_unknown"), t("vi", "feedback_failed"), None]
    assert tg.calls_to("editMessageReplyMarkup") == []
    assert sent.buttons() == ["👍", "👎"]


async def test_strangers_cannot_rate(tg: FakeTelegram, intake: RecordingIntake):
    channel = TelegramChannel(
        telegram_config(tg, allowed_user_ids=[ANN.id]), BridgeConfig(), poll_timeout_s=1
    )
    await channel.start(intake)
    try:
        sent = await answer_with_buttons(tg, channel, intake, ANN)
        await feed(channel, tg, tg.callback(ANN.id, BINH, sent.message_id, "fb:like"))
        await feed(channel, tg, tg.reaction(ANN.id, BINH, sent.message_id, new=["👍"]))
    finally:
        await channel.close()
    assert intake.feedbacks == [] and answers(tg) == [t("vi", "access_denied")]


async def test_button_marks_wait_out_a_429(
    tg: FakeTelegram, channel: TelegramChannel, intake: RecordingIntake
):
    sent = await answer_with_buttons(tg, channel, intake, ANN)
    tg.flood("editMessageReplyMarkup", 1)
    await feed(channel, tg, tg.callback(ANN.id, ANN, sent.message_id, "fb:dislike"))
    await eventually(lambda: sent.buttons() == ["👍", "👎 ✓"])
    assert [c.status for c in tg.calls_to("editMessageReplyMarkup")] == [429, 200]
    assert answers(tg) == [t("en", "feedback_dislike")]


async def test_reactions_rate_and_clear(
    tg: FakeTelegram, channel: TelegramChannel, intake: RecordingIntake
):
    sent = await answer_with_buttons(tg, channel, intake, ANN)
    mid = sent.message_id
    await feed(channel, tg, tg.reaction(ANN.id, ANN, mid, new=["👍"]))
    await feed(channel, tg, tg.reaction(ANN.id, ANN, mid, old=["👍"], new=["👎"]))
    await feed(channel, tg, tg.reaction(ANN.id, ANN, mid, old=["👎"], new=["👎", "🔥"]))
    await feed(channel, tg, tg.reaction(ANN.id, ANN, mid, old=["👎", "🔥"], new=[]))
    await feed(channel, tg, tg.reaction(ANN.id, ANN, mid, new=["❤"]))
    assert [(r, tog) for _, r, tog in intake.feedbacks] == [
        ("like", False),
        ("dislike", False),
        (None, False),
    ]
    assert intake.ratings[(str(ANN.id), str(mid))] is None
    # The buttons follow the reactions (✓ on the current rating), ending with none marked.
    assert tg.calls_to("editMessageReplyMarkup")
    await channel.idle()
    assert sent.buttons() == ["👍", "👎"]


def test_reaction_diff_rules():
    up, down = ReactionTypeEmoji("👍"), ReactionTypeEmoji("👎")
    fire, custom = ReactionTypeEmoji("🔥"), ReactionTypeCustomEmoji("123")
    assert reaction_rating([], [up]) == "like"
    assert reaction_rating([up], [up, down]) == "dislike"
    assert reaction_rating([up, down], [up]) == "ignore"  # 👍 is still there
    assert reaction_rating([up], []) is None
    assert reaction_rating([], [fire, custom]) == "ignore"
    assert reaction_rating([fire], [fire, up]) == "like"
