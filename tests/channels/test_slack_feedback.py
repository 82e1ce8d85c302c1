"""👍/👎 on Slack answers: feedback_buttons clicks and reactions reach the core's feedback port."""

from __future__ import annotations

import pytest

from bridge.model import ReplyRef
from channels.slack.feedback import reaction_rating
from tests.fakes.slack import Harness, running_slack

ANSWER_TS = "1800000001.000001"


def ref(ts: str = ANSWER_TS, channel: str = "C1") -> ReplyRef:
    return ReplyRef(channel="slack", chat_id=channel, message_id=ts)


async def answered(h: Harness) -> str:
    """A real answer with feedback buttons in a thread; returns its ts (known to the core)."""
    await h.send(h.events.mention("q"))
    msg = h.intake.messages[-1]
    [ts] = await h.channel.open_reply(msg).finish("An answer.", feedback=True)
    h.intake.known_replies.add(("C1", ts))
    return ts


@pytest.mark.parametrize(("value", "rating"), [("like", "like"), ("dislike", "dislike")])
async def test_button_click_rates_the_answer_and_confirms_privately(
    value: str, rating: str
) -> None:
    async with running_slack() as h:
        ts = await answered(h)
        [answer] = h.fake.thread("C1", h.intake.messages[-1].reply_thread)
        assert answer.feedback is not None
        click = h.events.feedback_click(value, message_ts=ts, user="U3", thread_ts="1.1")
        assert await h.click(click) == 200
        assert h.intake.feedback_calls == [(ref(ts), rating, False)]
        [note] = h.fake.ephemerals
        assert (note["channel"], note["user"], note["thread_ts"]) == ("C1", "U3", "1.1")
        assert (
            note["text"]
            == {
                "like": "👍 Thanks for your feedback!",
                "dislike": ("👎 Thanks, we will try to do better."),
            }[rating]
        )


async def test_click_confirmation_is_translated() -> None:
    async with running_slack() as h:
        ts = await answered(h)
        h.fake.add_user("U_VI", locale="vi-VN")
        await h.click(h.events.feedback_click("like", message_ts=ts, user="U_VI"))
        assert h.fake.ephemerals[0]["text"] == "👍 Cảm ơn bạn đã đánh giá!"


async def test_click_on_an_unknown_or_failing_answer_says_so() -> None:
    async with running_slack() as h:
        await h.click(h.events.feedback_click("like", message_ts="999.1"))
        assert h.fake.ephemerals[-1]["text"] == "This answer can no longer be rated."
        ts = await answered(h)
        h.intake.feedback_ok = False
        await h.click(h.events.feedback_click("dislike", message_ts=ts))
        assert h.fake.ephemerals[-1]["text"] == "Could not save your feedback. Please try again."


async def test_click_with_an_unexpected_value_is_acked_and_ignored() -> None:
    async with running_slack() as h:
        assert await h.click(h.events.feedback_click("meh", message_ts="1.1")) == 200
        assert h.intake.feedback_calls == []


async def test_click_by_a_user_outside_the_access_list_is_ignored() -> None:
    async with running_slack(allowed_user_ids=["U_OK"]) as h:
        await h.click(h.events.feedback_click("like", message_ts="1.1", user="U_BAD"))
        assert h.intake.feedback_calls == []


@pytest.mark.parametrize(
    ("reaction", "rating"),
    [
        ("+1", "like"),
        ("thumbsup", "like"),
        ("+1::skin-tone-2", "like"),
        ("thumbsup::skin-tone-6", "like"),
        ("-1", "dislike"),
        ("thumbsdown", "dislike"),
        ("-1::skin-tone-4", "dislike"),
    ],
)
async def test_thumb_reactions_rate_the_answer(reaction: str, rating: str) -> None:
    async with running_slack() as h:
        assert await h.send(h.events.reaction(reaction, ts=ANSWER_TS)) == 200
        assert h.intake.feedback_calls == [(ref(), rating, False)]


async def test_removing_a_thumb_clears_the_rating() -> None:
    async with running_slack() as h:
        await h.send(h.events.reaction("-1::skin-tone-3", ts=ANSWER_TS, added=False))
        assert h.intake.feedback_calls == [(ref(), None, False)]


async def test_other_reactions_and_other_items_are_ignored() -> None:
    async with running_slack() as h:
        await h.send(h.events.reaction("heart", ts=ANSWER_TS))
        await h.send(h.events.reaction("+1", ts=ANSWER_TS, item_user="U_SOMEONE"))
        file_reaction = h.events.reaction("+1", ts=ANSWER_TS)
        file_reaction["item"] = {"type": "file", "file": "F1"}
        await h.send(file_reaction)
        assert h.intake.feedback_calls == []


async def test_reactions_from_users_outside_the_access_list_are_ignored() -> None:
    async with running_slack(allowed_channel_ids=["C_ONLY"]) as h:
        await h.send(h.events.reaction("+1", ts=ANSWER_TS))
        assert h.intake.feedback_calls == []


async def test_feedback_uses_only_the_message_identity_so_it_works_after_restart() -> None:
    async with running_slack() as first:
        ts = await answered(first)
    async with running_slack() as second:  # a new process: no in-memory state
        second.intake.known_replies.add(("C1", ts))
        await second.send(second.events.reaction("+1", ts=ts))
        await second.click(second.events.feedback_click("dislike", message_ts=ts))
        assert [c[:2] for c in second.intake.feedback_calls] == [
            (ref(ts), "like"),
            (ref(ts), "dislike"),
        ]


def test_reaction_names() -> None:
    assert reaction_rating("+1::skin-tone-5") == "like"
    assert reaction_rating("thumbsdown::skin-tone-2") == "dislike"
    assert reaction_rating("thumbsup_all") is None
    assert reaction_rating("skin-tone-2") is None
