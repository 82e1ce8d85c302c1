"""Typed values exchanged with the ClickAI client: stream events, turn requests, file handles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# The Backend port's own event types (re-exported: ClickAI's stream uses them unchanged).
from bridge.backends.base import Started as Started
from bridge.backends.base import TextDelta as TextDelta
from bridge.backends.base import TextReplace as TextReplace

RunMode = Literal["chat", "completion", "workflow"]
"""Which generation endpoint a turn uses: chat-messages (chatbot, agent, chatflow),
completion-messages, or workflows/run."""

FileType = Literal["image", "document", "audio", "video", "custom"]
InputValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class ThoughtUpdate:
    """An agent step; the same ``id`` comes again with whole (not delta) content: upsert by id."""

    id: str
    position: int
    thought: str
    tool: str
    observation: str


@dataclass(frozen=True, slots=True)
class FileProduced:
    """A file made by the assistant; ``url`` is short-lived (download it promptly).

    ``filename``, ``mime_type`` and ``extension`` (with its dot) are "" when the server did not
    say; a workflow's file-preview URL ends in ``/file-preview``, so only these name the file.
    """

    id: str
    type: str
    url: str
    belongs_to: str = "assistant"
    filename: str = ""
    mime_type: str = ""
    extension: str = ""


@dataclass(frozen=True, slots=True)
class Finished:
    """The turn ended normally.

    ``answer`` is the authoritative full text when the text did not arrive as deltas (blocking
    mode, or an answer found only in a workflow's final outputs; it was then also yielded as one
    ``TextDelta``), else ``None``. ``files`` lists every assistant file of the turn, deduplicated
    by id, including the ones already announced by ``FileProduced``.
    """

    message_id: str
    conversation_id: str
    answer: str | None = None
    files: tuple[FileProduced, ...] = ()
    usage: dict[str, Any] = field(default_factory=dict)


StreamEvent = Started | TextDelta | TextReplace | ThoughtUpdate | FileProduced | Finished


@dataclass(frozen=True, slots=True)
class FileRef:
    """An uploaded file to attach to a turn (``upload_file_id`` from :class:`UploadedFile`)."""

    type: FileType
    upload_file_id: str

    def to_wire(self) -> dict[str, str]:
        return {
            "type": self.type,
            "transfer_method": "local_file",
            "upload_file_id": self.upload_file_id,
        }


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """The stable fields of ``POST /files/upload``'s answer."""

    id: str
    name: str
    size: int
    extension: str
    mime_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRequest:
    """One user turn to send to the assistant.

    ``query_variable`` names the input that receives the query for completion/workflow apps;
    ``workflow_output`` names the workflow output holding the answer ("" = guess).
    """

    mode: RunMode
    streaming: bool
    query: str
    user: str
    conversation_id: str | None = None
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    files: Sequence[FileRef] = ()
    query_variable: str = "query"
    workflow_output: str = ""
    auto_generate_name: bool = True
