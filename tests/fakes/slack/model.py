"""The fake Slack's data: tokens and ids, recorded calls, messages, uploads, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
SIGNING_SECRET = "fake-signing-secret"
TEAM_ID, BOT_USER, BOT_ID, APP_ID = "T0FAKE", "UBOT", "BBOT", "AFAKE"
MARKDOWN_LIMIT = 12_000
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


@dataclass
class Message:
    """A bot message as Slack would show it."""

    channel: str
    ts: str
    thread_ts: str
    text: str = ""
    body: str = ""
    """The Markdown the message displays (streamed text, markdown_text or markdown blocks)."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False
    files: list[str] = field(default_factory=list)
    deleted: bool = False
    updates: int = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.blocks if b.get("type") == kind]

    @property
    def feedback(self) -> dict[str, Any] | None:
        for block in self.of_type("context_actions"):
            for element in block.get("elements", []):
                if element.get("type") == "feedback_buttons":
                    return dict(element)
        return None

    @property
    def notices(self) -> list[str]:
        return [e.get("text", "") for b in self.of_type("context") for e in b.get("elements", [])]


@dataclass
class Upload:
    id: str
    filename: str
    data: bytes = b""


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: float | None
    applied: bool = False
    channel: str | None = None


def _blocks_markdown(blocks: list[dict[str, Any]]) -> str:
    return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "markdown")
