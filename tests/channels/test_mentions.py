"""Model output cannot ping anyone: Telegram mentions and Slack special mentions are broken."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channels.test_slack_e2e import running_bridge as slack_bridge
from tests.channels.test_telegram_e2e import ANN
from tests.channels.test_telegram_e2e import running_bridge as telegram_bridge
from tests.fakes.clickai import FakeClickAI, Reply
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

# What Telegram turns into a mention: "@username" (5-32 characters, starting with a letter,
# not inside a word) in the text, and any tg://user link.
TG_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{4,31}\b")
TG_ANSWER = (
    "Ping @alice_bob and [the boss](tg://user?id=777), or <tg://user?id=9>. "
    "Write to team@example.org."
)
SLACK_SPECIAL = ("<!channel>", "<!here>", "<!everyone>", "<@U123ABC>", "<!subteam^S0PEOPLE>")
SLACK_ANSWER = "Heads up " + " and ".join(SLACK_SPECIAL) + ": the build is green."


@pytest.fixture
async def clickai() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(deltas=6) as fake:
        yield fake


async def test_telegram_answers_carry_no_mention_and_no_tg_link(
    tg: FakeTelegram, clickai: FakeClickAI, tmp_path: Path
) -> None:
    clickai.script(Reply(answer=TG_ANSWER, deltas=6))
    async with telegram_bridge(tg, clickai, tmp_path / "b.db") as b:
        await b.send(tg.text(ANN.id, ANN, "who should I ping?"))
        [msg] = tg.chat(ANN.id).bot_messages()
    for shown in (msg.raw, *msg.edits):
        assert "tg://" not in shown
        assert not TG_MENTION.search(shown), shown
    assert "the boss" in msg.text and "alice_bob" in msg.text
    assert "team@example.org" in msg.text  # e-mail addresses stay as they are


def _everything_sent(slack: FakeSlack) -> list[str]:
    keys = ("text", "markdown_text", "blocks")
    return [str(call.args.get(k)) for call in slack.calls for k in keys if call.args.get(k)]


@pytest.mark.parametrize("mode", ["native-stream", "markdown-blocks", "markdown-text-fallback"])
async def test_slack_answers_never_carry_a_special_mention(
    slack: FakeSlack, clickai: FakeClickAI, tmp_path: Path, mode: str
) -> None:
    env = {} if mode == "native-stream" else {"BRIDGE_SLACK__NATIVE_STREAMING": "false"}
    clickai.script(Reply(answer=SLACK_ANSWER, deltas=7))
    async with slack_bridge(slack, clickai, tmp_path / "b.db", **env) as b:
        if mode == "markdown-text-fallback":
            slack.fail("chat.postMessage", error="invalid_blocks")
        mention = b.events.mention("status?", user="U1")
        assert await b.send(mention) == 200
        [answer] = slack.thread("C1", mention["ts"])
    assert bool(slack.calls_to("chat.startStream")) == (mode == "native-stream")
    if mode == "markdown-text-fallback":
        assert any(c.get("markdown_text") for c in slack.calls_to("chat.postMessage"))
    for sent in [answer.body, answer.text, *_everything_sent(slack)]:
        assert "<!" not in sent and "<@" not in sent, sent
    assert "the build is green" in answer.body
    assert "channel" in answer.body and "U123ABC" in answer.body
