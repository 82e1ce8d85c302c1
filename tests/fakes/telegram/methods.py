"""The fake Telegram's Bot API methods (``_m_<name>``), answering like Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from tests.fakes.telegram.base import _Base
from tests.fakes.telegram.model import (
    MAX_DOWNLOAD,
    BotApiError,
    LiveDraft,
    _bad,
)


class _Methods(_Base):
    """getUpdates, sendMessage, edits, drafts, files, commands..."""

    # --- Bot API methods ----------------------------------------------------------------------
    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self.updates = [
                u
                for u in self.updates
                if u["update_id"] >= offset and self._allowed(u, self.allowed_updates)
            ]
            remaining = deadline - time.monotonic()
            if self.updates or remaining <= 0 or self._closing:
                return self.updates[:limit]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=remaining)

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params["url"])
        self.webhook_secret = params.get("secret_token")
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
            "allowed_updates": self.allowed_updates or [],
        }

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        thread = self._thread(chat, params)
        plain, entities = self._render(str(params.get("text", "")), params.get("parse_mode"))
        reply = params.get("reply_parameters") or {}
        msg = self._new_message(
            chat,
            from_bot=True,
            text=plain,
            raw=str(params["text"]),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            reply_markup=params.get("reply_markup"),
            thread_id=thread,
            reply_to=reply.get("message_id"),
        )
        msg.edits.append(plain)
        return self._message_dict(chat, msg)

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        msg = self._editable(chat, params)
        plain, entities = self._render(str(params.get("text", "")), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if (plain, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.text, msg.entities, msg.reply_markup = plain, entities, markup
        msg.raw, msg.parse_mode = str(params["text"]), params.get("parse_mode")
        msg.edits.append(plain)
        return self._message_dict(chat, msg)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        msg = self._editable(chat, params)
        markup = params.get("reply_markup")
        if markup == msg.reply_markup:
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.reply_markup = markup
        return self._message_dict(chat, msg)

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        msg = chat.messages.get(int(params.get("message_id", 0)))
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        msg.deleted = True
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        thread = self._thread(chat, params)
        chat.actions.append((str(params.get("action")), thread))
        return True

    def _m_sendMessageDraft(self, params: dict[str, Any]) -> bool:
        chat = self._target(params)
        if chat.type != "private":
            raise _bad("method is available only in private chats")
        draft_id = int(params.get("draft_id") or 0)
        if draft_id == 0:
            raise _bad("draft_id must be non-zero")
        text = params.get("text")
        plain = ""
        if text:
            plain, _ = self._render(str(text), params.get("parse_mode"))
        chat.drafts.append((draft_id, plain))
        chat.live_draft = LiveDraft(
            draft_id,
            plain,
            self._thread(chat, params),
            can_stop=_flag(params.get("can_stop")),
            keep_on_stop=_flag(params.get("keep_on_stop")),
        )
        return True

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self._target(params)
        thread = self._thread(chat, params)
        value = params.get(kind)
        if not isinstance(value, tuple):
            raise _bad(f"there is no {kind} in the request")
        name, data, _ = value
        if kind == "photo" and len(data) > 10 * 1024 * 1024:
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        caption = str(params.get("caption") or "")
        msg = self._new_message(
            chat,
            from_bot=True,
            kind=kind,
            file_name=str(name),
            file_data=bytes(data),
            caption=caption,
            thread_id=thread,
        )
        return self._message_dict(chat, msg)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "photo")

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "document")

    def _m_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if user_id not in self.admins.get(chat_id, set()):
            return {"status": "member", "user": user}
        rights = [
            "can_be_edited",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        return {"status": "administrator", "user": user, "is_anonymous": False} | {
            right: right != "can_be_edited" for right in rights
        }

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.callback_answers.append(params)
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        scope = (params.get("scope") or {"type": "default"})["type"]
        self.commands[(scope, str(params.get("language_code") or ""))] = list(params["commands"])
        return True

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        scope = (params.get("scope") or {"type": "default"})["type"]
        self.commands.pop((scope, str(params.get("language_code") or "")), None)
        return True

    def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise _bad("invalid file_id")
        _, path, size = self.files[file_id]
        if size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": size,
            "file_path": path,
        }


def _flag(value: Any) -> bool:
    """A Bot API boolean as it arrives (JSON true, or "true" in a form)."""
    return value is True or str(value).lower() == "true"
