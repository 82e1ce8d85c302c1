"""Which Slack messages reach the core, with what text, scope, command, language and files."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config import BridgeConfig
from bridge.model import Attachment, ThreadKey
from tests.fakes.slack import BOT_ID, BOT_USER, json_body, running_slack, signed_headers


async def test_mention_in_a_thread_answers_in_that_thread() -> None:
    async with running_slack() as h:
        event = h.events.mention("more?", thread_ts="1699.000100")
        await h.send(event)
        [msg] = h.intake.messages
        assert msg.key == ThreadKey(channel="slack", chat_id="C1", thread_id="1699.000100")
        assert msg.reply_thread == "1699.000100"


async def test_mention_markup_is_stripped_and_slack_markup_made_readable() -> None:
    async with running_slack() as h:
        event = h.events.mention("")
        event["text"] = (
            f"hey <@{BOT_USER}|clickai> ask <@U222> about <https://x.io/a|the doc> in "
            "<#C55|general> &amp; <!here> 1 &lt; 2 <mailto:a@b.io|a@b.io>"
        )
        await h.send(event)
        text = h.intake.messages[0].text
        assert BOT_USER not in text
        assert text == (
            "hey ask @U222 about the doc (https://x.io/a) in #general & @here 1 < 2 a@b.io"
        )


async def test_a_mention_also_delivered_as_message_channels_is_answered_once() -> None:
    async with running_slack() as h:
        mention = h.events.mention("hello")
        plain = h.events.message(mention["text"], ts=mention["ts"])
        await h.send(plain)
        await h.send(mention)
        await h.send(plain)
        assert len(h.intake.messages) == 1
        assert h.intake.messages[0].text == "hello"


async def test_follow_ups_in_an_answered_thread_need_no_mention() -> None:
    async with running_slack() as h:
        mention = h.events.mention("first")
        await h.send(mention)
        follow = h.events.message("and then?", thread_ts=mention["ts"], user="U2")
        await h.send(follow)
        assert [m.text for m in h.intake.messages] == ["first", "and then?"]
        second = h.intake.messages[1]
        assert second.key.thread_id == mention["ts"]
        assert second.reply_thread == mention["ts"]


async def test_follow_ups_require_a_mention_when_configured() -> None:
    async with running_slack(thread_requires_mention=True) as h:
        mention = h.events.mention("first")
        await h.send(mention)
        await h.send(h.events.message("and then?", thread_ts=mention["ts"]))
        await h.send(h.events.mention("again", thread_ts=mention["ts"]))
        assert [m.text for m in h.intake.messages] == ["first", "again"]


async def test_messages_in_unknown_threads_and_top_level_are_ignored() -> None:
    async with running_slack() as h:
        await h.send(h.events.message("chatting", thread_ts="1600.000001"))
        await h.send(h.events.message("top level talk"))
        assert h.intake.messages == []


async def test_a_thread_started_by_the_bot_is_active_after_a_restart() -> None:
    async with running_slack() as h:
        event = h.events.message("reply to bot", thread_ts="1600.000001", parent_user_id=BOT_USER)
        await h.send(event)
        assert [m.text for m in h.intake.messages] == ["reply to bot"]


async def test_a_thread_the_bot_answered_in_via_open_reply_is_active() -> None:
    async with running_slack() as h:
        await h.send(h.events.mention("q", thread_ts="1650.000001"))
        h.channel.open_reply(h.intake.messages[0])
        await h.send(h.events.message("more", thread_ts="1650.000001"))
        assert len(h.intake.messages) == 2


@pytest.mark.parametrize(
    ("overrides", "in_thread", "want_key_thread", "want_reply"),
    [
        ({}, False, "", "TS"),
        ({"dm_reply_in_thread": False}, False, "", ""),
        ({"dm_reply_in_thread": False}, True, "", "THREAD"),
        ({"dm_scope": "thread"}, False, "TS", "TS"),
        ({"dm_scope": "thread"}, True, "THREAD", "THREAD"),
    ],
)
async def test_direct_message_scope_and_reply_place(
    overrides: dict[str, Any], in_thread: bool, want_key_thread: str, want_reply: str
) -> None:
    async with running_slack(**overrides) as h:
        thread = "1690.000001"
        event = h.events.dm("hi bot", thread_ts=thread if in_thread else "")
        await h.send(event)
        [msg] = h.intake.messages
        names = {"": "", "TS": event["ts"], "THREAD": thread}
        assert msg.key == ThreadKey(
            channel="slack", chat_id="D1", thread_id=names[want_key_thread]
        )
        assert msg.reply_thread == names[want_reply]
        assert msg.text == "hi bot"


async def test_a_mention_inside_a_dm_is_answered_once_via_the_dm_path() -> None:
    async with running_slack() as h:
        dm = h.events.dm(f"<@{BOT_USER}> hi")
        mention = h.events.mention("hi", channel="D1", ts=dm["ts"])
        await h.send(mention)
        await h.send(dm)
        assert [m.text for m in h.intake.messages] == ["hi"]


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "message_replied"},
        {"subtype": "channel_join"},
        {"subtype": "bot_message", "bot_id": "B999"},
        {"bot_id": "B999"},
        {"user": BOT_USER},
        {"user": BOT_USER, "bot_id": BOT_ID},
        {"hidden": True},
    ],
    ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items()),
)
async def test_edits_joins_bots_and_own_messages_are_ignored(extra: dict[str, object]) -> None:
    async with running_slack() as h:
        event = h.events.dm("something")
        event.update(extra)
        await h.send(event)
        mention = h.events.mention("something")
        mention.update(extra)
        await h.send(mention)
        assert h.intake.messages == []


@pytest.mark.parametrize(
    ("text", "command"),
    [("new", "new"), ("/new", "new"), (" NEW ", "new"), ("stop", "stop"), ("/stop", "stop")],
)
async def test_commands(text: str, command: str) -> None:
    async with running_slack() as h:
        await h.send(h.events.mention(text))
        await h.send(h.events.dm(text))
        assert [m.command for m in h.intake.messages] == [command, command]


async def test_words_that_merely_contain_a_command_are_questions() -> None:
    async with running_slack() as h:
        await h.send(h.events.mention("what is new?"))
        assert h.intake.messages[0].command is None


async def test_help_is_answered_by_the_channel_itself() -> None:
    async with running_slack() as h:
        mention = h.events.mention("help")
        await h.send(mention)
        assert h.intake.messages == []
        [post] = h.fake.calls_to("chat.postMessage")
        assert post["thread_ts"] == mention["ts"]
        assert "new" in post["text"]


async def test_help_names_every_command_a_slack_user_can_send() -> None:
    """A user who asks for help learns of `stop` too, as Telegram's /help tells of /stop."""
    async with running_slack() as h:
        await h.send(h.events.dm("help"))
        [post] = h.fake.calls_to("chat.postMessage")
        assert all(f"`{word}`" in post["text"] for word in ("new", "stop", "help"))


