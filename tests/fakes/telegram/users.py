"""The fake Telegram's user side: building updates (text, files, buttons, reactions)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tests.fakes.telegram.base import _Base
from tests.fakes.telegram.markup import (
    auto_entities,
)
from tests.fakes.telegram.model import (
    Chat,
    TgUser,
)


class _Users(_Base):
    """Updates as users would cause them (registered in the chat model, not queued)."""

    # --- building user-side updates (registered in the chat model, not queued) ---------------
    def _user_message(
        self,
        chat_id: int,
        user: TgUser | None,
        *,
        thread_id: int | None = None,
        topic: bool = False,
        reply_to: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        chat = self.chat(chat_id)
        sent = self._new_message(chat, from_bot=False, text=str(content.get("text", "")))
        data: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat.to_dict(),
            **content,
        }
        if user is not None:
            data["from"] = user.to_dict()
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            if topic:
                data["is_topic_message"] = True
        if reply_to is not None:
            data["reply_to_message"] = self._reply_target(chat, reply_to)
        return data

    def _reply_target(self, chat: Chat, message_id: int) -> dict[str, Any]:
        target = chat.messages[message_id]
        data = self._message_dict(chat, target)
        data.pop("reply_to_message", None)
        if target.kind == "topic":
            data.pop("text", None)
            data["forum_topic_created"] = {"name": target.caption, "icon_color": 7322096}
            data["message_thread_id"] = message_id
            data["is_topic_message"] = True
            data["from"] = (self.bot if target.from_bot else TgUser(id=1)).to_dict()
        return data

    def text(
        self,
        chat_id: int,
        user: TgUser,
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """A text message update (mention / command entities are found automatically)."""
        ents = auto_entities(text) if entities is None else entities
        content: dict[str, Any] = {"text": text}
        if ents:
            content["entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def topic(self, chat_id: int, name: str, *, by_bot: bool = True) -> int:
        """Create a forum topic; returns its message_thread_id (the root service message)."""
        chat = self.chat(chat_id, is_forum=True)
        chat.is_forum = True
        root = self._new_message(chat, from_bot=by_bot, kind="topic", caption=name)
        chat.topics.add(root.message_id)
        return root.message_id

    def photo(
        self, chat_id: int, user: TgUser, data: bytes, *, caption: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        sizes = []
        for i, (w, h) in enumerate(((90, 60), (320, 213), (1280, 853))):
            blob = data if i == 2 else data[: max(1, len(data) // (4 - i))]
            file_id = self.add_file(blob, f"photos/file_{len(self.files)}.jpg")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"U{file_id}",
                    "width": w,
                    "height": h,
                    "file_size": len(blob),
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
            if ents := auto_entities(caption):
                content["caption_entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def document(
        self,
        chat_id: int,
        user: TgUser,
        data: bytes,
        *,
        name: str = "report.pdf",
        mime: str = "application/pdf",
        caption: str | None = None,
        size: int | None = None,
        kind: str = "document",
        **kw: Any,
    ) -> dict[str, Any]:
        """A document (or ``kind`` = voice / audio / video) message update."""
        file_id = self.add_file(data, f"{kind}s/{name}", size=size)
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": len(data) if size is None else size,
            "mime_type": mime,
        }
        if kind in ("voice", "video"):
            media["duration"] = 3
        if kind == "video":
            media.update(width=640, height=360)
        if kind == "audio":
            media["duration"] = 3
        if kind in ("document", "audio", "video"):
            media["file_name"] = name
        content: dict[str, Any] = {kind: media}
        if caption is not None:
            content["caption"] = caption
            if ents := auto_entities(caption):
                content["caption_entities"] = ents
        return {"message": self._user_message(chat_id, user, **content, **kw)}

    def sticker(self, chat_id: int, user: TgUser, **kw: Any) -> dict[str, Any]:
        sticker = {
            "file_id": "STK",
            "file_unique_id": "USTK",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return {"message": self._user_message(chat_id, user, sticker=sticker, **kw)}

    def migrate(self, chat_id: int, new_chat_id: int, user: TgUser) -> dict[str, Any]:
        """The service message a group gets when upgraded; sends to it then fail."""
        msg = self._user_message(chat_id, user, migrate_to_chat_id=new_chat_id)
        self.chat(chat_id).migrated_to = new_chat_id
        self.chat(new_chat_id, type="supergroup")
        return {"message": msg}

    def callback(self, chat_id: int, user: TgUser, message_id: int, data: str) -> dict[str, Any]:
        chat = self.chat(chat_id)
        return {
            "callback_query": {
                "id": f"cq{next(self._update_ids)}",
                "from": user.to_dict(),
                "chat_instance": f"ci{chat_id}",
                "data": data,
                "message": self._message_dict(chat, chat.messages[message_id]),
            }
        }

    def stop_draft(self, chat_id: int) -> dict[str, Any]:
        """The user presses the stop button of the chat's draft (Bot API 10.3): the draft is
        hidden (unless ``keep_on_stop``) and a ``stopped_message_generation`` update results."""
        chat = self.chat(chat_id)
        draft = chat.live_draft
        assert draft is not None and draft.can_stop, "no draft with a stop button is shown"
        if not draft.keep_on_stop:
            chat.live_draft = None
        data: dict[str, Any] = {"chat": chat.to_dict(), "draft_id": draft.draft_id}
        if draft.thread_id is not None:
            data["message_thread_id"] = draft.thread_id
        return {"stopped_message_generation": data}

    def reaction(
        self,
        chat_id: int,
        user: TgUser,
        message_id: int,
        *,
        old: Iterable[str] = (),
        new: Iterable[str] = (),
    ) -> dict[str, Any]:
        return {
            "message_reaction": {
                "chat": self.chat(chat_id).to_dict(),
                "message_id": message_id,
                "user": user.to_dict(),
                "date": int(time.time()),
                "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
            }
        }

    def bot_added(self, chat_id: int, user: TgUser, status: str = "member") -> dict[str, Any]:
        return {
            "my_chat_member": {
                "chat": self.chat(chat_id).to_dict(),
                "from": user.to_dict(),
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self.bot.to_dict()},
                "new_chat_member": {"status": status, "user": self.bot.to_dict()},
            }
        }
