"""Draft stop buttons (Bot API 10.3): live drafts and the ``stopped_message_generation`` update.

A draft sent with ``can_stop`` shows a stop button; a press hides the draft and delivers
``{"stopped_message_generation": {"chat", "message_thread_id"?, "draft_id"}}``. PTB 22.8 does
not know the update, so it arrives in ``Update.api_kwargs``; the bridge must stop its own work.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

UPDATE = "stopped_message_generation"
MEMORY = 10_000


@dataclass(frozen=True, slots=True)
class StopPress:
    """One press of a draft's stop button."""

    chat_id: int
    draft_id: int
    thread_id: int | None


def stop_press(api_kwargs: Mapping[str, Any]) -> StopPress | None:
    """The press an update carries in ``api_kwargs`` (None when it is another update)."""
    data = api_kwargs.get(UPDATE)
    if not isinstance(data, Mapping):
        return None
    chat = data.get("chat")
    chat_id = chat.get("id") if isinstance(chat, Mapping) else None
    draft_id = data.get("draft_id")
    thread = data.get("message_thread_id")
    if not isinstance(chat_id, int) or not isinstance(draft_id, int):
        return None
    return StopPress(chat_id, draft_id, thread if isinstance(thread, int) else None)


class DraftStops:
    """Which reply a stop press belongs to, and whether stop buttons are offered at all.

    ``enabled`` turns off for the whole bot (logged once) when Telegram refuses ``can_stop``.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._live: OrderedDict[tuple[int, int], Callable[[], None]] = OrderedDict()

    def draft_kwargs(self) -> dict[str, Any]:
        """Extra ``sendMessageDraft`` parameters PTB 22.8 does not know yet."""
        return {"can_stop": True, "keep_on_stop": False} if self.enabled else {}

    def refused(self, reason: str) -> None:
        if self.enabled:
            log.warning("telegram: draft stop buttons refused (%s); /stop still works", reason)
        self.enabled = False

    def add(self, chat_id: int, draft_id: int, on_stop: Callable[[], None]) -> None:
        self._live[(chat_id, draft_id)] = on_stop
        while len(self._live) > MEMORY:
            self._live.popitem(last=False)

    def remove(self, chat_id: int, draft_id: int) -> None:
        self._live.pop((chat_id, draft_id), None)

    def pressed(self, press: StopPress) -> bool:
        """Tell the live reply its draft was stopped; False when no reply of ours shows it."""
        on_stop = self._live.pop((press.chat_id, press.draft_id), None)
        if on_stop is None:
            return False
        on_stop()
        return True
