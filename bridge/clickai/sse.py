"""Sans-IO interpretation of ClickAI frames (SSE data frames and blocking bodies) as events."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from bridge.clickai.errors import error_from_frame
from bridge.clickai.events import (
    FileProduced,
    Finished,
    Started,
    StreamEvent,
    TextDelta,
    TextReplace,
    ThoughtUpdate,
)
from bridge.errors import ClickAIError

log = logging.getLogger(__name__)

_OK_RUN_STATUSES = frozenset({"succeeded", "partial-succeeded", "stopped"})
_TEXT_EVENTS = frozenset({"message", "agent_message"})
_ABORTED = "Aborted: User requested stop"


class StreamInterpreter:
    """Feeds on one response's frames and says what the caller should see.

    Call :meth:`feed` with each SSE frame's event name and data; it returns the events to yield
    and raises ClickAIError on an ``error`` frame or a failed run. After a terminal frame
    (``message_end``, ``workflow_finished``, ``workflow_paused``) :attr:`done` is True and the
    rest of the stream should be dropped. Call :meth:`eof` when the stream closed without one.
    """

    def __init__(
        self,
        *,
        workflow_output: str = "",
        selectors: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._workflow_output = workflow_output
        self._selectors = {} if selectors is None else selectors
        self._chunks: dict[tuple[str, ...], list[str]] = {}
        self._shown: list[str] = []
        self._agent = False
        self._started = False
        self._ids = {"conversation_id": "", "message_id": "", "task_id": ""}
        self._got_text = False
        self._files: dict[str, FileProduced] = {}
        self._chatflow = False
        self._end_usage: dict[str, Any] | None = None
        self.done = False
        self.workflow_run_id = ""
        self.reopened = False
        """The stream was reopened after a drop: frames may have been missed in between."""
        self.failed = False
        """The server ended the stream in failure (an ``error`` frame, a failed run, or EOF
        before any answer): nothing is left running on its side."""

    @property
    def started(self) -> bool:
        return self._started

    @property
    def resumable(self) -> bool:
        """A workflow or chatflow run is under way: its dropped stream can be reopened."""
        ended = self.done or self.failed or self._end_usage is not None  # message_end came
        return bool(self.workflow_run_id) and not ended

    @property
    def task_id(self) -> str:
        """The run's task id ("" until a data frame carried it): what the stop endpoints take."""
        return self._ids["task_id"]

    def feed(self, sse_event: str, data: str) -> tuple[list[StreamEvent], bool]:
        """Interpret one frame: returns (events, is_data_frame). Pings are not data frames."""
        if sse_event == "ping" or not data.strip():
            return [], False
        try:
            frame = json.loads(data)
        except ValueError:
            log.warning("ignoring a ClickAI frame that is not JSON (%d chars)", len(data))
            return [], True
        if not isinstance(frame, dict):
            return [], True
        return self.feed_frame(frame), True

    def feed_frame(self, frame: Mapping[str, Any]) -> list[StreamEvent]:
        if self.done:
            return []
        try:
            return self._interpret(frame)
        except ClickAIError:
            self.failed = True
            raise

    def _interpret(self, frame: Mapping[str, Any]) -> list[StreamEvent]:
        kind = _s(frame.get("event"))
        if kind == "error":
            raise error_from_frame(frame, before_run=not self._started)
        out: list[StreamEvent] = []
        self._note_ids(frame)
        if not self._started:
            self._started = True
            out.append(Started(**self._ids))
        data = frame.get("data")
        body: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if kind == "message" and self._agent:
            out.extend(self._final_text(_s(frame.get("answer"))))
        elif kind in _TEXT_EVENTS or (kind == "message_file" and "answer" in frame):
            self._agent = self._agent or kind == "agent_message"
            out.extend(self._text(_s(frame.get("answer"))))
        elif kind == "text_chunk":
            out.extend(self._text_chunk(body))
        elif kind == "message_replace":
            self._got_text = True
            self._shown = [_s(frame.get("answer"))]
            out.append(TextReplace(self._shown[0]))
        elif kind == "agent_thought":
            out.append(_thought(frame))
        elif kind == "message_file":
            produced = self._add_file(frame)
            if produced is not None:
                out.append(produced)
        elif kind == "message_end":
            self._add_files(frame.get("files"))
            self._end_usage = _usage(frame.get("metadata"))
            if not (self._chatflow and (self.reopened or not self._got_text)):
                out.append(self._finish(usage=self._end_usage))
            # else: a chatflow whose answer is only (or, after a reopen, surely) complete in its
            # outputs; workflow_finished follows.
        elif kind == "workflow_started":
            self._chatflow = "message_id" in frame
        elif kind == "workflow_finished":
            out.extend(self._workflow_finished(body))
        elif kind == "workflow_paused":
            out.append(self._finish(usage={}))
        return out

    def eof(self) -> list[StreamEvent]:
        """The stream closed without a terminal frame: finish if any text came, else raise."""
        if self.done:
            return []
        if self._end_usage is not None:
            return [self._finish(usage=self._end_usage)]
        if not self._got_text:
            self.failed = True
            raise ClickAIError("upstream", "ClickAI closed the stream without an answer")
        log.warning("ClickAI stream ended without a terminal frame; keeping the partial answer")
        return [self._finish(usage={})]

    def _text(self, text: str) -> list[StreamEvent]:
        if not text:
            return []
        self._got_text = True
        self._shown.append(text)
        return [TextDelta(text)]

    def _final_text(self, text: str) -> list[StreamEvent]:
        """Dify's "agent" mode ends with one ``message`` holding the whole answer after the
        ``agent_message`` deltas: it is the final value, never more text to append."""
        if not text or "".join(self._shown) == text:
            return []
        self._got_text, self._shown = True, [text]
        return [TextReplace(text)]

    def _text_chunk(self, body: Mapping[str, Any]) -> list[StreamEvent]:
        """A workflow streams a chunk for every End output (debug ones too), each tagged with
        the variable it comes from. With ``workflow_output`` set, only the chunks of the
        variable that fed that output last time are shown; the rest wait for the final value."""
        text = _s(body.get("text"))
        raw = body.get("from_variable_selector")
        selector = tuple(str(x) for x in raw) if isinstance(raw, list) else ()
        self._chunks.setdefault(selector, []).append(text)
        wanted = self._workflow_output
        if wanted and self._selectors.get(wanted) != selector:
            return []
        return self._text(text)

    def _workflow_finished(self, body: Mapping[str, Any]) -> list[StreamEvent]:
        _check_run_status(body)
        self._add_files(body.get("files"))
        out: list[StreamEvent] = []
        answer: str | None = None
        outputs = body.get("outputs")
        wanted = self._workflow_output or ("answer" if self.reopened and self._chatflow else "")
        if wanted and isinstance(outputs, Mapping) and outputs.get(wanted) is not None:
            answer = render_outputs(outputs, wanted)
            self._learn(wanted, answer)
            if not self._shown:
                out.extend(self._text(answer))
            elif "".join(self._shown) != answer:
                out.append(TextReplace(answer))
                self._shown = [answer]
        elif not self._got_text:
            rendered = render_outputs(body.get("outputs"), self._workflow_output)
            if rendered:
                answer = rendered
                out.extend(self._text(rendered))
        total = body.get("total_tokens")
        usage = self._end_usage or ({"total_tokens": total} if isinstance(total, int) else {})
        out.append(self._finish(usage=usage, answer=answer))
        return out

    def _learn(self, output: str, value: str) -> None:
        """Remember which variable's chunks make up ``output``, to stream it next time."""
        for selector, parts in self._chunks.items():
            if "".join(parts) == value:
                self._selectors[output] = selector
                return

    def _finish(self, *, usage: dict[str, Any], answer: str | None = None) -> Finished:
        self.done = True
        return Finished(
            message_id=self._ids["message_id"],
            conversation_id=self._ids["conversation_id"],
            answer=answer,
            files=tuple(self._files.values()),
            usage=usage,
        )

    def _note_ids(self, frame: Mapping[str, Any]) -> None:
        self.workflow_run_id = self.workflow_run_id or _s(frame.get("workflow_run_id"))
        for key in self._ids:
            if not self._ids[key]:
                self._ids[key] = _s(frame.get(key))

    def _add_file(self, raw: object) -> FileProduced | None:
        produced = assistant_file(raw)
        if produced is None or produced.id in self._files:
            return None
        self._files[produced.id] = produced
        return produced

    def _add_files(self, raw: object) -> None:
        if isinstance(raw, list):
            for item in raw:
                self._add_file(item)


