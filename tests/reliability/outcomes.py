"""What a chat or thread finally shows for one message: answers, notices, partial replies."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.i18n import t
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram


@dataclass(frozen=True)
class Outcome:
    """Counts over the bot messages of one chat/thread for one expected answer."""

    answers: int  # messages showing the complete answer
    interrupted: int  # "interrupted, please resend" notices (recovery after a crash)
    restarting: int  # "restarting, please resend" notices (cut at shutdown)
    other: int  # anything else (partial text without a notice, error notices, ...)

    @property
    def final(self) -> int:
        """Complete answers plus explicit notices: exactly one per accepted message."""
        return self.answers + self.interrupted + self.restarting


def classify(texts: list[str], answer: str, language: str = "en") -> Outcome:
    answers = interrupted = restarting = other = 0
    for text in texts:
        if t(language, "interrupted") in text:
            interrupted += 1
        elif t(language, "restarting") in text:
            restarting += 1
        elif text.strip() == answer:
            answers += 1
        else:
            other += 1
    return Outcome(answers, interrupted, restarting, other)


def telegram_texts(tg: FakeTelegram, chat_id: int, thread: int | None = None) -> list[str]:
    """Texts of the bot's visible messages in a chat (or one forum topic of it)."""
    if chat_id not in tg.chats:
        return []
    return [
        m.text
        for m in tg.chat(chat_id).bot_messages()
        if m.kind == "text" and (thread is None or m.thread_id == thread)
    ]


def slack_texts(slack: FakeSlack, channel: str, thread_ts: str = "") -> list[str]:
    """What each bot message in a Slack thread shows (body, plain text and context notices)."""
    out = []
    for m in slack.thread(channel, thread_ts):
        parts = [m.body or m.text, *m.notices]
        out.append("\n".join(p for p in parts if p))
    return out


def default_answer(query: str) -> str:
    """FakeClickAI's default answer to ``query``."""
    return f"You said: {query}"
