"""Harness for Telegram channel tests: a recording Intake, config and update feeding."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tests.fakes.telegram.server import FakeTelegram


class RecordingIntake:
    """A hand-written ``bridge.model.Intake`` that records what the channel hands over.

    ``known`` holds the (chat_id, message_id) pairs that count as bot replies for feedback;
    ``feedback_ok=False`` makes every rating fail like a ClickAI outage.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.feedbacks: list[tuple[Any, Any, bool]] = []
        self.migrations: list[tuple[str, str, str]] = []
        self.statement = ""
        self.questions: tuple[str, ...] = ()
        self.stops: list[Any] = []
        self.running: set[str] = set()
        """Scopes whose turn counts as running for ``stop_turn``."""
        self.refusals: list[tuple[str, str]] = []
        self.known: set[tuple[str, str]] = set()
        self.ratings: dict[tuple[str, str], Any] = {}
        self.feedback_ok = True
        self._seen: set[str] = set()
        self._changed = asyncio.Event()

    async def submit(self, msg: Any) -> Any:
        from bridge.model import IntakeResult

        if msg.event_id in self._seen:
            return IntakeResult.DUPLICATE
        self._seen.add(msg.event_id)
        self.messages.append(msg)
        self._changed.set()
        return IntakeResult.CLAIMED

    async def feedback(self, ref: Any, rating: Any, *, toggle: bool, by: str = "") -> Any:
        from bridge.model import FeedbackOutcome

        self.feedbacks.append((ref, rating, toggle))
        self._changed.set()
        key = (ref.chat_id, ref.message_id)
        if key not in self.known:
            return FeedbackOutcome(found=False)
        if not self.feedback_ok:
            return FeedbackOutcome(found=True, rating=self.ratings.get(key), ok=False)
        new = None if toggle and self.ratings.get(key) == rating else rating
        self.ratings[key] = new
        return FeedbackOutcome(found=True, rating=new)

    async def has_conversation(self, key: Any) -> bool:
        return False

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        self.migrations.append((channel, old_chat_id, new_chat_id))
        self._changed.set()

    async def opening(self) -> Any:
        from bridge.model import Opening

        return Opening(statement=self.statement, questions=self.questions)

    async def stop_turn(self, key: Any) -> bool:
        self.stops.append(key)
        self._changed.set()
        return key.scope in self.running

    def refused(self, channel: str, reason: str) -> None:
        self.refusals.append((channel, reason))

    async def wait_for(self, check: Any, within_s: float = 5.0) -> None:
        """Wait until ``check()`` is true (re-checked whenever something is recorded)."""
        async with asyncio.timeout(within_s):
            while not check():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=0.05)


async def eventually(check: Any, within_s: float = 5.0) -> None:
    """Poll ``check()`` until it is true (for effects the intake does not see)."""
    for _ in range(int(within_s / 0.02) + 1):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within_s}s")


def telegram_config(fake: FakeTelegram, **overrides: Any) -> Any:
    """A valid ``TelegramConfig`` pointing at ``fake`` with the fastest allowed pacing."""
    from pydantic import SecretStr

    from bridge.config import TelegramConfig

    values: dict[str, Any] = {
        "enabled": True,
        "token": SecretStr(fake.token),
        "api_base_url": fake.url,
        "edit_interval_s": 0.2,
        "group_edit_interval_s": 0.5,
    }
    if overrides.get("mode") == "webhook":
        values["webhook_url"] = "https://bot.example.com/telegram/webhook"
        values["webhook_secret"] = SecretStr("s3cret-Token_1")
    values.update(overrides)
    return TelegramConfig(**values)


async def feed(channel: Any, fake: FakeTelegram, update: dict[str, Any]) -> None:
    """Run ``update`` through the channel's real PTB Application and wait for its side tasks.

    Uses ``Application.process_update`` (as PTB's own tests do), so the handler has finished
    when this returns; background answers (refusals, /help) are awaited too.
    """
    from telegram import Update

    update.setdefault("update_id", fake.next_update_id())
    app = channel._application
    await app.process_update(Update.de_json(update, app.bot))
    await channel._tasks.wait(10.0)
