"""The raw responses of a real Dify 1.14.2 server (``shared/reference/dify-real``) as fixtures.

The directory sits beside the repository clone (``<repo>/../shared/reference/dify-real``);
tests that need it call :func:`require` and are skipped when it is absent. Each capture is a
``.body`` or ``.sse`` file, with the status line and headers in a ``.headers`` file when one was
kept. Two kinds of capture are not the wire bytes as they are and are normalised here, which the
``verbatim`` flag records:

- curl's ``-w`` status (``" 200"``, ``" HTTP 200"``) was appended to some bodies: it is cut off
  and, when no ``.headers`` file exists, gives the status;
- a few streams were logged one line per frame with an arrival timestamp in front and without
  the blank line that ends each SSE frame: they are re-framed (``line + "\\n\\n"``), and
  ``gaps`` keeps the seconds between frames so a replay can reproduce the timing.

``replay(capture)`` is the :class:`tests.fakes.clickai.RawFrames` that makes the fake ClickAI
answer exactly this capture.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.fakes.clickai import HttpFailure, RawFrames

DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "dify-real"
_CURL_STATUS = re.compile(rb"(?<=\n) ?(?:HTTP )?(\d{3})\n?$")
_STAMPED = re.compile(rb"^(\d{10}\.\d+) (.*)$")
_SSE = "text/event-stream; charset=utf-8"
CAPTURED_ORIGIN = b"http://127.0.0.1:5001"
"""Where the captured server ran (file URLs in the captures point there)."""


@dataclass(frozen=True)
class Capture:
    """One captured response, ready to be served again."""

    name: str
    status: int
    content_type: str
    body: bytes
    frames: tuple[bytes, ...]
    gaps: tuple[float, ...]
    verbatim: bool

    @property
    def is_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    def json(self) -> object:
        return json.loads(self.body)


def require() -> Path:
    """The capture directory, or skip the calling test when it is not beside the clone."""
    if not DIR.is_dir():
        pytest.skip(f"real Dify captures not found at {DIR}")
    return DIR


def names() -> list[str]:
    """Every capture (file stem), or [] when the directory is absent."""
    if not DIR.is_dir():
        return []
    return sorted(p.stem for p in DIR.iterdir() if p.suffix in (".body", ".sse"))


@cache
def load(name: str) -> Capture:
    """The capture whose file stem is ``name`` (e.g. ``"01-stream"``)."""
    folder = require()
    [path] = [p for p in (folder / f"{name}.body", folder / f"{name}.sse") if p.exists()]
    raw = path.read_bytes()
    status, content_type = _headers(folder, name)
    verbatim = True
    trailer = _CURL_STATUS.search(raw)
    if trailer:
        raw, verbatim = raw[: trailer.start()], False
        status = status or int(trailer.group(1))
    frames: tuple[bytes, ...] = (raw,)
    gaps: tuple[float, ...] = ()
    stamped = [_STAMPED.match(line) for line in raw.splitlines()]
    if stamped and all(stamped):
        times = [float(m.group(1)) for m in stamped if m]
        frames = tuple(m.group(2) + b"\n\n" for m in stamped if m)
        gaps = tuple(b - a for a, b in itertools.pairwise(times))
        raw, verbatim = b"".join(frames), False
    if not content_type:
        content_type = _sniff(raw)
    if not status:
        status = _status_in_body(raw) if content_type == "application/json" else 200
    return Capture(name, status, content_type, raw, frames, gaps, verbatim)


def replay(capture: Capture | str, *, time_scale: float = 0.0, origin: str = "") -> RawFrames:
    """The fake ClickAI answer that serves ``capture``; frames of a timestamped capture come
    ``time_scale`` × their real gaps apart (0: all at once).

    ``origin`` (the fake's) replaces the captured server's in file URLs, so the files a capture
    names can be downloaded from the fake; otherwise the bytes are the capture's.
    """
    cap = load(capture) if isinstance(capture, str) else capture
    gaps = tuple(gap * time_scale for gap in cap.gaps)
    frames = cap.frames
    if origin:
        frames = tuple(f.replace(CAPTURED_ORIGIN, origin.encode()) for f in frames)
    return RawFrames(frames, content_type=cap.content_type, status=cap.status, gaps=gaps)


def _headers(folder: Path, name: str) -> tuple[int, str]:
    number = name.split("-", 1)[0]
    for candidate in (folder / f"{name}.headers", folder / f"{number}.headers"):
        if candidate.exists():
            lines = candidate.read_text("latin-1").splitlines()
            status = int(lines[0].split()[1])
            fields = {
                k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
            }
            return status, fields.get("content-type", "")
    return 0, ""


def _sniff(raw: bytes) -> str:
    head = raw.lstrip()[:10]
    if head.startswith((b"event:", b"data:")):
        return _SSE
    if head.startswith(b"<"):
        return "text/html; charset=utf-8"
    return "application/json"


def _status_in_body(raw: bytes) -> int:
    try:
        payload = json.loads(raw)
    except ValueError:
        return 200
    status = payload.get("status") if isinstance(payload, dict) else None
    return status if isinstance(status, int) and "code" in payload else 200


def failure(capture: Capture | str, *, path: str | None = None) -> HttpFailure:
    """The capture (an error answer) as a ``fail_next`` failure of the requests at ``path``."""
    cap = load(capture) if isinstance(capture, str) else capture
    headers = {"Content-Type": cap.content_type}
    return HttpFailure(status=cap.status, body=cap.body.decode(), headers=headers, path=path)


def sse_frames(capture: Capture | str) -> list[tuple[str, str]]:
    """The (event, data) of each SSE frame of a stream capture, pings included, in order."""
    cap = load(capture) if isinstance(capture, str) else capture
    frames: list[tuple[str, str]] = []
    for block in cap.body.decode().replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data or event != "message":
            frames.append((event, "\n".join(data)))
    return frames


def cut(capture: Capture | str, *, after: str, nth: int = 1) -> tuple[RawFrames, RawFrames]:
    """A stream capture split after its ``nth`` frame containing ``after`` (e.g. ``'"message"'``):
    the first part as a stream that ends early, the rest as what reopening it serves."""
    cap = load(capture) if isinstance(capture, str) else capture
    blocks = [b + b"\n\n" for b in cap.body.split(b"\n\n") if b.strip()]
    hits = [i for i, b in enumerate(blocks) if after.encode() in b]
    at = hits[nth - 1] + 1
    head, tail = b"".join(blocks[:at]), b"".join(blocks[at:])
    return (
        RawFrames([head], content_type=cap.content_type),
        RawFrames([tail], content_type=cap.content_type),
    )