async def test_access_lists_refuse_politely_once_and_submit_nothing() -> None:
    async with running_slack(allowed_user_ids=["U_OK"]) as h:
        await h.send(h.events.mention("let me in", user="U_BAD"))
        await h.send(h.events.mention("please", user="U_BAD"))
        await h.send(h.events.dm("dm too", user="U_BAD"))
        await h.send(h.events.mention("hi", user="U_OK"))
        assert [m.sender.id for m in h.intake.messages] == ["U_OK"]
        assert h.intake.refusals == [("slack", "access")] * 3
        refusals = h.fake.ephemerals
        assert [(e["channel"], e["user"]) for e in refusals] == [("C1", "U_BAD"), ("D1", "U_BAD")]
        assert "private" in refusals[0]["text"]


@pytest.mark.parametrize(
    ("overrides", "allowed"),
    [
        ({"allowed_channel_ids": ["C1"]}, True),
        ({"allowed_channel_ids": ["C2"]}, False),
        ({"allowed_team_ids": ["T0FAKE"]}, True),
        ({"allowed_team_ids": ["T_OTHER"]}, False),
    ],
)
async def test_channel_and_team_lists(overrides: dict[str, Any], allowed: bool) -> None:
    async with running_slack(**overrides) as h:
        await h.send(h.events.mention("hi"))
        assert len(h.intake.messages) == (1 if allowed else 0)
        assert len(h.fake.ephemerals) == (0 if allowed else 1)


