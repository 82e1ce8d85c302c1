"""SlackReply driven like the relay does: native streaming, fallbacks, limits, 429s, resumption."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.model import InboundMessage, OutboundFile, Sender, ThreadKey
from channels.slack.reply import SlackReply
from tests.fakes.slack import running_slack

T = TypeVar("T")
THREAD = "1700000000.000100"


def question(channel: str = "C1", thread: str = THREAD, user: str = "U1") -> InboundMessage:
    return InboundMessage(
        key=ThreadKey(channel="slack", chat_id=channel, thread_id=thread),
        event_id=f"slack:{channel}:{thread}",
        message_id=thread,
        sender=Sender(id=user),
        text="q",
        reply_thread=thread,
    )


async def retrying(call: Callable[[], Awaitable[T]], limits: list[RateLimited]) -> T:
    """What the core does on RateLimited: wait (not needed with the fake) and call again."""
    for _ in range(20):
        try:
            return await call()
        except RateLimited as exc:
            limits.append(exc)
    raise AssertionError("still rate limited")


async def drive(
    reply: SlackReply, updates: list[str], final: str, **finish: Any
) -> tuple[list[str], list[RateLimited]]:
    """Play the relay: start, paced updates (newest text only), then a resumable finish."""
    limits: list[RateLimited] = []
    await reply.start()
    for text in updates:
        await retrying(lambda text=text: reply.update(text), limits)  # type: ignore[misc]
    ids = await retrying(lambda: reply.finish(final, **finish), limits)
    return ids, limits


def growing(answer: str, steps: int) -> list[str]:
    size = max(1, len(answer) // steps)
    return [answer[: i * size] for i in range(1, steps) if answer[: i * size].strip()]


ANSWER = "# Title\n\nSome **bold** text and a list:\n\n- one\n- two\n\n```py\nprint('hi')\n```\n"


async def test_native_stream_in_a_channel_with_recipients_and_feedback() -> None:
    async with running_slack() as h:
        await h.send(h.events.mention("q", user="U5"))
        msg = h.intake.messages[0]
        reply = h.channel.open_reply(msg)
        ids, limits = await drive(reply, growing(ANSWER, 4), ANSWER, feedback=True)
        assert limits == []
        [start] = h.fake.calls_to("chat.startStream")
        assert start["thread_ts"] == msg.reply_thread
        assert start["recipient_user_id"] == "U5"
        assert start["recipient_team_id"] == "T0FAKE"
        appended = "".join(c["markdown_text"] for c in h.fake.calls_to("chat.appendStream"))
        [stop] = h.fake.calls_to("chat.stopStream")
        assert start["markdown_text"] + appended + stop.get("markdown_text", "") == ANSWER
        [answer] = h.fake.thread("C1", msg.reply_thread)
        assert ids == [answer.ts]
        assert answer.body == ANSWER
        assert not answer.streaming
        assert answer.feedback is not None
        assert answer.feedback["action_id"] == "clickai_feedback"
        assert answer.feedback["positive_button"]["value"] == "like"
        assert answer.feedback["negative_button"]["value"] == "dislike"
        assert h.fake.calls_to("chat.postMessage") == []
        assert h.fake.calls_to("chat.update") == []


async def test_loading_status_is_shown_while_waiting_and_refreshed() -> None:
    async with running_slack(options={"status_refresh_s": 0.01}) as h:
        await h.send(h.events.mention("q"))
        reply = h.channel.open_reply(h.intake.messages[0])
        await reply.start()
        for _ in range(500):
            if len(h.fake.statuses) >= 3:
                break
            await asyncio.sleep(0.01)
        await reply.update("first words")
        seen = len(h.fake.statuses)
        await reply.finish("first words, done")
        await h.channel.idle()
        statuses = h.fake.statuses
        assert len(statuses) >= 3
        assert statuses[0] == ("C1", h.intake.messages[0].reply_thread, "is thinking…")
        assert len(statuses) <= seen + 1  # no refresh after the first text


async def test_loading_status_failures_are_ignored_and_cleared_when_nothing_is_posted() -> None:
    async with running_slack() as h:
        h.fake.fail("assistant.threads.setStatus", error="missing_scope")
        reply = h.channel.open_reply(question())
        await reply.start()
        ids = await reply.finish("")
        assert ids == []
        assert h.fake.statuses[-1][2] == ""
        assert h.fake.thread("C1", THREAD) == []


@pytest.mark.parametrize(
    "code", ["not_allowed", "missing_scope", "unknown_method", "channel_type_not_supported"]
)
async def test_refused_streaming_falls_back_to_post_and_update(code: str) -> None:
    async with running_slack() as h:
        h.fake.stream_refusal = code
        reply = h.channel.open_reply(question())
        ids, _ = await drive(reply, growing(ANSWER, 5), ANSWER, feedback=True)
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == ANSWER
        assert answer.feedback is not None
        assert len(h.fake.calls_to("chat.postMessage")) == 1
        assert h.fake.calls_to("chat.update")
        # The next reply does not ask again.
        await drive(h.channel.open_reply(question(thread="1700000000.000200")), ["x y"], "x y z")
        assert len(h.fake.calls_to("chat.startStream")) == 1


async def test_stream_expiring_mid_answer_continues_with_chat_update() -> None:
    async with running_slack() as h:
        h.fake.expire_after_appends = 2
        reply = h.channel.open_reply(question())
        ids, _ = await drive(reply, growing(ANSWER, 6), ANSWER, feedback=True)
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == ANSWER
        assert answer.feedback is not None
        assert h.fake.calls_to("chat.update")


async def test_stream_expiring_before_the_stop_still_lands_the_final_text() -> None:
    async with running_slack() as h:
        reply = h.channel.open_reply(question())
        await reply.start()
        await reply.update("Hello")
        [answer] = h.fake.thread("C1", THREAD)
        h.fake.expire(answer.ts)
        ids = await reply.finish("Hello world", notice="(partial)", feedback=True)
        assert ids == [answer.ts]
        assert answer.body == "Hello world"
        assert answer.notices == ["(partial)"]
        assert answer.feedback is not None


async def test_replaced_text_is_not_shown_twice() -> None:
    async with running_slack() as h:
        reply = h.channel.open_reply(question())
        ids, _ = await drive(reply, ["Bad words", "Bad words here"], "Sorry, I can't say that.")
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == "Sorry, I can't say that."
        assert h.fake.thread_text("C1", THREAD) == "Sorry, I can't say that."


@pytest.mark.parametrize("refusal", [None, "not_allowed"], ids=["stream", "post-update"])
async def test_long_answers_continue_in_follow_up_messages(refusal: str | None) -> None:
    async with running_slack() as h:
        h.fake.stream_refusal = refusal
        paragraph = "Lorem ipsum dolor sit amet, " * 20 + "\n\n"
        answer = paragraph * 55  # ~31k characters
        reply = h.channel.open_reply(question())
        ids, _ = await drive(reply, growing(answer, 12), answer, feedback=True)
        msgs = h.fake.thread("C1", THREAD)
        assert len(msgs) == 3
        assert ids == [m.ts for m in msgs]
        assert "".join(m.body for m in msgs) == answer
        assert all(len(m.body) <= 12_000 for m in msgs)
        assert all(m.body.endswith("\n\n") for m in msgs[:-1])  # split at paragraphs
        assert [m.feedback is not None for m in msgs] == [False, False, True]
        for call in h.fake.calls_to("chat.appendStream"):
            assert len(call["markdown_text"]) <= 12_000


async def test_a_huge_final_text_without_updates_is_split_too() -> None:
    async with running_slack() as h:
        answer = "x" * 25_000
        ids, _ = await drive(h.channel.open_reply(question()), [], answer)
        msgs = h.fake.thread("C1", THREAD)
        assert ids == [m.ts for m in msgs]
        assert [len(m.body) for m in msgs] == [12_000, 12_000, 1_000]


async def test_emoji_count_as_two_units_in_the_limit() -> None:
    async with running_slack() as h:
        answer = "😀" * 7_000
        await drive(h.channel.open_reply(question()), [], answer)
        msgs = h.fake.thread("C1", THREAD)
        assert "".join(m.body for m in msgs) == answer
        assert [len(m.body) for m in msgs] == [6_000, 1_000]


async def test_rate_limits_raise_with_retry_after_and_nothing_is_duplicated() -> None:
    async with running_slack() as h:
        reply = h.channel.open_reply(question())
        await reply.start()
        await reply.update("one")
        h.fake.fail("chat.appendStream", retry_after=5)
        with pytest.raises(RateLimited) as info:
            await reply.update("one two")
        assert info.value.retry_after == 5
        assert info.value.global_ is True
        await reply.update("one two three")
        h.fake.fail("chat.stopStream", retry_after=2)
        limits: list[RateLimited] = []
        ids = await retrying(lambda: reply.finish("one two three four", feedback=True), limits)
        assert [x.retry_after for x in limits] == [2]
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == "one two three four"


async def test_post_message_rate_limit_is_per_channel() -> None:
    async with running_slack(native_streaming=False) as h:
        h.fake.fail("chat.postMessage", retry_after=1)
        reply = h.channel.open_reply(question())
        with pytest.raises(RateLimited) as info:
            await reply.update("hello")
        assert info.value.global_ is False
        assert h.fake.thread("C1", THREAD) == []


async def test_the_tier3_update_limit_surfaces_as_a_global_rate_limit() -> None:
    async with running_slack(native_streaming=False) as h:
        h.fake.update_limit = 2
        reply = h.channel.open_reply(question())
        await reply.update("a")
        await reply.update("a b")
        await reply.update("a b c")
        with pytest.raises(RateLimited) as info:
            await reply.update("a b c d")
        assert info.value.retry_after == h.fake.update_retry_after
        assert info.value.global_ is True
        h.fake.update_limit = 100  # the minute has passed
        ids = await reply.finish("a b c d e", feedback=True)
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == "a b c d e"


async def test_a_retried_finish_resumes_where_it_stopped() -> None:
    async with running_slack() as h:
        answer = ("word " * 2_000 + "\n\n") * 3  # 30k: three messages
        reply = h.channel.open_reply(question())
        h.fake.fail("chat.postMessage", retry_after=1, times=1)
        h.fake.stream_refusal = "not_allowed"
        limits: list[RateLimited] = []
        await reply.start()
        ids = await retrying(lambda: reply.finish(answer, feedback=True), limits)
        assert len(limits) == 1
        msgs = h.fake.thread("C1", THREAD)
        assert ids == [m.ts for m in msgs]
        assert "".join(m.body for m in msgs) == answer
        assert len(h.fake.calls_to("chat.postMessage")) == 4  # 3 + the refused one


async def test_server_errors_are_retried_a_few_times_then_reported() -> None:
    async with running_slack(native_streaming=False) as h:
        reply = h.channel.open_reply(question())
        h.fake.fail("chat.postMessage", error="internal_error", status=500, times=2)
        limits: list[RateLimited] = []
        ids = await retrying(lambda: reply.finish("done"), limits)
        assert [x.retry_after for x in limits] == [2.0, 4.0]
        assert [m.body for m in h.fake.thread("C1", THREAD)] == ["done"]
        assert len(ids) == 1
        broken = h.channel.open_reply(question(thread="1700000000.000300"))
        h.fake.fail("chat.postMessage", error="internal_error", status=503, times=10)
        with pytest.raises(ChannelError) as info:
            await retrying(lambda: broken.finish("never"), [])
        assert not isinstance(info.value, RateLimited)


@pytest.mark.parametrize("code", ["channel_not_found", "is_archived", "not_in_channel"])
async def test_a_gone_channel_raises_reply_gone(code: str) -> None:
    async with running_slack() as h:
        h.fake.gone["C1"] = code
        reply = h.channel.open_reply(question())
        await reply.start()
        await reply.update("quietly ignored")
        with pytest.raises(ReplyGone):
            await reply.finish("final")


async def test_notice_only_and_text_with_notice() -> None:
    async with running_slack() as h:
        ids = await h.channel.open_reply(question()).finish("", notice="🆕 Started a new one.")
        [notice] = h.fake.thread("C1", THREAD)
        assert ids == []
        assert notice.body == "🆕 Started a new one."
        other = question(thread="1700000000.000400")
        ids = await h.channel.open_reply(other).finish(
            "Partial <answer> & more", notice="(incomplete)", feedback=False
        )
        [answer] = h.fake.thread("C1", other.reply_thread)
        assert ids == [answer.ts]
        assert answer.body == "Partial <answer> & more"
        assert answer.notices == ["(incomplete)"]
        assert answer.feedback is None


async def test_notice_reply_posts_without_an_inbound_message() -> None:
    async with running_slack() as h:
        reply = h.channel.notice_reply("slack", "C3", "", "vi")
        await reply.start()
        assert await reply.finish("", notice="restarting") == []
        [posted] = h.fake.thread("C3", "")
        assert posted.body == "restarting"
        assert h.fake.statuses == []
        threaded = h.channel.notice_reply("slack", "C3", THREAD, "en")
        await threaded.finish("", notice="again")
        assert [m.body for m in h.fake.thread("C3", THREAD)] == ["again"]


async def test_top_level_dm_answers_use_post_and_update() -> None:
    async with running_slack(dm_reply_in_thread=False) as h:
        await h.send(h.events.dm("hello"))
        msg = h.intake.messages[0]
        assert msg.reply_thread == ""
        ids, _ = await drive(h.channel.open_reply(msg), ["Hi", "Hi there"], "Hi there!")
        [answer] = h.fake.thread("D1", "")
        assert ids == [answer.ts]
        assert answer.body == "Hi there!"
        assert h.fake.calls_to("chat.startStream") == []
        assert h.fake.calls_to("assistant.threads.setStatus") == []


async def test_dm_threads_stream_natively() -> None:
    async with running_slack() as h:
        await h.send(h.events.dm("hello"))
        msg = h.intake.messages[0]
        await drive(h.channel.open_reply(msg), ["Hi"], "Hi there!")
        [start] = h.fake.calls_to("chat.startStream")
        assert start["channel"] == "D1"
        assert start["thread_ts"] == msg.reply_thread
        assert h.fake.thread_text("D1", msg.reply_thread) == "Hi there!"


async def test_assistant_files_are_uploaded_into_the_thread_once() -> None:
    async with running_slack() as h:
        reply = h.channel.open_reply(question())
        chart = OutboundFile(name="chart.png", mime_type="image/png", data=b"PNG!", kind="image")
        report = OutboundFile(
            name="r.pdf", mime_type="application/pdf", data=b"%PDF", kind="document"
        )
        h.fake.fail("files.completeUploadExternal", retry_after=1)  # the first file's completion
        limits: list[RateLimited] = []
        ids = await retrying(lambda: reply.finish("Here you go", files=[chart, report]), limits)
        assert len(limits) == 1
        msgs = h.fake.thread("C1", THREAD)
        assert [m.body for m in msgs] == ["Here you go", "", ""]
        assert ids == [msgs[0].ts]
        shared = [h.fake.uploads[f] for m in msgs[1:] for f in m.files]
        assert [(u.filename, u.data) for u in shared] == [
            ("chart.png", b"PNG!"),
            ("r.pdf", b"%PDF"),
        ]


async def test_update_ignores_blank_text_and_unchanged_text() -> None:
    async with running_slack(native_streaming=False) as h:
        reply = h.channel.open_reply(question())
        await reply.update("   ")
        assert h.fake.thread("C1", THREAD) == []
        await reply.update("same")
        await reply.update("same")
        assert h.fake.calls_to("chat.update") == []
        await reply.finish("same")
        assert h.fake.calls_to("chat.update") == []
        assert [m.body for m in h.fake.thread("C1", THREAD)] == ["same"]


async def test_a_lost_append_response_never_duplicates_text() -> None:
    async with running_slack() as h:
        reply = h.channel.open_reply(question())
        await reply.update("alpha")
        h.fake.fail("chat.appendStream", error="internal_error", status=500, applied=True)
        await reply.update("alpha beta")  # Slack applied it, but the answer was lost
        await reply.update("alpha beta gamma")
        ids = await retrying(lambda: reply.finish("alpha beta gamma delta", feedback=True), [])
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == "alpha beta gamma delta"
        assert answer.feedback is not None


async def test_refused_blocks_fall_back_to_plain_markdown() -> None:
    async with running_slack(native_streaming=False) as h:
        h.fake.fail("chat.postMessage", error="invalid_blocks")
        ids = await h.channel.open_reply(question()).finish("**ok**", notice="note", feedback=True)
        [answer] = h.fake.thread("C1", THREAD)
        assert ids == [answer.ts]
        assert answer.body == "**ok**\n\nnote"
        posts = h.fake.calls_to("chat.postMessage")
        assert "blocks" in posts[0]
        assert "blocks" not in posts[1]


async def test_the_notification_text_is_mrkdwn() -> None:
    async with running_slack(native_streaming=False) as h:
        await h.channel.open_reply(question()).finish("**bold** and [link](https://x.io)")
        [post] = h.fake.calls_to("chat.postMessage")
        assert post["text"] == "*bold* and <https://x.io|link>"
        assert post["blocks"][0] == {
            "type": "markdown",
            "text": "**bold** and [link](https://x.io)",
        }
