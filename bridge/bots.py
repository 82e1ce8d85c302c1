"""More than one bot per platform: a channel instance renamed to ``<platform>.<bot name>``.

The platform adapters name their rows after the platform (``telegram``). A :class:`NamedBot`
wraps a second (third, …) adapter so that everything it hands the core carries the bot's own
name instead: conversation scopes (``telegram.sales:42``), delivery ids (no two bots' update
ids collide), reply references, chat migrations and its webhook path
(``/telegram/sales/webhook``). The relay then keys channels, pacers and backends by that name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from bridge.model import (
    Attachment,
    Channel,
    FeedbackOutcome,
    InboundMessage,
    Intake,
    IntakeResult,
    Opening,
    PaceBudget,
    Rating,
    ReplyRef,
    ReplyStream,
    ThreadKey,
)
from bridge.server import HttpRoute


def bot_channel_name(platform: str, bot: str) -> str:
    """The channel name of a named bot: ``telegram.sales`` (never contains ``:``)."""
    return f"{platform}.{bot}"


class _RenamingIntake:
    """The intake as a named bot's adapter sees it: names are swapped on the way in."""

    def __init__(self, intake: Intake, inner: str, outer: str) -> None:
        self._intake = intake
        self._inner = inner
        self._outer = outer

    def _name(self, channel: str) -> str:
        return self._outer if channel == self._inner else channel

    async def submit(self, msg: InboundMessage) -> IntakeResult:
        key = dataclasses.replace(msg.key, channel=self._outer)
        prefix = f"{self._inner}:"
        tail = msg.event_id[len(prefix) :] if msg.event_id.startswith(prefix) else msg.event_id
        return await self._intake.submit(
            dataclasses.replace(msg, key=key, event_id=f"{self._outer}:{tail}")
        )

    async def feedback(
        self, ref: ReplyRef, rating: Rating, *, toggle: bool, by: str = ""
    ) -> FeedbackOutcome:
        renamed = dataclasses.replace(ref, channel=self._name(ref.channel))
        return await self._intake.feedback(renamed, rating, toggle=toggle, by=by)

    async def has_conversation(self, key: ThreadKey) -> bool:
        return await self._intake.has_conversation(dataclasses.replace(key, channel=self._outer))

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        await self._intake.migrate_chat(self._name(channel), old_chat_id, new_chat_id)

    async def opening(self) -> Opening:
        """The greeting of this bot's backend (the relay knows which one that is)."""
        for_bot: Callable[[str], Awaitable[Opening]] | None = getattr(
            self._intake, "opening_for", None
        )
        if for_bot is not None:
            return await for_bot(self._outer)
        return await self._intake.opening()

    def refused(self, channel: str, reason: str) -> None:
        self._intake.refused(self._name(channel), reason)

    async def stop_turn(self, key: ThreadKey) -> bool:
        return await self._intake.stop_turn(dataclasses.replace(key, channel=self._outer))


class NamedBot:
    """A channel adapter running as the named bot ``name`` (see the module docstring)."""

    def __init__(self, inner: Channel, platform: str, bot: str) -> None:
        self.inner = inner
        self.name = bot_channel_name(platform, bot)
        self.pace_budget: PaceBudget = inner.pace_budget
        self.max_download_bytes: int | None = inner.max_download_bytes
        self._route_name = bot

    def http_routes(self) -> list[HttpRoute]:
        """The adapter's routes under the bot's own path: ``/telegram/webhook`` becomes
        ``/telegram/NAME/webhook``, ``/slack/events`` becomes ``/slack/NAME/events``."""
        routes: Callable[[], Sequence[HttpRoute]] | None = getattr(self.inner, "http_routes", None)
        out = []
        for route in routes() if routes is not None else []:
            head, _, tail = route.path.lstrip("/").partition("/")
            out.append(
                HttpRoute(route.method, f"/{head}/{self._route_name}/{tail}", route.handler)
            )
        return out

    async def start(self, intake: Intake) -> None:
        await self.inner.start(_RenamingIntake(intake, self.inner.name, self.name))

    async def stop(self) -> None:
        await self.inner.stop()

    async def close(self) -> None:
        await self.inner.close()

    def open_reply(self, msg: InboundMessage) -> ReplyStream:
        return self.inner.open_reply(msg)

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> ReplyStream:
        return self.inner.notice_reply(self.inner.name, chat_id, thread, language)

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        return await self.inner.download(attachment, max_bytes=max_bytes)

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        await self.inner.close_interrupted(chat_id, thread, reply_id, language)

    def __getattr__(self, attr: str) -> object:
        # Adapter extras the composition root or tests use (idle(), bound ports, …).
        return getattr(self.inner, attr)
