"""The store's contract: conversation map, reply map and the inbound-event log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bridge.model import Rating, ReplyRef

EventStatus = Literal["accepted", "done"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace:
    """Whose rows these are: one bot (channel instance) answered by one backend (assistant app).

    Every row a store writes carries both, and every read and dedupe check matches both, so two
    bots or two apps sharing one database never see each other's conversations, replies or
    deliveries. ``bot`` is a stable identity of the bot account (e.g. ``telegram:123456`` from
    the token's bot id) and ``backend`` the configured backend's name (``clickai``). The empty
    namespace holds rows written before namespaces existed (schema version 3 and older); the
    default bot of each channel adopts them with :meth:`Store.adopt_legacy_rows`.
    """

    bot: str = ""
    backend: str = ""

    @property
    def is_legacy(self) -> bool:
        """True for the empty namespace of rows written before namespaces existed."""
        return not self.bot and not self.backend


LEGACY = Namespace()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRow:
    """A scope's ClickAI conversation and the ``user`` string every call for it carries."""

    scope: str
    conversation_id: str
    user: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyRow:
    """A bot message on a platform and the ClickAI message it shows."""

    ref: ReplyRef
    message_id: str
    conversation_id: str
    user: str
    rating: Rating
    owner: str = ""
    """The platform user who asked; in a group only they rate it ("" = anyone may)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """An accepted inbound message, kept until its reply is final (for dedupe and recovery).

    ``chat_id``/``thread``/``language`` are what recovery needs to tell the user the message
    was interrupted.
    """

    event_id: str
    channel: str
    scope: str
    chat_id: str
    thread: str
    language: str
    status: EventStatus
    created_at: float
    reply_id: str = ""
    """The platform id of the reply message the turn had opened ("" = none yet)."""
    owner: str = ""
    """The replica answering it ("" before leases existed)."""
    lease_until: float = 0.0
    """Epoch seconds until which ``owner`` holds it; past that another replica may take over."""


class Store(Protocol):
    """Persistence used by the relay; safe for concurrent use from one event loop.

    A store reads and writes one :class:`Namespace`; :meth:`scoped` gives a view of the same
    database bound to another one (sharing the connection; open and close the root store).
    """

    @property
    def namespace(self) -> Namespace:
        """The namespace this store reads and writes."""
        ...

    def scoped(self, namespace: Namespace) -> Store:
        """A view of the same database that reads and writes ``namespace``."""
        ...

    async def adopt_legacy_rows(self, channel: str) -> int:
        """Move ``channel``'s rows from the empty (pre-namespace) namespace into this one.

        Run by the default bot of each channel at start-up, so a database upgraded from schema
        version 3 keeps answering old chats in their old conversations. Rows whose key already
        exists in this namespace stay where they are. Returns the rows moved.
        """
        ...

    async def open(self) -> None:
        """Connect, apply pending migrations; raise ``SchemaTooNew`` for a newer schema."""

    async def close(self) -> None:
        """Flush and close; idempotent."""

    # conversations -------------------------------------------------------------------------
    async def get_conversation(self, scope: str) -> ConversationRow | None:
        """The conversation stored for ``scope``, if any."""
        ...

    async def set_conversation(self, scope: str, conversation_id: str, user: str) -> None:
        """Insert or replace the scope's conversation (touches ``updated_at``)."""

    async def drop_conversation(self, scope: str) -> None:
        """Forget the scope's conversation (``/new``, or ClickAI said it no longer exists)."""

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> int:
        """Move conversations and replies of a chat to its new id; returns rows moved."""
        ...

    # replies ---------------------------------------------------------------------------------
    async def add_replies(
        self,
        refs: Sequence[ReplyRef],
        *,
        message_id: str,
        conversation_id: str,
        user: str,
        owner: str = "",
    ) -> None:
        """Remember that these platform messages show ClickAI message ``message_id``, asked
        by platform user ``owner`` ("" when anyone who sees it may rate it)."""

    async def get_reply(self, ref: ReplyRef) -> ReplyRow | None:
        """The ClickAI message behind a platform message, if the bridge sent it."""
        ...

    async def set_rating(self, message_id: str, rating: Rating) -> None:
        """Record the current feedback on a ClickAI message (all its platform messages)."""

    # inbound events ----------------------------------------------------------------------------
    async def claim_event(self, event: EventRow) -> bool:
        """Record an inbound event as accepted; False when it was seen before (duplicate)."""
        ...

    async def finish_event(self, event_id: str) -> None:
        """Mark an event's reply final."""

    async def set_event_reply(self, event_id: str, reply_id: str) -> None:
        """Remember the reply message a turn opened, so an interrupted one can be closed."""

    async def pending_events(self) -> list[EventRow]:
        """Events accepted but never finished (the process died mid-turn), oldest first."""
        ...

    async def renew_leases(self, owner: str, until: float) -> int:
        """Extend the lease of every unfinished event ``owner`` holds (any namespace)."""
        ...

    async def take_expired(
        self, owner: str, *, before: float, until: float, limit: int = 100
    ) -> list[EventRow]:
        """Atomically become the owner of unfinished events whose lease ended before ``before``.

        Each event goes to exactly one caller however many replicas ask at once; the returned
        rows (oldest first) now carry ``owner`` and a lease until ``until``.
        """
        ...

    async def lock_scope(self, scope: str, owner: str, until: float) -> bool:
        """Take the scope's lock row until ``until`` unless another owner holds it unexpired."""
        ...

    async def unlock_scope(self, scope: str, owner: str) -> None:
        """Release the scope's lock row if ``owner`` holds it."""

    async def renew_scope_locks(self, owner: str, until: float) -> int:
        """Extend every scope lock ``owner`` holds (any namespace)."""
        ...

    async def prune_events(self, older_than: float) -> int:
        """Delete finished events created before ``older_than`` (epoch seconds)."""
        ...
