"""CI-sized load (promise 6): 60 conversations × 3 messages per channel through the real adapters.

The full-scale run is ``python -m tests.reliability.load --conversations 1000 --messages 5``.
Figures are printed; only correctness is asserted (never durations).
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from tests.reliability.load import run

CONVERSATIONS, MESSAGES = 60, 3


@pytest.mark.parametrize("channel", ["telegram", "slack"])
async def test_every_message_is_answered_exactly_once_without_429s(channel: str) -> None:
    figures = await run(channel, CONVERSATIONS, MESSAGES, time_limit_s=100)
    print(asdict(figures))
    total = CONVERSATIONS * MESSAGES
    assert figures.completed
    assert (figures.answers, figures.duplicates, figures.losses) == (total, 0, 0)
    assert figures.rate_limited_429 == 0
    assert figures.conversation_rows == CONVERSATIONS
    assert figures.reply_rows == figures.answers
    assert figures.pending_events == 0
    assert figures.clickai_conversations == CONVERSATIONS
    assert figures.scopes_with_one_clickai_conversation == CONVERSATIONS
