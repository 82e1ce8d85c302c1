"""The bridge's exception tree; foreign exceptions are wrapped at the edge with ``raise … from``.

::

    BridgeError
    ├─ ConfigError            a bad or missing setting; the message names the key
    ├─ StoreError
    │  └─ SchemaTooNew        the database was written by a newer version of the bridge
    ├─ BackendError           .kind, .status, .code, .retry_after (any AI platform)
    │  └─ ClickAIError        a failed ClickAI call
    ├─ AttachmentError        .reason (too_large, unsupported, download_failed)
    └─ ChannelError           .channel
       ├─ RateLimited         .retry_after (platform 429 / flood control)
       └─ ReplyGone           the chat can no longer be written to (bot blocked, chat deleted)
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "auth",
    "forbidden",
    "bad_request",
    "conversation_gone",
    "rate_limited",
    "quota",
    "upstream",
    "timeout",
    "unsupported",
]


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""


class ConfigError(BridgeError):
    """Invalid configuration; the message names the key at fault."""


class StoreError(BridgeError):
    """The store could not be opened or used."""


class SchemaTooNew(StoreError):
    """The database schema is newer than this code understands."""


class BackendError(BridgeError):
    """A failed call to an AI platform (ClickAI, Chatbase, MaiAgent, Agentok).

    Attributes:
        kind: the category the relay branches on.
        status: HTTP status (0 when there was no response).
        code: the platform's error code ("" when absent).
        retry_after: seconds to wait before retrying, when known.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.message = message

    def __str__(self) -> str:
        bits: list[str] = [self.kind]
        if self.status:
            bits.append(str(self.status))
        if self.code:
            bits.append(self.code)
        return f"[{' '.join(bits)}] {self.message}"


class ClickAIError(BackendError):
    """A failed ClickAI call (``code`` is ClickAI's ``code`` field)."""


AttachmentReason = Literal[
    "too_large",
    "unsupported",
    "download_failed",
    "upload_failed",
    "not_accepted",
    "too_many_files",
]


class AttachmentError(BridgeError):
    """A user's file could not be forwarded.

    ``accepted`` lists what the app takes (Dify file types and ``.ext`` extensions) when the
    app's file settings refused it; the message is the file's name (the limit for
    ``too_many_files``).
    """

    def __init__(
        self, reason: AttachmentReason, message: str, *, accepted: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.reason: AttachmentReason = reason
        self.accepted = accepted


class ChannelError(BridgeError):
    """A platform call failed."""

    def __init__(self, channel: str, message: str) -> None:
        super().__init__(message)
        self.channel = channel


class RateLimited(ChannelError):
    """The platform asked us to wait ``retry_after`` seconds (per chat unless ``global_``)."""

    def __init__(
        self, channel: str, retry_after: float, *, global_: bool = False, message: str = ""
    ) -> None:
        super().__init__(channel, message or f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after
        self.global_ = global_


class ReplyGone(ChannelError):
    """Writing to this chat is impossible now (the user blocked the bot, the chat is gone)."""
