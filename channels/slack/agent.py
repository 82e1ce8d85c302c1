"""Slack's AI surfaces: agent sessions (status, title, stop button) and suggested questions.

Agent sessions (``agents.sessions.setStatus`` / ``rename``) need the app to be declared an
agent; where Slack refuses them the thread falls back to ``assistant.threads.setTitle`` and the
ordinary loading status, and the refusal is logged once for the whole app.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bridge.errors import ChannelError, RateLimited
from channels.slack import api
from channels.slack.events import text_of

log = logging.getLogger("channels.slack")

SUGGEST_ACTION = re.compile(r"^clickai_suggest_(\d+)$")
SUGGEST_BLOCK_ID = "clickai_suggestions"
BUTTON_TEXT_MAX = 75
ACTIVE_RETRY_MAX_S = 10.0
PROMPT_TITLE_MAX = 75
Block = dict[str, Any]


class Sessions:
    """Whether agent sessions and thread titles are worth trying (shared by all replies).

    A refusal is remembered per kind of conversation (DMs ``D…``, public ``C…`` and private
    ``G…`` channels): Slack may allow sessions in the app's DMs but not in channels.
    """

    def __init__(self, *, enabled: bool, titles: bool) -> None:
        self.enabled = enabled
        self.titles = titles
        self._refused: set[str] = set()
        self._warned: set[str] = set()

    def usable(self, channel_id: str) -> bool:
        return self.enabled and channel_id[:1] not in self._refused

    def refuse(self, code: str, channel_id: str) -> None:
        kind = channel_id[:1]
        if self.enabled and kind not in self._refused:
            log.warning(
                "slack: agent sessions refused in %s… conversations (%s); using the assistant "
                "thread status instead",
                kind,
                code,
            )
        self._refused.add(kind)

    def warn_once(self, warning: str) -> None:
        if warning and warning not in self._warned:
            self._warned.add(warning)
            log.warning("slack: agents.sessions.setStatus warns: %s", warning)


class AgentThread:
    """Session and title calls for one thread; every failure is logged, never raised."""

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: Sessions,
        *,
        channel_id: str,
        thread_ts: str,
        user_id: str = "",
    ) -> None:
        self._client = client
        self._sessions = sessions
        self.channel_id = channel_id
        self.thread_ts = thread_ts
        self._user_id = user_id
        self.in_session = False
        """``processing`` was accepted: the turn must move the session on when it ends."""

    async def processing(self) -> None:
        """Show Slack's native working state (and its stop button)."""
        if not self._sessions.usable(self.channel_id) or not self.thread_ts:
            return
        ok = await self._set_status("processing")
        self.in_session = ok

    async def active(self) -> None:
        """The turn ended (answered, stopped or failed): out of ``processing``.

        Retried once after a 429 (waiting at most ``ACTIVE_RETRY_MAX_S``): a session left in
        ``processing`` would keep showing a stop button for an answer that is finished.
        """
        if not self.in_session:
            return
        self.in_session = False
        try:
            await self._set_status("active", raise_limited=True)
        except RateLimited as exc:
            await asyncio.sleep(min(exc.retry_after or 1.0, ACTIVE_RETRY_MAX_S))
            await self._set_status("active")

    async def _set_status(self, status: str, *, raise_limited: bool = False) -> bool:
        try:
            data = await api.call(
                "agents.sessions.setStatus",
                self._client.agents_sessions_setStatus(
                    channel_id=self.channel_id,
                    thread_ts=self.thread_ts,
                    status=status,
                    initiator_user_id=self._user_id or None,
                ),
            )
        except (RateLimited, api.Transient) as exc:
            if raise_limited and isinstance(exc, RateLimited):
                raise
            log.info("slack: session status %s not set: %s", status, exc)
            return False
        except ChannelError as exc:
            self._sessions.refuse(str(getattr(exc, "code", "") or exc), self.channel_id)
            return False
        self._sessions.warn_once(text_of(data, "warning"))
        return True

    async def title(self, title: str) -> None:
        """Name the thread: the agent session when there is one, else the assistant thread."""
        if not self._sessions.titles or not self.thread_ts or not title:
            return
        if self._sessions.usable(self.channel_id):
            request = self._client.agents_sessions_rename(
                channel_id=self.channel_id, thread_ts=self.thread_ts, title=title
            )
            method = "agents.sessions.rename"
        else:
            request = self._client.assistant_threads_setTitle(
                channel_id=self.channel_id, thread_ts=self.thread_ts, title=title
            )
            method = "assistant.threads.setTitle"
        try:
            await api.call(method, request)
        except ChannelError as exc:
            log.info("slack: %s in %s failed: %s", method, self.channel_id, exc)


def suggestion_block(questions: Sequence[str]) -> Block:
    """One button per suggested question; its value carries the whole question."""
    return {
        "type": "actions",
        "block_id": SUGGEST_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": f"clickai_suggest_{index}",
                "text": {"type": "plain_text", "text": _short(question, BUTTON_TEXT_MAX)},
                "value": question,
            }
            for index, question in enumerate(questions)
        ],
    }


def suggestion_of(action: Mapping[str, Any]) -> tuple[int, str] | None:
    """(index, question) of a suggestion button click."""
    match = SUGGEST_ACTION.match(text_of(action, "action_id"))
    question = text_of(action, "value").strip()
    if match is None or not question:
        return None
    return int(match.group(1)), question


def asked_blocks(blocks: object, question: str) -> list[Block] | None:
    """The message's blocks with its suggestion buttons replaced by the asked question."""
    if not isinstance(blocks, list):
        return None
    out: list[Block] = []
    replaced = False
    for block in blocks:
        if isinstance(block, dict) and block.get("block_id") == SUGGEST_BLOCK_ID:
            text = "✓ " + question.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
            replaced = True
        elif isinstance(block, dict):
            out.append(block)
    return out if replaced else None


def prompts(questions: Sequence[str]) -> list[dict[str, str]]:
    """``assistant.threads.setSuggestedPrompts`` entries (at most four)."""
    return [{"title": _short(q, PROMPT_TITLE_MAX), "message": q} for q in questions[:4]]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
