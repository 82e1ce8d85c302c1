"""Engine-neutral pieces of the SQL stores: shared statements, row decoding, chat-move planning.

Statements use PostgreSQL's ``$n`` placeholders; SQLite reads them as ``?n`` (see
``SqliteStore``), so both engines run the very same SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.model import Rating, ReplyRef
from bridge.store.base import ConversationRow, EventRow, EventStatus, Namespace, ReplyRow

CONVERSATION_COLUMNS = 'scope, conversation_id, "user", created_at, updated_at'
REPLY_COLUMNS = (
    'channel, chat_id, message_id, clickai_message_id, conversation_id, "user", rating, owner'
)
EVENT_COLUMNS = (
    "event_id, channel, scope, chat_id, thread, language, status, created_at, owner, lease_until"
)
EVENT_READ = EVENT_COLUMNS + ", reply_id"

NS = "bot = $1 AND backend = $2"
"""Every statement's first two arguments are the namespace (see :func:`ns_args`)."""

GET_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversation WHERE {NS} AND scope = $3"
SET_CONVERSATION = (
    'INSERT INTO conversation (bot, backend, scope, conversation_id, "user", created_at, '
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (bot, backend, scope) DO UPDATE "
    "SET created_at = CASE WHEN conversation.conversation_id = excluded.conversation_id "
    "THEN conversation.created_at ELSE excluded.created_at END, "
    'conversation_id = excluded.conversation_id, "user" = excluded."user", '
    "updated_at = excluded.updated_at"
)
"""Args: ns, scope, conversation_id, user, now. ``created_at`` resets with a new conversation."""
DROP_CONVERSATION = f"DELETE FROM conversation WHERE {NS} AND scope = $3"
CHAT_SCOPES = (
    f"SELECT scope, updated_at FROM conversation WHERE {NS} "
    "AND (scope = $3 OR substr(scope, 1, $4) = $5)"
)
"""Args: ns, :func:`scope_match_args`. ``substr`` not ``LIKE``: ``%``/``_`` stay literal."""
RENAME_SCOPE = f"UPDATE conversation SET scope = $4 WHERE {NS} AND scope = $3"
MOVE_REPLIES = (
    f"UPDATE reply SET chat_id = $5 WHERE {NS} AND channel = $3 AND chat_id = $4 AND NOT EXISTS "
    "(SELECT 1 FROM reply AS r WHERE r.bot = reply.bot AND r.backend = reply.backend "
    "AND r.channel = reply.channel AND r.chat_id = $5 AND r.message_id = reply.message_id)"
)
"""Args: ns, channel, old, new. A platform id already taken under the new chat id stays behind."""
ADD_REPLY = (
    "INSERT INTO reply (bot, backend, channel, chat_id, message_id, clickai_message_id, "
    'conversation_id, "user", rating, created_at, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, '
    "$8, (SELECT r.rating FROM reply AS r WHERE r.bot = $1 AND r.backend = $2 "
    "AND r.clickai_message_id = $6 LIMIT 1), $9, $10) "
    "ON CONFLICT (bot, backend, channel, chat_id, message_id) DO UPDATE SET "
    "rating = CASE WHEN reply.clickai_message_id = excluded.clickai_message_id "
    "THEN reply.rating ELSE excluded.rating END, "
    "clickai_message_id = excluded.clickai_message_id, "
    'conversation_id = excluded.conversation_id, "user" = excluded."user", owner = excluded.owner'
)
"""Args: :func:`reply_args`. A new part of an already rated message inherits the rating."""
GET_REPLY = (
    f"SELECT {REPLY_COLUMNS} FROM reply WHERE {NS} "
    "AND channel = $3 AND chat_id = $4 AND message_id = $5"
)
SET_RATING = f"UPDATE reply SET rating = $4 WHERE {NS} AND clickai_message_id = $3"
CLAIM_EVENT = (
    f"INSERT INTO event (bot, backend, {EVENT_COLUMNS}, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'accepted', $9, $10, $11, $12) "
    "ON CONFLICT (bot, backend, event_id) DO NOTHING"
)
"""Args: :func:`event_args`."""
FINISH_EVENT = f"UPDATE event SET status = 'done', updated_at = $4 WHERE {NS} AND event_id = $3"
SET_EVENT_REPLY = f"UPDATE event SET reply_id = $4, updated_at = $5 WHERE {NS} AND event_id = $3"
PENDING_EVENTS = (
    f"SELECT {EVENT_READ} FROM event WHERE {NS} AND status = 'accepted' ORDER BY created_at"
)
"""Engines append their arrival-order tie-breaker column."""
PRUNE_EVENTS = "DELETE FROM event WHERE status = 'done' AND created_at < $1"
"""Every namespace at once: answered deliveries are only kept for dedupe."""