def assistant_file(raw: object) -> FileProduced | None:
    """A file dict from a frame, if it is the assistant's and has a URL."""
    if not isinstance(raw, Mapping):
        return None
    belongs_to = _s(raw.get("belongs_to")) or "assistant"
    url = _s(raw.get("url")) or _s(raw.get("remote_url"))
    if belongs_to != "assistant" or not url:
        return None
    file_id = _s(raw.get("id")) or _s(raw.get("related_id")) or _s(raw.get("upload_file_id"))
    return FileProduced(
        id=file_id or url,
        type=_s(raw.get("type")) or "custom",
        url=url,
        belongs_to=belongs_to,
        filename=_s(raw.get("filename")) or _s(raw.get("name")),
        mime_type=_s(raw.get("mime_type")),
        extension=_s(raw.get("extension")),
    )


def blocking_events(body: Mapping[str, Any], *, workflow_output: str = "") -> list[StreamEvent]:
    """The event sequence for a blocking answer: Started, [TextDelta], Finished(answer=...)."""
    data = body.get("data")
    if "workflow_run_id" in body and isinstance(data, Mapping) and "outputs" in data:
        _check_run_status(data)
        answer = render_outputs(data.get("outputs"), workflow_output)
        message_id = ""
    else:
        answer = _s(body.get("answer"))
        message_id = _s(body.get("message_id")) or _s(body.get("id"))
    conversation_id = _s(body.get("conversation_id"))
    out: list[StreamEvent] = [Started(conversation_id, message_id, _s(body.get("task_id")))]
    if answer:
        out.append(TextDelta(answer))
    raw_files = body.get("files")
    files: dict[str, FileProduced] = {}
    for item in raw_files if isinstance(raw_files, list) else ():
        produced = assistant_file(item)
        if produced is not None:
            files.setdefault(produced.id, produced)
    out.append(
        Finished(
            message_id=message_id,
            conversation_id=conversation_id,
            answer=answer,
            files=tuple(files.values()),
            usage=_usage(body.get("metadata")),
        )
    )
    return out


