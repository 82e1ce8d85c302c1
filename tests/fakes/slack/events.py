"""Builders of what Slack delivers: event envelopes, interactivity payloads, signatures."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack.model import (
    APP_ID,
    BOT_USER,
    SIGNING_SECRET,
    TEAM_ID,
)


class Events:
    """Builds event envelopes and interactivity payloads like Slack sends them."""

    def __init__(
        self, *, team_id: str = TEAM_ID, bot_user: str = BOT_USER, first_ts: int = 1_700_000_000
    ) -> None:
        self.team_id = team_id
        self.bot_user = bot_user
        self.first_ts = first_ts
        self._n = itertools.count(1)

    def ts(self) -> str:
        n = next(self._n)
        return f"{self.first_ts + n}.{n:06d}"

    def envelope(self, event: dict[str, Any], *, event_id: str = "") -> dict[str, Any]:
        return {
            "token": "legacy",
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._n):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": self.team_id, "user_id": self.bot_user, "is_bot": True}
            ],
        }

    def mention(
        self,
        text: str,
        *,
        channel: str = "C1",
        user: str = "U1",
        ts: str = "",
        thread_ts: str = "",
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        event = self.message(
            f"<@{self.bot_user}> {text}", channel=channel, user=user, ts=ts, thread_ts=thread_ts
        )
        event["type"] = "app_mention"
        del event["channel_type"]  # an app_mention event carries none
        if files is not None:
            event["files"] = files
        return event

    def message(
        self,
        text: str,
        *,
        channel: str = "C1",
        user: str = "U1",
        ts: str = "",
        thread_ts: str = "",
        channel_type: str = "channel",
        subtype: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        ts = ts or self.ts()
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type,
            "team": self.team_id,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if subtype:
            event["subtype"] = subtype
        event.update(extra)
        return event

    def dm(self, text: str, *, channel: str = "D1", **kw: Any) -> dict[str, Any]:
        return self.message(text, channel=channel, channel_type="im", **kw)

    def reaction(
        self,
        name: str,
        *,
        ts: str,
        channel: str = "C1",
        user: str = "U1",
        added: bool = True,
        item_user: str = BOT_USER,
    ) -> dict[str, Any]:
        return {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": self.ts(),
        }

    def feedback_click(
        self,
        value: str,
        *,
        message_ts: str,
        channel: str = "C1",
        user: str = "U1",
        thread_ts: str = "",
    ) -> dict[str, Any]:
        message = {"ts": message_ts, "thread_ts": thread_ts or message_ts, "type": "message"}
        action = {"type": "feedback_buttons", "action_id": "clickai_feedback", "block_id": "b1"}
        return self._block_action(channel, user, message, {**action, "value": value})

    def _block_action(
        self, channel: str, user: str, message: dict[str, Any], action: dict[str, Any]
    ) -> dict[str, Any]:
        """A ``block_actions`` payload for a click on ``message`` in ``channel``."""
        return {
            "type": "block_actions",
            "team": {"id": self.team_id},
            "user": {"id": user, "team_id": self.team_id},
            "api_app_id": APP_ID,
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
            "channel": {"id": channel},
            "message": message,
            "trigger_id": "1.2.3",
            "actions": [{**action, "action_ts": self.ts()}],
        }

    def thread_started(self, *, channel: str = "D1", user: str = "U1") -> dict[str, Any]:
        """The user opens a new assistant thread (Slack creates its thread ts)."""
        return {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": user,
                "channel_id": channel,
                "thread_ts": self.ts(),
                "context": {},
            },
            "event_ts": self.ts(),
        }

    def home_opened(
        self, *, channel: str = "D1", user: str = "U1", tab: str = "messages"
    ) -> dict[str, Any]:
        """The user opens one of the app's tabs (the Messages tab in Slack's agent view)."""
        return {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab}

    def button_click(
        self,
        action_id: str,
        value: str,
        *,
        message: Any,
        user: str = "U1",
    ) -> dict[str, Any]:
        """A click on a ``button`` in the fake's ``message`` (its blocks travel along)."""
        shown = {
            "ts": message.ts,
            "thread_ts": message.thread_ts,
            "type": "message",
            "text": message.text,
            "blocks": message.blocks,
        }
        action = {"type": "button", "action_id": action_id, "block_id": "clickai_suggestions"}
        return self._block_action(message.channel, user, shown, {**action, "value": value})


def signed_headers(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    retry_num: int | None = None,
) -> dict[str, str]:
    """Headers Slack would send with ``body`` (signature over the raw bytes)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def form_body(payload: dict[str, Any]) -> bytes:
    """Interactivity payloads arrive form-encoded as ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload)}).encode()
