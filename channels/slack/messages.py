"""Slack message primitives for one reply target: post, edit, delete, stream, upload, status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bridge.errors import ChannelError, RateLimited, ReplyGone
from bridge.model import OutboundFile
from channels.slack import api
from channels.slack.events import Bounded
from channels.slack.feedback import Extras, extra_blocks, fallback_text, message_blocks

log = logging.getLogger("channels.slack")

_UNAVAILABLE_EVERYWHERE = frozenset(
    {
        "unknown_method",
        "method_not_supported",
        "missing_scope",
        "not_allowed_token_type",
        "feature_not_enabled",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where a reply goes and for whom (recipients are needed to stream in channels)."""

    channel_id: str
    thread_ts: str = ""
    recipient_user_id: str = ""
    recipient_team_id: str = ""
    is_dm: bool = False


class StreamSupport:
    """Whether native streaming is worth trying; shared by every reply of one channel."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._refused: Bounded[str, str] = Bounded(1000)

    def usable(self, channel_id: str) -> bool:
        return self.enabled and channel_id not in self._refused

    def refuse(self, channel_id: str, code: str) -> None:
        """Stop trying: everywhere for a missing method/scope, else in this channel."""
        if code in _UNAVAILABLE_EVERYWHERE:
            if self.enabled:
                log.warning("slack: native streaming unavailable (%s); using chat.update", code)
            self.enabled = False
        else:
            log.info("slack: streaming refused in %s (%s); using chat.update", channel_id, code)
            self._refused.put(channel_id, code)


class Messenger:
    """Web API calls for one target; failures arrive as ``bridge.errors`` / ``api`` errors."""

    def __init__(self, client: AsyncWebClient, target: Target, language: str) -> None:
        self._client = client
        self.target = target
        self._language = language

    # --- ordinary messages ---------------------------------------------------------------------
    async def send(self, ts: str, chunk: str, extras: Extras | None) -> str:
        """``chat.postMessage`` (no ``ts``) or ``chat.update`` with markdown blocks → its ts.

        If Slack refuses the blocks, the same Markdown goes as ``markdown_text`` (the notice
        appended, without feedback buttons) so the answer still lands.
        """
        method = "chat.update" if ts else "chat.postMessage"
        blocks = message_blocks(chunk, extras, self._language)
        content: dict[str, Any] = {"text": fallback_text(chunk, extras), "blocks": blocks}
        try:
            data = await api.call(method, self._request(ts, content))
        except api.BadContent as exc:
            log.warning("slack: blocks refused (%s); sending plain Markdown", exc.code)
            notice = extras.notice if extras and extras.notice else ""
            content = {"markdown_text": "\n\n".join(p for p in (chunk, notice) if p)}
            data = await api.call(method, self._request(ts, content))
        return str(data.get("ts") or ts)

    def _request(self, ts: str, content: dict[str, Any]) -> Awaitable[AsyncSlackResponse]:
        channel = self.target.channel_id
        if ts:
            return self._client.chat_update(channel=channel, ts=ts, **content)
        return self._client.chat_postMessage(
            channel=channel, thread_ts=self.target.thread_ts or None, **content
        )

    async def delete(self, ts: str) -> None:
        """Best effort: a superseded message that cannot be deleted stays (logged)."""
        try:
            await api.call(
                "chat.delete", self._client.chat_delete(channel=self.target.channel_id, ts=ts)
            )
        except (RateLimited, ReplyGone, api.Transient):
            raise
        except ChannelError as exc:
            log.warning("slack: could not delete superseded message %s: %s", ts, exc)

    # --- native streaming ----------------------------------------------------------------------
    async def start_stream(self, chunk: str) -> str:
        target = self.target
        data = await api.call(
            "chat.startStream",
            self._client.chat_startStream(
                channel=target.channel_id,
                thread_ts=target.thread_ts,
                markdown_text=chunk,
                recipient_user_id=target.recipient_user_id or None,
                recipient_team_id=target.recipient_team_id or None,
            ),
        )
        return str(data.get("ts") or "")

    async def append(self, ts: str, suffix: str) -> None:
        await api.call(
            "chat.appendStream",
            self._client.chat_appendStream(
                channel=self.target.channel_id, ts=ts, markdown_text=suffix
            ),
        )

    async def stop_stream(self, ts: str, suffix: str, extras: Extras | None) -> None:
        """Finalise a stream with the last text and the blocks shown after it."""
        blocks = extra_blocks(extras, self._language)
        await api.call(
            "chat.stopStream",
            self._client.chat_stopStream(
                channel=self.target.channel_id,
                ts=ts,
                markdown_text=suffix or None,
                blocks=blocks or None,
            ),
        )

    # --- files and status ----------------------------------------------------------------------
    async def upload(self, file: OutboundFile) -> None:
        """``files_upload_v2`` into the thread; a refused file is logged and skipped."""
        try:
            await api.call(
                "files.completeUploadExternal",
                self._client.files_upload_v2(
                    channel=self.target.channel_id,
                    thread_ts=self.target.thread_ts or None,
                    content=file.data,
                    filename=file.name,
                    title=file.name,
                ),
            )
        except (RateLimited, ReplyGone, api.Transient):
            raise
        except ChannelError as exc:
            log.warning("slack: could not upload %s: %s", file.name, exc)

    async def set_status(self, status: str) -> None:
        """The thread's loading status ("" clears it); failures are ignored."""
        try:
            await api.call(
                "assistant.threads.setStatus",
                self._client.assistant_threads_setStatus(
                    channel_id=self.target.channel_id,
                    thread_ts=self.target.thread_ts,
                    status=status,
                ),
            )
        except ChannelError as exc:
            log.debug("slack: loading status not set: %s", exc)


async def close_orphaned_stream(client: AsyncWebClient, channel_id: str, ts: str) -> bool:
    """Stop a native stream another process left open (it crashed, or lost its lease).

    Best effort: True when Slack closed the stream, False when it was no longer streaming
    (or the call failed); the text streamed so far stays as it is.
    """
    try:
        await api.call("chat.stopStream", client.chat_stopStream(channel=channel_id, ts=ts))
    except ChannelError as exc:
        log.info("slack: left-over stream %s in %s not closed: %s", ts, channel_id, exc)
        return False
    log.info("slack: closed the left-over stream %s in %s", ts, channel_id)
    return True