def render_outputs(outputs: object, preferred: str = "") -> str:
    """A workflow's answer text: the preferred output, else answer/text/output, else JSON."""
    if not isinstance(outputs, Mapping) or not outputs:
        return ""
    for name in (preferred, "answer", "text", "output"):
        if name and outputs.get(name) is not None:
            value = outputs[name]
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(dict(outputs), ensure_ascii=False)


def _check_run_status(data: Mapping[str, Any]) -> None:
    """Raise for a failed run. ``stopped`` (the user pressed stop) ends the turn normally."""
    status = _s(data.get("status"))
    if status == "failed" and _s(data.get("error")).startswith(_ABORTED):
        return  # stopped through the stop endpoint with another user: still a stop
    if status and status not in _OK_RUN_STATUSES:
        error = _s(data.get("error")) or f"workflow run {status}"
        raise ClickAIError("upstream", error[:300], code=f"workflow_{status}")


def _thought(frame: Mapping[str, Any]) -> ThoughtUpdate:
    position = frame.get("position")
    return ThoughtUpdate(
        id=_s(frame.get("id")),
        position=position if isinstance(position, int) else 0,
        thought=_s(frame.get("thought")),
        tool=_s(frame.get("tool")),
        observation=_s(frame.get("observation")),
    )


def _usage(metadata: object) -> dict[str, Any]:
    if isinstance(metadata, Mapping):
        usage = metadata.get("usage")
        if isinstance(usage, Mapping):
            return dict(usage)
    return {}


def _s(value: object) -> str:
    return value if isinstance(value, str) else ""
