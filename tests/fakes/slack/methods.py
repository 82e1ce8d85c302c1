"""The fake Slack's Web API methods (``_m_<family>_<name>``)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.slack.base import _Base
from tests.fakes.slack.model import (
    BOT_ID,
    BOT_USER,
    MARKDOWN_LIMIT,
    TEAM_ID,
    Message,
    Upload,
    _blocks_markdown,
)


class _Methods(_Base):
    """auth, chat (incl. native streaming), assistant threads, users, files, conversations."""

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "team_id": TEAM_ID,
            "team": "Fake",
            "user": "clickai",
            "url": self.url + "/",
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/socket"}

    @staticmethod
    def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = args.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _content(self, msg: Message, args: dict[str, Any]) -> dict[str, Any] | None:
        blocks = self._blocks(args)
        markdown = _blocks_markdown(blocks)
        if (
            len(markdown) > MARKDOWN_LIMIT
            or len(str(args.get("markdown_text") or "")) > MARKDOWN_LIMIT
        ):
            return {"error": "msg_blocks_too_long"}
        msg.text = str(args.get("text") or "")
        msg.blocks = blocks
        msg.body = (
            str(args.get("markdown_text") or "") or markdown or (msg.text if not blocks else "")
        )
        return None

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = Message(
            channel=str(args["channel"]),
            ts=self._new_ts(),
            thread_ts=str(args.get("thread_ts") or ""),
        )
        error = self._content(msg, args)
        if error:
            return error
        self.messages.append(msg)
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        while self._update_times and self._update_times[0] <= now - 60:
            self._update_times.popleft()
        if len(self._update_times) >= self.update_limit:
            return {"error": "ratelimited"}
        self._update_times.append(now)
        msg = next((m for m in self.messages if m.ts == args.get("ts") and not m.deleted), None)
        if msg is None:
            return {"error": "message_not_found"}
        if msg.streaming:
            return {"error": "cant_update_message"}
        error = self._content(msg, args)
        if error:
            return error
        msg.updates += 1
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = next((m for m in self.messages if m.ts == args.get("ts")), None)
        if msg is None:
            return {"error": "message_not_found"}
        msg.deleted = True
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.stream_refusal:
            return {"error": self.stream_refusal}
        channel, thread = str(args.get("channel") or ""), str(args.get("thread_ts") or "")
        if not thread:
            return {"error": "invalid_arguments"}
        if not channel.startswith("D"):
            if not args.get("recipient_user_id"):
                return {"error": "missing_recipient_user_id"}
            if not args.get("recipient_team_id"):
                return {"error": "missing_recipient_team_id"}
        text = str(args.get("markdown_text") or "")
        if len(text) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        msg = Message(
            channel=channel, ts=self._new_ts(), thread_ts=thread, body=text, streaming=True
        )
        self.messages.append(msg)
        return {"channel": channel, "ts": msg.ts}

    def _streaming(self, args: dict[str, Any]) -> Message | dict[str, Any]:
        msg = next((m for m in self.messages if m.ts == args.get("ts")), None)
        if msg is None:
            return {"error": "message_not_found"}
        if not msg.streaming:
            return {"error": "message_not_in_streaming_state"}
        text = str(args.get("markdown_text") or "")
        if len(text) > MARKDOWN_LIMIT or len(msg.body) + len(text) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        return msg

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming(args)
        if not isinstance(msg, Message):
            return msg
        if not args.get("markdown_text"):
            return {"error": "invalid_arguments"}
        msg.body += str(args["markdown_text"])
        count = self._appends[msg.ts] = self._appends.get(msg.ts, 0) + 1
        if self.expire_after_appends is not None and count >= self.expire_after_appends:
            msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming(args)
        if not isinstance(msg, Message):
            return msg
        msg.body += str(args.get("markdown_text") or "")
        msg.blocks = self._blocks(args)
        msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append(dict(args))
        return {"message_ts": self._new_ts()}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        self.statuses.append(
            (str(args["channel_id"]), str(args["thread_ts"]), str(args["status"]))
        )
        return {}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"error": "user_not_found"}
        out: dict[str, Any] = {
            "id": args["user"],
            "name": user["name"],
            "profile": {"display_name": user["name"]},
            "is_admin": bool(user.get("admin")),
            "is_owner": False,
        }
        if str(args.get("include_locale")).lower() in ("1", "true"):
            out["locale"] = user["locale"]
        return {"user": out}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(args.get("file")))
        return {"file": dict(info)} if info else {"error": "file_not_found"}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"FUP{next(self._ids):04d}"
        self.uploads[file_id] = Upload(id=file_id, filename=str(args.get("filename")))
        return {"file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(str(args["files"]))
        channel, thread = str(args.get("channel_id") or ""), str(args.get("thread_ts") or "")
        if any(f["id"] not in self.uploads or not self.uploads[f["id"]].data for f in files):
            return {"error": "file_not_found"}
        if channel:
            ids = [f["id"] for f in files]
            self.messages.append(
                Message(channel=channel, ts=self._new_ts(), thread_ts=thread, files=ids)
            )
        return {"files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        msgs = self.thread(str(args["channel"]), str(args["ts"]))
        return {
            "messages": [
                {"ts": m.ts, "text": m.text, "user": BOT_USER, "bot_id": BOT_ID} for m in msgs
            ]
        }