async def test_the_language_comes_from_the_users_locale_and_is_cached() -> None:
    async with running_slack() as h:
        h.fake.add_user("U_VI", locale="vi-VN", name="lan")
        h.fake.add_user("U_EN", locale="en-GB")
        await h.send(h.events.mention("xin chào", user="U_VI"))
        await h.send(h.events.mention("lần nữa", user="U_VI"))
        await h.send(h.events.mention("hello", user="U_EN"))
        assert [m.language for m in h.intake.messages] == ["vi", "vi", "en"]
        assert h.intake.messages[0].sender.display_name == "lan"
        lookups = h.fake.calls_to("users.info")
        assert [c["user"] for c in lookups] == ["U_VI", "U_EN"]
        assert all(str(c["include_locale"]).lower() in ("1", "true") for c in lookups)


async def test_an_unknown_locale_or_a_failed_lookup_uses_the_default_language() -> None:
    async with running_slack(bridge=BridgeConfig(default_language="vi")) as h:
        h.fake.add_user("U_FR", locale="fr-FR")
        await h.send(h.events.mention("bonjour", user="U_FR"))
        h.fake.fail("users.info", retry_after=30)
        await h.send(h.events.mention("hello", user="U_UNKNOWN"))
        assert [m.language for m in h.intake.messages] == ["vi", "vi"]


async def test_shared_files_become_attachments() -> None:
    async with running_slack() as h:
        image = h.fake.add_file("cat.png", b"\x89PNG...", "image/png")
        doc = h.fake.add_file("report.pdf", b"%PDF-1.7", "application/pdf")
        clip = h.fake.add_file("note.m4a", b"audio", "audio/mp4")
        event = h.events.mention("look", files=[image, doc, clip])
        await h.send(event)
        dm = h.events.dm("", subtype="file_share", files=[doc])
        await h.send(dm)
        first, second = h.intake.messages
        assert first.attachments == (
            Attachment(
                ref=image["url_private_download"],
                name="cat.png",
                mime_type="image/png",
                kind="image",
                size=len(b"\x89PNG..."),
            ),
            Attachment(
                ref=doc["url_private_download"],
                name="report.pdf",
                mime_type="application/pdf",
                kind="document",
                size=8,
            ),
            Attachment(
                ref=clip["url_private_download"],
                name="note.m4a",
                mime_type="audio/mp4",
                kind="audio",
                size=5,
            ),
        )
        assert second.text == ""
        assert [a.name for a in second.attachments] == ["report.pdf"]


async def test_slack_connect_file_stubs_are_resolved_with_files_info() -> None:
    async with running_slack() as h:
        real = h.fake.add_file("shared.csv", b"a,b\n1,2\n", "text/csv")
        stub = {"id": real["id"], "mode": "file_access", "file_access": "check_file_info"}
        gone = {"id": "FDEL", "mode": "tombstone"}
        await h.send(h.events.dm("see file", subtype="file_share", files=[stub, gone]))
        [msg] = h.intake.messages
        assert [c["file"] for c in h.fake.calls_to("files.info")] == [real["id"]]
        [att] = msg.attachments
        assert att.ref == real["url_private_download"]
        assert (att.name, att.size, att.kind) == ("shared.csv", 8, "document")


async def test_a_file_with_a_command_like_caption_is_not_a_command() -> None:
    async with running_slack() as h:
        doc = h.fake.add_file("x.txt", b"x", "text/plain")
        await h.send(h.events.dm("new", subtype="file_share", files=[doc]))
        assert h.intake.messages[0].command is None


async def test_messages_of_one_conversation_reach_the_core_in_arrival_order() -> None:
    async with running_slack() as h:
        h.fake.add_user("U_A", locale="en-US")
        h.fake.add_user("U_B", locale="vi-VN")
        mention = h.events.mention("start", user="U_B")  # U_B's locale is now cached
        await h.send(mention)
        slow = h.events.message("from A", user="U_A", thread_ts=mention["ts"])
        fast = h.events.message("from B", user="U_B", thread_ts=mention["ts"])
        for event in (slow, fast):  # both delivered before either is handled
            body = json_body(h.events.envelope(event))
            status, _ = await h.post(body, signed_headers(body))
            assert status == 200
        await h.channel.idle()
        assert [m.text for m in h.intake.messages] == ["start", "from A", "from B"]
