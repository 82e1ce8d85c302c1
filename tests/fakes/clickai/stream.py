"""The fake ClickAI's streaming: SSE frames for every app profile, pings, stop, save."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.clickai.base import _Base
from tests.fakes.clickai.model import Reply, _Gone, _Turn
from tests.fakes.clickai.wire import _node, _pause, _split, _usage, _Writer


class _Stream(_Base):
    """Plays a turn as an SSE stream."""

    async def _stream(self, request: web.Request, turn: _Turn, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        writer = _Writer(response, spaced=self.spaced if reply.spaced is None else reply.spaced)
        pinger = asyncio.create_task(self._pinger(writer))
        try:
            await self._play(request, turn, reply, writer)
        except _Gone:
            pass
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return response

    async def _pinger(self, writer: _Writer) -> None:
        with contextlib.suppress(_Gone):
            while True:
                await asyncio.sleep(self.ping_interval)
                await writer.ping()

    async def _play(self, request: web.Request, turn: _Turn, reply: Reply, w: _Writer) -> None:
        profile = turn.profile
        answer = reply.answer if reply.answer is not None else f"You said: {turn.query}"
        chunks = _split(answer, reply.deltas or self.deltas)
        if profile in ("chatflow", "workflow"):
            await w.ping()
        if reply.hang:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.gone.wait(), reply.hang_seconds)
            return
        if profile in ("chatflow", "workflow"):
            await w.data(
                self._wf(
                    turn,
                    "workflow_started",
                    {
                        "id": turn.run_id,
                        "workflow_id": "wf-1",
                        "created_at": turn.created_at,
                        "inputs": {
                            **turn.inputs,
                            "sys.query": turn.query,
                            "sys.user_id": turn.user,
                        },
                    },
                )
            )
            await w.data(self._wf(turn, "node_started", _node("started")))
        for step in range(reply.tool_steps):
            thought_id = str(uuid.uuid4())
            for thought, tool, observation in (
                ("", "", ""),
                (f"Step {step + 1}: I should search.", "web_search", ""),
                (f"Step {step + 1}: I should search.", "web_search", f"result {step + 1}"),
            ):
                await w.data(self._thought(turn, thought_id, step + 1, thought, tool, observation))
        final_thought = str(uuid.uuid4())
        if profile == "agent":
            await w.data(self._thought(turn, final_thought, reply.tool_steps + 1, "", "", ""))
        await _pause(
            turn,
            self.first_token_delay if reply.first_token_delay is None else reply.first_token_delay,
        )
        delay = self.delta_delay if reply.delta_delay is None else reply.delta_delay
        sent = ""
        for i in range(len(chunks) + 1):
            if reply.error and i == min(reply.error_after, len(chunks)):
                self._save(turn, sent, [])
                await w.data(
                    self._frame(
                        turn,
                        "error",
                        task=False,
                        code=reply.error,
                        status=reply.error_status,
                        message=reply.error_message,
                    )
                )
                return
            if reply.cut_after is not None and i == min(reply.cut_after, len(chunks)):
                self._save(turn, sent, [])
                if request.transport is not None:
                    request.transport.close()
                raise _Gone
            if i == len(chunks) or turn.stop.is_set():
                break
            if not reply.outputs_only:
                await w.data(self._delta(turn, chunks[i]))
            sent += chunks[i]
            if i + 1 < len(chunks):
                await _pause(turn, delay)
        stopped = turn.stop.is_set()
        text = sent if stopped else answer
        if reply.replace is not None and not stopped:
            text = reply.replace
            await w.data(
                self._frame(turn, "message_replace", answer=text, reason="output_moderation")
            )
        if profile == "agent":
            await w.data(self._thought(turn, final_thought, reply.tool_steps + 1, text, "", ""))
        files = self._publish(reply, chatflow=profile in ("chatflow", "workflow"))
        if reply.files_via == "message_file" and profile != "workflow":
            for f in files:
                await w.data(
                    self._frame(
                        turn,
                        "message_file",
                        id=f["id"] or f["related_id"],
                        type=f["type"],
                        belongs_to="assistant",
                        url=f["url"],
                    )
                )
        self._save(turn, text, files)
        await self._terminal(turn, reply, w, text, files, stopped)

    async def _terminal(
        self,
        turn: _Turn,
        reply: Reply,
        w: _Writer,
        text: str,
        files: list[dict[str, Any]],
        stopped: bool,
    ) -> None:
        profile = turn.profile
        end_files: list[dict[str, Any]] | None = None
        if reply.files_via == "message_end" and profile != "workflow":
            end_files = [*([] if profile == "chatflow" else turn.files), *files]
        elif profile == "chatflow":
            end_files = []
        end = self._frame(
            turn,
            "message_end",
            id=turn.message_id,
            files=end_files,
            metadata={"annotation_reply": None, "retriever_resources": [], "usage": _usage(text)},
        )
        if profile in ("chat", "agent", "completion"):
            await w.data(end)
            return
        node = _node("succeeded") | {"outputs": {"text": text}}
        await w.data(self._wf(turn, "node_finished", node))
        status = "stopped" if stopped else reply.run_status
        outputs = dict(reply.outputs) if reply.outputs is not None else {"answer": text}
        finished = self._wf(
            turn,
            "workflow_finished",
            {
                "id": turn.run_id,
                "workflow_id": "wf-1",
                "status": status,
                "outputs": outputs if status == "succeeded" else None,
                "error": None
                if status == "succeeded"
                else ("Stopped by user." if stopped else "Node LLM run failed: boom"),
                "elapsed_time": 0.5,
                "total_tokens": len(text),
                "total_steps": 3,
                "created_at": turn.created_at,
                "finished_at": int(time.time()),
                "files": files
                if reply.files_via == "message_end" or profile == "workflow"
                else [],
            },
        )
        if profile == "workflow":
            await w.data(finished)
        elif status not in ("succeeded", "stopped"):
            await w.data(finished)
            if reply.trailing_error:
                await w.data(
                    self._frame(
                        turn,
                        "error",
                        task=False,
                        code="invalid_param",
                        status=400,
                        message="Run failed: Node LLM run failed: boom",
                    )
                )
        elif reply.chatflow_order == "legacy" or stopped:
            await w.data(finished)
            await w.data(end)
        else:
            await w.data(end)
            await w.data(finished)

    def _frame(
        self, turn: _Turn, event: str, *, task: bool = True, **extra: Any
    ) -> dict[str, Any]:
        if turn.endpoint == "workflow":
            return {
                "event": event,
                "workflow_run_id": turn.run_id,
                "task_id": turn.task_id,
                **extra,
            }
        frame: dict[str, Any] = {"event": event}
        if turn.conversation is not None:
            frame["conversation_id"] = turn.conversation.id
        frame |= {"message_id": turn.message_id, "created_at": turn.created_at}
        if task:
            frame["task_id"] = turn.task_id
        return frame | extra

    def _thought(
        self, turn: _Turn, thought_id: str, position: int, thought: str, tool: str, obs: str
    ) -> dict[str, Any]:
        return self._frame(
            turn,
            "agent_thought",
            id=thought_id,
            position=position,
            thought=thought,
            observation=obs,
            tool=tool,
            tool_labels={},
            tool_input=json.dumps({tool: {"q": turn.query}}) if tool else "",
            message_files=[],
        )

    def _wf(self, turn: _Turn, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._frame(turn, event, workflow_run_id=turn.run_id, data=data)

    def _delta(self, turn: _Turn, chunk: str) -> dict[str, Any]:
        if turn.profile == "workflow":
            return self._frame(
                turn, "text_chunk", data={"text": chunk, "from_variable_selector": ["llm", "text"]}
            )
        if turn.profile == "agent":
            return self._frame(turn, "agent_message", id=turn.message_id, answer=chunk)
        selector = ["answer", "answer"] if turn.profile == "chatflow" else None
        return self._frame(
            turn, "message", id=turn.message_id, answer=chunk, from_variable_selector=selector
        )

    def _publish(self, reply: Reply, *, chatflow: bool) -> list[dict[str, Any]]:
        """Serve the reply's files; returns their wire dicts (chatflow style: no belongs_to)."""
        out = []
        for f in reply.files:
            file_id = str(uuid.uuid4())
            extension = f.name.rpartition(".")[2] if "." in f.name else "bin"
            path = f"/files/tools/{file_id}.{extension}"
            self._served[path] = (f.content, f.mime_type)
            url = f"{path}?timestamp={int(time.time())}&nonce=fake&sign=fake"
            if not reply.relative_urls:
                url = self.origin + url
            item: dict[str, Any] = {
                "id": file_id,
                "type": f.type,
                "url": url,
                "filename": f.name,
                "extension": extension,
                "mime_type": f.mime_type,
                "size": len(f.content),
                "transfer_method": "tool_file",
            }
            if chatflow:
                item |= {
                    "dify_model_identity": "__dify__file__",
                    "id": None,
                    "related_id": file_id,
                }
            else:
                item |= {"belongs_to": "assistant", "upload_file_id": None}
            out.append(item)
        return out

    def _save(self, turn: _Turn, text: str, files: list[dict[str, Any]]) -> None:
        if turn.message is not None:
            turn.message.answer = text
            turn.message.files += [dict(f, belongs_to="assistant") for f in files]
        if turn.conversation is not None:
            turn.conversation.updated_at = self._now()
