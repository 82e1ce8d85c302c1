"""Shared vocabulary between the core and the channels: normalised messages and the ports.

Channels import this module (and ``bridge.errors``, ``bridge.text``, ``bridge.render``,
``bridge.i18n``), never ``bridge.relay``; the core never imports a platform library.

Flow::

    channel adapter --InboundMessage--> Intake.submit()  (the relay; returns fast)
    relay --open_reply()--> ReplyStream --update()/finish()--> platform
    channel adapter --feedback(ReplyRef, rating)--> Intake.feedback()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NewType, Protocol

ConversationId = NewType("ConversationId", str)
Rating = Literal["like", "dislike"] | None
"""A feedback rating; ``None`` clears an earlier one."""

AttachmentKind = Literal["image", "document", "audio", "video"]
Command = Literal["new", "stop"]
"""Commands the core understands; channels handle their own (/start, /help) themselves."""


class IntakeResult(StrEnum):
    """What ``Intake.submit`` did with a message; decides whether a platform delivery is acked.

    One rule for every transport (Telegram webhook and polling, Slack HTTP and Socket Mode):
    only a message the store now knows (``CLAIMED``, or ``DUPLICATE`` of one it knew) is
    acknowledged. ``REFUSED`` (shutting down) and ``FAILED`` (the claim itself failed: store
    locked, pool timeout, database down) are not, so the platform delivers the message again.
    """

    CLAIMED = "claimed"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    FAILED = "failed"

    @property
    def acknowledged(self) -> bool:
        return self in (IntakeResult.CLAIMED, IntakeResult.DUPLICATE)

    def __bool__(self) -> bool:
        """True only for ``CLAIMED`` (what ``submit`` returning ``True`` used to mean)."""
        return self is IntakeResult.CLAIMED


def all_acknowledged(results: Iterable[IntakeResult | None]) -> bool:
    """True when a delivery may be acked: every message it carried was claimed or a duplicate
    (``None`` stands for work that involved no message, e.g. a button press)."""
    return all(r is None or r.acknowledged for r in results)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadKey:
    """The unit of conversation: one ClickAI conversation per distinct key.

    ``thread_id`` is the forum topic / Slack thread ts ("" when none); ``user_id`` is set only
    when a group chat is scoped per user.
    """

    channel: str
    chat_id: str
    thread_id: str = ""
    user_id: str = ""

    @property
    def scope(self) -> str:
        """Stable string form, used as the store key and as ClickAI's ``user``."""
        parts = [self.channel, self.chat_id]
        if self.thread_id:
            parts += ["t", self.thread_id]
        if self.user_id:
            parts += ["u", self.user_id]
        return ":".join(parts)

    @classmethod
    def from_scope(cls, scope: str) -> ThreadKey:
        """Inverse of :attr:`scope`."""
        channel, chat_id, *rest = scope.split(":")
        fields = dict(zip(rest[::2], rest[1::2], strict=True))
        return cls(
            channel=channel,
            chat_id=chat_id,
            thread_id=fields.get("t", ""),
            user_id=fields.get("u", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """Who wrote a message."""

    id: str
    display_name: str = ""
    is_bot: bool = False
    is_admin: bool = False
    """A chat admin (Telegram) / workspace admin or owner (Slack): may ``/stop`` any answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file the user sent; ``ref`` is the platform's handle, resolved by ``Channel.download``."""

    ref: str
    name: str
    mime_type: str
    kind: AttachmentKind
    size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """One user message, normalised by a channel adapter.

    Attributes:
        key: the conversation scope this message belongs to.
        event_id: platform-unique delivery id used for dedupe, e.g. ``telegram:upd:42``.
        message_id: the user's message id on the platform (Telegram id, Slack ts).
        reply_thread: where the answer goes when it differs from ``key`` (Slack thread ts,
            Telegram topic id); "" means the chat itself.
        language: the UI language chosen by the channel ("en", "vi").
    """

    key: ThreadKey
    event_id: str
    message_id: str
    sender: Sender
    text: str
    attachments: tuple[Attachment, ...] = ()
    is_direct: bool = True
    command: Command | None = None
    language: str = "en"
    reply_thread: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundFile:
    """A file the assistant produced, already downloaded, to post back to the chat."""

    name: str
    mime_type: str
    data: bytes
    kind: AttachmentKind


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyRef:
    """Identifies one bot message on a platform (a reply that can receive feedback)."""

    channel: str
    chat_id: str
    message_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackOutcome:
    """What a feedback action did: ``found`` is False for messages the bridge does not know."""

    found: bool
    rating: Rating = None
    ok: bool = True
    allowed: bool = True
    """False when someone other than the person who asked tried to rate the answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Opening:
    """What a new chat shows: the app's opening statement and its starter questions."""

    statement: str = ""
    questions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PaceBudget:
    """A platform's flood budget: the core never updates replies faster than this.

    ``chat_interval_s`` applies per chat (``ReplyStream.pace_key``), ``group_interval_s`` per
    group chat (``is_group``), ``global_per_s`` across the whole bot / workspace.
    """

    chat_interval_s: float
    group_interval_s: float
    global_per_s: float


class ReplyStream(Protocol):
    """One bot answer that grows as ClickAI streams; created by ``Channel.open_reply``.

    The core paces calls (see ``bridge.pacing``): at most one call is in flight per stream, and
    ``update`` is only called when the chat's flood budget allows. Implementations raise
    ``bridge.errors.RateLimited`` on a platform 429 (the core waits ``retry_after`` and calls
    again with the newest text), must treat "not modified" as success, and must be resumable:
    a retried ``finish`` continues from what was already delivered, never duplicating it.
    """

    pace_key: str
    """The flood-limit bucket (usually the chat id)."""
    is_group: bool
    """True for multi-user chats that have a stricter per-chat budget."""
    wants_title: bool
    """True when the platform shows a title for this reply's thread (Slack assistant threads)."""
    on_message: Callable[[str], Awaitable[None]] | None
    """Set by the core: awaited with the platform id of each new message the reply creates,
    so a reply a crash left open can be closed or marked after a restart. Never raises."""

    async def start(self) -> None:
        """Show a typing / loading indicator; no message yet."""

    async def update(self, text: str) -> None:
        """Show ``text`` (Markdown, the full answer so far) as the in-progress reply."""

    async def finish(
        self,
        text: str,
        *,
        notice: str | None = None,
        files: Sequence[OutboundFile] = (),
        feedback: bool = False,
        suggestions: Sequence[str] = (),
    ) -> list[str]:
        """Show the final answer, then ``notice`` (a short translated status) if given.

        Returns the platform ids of the messages that carry the answer text (the reply map
        links them to the ClickAI message). ``feedback`` asks for 👍/👎 controls;
        ``suggestions`` are follow-up questions offered as buttons (a tap asks one).
        """
        ...

    async def set_title(self, title: str) -> None:
        """Name the thread (only called when ``wants_title``); failures are the reply's to log."""


class Intake(Protocol):
    """What channels call on the core (implemented by ``bridge.relay.Relay``)."""

    async def submit(self, msg: InboundMessage) -> IntakeResult:
        """Claim a message in the store and start answering it; returns fast.

        Never raises for a store failure: that is ``IntakeResult.FAILED``, and the channel
        must then leave the delivery unacknowledged (see :class:`IntakeResult`).
        """
        ...

    async def feedback(
        self, ref: ReplyRef, rating: Rating, *, toggle: bool, by: str = ""
    ) -> FeedbackOutcome:
        """Rate a bot reply as platform user ``by``. With ``toggle`` the same rating again
        clears it. Only the person who asked may rate an answer (``allowed`` False otherwise)."""
        ...

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat changed id (Telegram group → supergroup): keep its conversations."""

    async def has_conversation(self, key: ThreadKey) -> bool:
        """True when the store holds a conversation for ``key`` (e.g. the bot answered in a
        Slack thread before a restart); False when it does not or the store cannot say."""
        ...

    async def opening(self) -> Opening:
        """The opening statement and the starter questions a new chat shows."""
        ...

    async def stop_turn(self, key: ThreadKey) -> bool:
        """A platform's own stop button: stop the running turn of ``key`` without a notice.

        Returns False when nothing runs there (the press came too late).
        """
        ...

    def refused(self, channel: str, reason: str) -> None:
        """The channel refused a message itself (``reason`` "access": not in the allow-lists);
        only counted (``bridge_messages_total{outcome="refused_access"}``)."""


class Channel(Protocol):
    """A chat platform adapter."""

    name: str
    pace_budget: PaceBudget
    max_download_bytes: int | None
    """The platform's own cap on files the bot may download (None: none below ours)."""

    async def start(self, intake: Intake) -> None:
        """Connect and begin delivering messages to ``intake`` (must return once running)."""

    async def stop(self) -> None:
        """Stop taking new messages; idempotent."""

    async def close(self) -> None:
        """Release connections after in-flight replies finished; idempotent."""

    def open_reply(self, msg: InboundMessage) -> ReplyStream:
        """A reply stream for ``msg`` (no platform call until ``start``/``update``)."""
        ...

    def notice_reply(self, channel: str, chat_id: str, thread: str, language: str) -> ReplyStream:
        """A reply stream into a chat without an inbound message object (crash recovery)."""
        ...

    async def download(self, attachment: Attachment, *, max_bytes: int) -> bytes:
        """Fetch a user's file; raises ``bridge.errors.AttachmentError`` when it cannot."""
        ...

    async def close_interrupted(
        self, chat_id: str, thread: str, reply_id: str, language: str
    ) -> None:
        """A reply message an earlier run left unfinished (``reply_id``): close it (e.g. stop a
        native stream) and mark it visibly as incomplete. Best effort; never raises."""


MB = 1_000_000
"""The one unit of file sizes: ``bridge.max_file_mb``, notices and platform caps."""


def file_limit(max_file_bytes: int, channel: Channel | None) -> int:
    """The largest user file that can get through: our limit or the platform's own cap."""
    cap = channel.max_download_bytes if channel is not None else None
    return max_file_bytes if cap is None else min(max_file_bytes, cap)
