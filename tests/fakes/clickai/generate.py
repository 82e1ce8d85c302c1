"""The fake ClickAI's generation endpoints: validation, conversations, blocking answers."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.clickai.model import (
    _UUID,
    AppMode,
    Endpoint,
    HttpFailure,
    RawFrames,
    Reply,
    _ApiError,
    _Conversation,
    _Message,
    _Turn,
    _UserState,
)
from tests.fakes.clickai.stream import _Stream
from tests.fakes.clickai.wire import _failure_response, _json, _pause, _raw, _split, _usage


class _Generate(_Stream):
    """chat-messages, completion-messages and workflows/run."""

    # -- generation ------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode not in ("chat", "agent-chat", "advanced-chat"):
            raise _ApiError(400, "not_chat_app", "App mode mismatch: not a chat app.")
        return await self._generate(request, key, mode, "chat")

    async def _completion(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode != "completion":
            raise _ApiError(400, "app_unavailable", "App unavailable, please check your app.")
        return await self._generate(request, key, mode, "completion")

    async def _workflow(self, request: web.Request) -> web.StreamResponse:
        key, mode = self._app(request)
        if mode != "workflow":
            raise _ApiError(400, "not_workflow_app", "Please check if your app mode matches.")
        return await self._generate(request, key, mode, "workflow")

    async def _generate(
        self, request: web.Request, key: str, mode: AppMode, endpoint: Endpoint
    ) -> web.StreamResponse:
        body = self._body(request)
        if self._scripts and isinstance(self._scripts[0], HttpFailure | RawFrames):
            item = self._scripts.pop(0)
            if isinstance(item, HttpFailure):
                return _failure_response(item)
            assert isinstance(item, RawFrames)
            return await _raw(request, item)
        turn, streaming = self._validate(request, body, key, mode, endpoint)
        reply = self._scripts.pop(0) if self._scripts else Reply()
        assert isinstance(reply, Reply)
        self._running[turn.task_id] = turn
        try:
            if streaming:
                return await self._stream(request, turn, reply)
            return await self._blocking(turn, reply)
        finally:
            self._running.pop(turn.task_id, None)

    def _validate(
        self, request: web.Request, body: dict[str, Any], key: str, mode: AppMode, ep: Endpoint
    ) -> tuple[_Turn, bool]:
        model = {"chat": "ChatRequestPayload", "completion": "CompletionRequestPayload"}
        inputs = body.get("inputs")
        if not isinstance(inputs, dict):
            raise _ApiError(
                400,
                "invalid_param",
                f"1 validation error for {model.get(ep, 'Payload')}\n"
                "inputs\n  Field required [type=missing]",
            )
        if ep == "chat" and not isinstance(body.get("query"), str):
            raise _ApiError(
                400,
                "invalid_param",
                "1 validation error for ChatRequestPayload\n"
                "query\n  Field required [type=missing]",
            )
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        response_mode = body.get("response_mode") or "blocking"
        if response_mode not in ("streaming", "blocking"):
            raise _ApiError(400, "invalid_param", "response_mode must be streaming or blocking")
        if ep == "chat" and mode == "agent-chat" and response_mode == "blocking":
            raise _ApiError(400, "invalid_param", "Agent Chat App does not support blocking mode")
        query = str(body.get("query") or "").replace("\x00", "")
        if ep == "chat" and not query:
            raise _ApiError(400, "invalid_param", "query is required")
        if ep != "chat" and not query:
            query = str(inputs.get("query") or "")
        state = self._user_state(key, user)
        conversation = None
        if ep == "chat":
            conversation = self._conversation_for(request, body, state, inputs, query, mode)
        for item in self.user_input_form:
            for spec in item.values():
                name = spec.get("variable", "")
                if spec.get("required") and inputs.get(name) in (None, ""):
                    raise _ApiError(400, "invalid_param", f"{name} is required in input form")
        files = self._check_files(body.get("files"), state)
        if conversation is not None and conversation.id not in state.conversations:
            state.conversations[conversation.id] = conversation
        turn = _Turn(key, mode, ep, user, query, dict(inputs), files, conversation, None)
        if ep != "workflow":
            message = _Message(
                turn.message_id,
                conversation.id if conversation else "",
                query,
                dict(inputs),
                turn.created_at,
                files=[dict(f, belongs_to="user") for f in files],
            )
            turn.message = message
            state.messages[message.id] = message
            if conversation is not None:
                conversation.messages.append(message)
                conversation.updated_at = self._now()
        return turn, response_mode == "streaming"

    def _conversation_for(
        self,
        request: web.Request,
        body: dict[str, Any],
        state: _UserState,
        inputs: dict[str, Any],
        query: str,
        mode: str = "chat",
    ) -> _Conversation:
        conversation_id = body.get("conversation_id") or ""
        if (
            mode == "advanced-chat"
            and isinstance(conversation_id, str)
            and _UUID.match(conversation_id)
            and conversation_id not in state.conversations
        ):
            conversation_id = ""  # a real chatflow silently starts a new conversation
        if not conversation_id:
            name = query if len(query) <= 20 else query[:20] + "…"
            now = int(time.time())
            return _Conversation(str(uuid.uuid4()), name, dict(inputs), now, self._now())
        if not isinstance(conversation_id, str) or not _UUID.match(conversation_id):
            raise _ApiError(400, "invalid_param", "conversation_id must be a valid UUID")
        found = state.conversations.get(conversation_id)
        if found is None:
            raise self._not_found("Conversation Not Exists.", request)
        return found

    def _check_files(self, raw: object, state: _UserState) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or "transfer_method" not in item:
                continue
            if item["transfer_method"] == "local_file":
                upload = state.uploads.get(str(item.get("upload_file_id")))
                if upload is None:
                    raise _ApiError(400, "invalid_param", "Invalid upload file")
                files.append(
                    {
                        "id": str(uuid.uuid4()),
                        "filename": upload["name"],
                        "type": item.get("type", "custom"),
                        "url": upload["source_url"],
                        "mime_type": upload["mime_type"],
                        "size": upload["size"],
                        "transfer_method": "local_file",
                        "upload_file_id": upload["id"],
                    }
                )
            elif item.get("url"):
                files.append(
                    {
                        "id": str(uuid.uuid4()),
                        "type": item.get("type", "custom"),
                        "url": item["url"],
                        "transfer_method": "remote_url",
                    }
                )
        return files

    async def _blocking(self, turn: _Turn, reply: Reply) -> web.Response:
        answer = reply.answer if reply.answer is not None else f"You said: {turn.query}"
        chunks = _split(answer, reply.deltas or self.deltas)
        ftt = (
            self.first_token_delay if reply.first_token_delay is None else reply.first_token_delay
        )
        delay = self.delta_delay if reply.delta_delay is None else reply.delta_delay
        await _pause(turn, ftt + delay * max(0, len(chunks) - 1))
        if reply.hang:
            await _pause(turn, reply.hang_seconds)
        text = "".join(chunks[:1]) if turn.stop.is_set() else answer
        if reply.error:
            self._save(turn, "", [])
            raise _ApiError(reply.error_status, reply.error, reply.error_message)
        if reply.replace is not None:
            text = reply.replace
        files = self._publish(reply, chatflow=turn.profile in ("chatflow", "workflow"))
        self._save(turn, text, files)
        if turn.endpoint == "workflow":
            ok = reply.run_status == "succeeded"
            outputs = dict(reply.outputs) if reply.outputs is not None else {"answer": text}
            return _json(
                {
                    "task_id": turn.task_id,
                    "workflow_run_id": turn.run_id,
                    "data": {
                        "id": turn.run_id,
                        "workflow_id": "wf-1",
                        "status": reply.run_status,
                        "outputs": outputs if ok else None,
                        "error": None if ok else "boom",
                        "elapsed_time": 0.5,
                        "total_tokens": len(text),
                        "total_steps": 3,
                        "created_at": turn.created_at,
                        "finished_at": int(time.time()),
                    },
                }
            )
        if turn.profile == "chatflow" and reply.run_status != "succeeded":
            raise _ApiError(400, "invalid_param", "Run failed: Node LLM run failed: boom")
        body: dict[str, Any] = {
            "event": "message",
            "task_id": turn.task_id,
            "id": turn.message_id,
            "message_id": turn.message_id,
        }
        if turn.conversation is not None:
            body["conversation_id"] = turn.conversation.id
        body |= {
            "mode": turn.mode,
            "answer": text,
            "created_at": turn.created_at,
            "metadata": {
                "annotation_reply": None,
                "retriever_resources": [],
                "usage": _usage(text),
            },
        }
        if files:
            body["files"] = files
        return _json(body)
