"""One Agentok run watched by polling: new agent messages, status markers, bounded by a deadline.

Agentok stores each agent turn as a whole ``assistant`` message and its progress as marker
messages (``__STATUS_WAIT_FOR_HUMAN_INPUT__ <prompt>``, ``__STATUS_RECEIVED_HUMAN_INPUT__``,
``__STATUS_COMPLETED__ DONE|TERMINATED|<code>: <error>``); the list is not ordered by the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WAIT = "__STATUS_WAIT_FOR_HUMAN_INPUT__"
RECEIVED = "__STATUS_RECEIVED_HUMAN_INPUT__"
COMPLETED = "__STATUS_COMPLETED__"
FAILED_STATUSES = frozenset({"failed", "error"})
ENDED_STATUSES = frozenset({"completed", "ready", "aborted", *FAILED_STATUSES})


@dataclass(slots=True)
class RunView:
    """What the bridge learned about the run so far."""

    seen: int
    texts: list[str] = field(default_factory=list)
    prompt: str | None = None
    completed: str | None = None
    summary: str = ""

    def absorb(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """Take messages newer than ``seen`` (by id); returns the agent texts to show."""
        fresh = sorted((m for m in messages if _id(m) > self.seen), key=_id)
        shown: list[str] = []
        for message in fresh:
            self.seen = max(self.seen, _id(message))
            content = str(message.get("content") or "")
            kind = str(message.get("type") or "")
            if kind == "user":
                continue
            if content.startswith(WAIT):
                self.prompt = content[len(WAIT) :].strip()
            elif content.startswith(RECEIVED):
                self.prompt = None
            elif content.startswith(COMPLETED):
                self.completed = content[len(COMPLETED) :].strip()
            elif kind == "summary":
                self.summary = content.strip()
            elif content.strip():
                shown.append(_format(message, content))
        self.texts += shown
        return shown

    @property
    def failed(self) -> bool:
        return self.completed is not None and self.completed not in ("DONE", "TERMINATED")


def latest_id(messages: Sequence[Mapping[str, Any]]) -> int:
    return max((_id(m) for m in messages), default=0)


def _id(message: Mapping[str, Any]) -> int:
    try:
        return int(message.get("id") or 0)
    except (TypeError, ValueError):
        return 0


def _format(message: Mapping[str, Any], content: str) -> str:
    sender = message.get("sender") or (message.get("metadata") or {}).get("sender")
    return f"**{sender}**: {content.strip()}" if sender else content.strip()
