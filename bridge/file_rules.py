"""The app's file settings (``/parameters`` → ``file_upload``): what a user may send it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.clickai import FileType
from bridge.clickai.parameters import AppParameters
from bridge.errors import AttachmentError
from bridge.model import Attachment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileRules:
    """What the app takes: ``types`` (Dify file types), ``extensions`` for ``custom`` (lower
    case, with the dot), at most ``limit`` files per message (0 = no limit)."""

    enabled: bool
    types: frozenset[str]
    extensions: frozenset[str]
    limit: int = 0

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> FileRules | None:
        """None when the answer has no ``file_upload`` at all (nothing known: ClickAI judges)."""
        raw = params.get("file_upload")
        if not isinstance(raw, Mapping):
            return None
        upload: Mapping[str, Any] = raw
        types = _strings(upload.get("allowed_file_types"))
        legacy = upload.get("image")
        if not types and isinstance(legacy, Mapping) and legacy.get("enabled"):
            upload, types = legacy, ["image"]  # before Dify 0.10: images only
        methods = _strings(
            upload.get("allowed_file_upload_methods") or upload.get("transfer_methods")
        )
        limit = upload.get("number_limits")
        return cls(
            enabled=bool(upload.get("enabled")) and (not methods or "local_file" in methods),
            types=frozenset(types),
            extensions=frozenset(map(_dotted, _strings(upload.get("allowed_file_extensions")))),
            limit=limit if isinstance(limit, int) and limit > 0 else 0,
        )

    def file_type(self, att: Attachment) -> FileType | None:
        """The Dify type to send ``att`` as, or None when the app does not take it.

        A voice note or any other audio goes as ``audio`` only when the app accepts audio;
        a file of a type the app does not list goes as ``custom`` when its extension is listed.
        """
        if not self.enabled:
            return None
        if att.kind in self.types:
            return att.kind
        extension = _dotted(att.name.rpartition(".")[2]) if "." in att.name else ""
        if "custom" in self.types and extension and extension in self.extensions:
            return "custom"
        return None

    def accepted(self) -> tuple[str, ...]:
        """The accepted types (Dify names, ``custom`` as its extensions), for a notice."""
        kinds: list[str] = [t for t in ("image", "document", "audio", "video") if t in self.types]
        if "custom" in self.types:
            kinds += sorted(self.extensions)
        return tuple(kinds) if self.enabled else ()

    def check(self, attachments: Sequence[Attachment]) -> list[FileType]:
        """The type of each attachment, or AttachmentError naming what the app accepts."""
        if self.limit and len(attachments) > self.limit:
            raise AttachmentError("too_many_files", str(self.limit), accepted=self.accepted())
        out: list[FileType] = []
        for att in attachments:
            kind = self.file_type(att)
            if kind is None:
                raise AttachmentError("not_accepted", att.name, accepted=self.accepted())
            out.append(kind)
        return out


class FileRulesSource:
    """The app's file rules from the shared :class:`AppParameters` (re-read as they are).
    None while they cannot be read: files then go through and ClickAI judges them."""

    def __init__(self, parameters: AppParameters) -> None:
        self._parameters = parameters
        self._read: Mapping[str, Any] | None = None
        self._rules: FileRules | None = None

    async def get(self) -> FileRules | None:
        params = await self._parameters.get()
        if params is not None and params is not self._read:
            self._read, self._rules = params, FileRules.from_parameters(params)
            if self._rules is not None:
                accepted = ", ".join(self._rules.accepted()) or "none"
                log.info("ClickAI app takes files: %s", accepted)
        return self._rules

    def stale(self) -> None:
        """Read the settings again before the next file (ClickAI refused one)."""
        self._parameters.stale()


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dotted(extension: str) -> str:
    extension = extension.strip().lower()
    return extension if extension.startswith(".") else f".{extension}"
