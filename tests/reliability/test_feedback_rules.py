"""Feedback that agrees with itself (issue 9 item 8).

A 👍 reaction shows on the buttons and the next press toggles from it; in a group only the
person who asked rates the answer (others are told so, in their language), and ``/stop``
stops only the caller's own answer unless they are a chat admin.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.i18n import t
from tests.channels import test_slack_e2e as slack_e2e
from tests.channels import test_telegram_e2e as tg_e2e
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, TgUser
from tests.reliability.harness import eventually

ANN = TgUser(id=111, first_name="Ann", language_code="en")
BINH = TgUser(id=222, first_name="Bình", language_code="vi")
CAROL = TgUser(id=333, first_name="Carol", language_code="en")
GROUP = -1009100
ASK = "@ClickAITestBot "


async def test_a_reaction_shows_on_the_buttons_and_the_next_press_toggles_from_it(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with tg_e2e.running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(ANN.id, ANN, "rate me"))
        [answer] = tg.chat(ANN.id).bot_messages()
        assert answer.buttons() == ["👍", "👎"]
        await b.send(tg.reaction(ANN.id, ANN, answer.message_id, new=["👍"]))
        await eventually(lambda: answer.buttons() == ["👍 ✓", "👎"], 10)
        [message] = clickai.messages(f"telegram:{ANN.id}")
        assert message["feedback"]["rating"] == "like"
        await b.send(tg.callback(ANN.id, ANN, answer.message_id, "fb:like"))  # toggles it off
        assert clickai.messages(f"telegram:{ANN.id}")[0]["feedback"] is None
        assert tg.callback_answers[-1]["text"] == t("en", "feedback_cleared")
        await eventually(lambda: answer.buttons() == ["👍", "👎"], 10)


async def test_in_a_group_only_the_person_who_asked_rates_the_answer(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    async with tg_e2e.running_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(GROUP, ANN, ASK + "a question"))
        [answer] = tg.chat(GROUP).bot_messages()
        await b.send(tg.callback(GROUP, BINH, answer.message_id, "fb:dislike"))
        assert tg.callback_answers[-1]["text"] == t("vi", "feedback_not_yours")
        await b.send(tg.reaction(GROUP, BINH, answer.message_id, new=["👎"]))
        assert clickai.calls("feedbacks") == []
        assert answer.buttons() == ["👍", "👎"]
        await b.send(tg.callback(GROUP, ANN, answer.message_id, "fb:like"))
        assert tg.callback_answers[-1]["text"] == t("en", "feedback_like")
        [feedback] = clickai.calls("feedbacks")
        assert feedback.json["rating"] == "like"
        await eventually(lambda: answer.buttons() == ["👍 ✓", "👎"], 10)


async def test_stop_in_a_group_stops_only_your_own_answer_unless_you_are_an_admin(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    tg.admins[GROUP] = {CAROL.id}
    clickai.script(
        Reply(answer="slow " * 40, deltas=40, delta_delay=0.15),
        Reply(answer="again " * 40, deltas=40, delta_delay=0.15),
    )
    async with tg_e2e.running_bridge(tg, clickai, tmp_path / "b.db") as b:
        assert b.app.relay is not None
        tg.push(tg.text(GROUP, ANN, ASK + "first"))
        await eventually(lambda: bool(tg.chat(GROUP).bot_messages()), 10, "Ann's answer streams")
        await b.send(tg.text(GROUP, BINH, "/stop"))  # not Bình's answer: refused
        first, refusal = tg.chat(GROUP).bot_messages()
        assert refusal.text == t("vi", "stop_not_yours")
        assert first.text == ("slow " * 40).strip()  # ran to the end
        assert clickai.calls("/stop") == []  # ClickAI was never asked to stop
        tg.push(tg.text(GROUP, ANN, ASK + "second"))
        await eventually(lambda: len(tg.chat(GROUP).bot_messages()) == 3, 10, "the 2nd answer")
        await asyncio.sleep(0.3)
        await b.send(tg.text(GROUP, CAROL, "/stop"))  # a chat admin may stop it
        second = tg.chat(GROUP).bot_messages()[2]
        assert t("en", "stopped") in second.text
        assert len(clickai.calls("/stop")) == 1


async def test_slack_feedback_from_someone_else_in_the_thread_is_refused_privately(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    slack.add_user("U2", locale="vi-VN")
    async with slack_e2e.running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("a question", user="U1")
        await b.send(mention)
        [answer] = slack.thread("C1", mention["ts"])
        click = b.events.feedback_click("like", message_ts=answer.ts, user="U2")
        assert await b.click(click) == 200
        assert slack.ephemerals[-1]["text"] == t("vi", "feedback_not_yours")
        assert clickai.calls("feedbacks") == []
        assert await b.click(b.events.feedback_click("like", message_ts=answer.ts, user="U1"))
        assert clickai.calls("feedbacks")[0].json["rating"] == "like"


async def test_slack_stop_in_a_thread_stops_only_your_own_answer_unless_workspace_admin(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path
) -> None:
    slack.add_user("U2", locale="vi-VN")
    slack.add_user("U9", admin=True)
    clickai.script(
        Reply(answer="slow " * 40, deltas=40, delta_delay=0.15),
        Reply(answer="again " * 40, deltas=40, delta_delay=0.15),
    )
    async with slack_e2e.running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("first", user="U1")
        await b.send_only(mention)
        thread = mention["ts"]
        await eventually(lambda: bool(slack.thread("C1", thread)), 10, "U1's answer streams")
        await b.send(b.events.message("stop", user="U2", thread_ts=thread))
        first, refusal = slack.thread("C1", thread)
        assert t("vi", "stop_not_yours") in " ".join([refusal.body, *refusal.notices])
        assert first.body.strip() == ("slow " * 40).strip()  # ran to the end
        assert clickai.calls("/stop") == []
        await b.send_only(b.events.message("second", user="U1", thread_ts=thread))
        await eventually(lambda: len(slack.thread("C1", thread)) == 3, 10, "the 2nd answer")
        await asyncio.sleep(0.3)
        await b.send(b.events.message("stop", user="U9", thread_ts=thread))
        second = slack.thread("C1", thread)[2]
        assert t("en", "stopped") in " ".join([second.body, *second.notices])
        assert len(clickai.calls("/stop")) == 1
