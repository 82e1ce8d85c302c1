"""Telegram messages → the bridge's InboundMessage: addressing, mention stripping, files, scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from telegram import Message, MessageEntity, User

from bridge.model import Attachment, AttachmentKind, Sender, ThreadKey

from .calls import CHANNEL

GroupScope = Literal["group", "user", "topic"]
_UNSUPPORTED = (
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "invoice",
    "paid_media",
    "checklist",
    "giveaway",
)
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True, slots=True)
class Me:
    """The bot's own identity (from getMe)."""

    id: int
    username: str


def is_private(message: Message) -> bool:
    return message.chat.type == "private"


def thread_of(message: Message) -> int | None:
    """The forum topic to answer in: only for real topic messages, never General (1)."""
    thread = message.message_thread_id
    if message.is_topic_message and thread is not None and thread != 1:
        return thread
    return None


def _bot_mentions(message: Message, me: Me) -> list[MessageEntity]:
    found = []
    for entity, value in _entities(message):
        named = entity.type == MessageEntity.MENTION and value[1:].lower() == me.username.lower()
        linked = entity.type == MessageEntity.TEXT_MENTION and entity.user is not None
        if named or (linked and entity.user is not None and entity.user.id == me.id):
            found.append(entity)
    return found


def _entities(message: Message) -> list[tuple[MessageEntity, str]]:
    """The text's (or caption's) entities with their text. Unlike PTB's ``parse_entities``
    this never raises: an entity without its text, out of range, or cutting a surrogate pair
    (a malformed update) yields what it covers, with U+FFFD for half characters."""
    if message.text:
        text, raw = message.text, message.entities
    elif message.caption:
        text, raw = message.caption, message.caption_entities
    else:
        return []
    units = text.encode("utf-16-le")
    out = []
    for entity in raw:
        start = max(0, entity.offset) * 2
        end = max(0, entity.offset + entity.length) * 2
        out.append((entity, units[start:end].decode("utf-16-le", errors="replace")))
    return out


def replies_to_bot(message: Message, me: Me) -> bool:
    """A reply to one of the bot's messages, not the forum-topic-root trap."""
    target = message.reply_to_message
    if target is None or target.from_user is None or target.from_user.id != me.id:
        return False
    if target.forum_topic_created is not None:
        return False
    # In a forum topic every message "replies" to the topic's root; that is not addressing us.
    root = message.is_topic_message and target.message_id == message.message_thread_id
    return not root


def mentions_bot(message: Message, me: Me) -> bool:
    return bool(_bot_mentions(message, me))


def clean_text(message: Message, me: Me) -> str:
    """Text or caption without the bot's mentions, whitespace tidied."""
    text = message.text or message.caption or ""
    cuts = sorted((e.offset, e.offset + e.length) for e in _bot_mentions(message, me))
    if cuts:
        units = text.encode("utf-16-le")
        kept, pos = [], 0
        for start, end in cuts:
            kept.append(units[pos * 2 : start * 2])
            pos = end
        kept.append(units[pos * 2 :])
        text = b"".join(kept).decode("utf-16-le", errors="replace")
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return text.strip()


def attachments_of(message: Message) -> tuple[Attachment, ...]:
    """The files a message carries (the largest photo size)."""
    uid = message.message_id
    if message.photo:
        best = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        return (_att(best.file_id, f"photo_{uid}.jpg", "image/jpeg", "image", best.file_size),)
    if message.animation:
        a = message.animation
        name = a.file_name or f"animation_{uid}.mp4"
        return (_att(a.file_id, name, a.mime_type or "video/mp4", "video", a.file_size),)
    if message.document:
        d = message.document
        mime = d.mime_type or "application/octet-stream"
        name = d.file_name or f"document_{uid}"
        return (_att(d.file_id, name, mime, _kind(mime), d.file_size),)
    if message.voice:
        v = message.voice
        mime = v.mime_type or "audio/ogg"
        return (_att(v.file_id, f"voice_{uid}.ogg", mime, "audio", v.file_size),)
    if message.audio:
        a2 = message.audio
        name = a2.file_name or f"audio_{uid}.mp3"
        return (_att(a2.file_id, name, a2.mime_type or "audio/mpeg", "audio", a2.file_size),)
    if message.video:
        v2 = message.video
        name = v2.file_name or f"video_{uid}.mp4"
        return (_att(v2.file_id, name, v2.mime_type or "video/mp4", "video", v2.file_size),)
    if message.video_note:
        n = message.video_note
        return (_att(n.file_id, f"video_note_{uid}.mp4", "video/mp4", "video", n.file_size),)
    return ()


def _kind(mime: str) -> AttachmentKind:
    for prefix, kind in (("image/", "image"), ("audio/", "audio"), ("video/", "video")):
        if mime.startswith(prefix):
            return kind  # type: ignore[return-value]
    return "document"


def _att(ref: str, name: str, mime: str, kind: AttachmentKind, size: int | None) -> Attachment:
    return Attachment(ref=ref, name=name, mime_type=mime, kind=kind, size=size)


def is_unsupported(message: Message) -> bool:
    """Content the bridge cannot forward (stickers, locations, polls, …)."""
    return any(getattr(message, name, None) for name in _UNSUPPORTED)


def sender_of(message: Message) -> Sender | None:
    """Who wrote it; anonymous group admins speak as their group; other bots are ignored."""
    chat = message.sender_chat
    if chat is not None:
        if message.is_automatic_forward or chat.type == "channel":
            return None
        return Sender(id=str(chat.id), display_name=chat.title or "")
    user: User | None = message.from_user
    if user is None or user.is_bot:
        return None
    return Sender(id=str(user.id), display_name=user.full_name)


def thread_key(message: Message, sender: Sender, scope: GroupScope) -> ThreadKey:
    """The conversation a message belongs to (see ``telegram.group_scope``)."""
    chat_id = str(message.chat.id)
    if is_private(message):
        return ThreadKey(channel=CHANNEL, chat_id=chat_id)
    if scope == "user":
        return ThreadKey(channel=CHANNEL, chat_id=chat_id, user_id=sender.id)
    topic = thread_of(message)
    if scope == "topic" and topic is not None:
        return ThreadKey(channel=CHANNEL, chat_id=chat_id, thread_id=str(topic))
    return ThreadKey(channel=CHANNEL, chat_id=chat_id)
