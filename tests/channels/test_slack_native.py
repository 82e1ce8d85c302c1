"""Slack's AI surfaces end to end: agent sessions and their stop button, titles, suggestions."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bridge.i18n import t
from tests.channels.test_slack_e2e import fakes, running_bridge, scope
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack, json_body, signed_headers
from tests.fakes.telegram import eventually

__all__ = ["fakes"]  # the shared fixture
QUESTIONS = ["What about Lyon?", "And Nice?"]


async def test_a_turn_runs_as_an_agent_session_with_a_title_and_a_translated_status(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    slack.add_user("U7", locale="vi-VN")
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("thủ đô của Pháp?", user="U7")
        await b.send(mention)
        where = ("C1", mention["ts"])
        log = [s for c, th, s in slack.session_log if (c, th) == where]
        assert log == ["processing", "active"]
        assert (*where, t("vi", "slack_status")) in slack.statuses
        user = scope("C1", mention["ts"])
        [conversation] = clickai.conversations(user)
        [rename] = clickai.calls(f"conversations/{conversation['id']}/name")
        assert rename.json["auto_generate"] is True and rename.json["user"] == user
        assert slack.titles[where] == conversation["name"] == "thủ đô của Pháp?"

        await b.send(b.events.message("và nước Ý?", user="U7", thread_ts=mention["ts"]))
        assert len(clickai.calls("/name")) == 1  # only a new conversation is named
        assert [s for c, th, s in slack.session_log if (c, th) == where][-1] == "active"


async def test_the_native_stop_button_stops_clickai_and_closes_with_the_partial_answer(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    answer = " ".join(f"word{i}" for i in range(60))
    clickai.script(Reply(answer=answer, deltas=60, delta_delay=0.1))
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("count slowly")
        body = json_body(b.events.envelope(mention))
        async with b.session.post(b.url, data=body, headers=signed_headers(body)) as resp:
            assert resp.status == 200
        await eventually(lambda: "word5" in slack.thread_text("C1", mention["ts"]))
        await b.send(slack.press_stop("C1", mention["ts"]))

        user = scope("C1", mention["ts"])
        [(task_id, stop_user)] = clickai.stops
        assert task_id and stop_user == user
        [saved] = clickai.messages(user)
        partial = saved["answer"]
        assert partial and partial != answer
        [msg] = slack.thread("C1", mention["ts"])
        assert msg.body.strip() == partial.strip()
        assert msg.notices == [t("en", "stopped")] and msg.feedback is not None
        assert slack.sessions[("C1", mention["ts"])] == "active"


async def test_a_stop_press_after_the_answer_only_closes_the_session(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("hi")
        await b.send(mention)
        slack.sessions[("C1", mention["ts"])] = "processing"  # a stale button on some client
        await b.send(slack.press_stop("C1", mention["ts"]))
        assert clickai.stops == []
        assert slack.sessions[("C1", mention["ts"])] == "active"


async def test_an_app_that_is_not_an_agent_falls_back_and_logs_once(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slack, clickai = fakes
    slack.agent_refusal = "not_allowed"
    caplog.set_level(logging.WARNING, logger="channels.slack")
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        first, second = b.events.mention("one"), b.events.mention("two")
        await b.send(first)
        await b.send(second)
        for mention in (first, second):
            [msg] = slack.thread("C1", mention["ts"])
            assert msg.body == f"You said: {mention['text'].split('> ', 1)[1]}"
        assert len(slack.calls_to("agents.sessions.setStatus")) == 1
        assert slack.titles[("C1", first["ts"])] == "one"  # assistant.threads.setTitle
        assert slack.calls_to("assistant.threads.setTitle")
    refusals = [r for r in caplog.records if "agent sessions refused" in r.getMessage()]
    assert len(refusals) == 1


async def test_sessions_and_titles_can_be_switched_off(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    env = {"BRIDGE_SLACK__AGENT_SESSIONS": "false", "BRIDGE_SLACK__THREAD_TITLES": "false"}
    async with running_bridge(slack, clickai, tmp_path / "b.db", **env) as b:
        await b.send(b.events.mention("quiet please"))
    assert slack.calls_to("agents.sessions.setStatus") == []
    assert clickai.calls("/name") == [] and slack.titles == {}


async def test_suggested_questions_are_buttons_and_a_double_click_asks_once(
    tmp_path: Path,
) -> None:
    slack = FakeSlack()
    await slack.start()
    try:
        async with (
            FakeClickAI(suggested_after_answer=QUESTIONS) as clickai,
            running_bridge(slack, clickai, tmp_path / "b.db") as b,
        ):
            mention = b.events.mention("tell me about Paris")
            await b.send(mention)
            [answer] = slack.thread("C1", mention["ts"])
            [actions] = answer.of_type("actions")
            assert [e["value"] for e in actions["elements"]] == QUESTIONS
            click = b.events.button_click("clickai_suggest_0", QUESTIONS[0], message=answer)
            await asyncio.gather(b.click(click), b.click(click))

            user = scope("C1", mention["ts"])
            _, asked = clickai.calls("chat-messages")
            assert asked.json["query"] == QUESTIONS[0] and asked.json["user"] == user
            assert asked.json["conversation_id"] == clickai.conversations(user)[0]["id"]
            first, second = slack.thread("C1", mention["ts"])
            assert second.body == f"You said: {QUESTIONS[0]}"
            assert first.of_type("actions") == [] and f"✓ {QUESTIONS[0]}" in first.notices
    finally:
        await slack.close()


async def test_a_new_assistant_thread_shows_the_opening_and_suggested_prompts(
    tmp_path: Path,
) -> None:
    slack = FakeSlack()
    await slack.start()
    opening = ["What are your opening hours?", "Prices?"]
    try:
        async with (
            FakeClickAI(opening_statement="Hi, I am ACME.", suggested_questions=opening) as ai,
            running_bridge(slack, ai, tmp_path / "b.db") as b,
        ):
            started = b.events.thread_started(channel="D9", user="U1")
            await b.send(started)
            thread = started["assistant_thread"]["thread_ts"]
            [hello] = slack.thread("D9", thread)
            assert hello.body == "Hi, I am ACME."
            shown = slack.prompts[("D9", thread)]
            assert [p["message"] for p in shown["prompts"]] == opening
            assert shown["title"] == t("en", "suggestions_title")
    finally:
        await slack.close()


async def test_the_messages_tab_offers_the_starter_questions_once(tmp_path: Path) -> None:
    slack = FakeSlack()
    await slack.start()
    try:
        async with (
            FakeClickAI(suggested_questions=["Prices?"]) as ai,
            running_bridge(slack, ai, tmp_path / "b.db") as b,
        ):
            await b.send(b.events.home_opened(channel="D9", tab="home"))
            assert slack.prompts == {}
            await b.send(b.events.home_opened(channel="D9"))
            await b.send(b.events.home_opened(channel="D9"))
            assert [p["message"] for p in slack.prompts[("D9", "")]["prompts"]] == ["Prices?"]
            assert len(slack.calls_to("assistant.threads.setSuggestedPrompts")) == 1
            assert slack.thread("D9") == []  # no opening statement posted into the tab
    finally:
        await slack.close()


async def test_a_rate_limited_session_close_is_retried(
    fakes: tuple[FakeSlack, FakeClickAI], tmp_path: Path
) -> None:
    slack, clickai = fakes
    clickai.script(Reply(answer="slow " * 10, deltas=10, delta_delay=0.05))
    async with running_bridge(slack, clickai, tmp_path / "b.db") as b:
        mention = b.events.mention("hi")
        body = json_body(b.events.envelope(mention))
        async with b.session.post(b.url, data=body, headers=signed_headers(body)) as resp:
            assert resp.status == 200
        where = ("C1", mention["ts"])
        await eventually(lambda: slack.sessions.get(where) == "processing")
        slack.fail("agents.sessions.setStatus", retry_after=0.1)  # the "active" call
        await b.settle()
        assert slack.sessions[where] == "active"
        assert len(slack.calls_to("agents.sessions.setStatus")) == 3
