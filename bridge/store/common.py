"""Engine-neutral pieces of the SQL stores: shared statements, row decoding, chat-move planning.

Statements use PostgreSQL's ``$n`` placeholders; SQLite reads them as ``?n`` (see
``SqliteStore``), so both engines run the very same SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.model import Rating, ReplyRef
from bridge.store.base import ConversationRow, EventRow, EventStatus, ReplyRow

CONVERSATION_COLUMNS = 'scope, conversation_id, "user", created_at, updated_at'
REPLY_COLUMNS = 'channel, chat_id, message_id, clickai_message_id, conversation_id, "user", rating'
EVENT_COLUMNS = "event_id, channel, scope, chat_id, thread, language, status, created_at"

GET_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversation WHERE scope = $1"
SET_CONVERSATION = (
    'INSERT INTO conversation (scope, conversation_id, "user", created_at, updated_at) '
    "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (scope) DO UPDATE SET "
    "created_at = CASE WHEN conversation.conversation_id = excluded.conversation_id "
    "THEN conversation.created_at ELSE excluded.created_at END, "
    'conversation_id = excluded.conversation_id, "user" = excluded."user", '
    "updated_at = excluded.updated_at"
)
"""Args: scope, conversation_id, user, now. ``created_at`` resets with a new conversation id."""
DROP_CONVERSATION = "DELETE FROM conversation WHERE scope = $1"
CHAT_SCOPES = (
    "SELECT scope, updated_at FROM conversation WHERE scope = $1 OR substr(scope, 1, $2) = $3"
)
"""Args: :func:`scope_match_args`. ``substr`` not ``LIKE``: ``%``/``_`` in ids stay literal."""
RENAME_SCOPE = "UPDATE conversation SET scope = $2 WHERE scope = $1"
MOVE_REPLIES = (
    "UPDATE reply SET chat_id = $3 WHERE channel = $1 AND chat_id = $2 AND NOT EXISTS "
    "(SELECT 1 FROM reply AS r WHERE r.channel = reply.channel "
    "AND r.chat_id = $3 AND r.message_id = reply.message_id)"
)
"""Args: channel, old, new. A platform id already taken under the new chat id stays behind."""
ADD_REPLY = (
    "INSERT INTO reply (channel, chat_id, message_id, clickai_message_id, "
    'conversation_id, "user", rating, created_at) VALUES ($1, $2, $3, $4, $5, $6, '
    "(SELECT r.rating FROM reply AS r WHERE r.clickai_message_id = $4 LIMIT 1), $7) "
    "ON CONFLICT (channel, chat_id, message_id) DO UPDATE SET "
    "rating = CASE WHEN reply.clickai_message_id = excluded.clickai_message_id "
    "THEN reply.rating ELSE excluded.rating END, "
    "clickai_message_id = excluded.clickai_message_id, "
    'conversation_id = excluded.conversation_id, "user" = excluded."user"'
)
"""Args: :func:`reply_args`. A new part of an already rated message inherits the rating."""
GET_REPLY = (
    f"SELECT {REPLY_COLUMNS} FROM reply WHERE channel = $1 AND chat_id = $2 AND message_id = $3"
)
SET_RATING = "UPDATE reply SET rating = $2 WHERE clickai_message_id = $1"
CLAIM_EVENT = (
    f"INSERT INTO event ({EVENT_COLUMNS}, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'accepted', $7, $8) ON CONFLICT (event_id) DO NOTHING"
)
"""Args: :func:`event_args`."""
FINISH_EVENT = "UPDATE event SET status = 'done', updated_at = $2 WHERE event_id = $1"
PENDING_EVENTS = f"SELECT {EVENT_COLUMNS} FROM event WHERE status = 'accepted' ORDER BY created_at"
"""Engines append their arrival-order tie-breaker column."""
PRUNE_EVENTS = "DELETE FROM event WHERE status = 'done' AND created_at < $1"


def reply_args(
    refs: Sequence[ReplyRef], message_id: str, conversation_id: str, user: str, now: float
) -> list[tuple[str, str, str, str, str, str, float]]:
    """One :data:`ADD_REPLY` argument tuple per platform message."""
    return [
        (ref.channel, ref.chat_id, ref.message_id, message_id, conversation_id, user, now)
        for ref in refs
    ]


def event_args(event: EventRow, now: float) -> tuple[str, str, str, str, str, str, float, float]:
    """The :data:`CLAIM_EVENT` arguments."""
    return (
        event.event_id,
        event.channel,
        event.scope,
        event.chat_id,
        event.thread,
        event.language,
        float(event.created_at),
        now,
    )


def conversation_from_row(row: Sequence[Any]) -> ConversationRow:
    """Decode a row selected with :data:`CONVERSATION_COLUMNS`."""
    return ConversationRow(
        scope=str(row[0]),
        conversation_id=str(row[1]),
        user=str(row[2]),
        created_at=float(row[3]),
        updated_at=float(row[4]),
    )


def reply_from_row(row: Sequence[Any]) -> ReplyRow:
    """Decode a row selected with :data:`REPLY_COLUMNS`."""
    return ReplyRow(
        ref=ReplyRef(channel=str(row[0]), chat_id=str(row[1]), message_id=str(row[2])),
        message_id=str(row[3]),
        conversation_id=str(row[4]),
        user=str(row[5]),
        rating=as_rating(row[6]),
    )


def event_from_row(row: Sequence[Any]) -> EventRow:
    """Decode a row selected with :data:`EVENT_COLUMNS`."""
    return EventRow(
        event_id=str(row[0]),
        channel=str(row[1]),
        scope=str(row[2]),
        chat_id=str(row[3]),
        thread=str(row[4]),
        language=str(row[5]),
        status=as_status(row[6]),
        created_at=float(row[7]),
    )


def as_rating(value: object) -> Rating:
    """A stored rating; anything unexpected reads as "no rating"."""
    if value == "like":
        return "like"
    if value == "dislike":
        return "dislike"
    return None


def as_status(value: object) -> EventStatus:
    """A stored event status (the schema's CHECK allows only these two)."""
    return "done" if value == "done" else "accepted"


def chat_prefix(channel: str, chat_id: str) -> str:
    """The leading part every scope of this chat shares (see ``ThreadKey.scope``)."""
    return f"{channel}:{chat_id}"


def scope_match_args(channel: str, chat_id: str) -> tuple[str, int, str]:
    """The :data:`CHAT_SCOPES` arguments selecting exactly this chat's scopes."""
    prefix = chat_prefix(channel, chat_id)
    return prefix, len(prefix) + 1, prefix + ":"


@dataclass(frozen=True, slots=True)
class ChatMove:
    """What ``migrate_chat`` does to the conversation table, in order: delete, then rename."""

    deletes: tuple[str, ...]
    renames: tuple[tuple[str, str], ...]


def plan_chat_move(
    channel: str,
    old_chat_id: str,
    new_chat_id: str,
    sources: Mapping[str, float],
    targets: Mapping[str, float],
) -> ChatMove:
    """Rewrite the chat id inside each source scope, keeping the rest of the scope.

    ``sources`` and ``targets`` map the scopes under the old and the new chat id to their
    ``updated_at``. When both ids already hold a conversation for the same scope, the more
    recently used one wins and the other is deleted.
    """
    old_prefix = chat_prefix(channel, old_chat_id)
    new_prefix = chat_prefix(channel, new_chat_id)
    deletes: list[str] = []
    renames: list[tuple[str, str]] = []
    for scope, updated_at in sorted(sources.items()):
        target = new_prefix + scope[len(old_prefix) :]
        target_updated = targets.get(target)
        if target_updated is not None and target_updated >= updated_at:
            deletes.append(scope)
            continue
        if target_updated is not None:
            deletes.append(target)
        renames.append((scope, target))
    return ChatMove(deletes=tuple(deletes), renames=tuple(renames))