_FROM_LEGACY = "SET bot = $1, backend = $2 WHERE bot = '' AND backend = ''"
ADOPT_CONVERSATIONS = (
    f"UPDATE conversation {_FROM_LEGACY} AND (scope = $3 OR substr(scope, 1, $4) = $5) "
    "AND NOT EXISTS (SELECT 1 FROM conversation AS c WHERE c.bot = $1 AND c.backend = $2 "
    "AND c.scope = conversation.scope)"
)
"""Args: ns, :func:`channel_match_args`. Moves the channel's pre-namespace conversations."""
ADOPT_REPLIES = (
    f"UPDATE reply {_FROM_LEGACY} AND channel = $3 AND NOT EXISTS (SELECT 1 FROM reply AS r "
    "WHERE r.bot = $1 AND r.backend = $2 AND r.channel = reply.channel "
    "AND r.chat_id = reply.chat_id AND r.message_id = reply.message_id)"
)
"""Args: ns, channel."""
ADOPT_EVENTS = (
    f"UPDATE event {_FROM_LEGACY} AND channel = $3 AND NOT EXISTS (SELECT 1 FROM event AS e "
    "WHERE e.bot = $1 AND e.backend = $2 AND e.event_id = event.event_id)"
)
"""Args: ns, channel."""


def ns_args(namespace: Namespace) -> tuple[str, str]:
    """The namespace arguments every statement starts with."""
    return namespace.bot, namespace.backend


def adoption(namespace: Namespace, channel: str) -> list[tuple[str, tuple[object, ...]]]:
    """The statements (with arguments) that move ``channel``'s legacy rows into ``namespace``."""
    ns = ns_args(namespace)
    return [
        (ADOPT_CONVERSATIONS, (*ns, *channel_match_args(channel))),
        (ADOPT_REPLIES, (*ns, channel)),
        (ADOPT_EVENTS, (*ns, channel)),
    ]


def reply_args(
    namespace: Namespace,
    refs: Sequence[ReplyRef],
    message_id: str,
    conversation_id: str,
    user: str,
    now: float,
    owner: str = "",
) -> list[tuple[str, str, str, str, str, str, str, str, float, str]]:
    """One :data:`ADD_REPLY` argument tuple per platform message."""
    return [
        (
            *ns_args(namespace),
            ref.channel,
            ref.chat_id,
            ref.message_id,
            message_id,
            conversation_id,
            user,
            now,
            owner,
        )
        for ref in refs
    ]


def event_args(
    namespace: Namespace, event: EventRow, now: float
) -> tuple[str, str, str, str, str, str, str, str, float, str, float, float]:
    """The :data:`CLAIM_EVENT` arguments."""
    return (
        *ns_args(namespace),
        event.event_id,
        event.channel,
        event.scope,
        event.chat_id,
        event.thread,
        event.language,
        float(event.created_at),
        event.owner,
        float(event.lease_until),
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
        owner=str(row[7] or ""),
    )


def event_from_row(row: Sequence[Any]) -> EventRow:
    """Decode a row selected with :data:`EVENT_READ`."""
    return EventRow(
        event_id=str(row[0]),
        channel=str(row[1]),
        scope=str(row[2]),
        chat_id=str(row[3]),
        thread=str(row[4]),
        language=str(row[5]),
        status=as_status(row[6]),
        created_at=float(row[7]),
        owner=str(row[8] or ""),
        lease_until=float(row[9] or 0.0),
        reply_id=str(row[10] or ""),
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
    """The :data:`CHAT_SCOPES` arguments (after the namespace) selecting this chat's scopes."""
    return prefix_match_args(chat_prefix(channel, chat_id))


def channel_match_args(channel: str) -> tuple[str, int, str]:
    """The :data:`ADOPT_CONVERSATIONS` arguments (after the namespace): the channel's scopes."""
    return prefix_match_args(channel)


def prefix_match_args(prefix: str) -> tuple[str, int, str]:
    """Match ``prefix`` itself or anything starting with ``prefix:``."""
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
