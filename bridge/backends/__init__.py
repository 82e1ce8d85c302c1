"""AI platforms behind one port: ClickAI, Chatbase, MaiAgent and Agentok (see ``base``)."""

from bridge.backends.base import (
    AwaitingInput,
    Backend,
    BackendEvent,
    BackendTurn,
    Capabilities,
    FileOut,
    Finished,
    Started,
    TextDelta,
    TextReplace,
    UploadRef,
)
from bridge.backends.routing import BackendRouter

__all__ = [
    "AwaitingInput",
    "Backend",
    "BackendEvent",
    "BackendRouter",
    "BackendTurn",
    "Capabilities",
    "FileOut",
    "Finished",
    "Started",
    "TextDelta",
    "TextReplace",
    "UploadRef",
]
