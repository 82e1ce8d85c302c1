"""The Backend port: what the relay asks of any AI platform, and the typed events a turn yields.

The core (``bridge.relay``, ``bridge.turn``) speaks only this module; each platform package under
``bridge.backends`` implements :class:`Backend` and translates its wire format and errors into
these events and :class:`bridge.errors.BackendError`.

A turn::

    async for event in backend.run(BackendTurn(query="hi", user="telegram:42")):
        Started      ids as soon as they are known (a backend may never send one)
        TextDelta    append to the answer; TextReplace: show this text instead
        FileOut      an assistant file to fetch with ``backend.download``
        AwaitingInput the run waits for the user's next message; the turn ends here
        Finished     the turn ended; carries the ids that may only arrive at the end
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bridge.model import Attachment, AttachmentKind, Opening, Rating

StopKind = Literal["server", "local"]
"""``server``: the platform stops generating; ``local``: the bridge only stops reading."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a backend can do; the relay and the channels show users only what works.

    ``attachments`` empty means files are refused up front; ``feedback`` False means no 👍/👎;
    ``conversation_id_early`` False means a new conversation's id arrives only with ``Finished``.
    """

    streaming: bool = True
    feedback: bool = False
    attachments: frozenset[AttachmentKind] = frozenset()
    max_upload_bytes: int | None = None
    stop: StopKind = "local"
    human_input: bool = False
    conversation_id_early: bool = True
    assistant_files: bool = False
    single_turn: bool = False
    """Each message stands alone (ClickAI completion and workflow apps): ``/new`` resets none."""


@dataclass(frozen=True, slots=True)
class Started:
    """Ids revealed by the first frame ("" where the platform has none yet)."""

    conversation_id: str
    message_id: str
    task_id: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Append ``text`` to the answer shown so far."""

    text: str


@dataclass(frozen=True, slots=True)
class TextReplace:
    """Discard everything shown so far and show ``text`` instead (output moderation, or a
    workflow's configured output when the streamed chunks were not exactly it)."""

    text: str


@dataclass(frozen=True, slots=True)
class FileOut:
    """A file made by the assistant; ``url`` is fetched with :meth:`Backend.download`.

    ``filename``, ``mime_type`` and ``extension`` (with its dot) are "" when the platform did not
    say (the URL's last segment then names the file).
    """

    id: str
    type: str
    url: str
    belongs_to: str = "assistant"
    filename: str = ""
    mime_type: str = ""
    extension: str = ""


@dataclass(frozen=True, slots=True)
class AwaitingInput:
    """The run paused for the user; their next message answers ``prompt``."""

    prompt: str
    conversation_id: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The turn ended normally.

    ``answer`` is the authoritative full text when the text did not arrive as deltas, else
    ``None``; ``message_id`` is "" when the platform gives no id (then no feedback).
    """

    message_id: str
    conversation_id: str
    answer: str | None = None
    files: tuple[FileOut, ...] = ()
    usage: Mapping[str, Any] = field(default_factory=dict)


BackendEvent = Started | TextDelta | TextReplace | FileOut | AwaitingInput | Finished


@dataclass(frozen=True, slots=True)
class UploadRef:
    """An uploaded user file, opaque to the core; ``handle`` is what the backend sends later.

    ``kind`` is the type the backend gave it in :meth:`Backend.file_types`."""

    kind: str
    handle: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendTurn:
    """One user turn. ``user`` is the stable per-conversation identity (``telegram:…``).

    After a turn that ended with :class:`AwaitingInput` the backend itself sees that its run
    waits and routes the next turn's text to it.
    """

    query: str
    user: str
    conversation_id: str | None = None
    files: Sequence[UploadRef] = ()


async def close_events(events: AsyncIterator[object]) -> None:
    """Close an event iterator at once (its HTTP stream with it) when a turn stops reading."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class Backend(Protocol):
    """One configured AI app on one platform (ClickAI, Chatbase, MaiAgent, Agentok).

    Every method raises :class:`bridge.errors.BackendError` (``kind`` drives the relay: e.g.
    ``conversation_gone`` starts a new conversation once, ``unsupported`` is never retried).
    """

    name: str
    """The configured name (``[backends.NAME]``; ``clickai`` for the ``[clickai]`` section)."""
    kind: str
    """The platform: ``clickai``, ``chatbase``, ``maiagent`` or ``agentok``."""

    @property
    def capabilities(self) -> Capabilities:
        """What users may be offered (may change after :meth:`prepare`)."""
        ...

    async def prepare(self) -> None:
        """Start-up: learn what the app is (mode, inputs); raise on a refused key."""

    def run(self, turn: BackendTurn) -> AsyncIterator[BackendEvent]:
        """Send one turn; yields events until the answer is complete."""
        ...

    async def file_types(self, attachments: Sequence[Attachment]) -> list[str]:
        """The type each file is sent as; raises ``AttachmentError`` (before any download) for
        files the app's own settings refuse (called only for kinds in ``attachments``)."""
        ...

    async def upload(
        self, *, data: bytes, filename: str, mime_type: str, kind: str, user: str
    ) -> UploadRef:
        """Upload a user file for the next turn as type ``kind`` (from :meth:`file_types`)."""
        ...

    async def feedback(
        self, *, message_id: str, conversation_id: str, rating: Rating, user: str
    ) -> None:
        """Rate an answer (``None`` clears); only called when ``capabilities.feedback``."""

    async def stop(self, *, task_id: str, conversation_id: str, user: str) -> None:
        """Ask the platform to stop a running answer (a no-op for ``stop == "local"``)."""

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch an assistant file announced by :class:`FileOut` (``bridge.fetch.FetchError``
        when the guarded fetcher refuses it)."""
        ...

    async def opening(self) -> Opening:
        """The app's greeting and starter questions (empty when it has none)."""
        ...

    async def after_answer(self, message_id: str, *, user: str) -> tuple[str, ...]:
        """Follow-up questions to offer under answer ``message_id`` (none when unsupported)."""
        ...

    async def title(self, conversation_id: str, *, user: str) -> str:
        """A name for a new conversation's thread ("" when the platform cannot make one)."""
        ...

    async def health(self) -> None:
        """One cheap authenticated call; raises ``BackendError`` when the key is refused."""

    async def aclose(self) -> None:
        """Release connections; idempotent."""
