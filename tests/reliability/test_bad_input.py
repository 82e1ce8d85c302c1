"""Hostile and odd input: bad webhook bodies, huge or empty messages, markup in user text,
Unicode at split points, files over the limit, forged buttons; plus fuzzing of the normalisers."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp import ClientSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Message

from bridge.config import SlackConfig
from bridge.i18n import t
from bridge.text import utf16_len
from channels.slack import events as slack_events
from channels.telegram import normalize as tg_norm
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack, signed_headers
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.helpers_faults import running

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")
HOOK_SECRET = "hook-Secret_42"


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI() as server:
        yield server


# --- webhook bodies --------------------------------------------------------------------------

NESTED = b"[" * 200_000 + b"]" * 200_000
BAD_BODIES = {
    "10MB": b'{"update_id": 1, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}',
    "json-array": b"[1, 2, 3]",
    "deeply-nested": NESTED[:300_000],
    "deeply-nested-object": b'{"update_id": 1, "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "invalid-utf8": b'{"update_id": 1, "message": "\xff\xfe\xfd"}',
    "empty": b"",
    "null": b"null",
}


WEBHOOK_ENV = {
    "BRIDGE_TELEGRAM__MODE": "webhook",
    "BRIDGE_TELEGRAM__WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
    "BRIDGE_TELEGRAM__WEBHOOK_SECRET": HOOK_SECRET,
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_bad_telegram_webhook_bodies_get_4xx_and_the_bridge_keeps_serving(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, name: str
) -> None:
    body = BAD_BODIES[name]
    async with running(clickai, tmp_path / "b.db", tg=tg, env=WEBHOOK_ENV) as b:
        assert b.app.server is not None
        url = f"http://127.0.0.1:{b.app.server.bound_port}/telegram/webhook"
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET,
        }
        async with (
            ClientSession() as session,
            session.post(url, data=io.BytesIO(body), headers=headers) as r,
        ):
            status = r.status
        update = tg.text(ANN.id, ANN, "still fine")
        assert await tg.post_webhook(update, url=url) == 200
        await b.settle()
        assert tg.chat(ANN.id).texts() == ["You said: still fine"]
        assert len(clickai.calls("chat-messages")) == 1
    assert 400 <= status < 500, status


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_bad_slack_bodies_get_4xx_and_the_bridge_keeps_serving(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path, name: str
) -> None:
    body = BAD_BODIES[name]
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        async with b.session.post(
            b.slack_url, data=io.BytesIO(body), headers=signed_headers(body)
        ) as r:
            status = r.status
        mention = b.events.mention("still fine", channel="C1")
        assert await b.slack_post(mention) == 200
        await b.settle()
        assert slack.thread_text("C1", str(mention["ts"])) == "You said: still fine"
        assert len(clickai.calls("chat-messages")) == 1
    assert 400 <= status < 500, status


# --- message sizes and types ---------------------------------------------------------------------


async def test_a_100k_character_message_is_refused_politely_on_both_platforms(
    tg: FakeTelegram, slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    huge = "ư" * 100_000
    async with running(clickai, tmp_path / "b.db", tg=tg, slack=slack) as b:
        tg.push(tg.text(BINH.id, BINH, huge))  # a caption or a client that ignores the cap
        dm = b.events.dm(huge, channel="D7")
        assert await b.slack_post(dm) == 200
        await b.settle()
        notice = t("vi", "too_long", chars=100_000, limit=8000)
        assert tg.chat(BINH.id).texts() == [notice]
        assert notice in slack.thread_text("D7", str(dm["ts"])) or slack.thread_text(
            "D7", str(dm["ts"])
        ) == t("en", "too_long", chars=100_000, limit=8000)
        assert clickai.calls("chat-messages") == []
        assert await b.app_store_pending() == []


async def test_stickers_and_empty_messages_get_a_notice_or_nothing(
    tg: FakeTelegram, slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg, slack=slack) as b:
        tg.push(tg.sticker(BINH.id, BINH))
        tg.push(tg.text(ANN.id, ANN, "   "))
        empty = b.events.dm("", channel="D8")
        assert await b.slack_post(empty) == 200
        await b.settle()
        assert tg.chat(BINH.id).texts() == [t("vi", "unsupported")]
        assert tg.chat(ANN.id).texts() in ([], [t("en", "empty_message")])
        assert slack.thread_text("D8", str(empty["ts"])) in ("", t("en", "empty_message"))
        assert clickai.calls("chat-messages") == []


MARKUP = ["<b>unclosed", "**", "```", "a < b && c > d", "<script>alert(1)</script>", "&amp; &#0;"]


@pytest.mark.parametrize("text", MARKUP)
async def test_markup_in_user_text_echoed_back_never_breaks_telegram_rendering(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path, text: str
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        clickai.script(Reply(answer=f"You said: {text}\nand {text}", deltas=4))
        tg.push(tg.text(ANN.id, ANN, text))
        await b.settle()
        [msg] = tg.chat(ANN.id).bot_messages()
        assert msg.buttons() == ["👍", "👎"]
        assert msg.text.startswith("You said:")
        assert all(c.status == 200 for c in tg.calls_to("sendMessage", "editMessageText"))
        assert clickai.calls("chat-messages")[0].json["query"] == text.strip()


ASTRAL = "😀"
ZWJ_FAMILY = "👨‍👩‍👧‍👦"
RTL = "مرحبا بالعالم "


def _answer_around(limit: int) -> str:
    """An answer whose astral characters and ZWJ sequences straddle the split point."""
    head = "a" * (limit - 3)
    return head + ASTRAL + ASTRAL + ZWJ_FAMILY + RTL * 40 + ASTRAL * 50 + " end"


async def test_telegram_split_keeps_astral_characters_whole(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    answer = _answer_around(4096)
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        clickai.script(Reply(answer=answer, deltas=5))
        tg.push(tg.text(ANN.id, ANN, "long please"))
        await b.settle()
        parts = tg.chat(ANN.id).texts()
    assert len(parts) >= 2
    assert all(utf16_len(p) <= 4096 for p in parts)
    for part in parts:
        part.encode("utf-8")  # a lone surrogate cannot be encoded
    assert "".join(parts).replace(" ", "").replace("\n", "") == answer.replace(" ", "")


async def test_slack_split_keeps_astral_characters_whole(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    answer = _answer_around(12_000)
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        clickai.script(Reply(answer=answer, deltas=5))
        mention = b.events.mention("long please", channel="C1")
        assert await b.slack_post(mention) == 200
        await b.settle()
        parts = [m.body for m in slack.thread("C1", str(mention["ts"]))]
    assert len(parts) >= 2
    for part in parts:
        part.encode("utf-8")
    assert "".join(parts) == answer


async def test_slack_file_over_the_limit_is_refused_before_download(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(
        clickai, tmp_path / "b.db", slack=slack, env={"BRIDGE_BRIDGE__MAX_FILE_MB": "1"}
    ) as b:
        shared = slack.add_file("big.bin", b"x" * (2 * 1024 * 1024), "application/octet-stream")
        mention = b.events.mention("read this", files=[shared])
        assert await b.slack_post(mention) == 200
        await b.settle()
        shown = slack.thread_text("C1", str(mention["ts"]))
        assert "big.bin" in shown and shown.startswith("📎")
    assert clickai.calls("files/upload") == [] and clickai.calls("chat-messages") == []
    assert slack.downloads == []


# --- forged buttons --------------------------------------------------------------------------


async def test_forged_telegram_callbacks_are_answered_and_ignored(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", tg=tg) as b:
        tg.push(tg.text(ANN.id, ANN, "hello"))
        await b.settle()
        [msg] = tg.chat(ANN.id).bot_messages()
        for data in ("evil:payload", "fb:", "fb:like" + "x" * 50, "", "fb:dislike\x00"):
            tg.push(tg.callback(ANN.id, ANN, msg.message_id, data))
        never_sent = tg.callback(ANN.id, ANN, msg.message_id, "fb:like")
        never_sent["callback_query"]["message"]["message_id"] = 999_999
        tg.push(never_sent)  # feedback on a message the bridge never sent
        await b.settle()
    assert clickai.calls("feedbacks") == []
    assert len(tg.callback_answers) == 6
    assert tg.callback_answers[-1]["text"] == t("en", "feedback_unknown")


async def test_forged_slack_actions_are_acked_and_ignored(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with running(clickai, tmp_path / "b.db", slack=slack) as b:
        mention = b.events.mention("hello", channel="C1")
        await b.slack_post(mention)
        await b.settle()
        [answer] = slack.thread("C1", str(mention["ts"]))
        foreign = b.events.feedback_click("like", message_ts=answer.ts)
        foreign["actions"][0]["action_id"] = "someone_elses_button"
        odd_value = b.events.feedback_click("rm -rf /", message_ts=answer.ts)
        unknown = b.events.feedback_click("like", message_ts="1234567890.000001")
        for payload in (foreign, odd_value, unknown):
            assert await b.slack_click(payload) == 200
        await b.settle()
    assert clickai.calls("feedbacks") == []
    assert [e["text"] for e in slack.ephemerals] == [t("en", "feedback_unknown")]


# --- fuzzing the normalisers -----------------------------------------------------------------

_text = st.text(max_size=60)
_entity = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["mention", "text_mention", "bold", "bot_command", "url"]),
        "offset": st.integers(-5, 80),
        "length": st.integers(-5, 80),
    },
    optional={"user": st.just({"id": 7000001, "is_bot": True, "first_name": "B"})},
)
_user = st.fixed_dictionaries(
    {"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": _text},
    optional={"language_code": st.sampled_from(["vi", "en", "xx", ""])},
)
_chat = st.fixed_dictionaries(
    {
        "id": st.integers(-(2**50), 2**50),
        "type": st.sampled_from(["private", "group", "supergroup", "channel"]),
    }
)
_message = st.fixed_dictionaries(
    {"message_id": st.integers(1, 2**31), "date": st.integers(0, 2**31), "chat": _chat},
    optional={
        "from": _user,
        "text": _text,
        "caption": _text,
        "entities": st.lists(_entity, max_size=4),
        "caption_entities": st.lists(_entity, max_size=2),
        "message_thread_id": st.integers(-3, 10),
        "is_topic_message": st.booleans(),
        "sticker": st.just(
            {
                "file_id": "S",
                "file_unique_id": "s",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        ),
        "document": st.fixed_dictionaries(
            {"file_id": st.just("D"), "file_unique_id": st.just("d")},
            optional={"file_name": _text, "mime_type": _text, "file_size": st.integers(-1, 2**40)},
        ),
        "photo": st.lists(
            st.fixed_dictionaries(
                {
                    "file_id": st.just("P"),
                    "file_unique_id": st.just("p"),
                    "width": st.integers(0, 5000),
                    "height": st.integers(0, 5000),
                },
                optional={"file_size": st.integers(0, 2**31)},
            ),
            max_size=3,
        ),
        "sender_chat": _chat,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_message, st.sampled_from(["group", "user", "topic"]))
def test_telegram_normaliser_never_raises(data: dict[str, Any], scope: str) -> None:
    message = Message.de_json(data, None)
    me = tg_norm.Me(id=7000001, username="ClickAITestBot")
    text = tg_norm.clean_text(message, me)
    assert isinstance(text, str)
    tg_norm.attachments_of(message)
    tg_norm.is_unsupported(message)
    tg_norm.mentions_bot(message, me)
    tg_norm.replies_to_bot(message, me)
    tg_norm.thread_of(message)
    sender = tg_norm.sender_of(message)
    if sender is not None:
        key = tg_norm.thread_key(message, sender, scope)  # type: ignore[arg-type]
        assert key.channel == "telegram" and key.chat_id == str(data["chat"]["id"])


_slack_value = st.one_of(
    st.none(), st.integers(), _text, st.lists(_text, max_size=2), st.booleans()
)
_slack_event = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "app_mention"]),
        "user": st.one_of(_text, st.sampled_from(["U1", "UBOT"])),
        "text": st.one_of(
            _text,
            st.just("<@UBOT> hi <https://x.y|link> <!date^1^x|today> <#C1|general> <!here>"),
            st.just("<" * 50 + "@" + ">" * 50),
        ),
        "ts": st.one_of(_text, st.just("1700000000.000100")),
        "thread_ts": _slack_value,
        "channel": st.one_of(_text, st.sampled_from(["C1", "D1"])),
        "channel_type": st.one_of(_text, st.sampled_from(["im", "channel"])),
        "subtype": st.one_of(
            _text, st.sampled_from(["file_share", "message_changed", "bot_message"])
        ),
        "bot_id": _slack_value,
        "hidden": _slack_value,
        "team": _slack_value,
        "parent_user_id": _slack_value,
        "files": st.lists(
            st.dictionaries(
                st.sampled_from(["id", "name", "mimetype", "size", "mode", "url_private"]),
                _slack_value,
            ),
            max_size=3,
        ),
    },
)


_VIA: list[Literal["app_mention", "message"]] = ["app_mention", "message"]


@settings(max_examples=300, deadline=None)
@given(_slack_event, st.sampled_from(_VIA), st.booleans())
def test_slack_normaliser_never_raises(
    event: dict[str, Any], via: Literal["app_mention", "message"], active: bool
) -> None:
    me = slack_events.Identity(user_id="UBOT", bot_id="BBOT", team_id="T0FAKE")
    config = SlackConfig(enabled=False)
    found = slack_events.route(
        event,
        via=via,
        me=me,
        config=config,
        active_thread=active,
    )
    files = event.get("files") or []
    attachments = tuple(
        a for a in (slack_events.attachment(f) for f in files if isinstance(f, dict)) if a
    )
    if found is None:
        return
    msg = slack_events.inbound(
        found, event, me=me, config=config, language="en", attachments=attachments
    )
    assert msg.key.channel == "slack" and msg.key.chat_id == found.channel_id
    assert "<@UBOT>" not in msg.text
    json.dumps(msg.text)
