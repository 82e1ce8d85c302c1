"""The fake ClickAI's other endpoints: stop, upload, feedback, history, parameters, Studio."""

from __future__ import annotations

import time
import uuid

from aiohttp import BodyPartReader, web

from tests.fakes.clickai.base import _Base
from tests.fakes.clickai.model import _UUID, _WERKZEUG_404, DEFAULT_USER, _ApiError, _Conversation
from tests.fakes.clickai.wire import _json, _limit, _raw, _require_chat


class _Endpoints(_Base):
    """Every endpoint that does not generate."""

    async def _stop(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        body = self._body(request)
        raw_user = body.get("user")
        user = raw_user if isinstance(raw_user, str) else ""
        if "/chat-messages/" in request.path:
            if mode not in ("chat", "agent-chat", "advanced-chat"):
                raise _ApiError(400, "not_chat_app", "App mode mismatch: not a chat app.")
            if not user:
                raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        elif "/completion-messages/" in request.path and mode != "completion":
            raise _ApiError(400, "app_unavailable", "App unavailable, please check your app.")
        elif "/workflows/" in request.path and mode != "workflow":
            raise _ApiError(400, "not_workflow_app", "Please check if your app mode matches.")
        task_id = request.match_info["task_id"]
        self.stops.append((task_id, user))
        turn = self._running.get(task_id)
        if (
            turn is not None
            and turn.key == key
            and (turn.user == user or turn.profile in ("chatflow", "workflow"))
        ):
            turn.stop.set()
        return _json({"result": "success"})

    async def _upload(self, request: web.Request) -> web.Response:
        key, _ = self._app(request)
        record = self._records[id(request)]
        if not request.content_type.startswith("multipart/"):
            raise _ApiError(400, "no_file_uploaded", "Please upload your file.")
        parts: list[tuple[str, str, str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.filename is None:
                record.form[part.name or ""] = await part.text()
                continue
            data = await part.read()
            content_type = part.headers.get("Content-Type", "")
            parts.append((part.name or "", part.filename, content_type, bytes(data)))
            record.files[part.name or ""] = (part.filename, content_type, bytes(data))
        if not parts or parts[0][0] != "file":
            raise _ApiError(400, "no_file_uploaded", "Please upload your file.")
        if len(parts) > 1:
            raise _ApiError(400, "too_many_files", "Only one file is allowed.")
        _, filename, content_type, data = parts[0]
        if not filename:
            raise _ApiError(
                400, "filename_not_exists_error", "The specified filename does not exist."
            )
        if "/" in filename or "\\" in filename:
            raise _ApiError(400, "invalid_param", "Filename contains invalid characters")
        if not content_type:
            raise _ApiError(415, "unsupported_file_type", "File type not allowed.")
        if len(data) > self.upload_limit:
            raise _ApiError(
                413, "file_too_large", f"File size exceeded. {len(data)} > {self.upload_limit}"
            )
        user = record.form.get("user") or DEFAULT_USER
        upload_id = str(uuid.uuid4())
        preview = f"/files/{upload_id}/file-preview"
        self._served[preview] = (data, content_type)
        upload = {
            "id": upload_id,
            "name": filename,
            "size": len(data),
            "extension": filename.rpartition(".")[2] if "." in filename else "",
            "mime_type": content_type,
            "created_by": str(uuid.uuid5(uuid.NAMESPACE_OID, user)),
            "created_at": int(time.time()),
            "preview_url": None,
            "source_url": f"{self.origin}{preview}?timestamp=0&nonce=fake&sign=fake",
        }
        self._user_state(key, user).uploads[upload_id] = upload
        return _json(upload, status=201)

    async def _feedback(self, request: web.Request) -> web.Response:
        key, _ = self._app(request)
        message_id = request.match_info["message_id"]
        if not _UUID.match(message_id):
            raise self._not_found(_WERKZEUG_404, request)
        body = self._body(request)
        user = body.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError(400, "invalid_param", "Arg user must be provided.")
        message = self._user_state(key, user).messages.get(message_id)
        if message is None:
            raise self._not_found("Message Not Exists.", request)
        rating = body.get("rating")
        if rating is None:
            if message.feedback is None:
                raise _ApiError(
                    400, "invalid_param", "rating cannot be None when feedback not exists"
                )
            message.feedback = None
        elif rating in ("like", "dislike"):
            message.feedback = {"rating": rating, "content": body.get("content")}
        else:
            raise _ApiError(400, "invalid_param", "rating must be like, dislike or null")
        return _json({"result": "success"})

    async def _suggested(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        message_id = request.match_info["message_id"]
        user = request.query.get("user") or ""
        if not user:
            raise _ApiError(400, "invalid_param", "user is required")
        if self._user_state(key, user).messages.get(message_id) is None:
            raise self._not_found("Message Not Exists.", request)
        if self.suggested_after_answer is None:
            raise _ApiError(
                403,
                "suggested_questions_after_answer_disabled",
                "Suggested questions after answer function is disabled.",
            )
        return _json({"result": "success", "data": list(self.suggested_after_answer)})

    async def _messages(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        query = request.query
        limit = _limit(query.get("limit"))
        if "conversation_id" not in query:
            raise _ApiError(400, "invalid_param", "conversation_id is required")
        if not query["conversation_id"]:
            return _json({"limit": limit, "has_more": False, "data": []})
        state = self._user_state(key, query.get("user") or DEFAULT_USER)
        conversation = state.conversations.get(query["conversation_id"])
        if conversation is None:
            raise self._not_found("Conversation Not Exists.", request)
        older = conversation.messages
        if query.get("first_id"):
            ids = [m.id for m in older]
            if query["first_id"] not in ids:
                raise self._not_found("First Message Not Exists.", request)
            older = older[: ids.index(query["first_id"])]
        page = older[-limit:]
        return _json(
            {"limit": limit, "has_more": len(older) > limit, "data": [m.to_json() for m in page]}
        )

    async def _conversations(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        query = request.query
        limit = _limit(query.get("limit"))
        sort_by = query.get("sort_by") or "-updated_at"
        field_name = sort_by.lstrip("-")
        if field_name not in ("created_at", "updated_at"):
            raise _ApiError(400, "invalid_param", "sort_by is invalid")
        state = self._user_state(key, query.get("user") or DEFAULT_USER)
        items = sorted(
            state.conversations.values(),
            key=lambda c: (
                (c.created_at, c.updated_at) if field_name == "created_at" else c.updated_at
            ),
            reverse=sort_by.startswith("-"),
        )
        if query.get("last_id"):
            ids = [c.id for c in items]
            if query["last_id"] not in ids:
                raise self._not_found("Last Conversation Not Exists.", request)
            items = items[ids.index(query["last_id"]) + 1 :]
        page = items[:limit]
        return _json(
            {
                "limit": limit,
                "has_more": len(page) == limit and len(items) > limit,
                "data": [c.to_json() for c in page],
            }
        )

    def _owned_conversation(self, request: web.Request, key: str) -> tuple[_Conversation, str]:
        conversation_id = request.match_info["conversation_id"]
        if not _UUID.match(conversation_id):
            raise self._not_found(_WERKZEUG_404, request)
        body = self._body(request)
        user = body.get("user") if isinstance(body.get("user"), str) else ""
        found = self._user_state(key, user or DEFAULT_USER).conversations.get(conversation_id)
        if found is None:
            raise self._not_found("Conversation Not Exists.", request)
        return found, user or DEFAULT_USER

    async def _rename(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        conversation, _ = self._owned_conversation(request, key)
        body = self._body(request)
        if body.get("auto_generate"):
            if not conversation.messages:
                raise _ApiError(400, "invalid_param", "Conversation has no message")
            first = conversation.messages[0].query
            conversation.name = first if len(first) <= 47 else first[:47] + "..."
        else:
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _ApiError(400, "invalid_param", "name is required")
            conversation.name = name.strip()
        conversation.updated_at = self._now()
        return _json(conversation.to_json())

    async def _delete(self, request: web.Request) -> web.Response:
        key, mode = self._app(request)
        _require_chat(mode)
        conversation, user = self._owned_conversation(request, key)
        state = self._user_state(key, user)
        del state.conversations[conversation.id]
        for message in conversation.messages:
            state.messages.pop(message.id, None)
        if self.delete_status == 200:
            return _json({"result": "success"})
        return web.Response(status=204)

    async def _parameters(self, request: web.Request) -> web.Response:
        self._app(request)
        off = {"enabled": False}
        return _json(
            {
                "opening_statement": self.opening_statement,
                "suggested_questions": self.suggested_questions,
                "suggested_questions_after_answer": {
                    "enabled": self.suggested_after_answer is not None
                },
                "speech_to_text": off,
                "text_to_speech": off,
                "retriever_resource": off,
                "annotation_reply": off,
                "more_like_this": off,
                "sensitive_word_avoidance": off,
                "user_input_form": self.user_input_form,
                "file_upload": self.file_upload,
                "system_parameters": {
                    "file_size_limit": 15,
                    "image_file_size_limit": 10,
                    "audio_file_size_limit": 50,
                    "video_file_size_limit": 100,
                    "workflow_file_upload_limit": 10,
                },
            }
        )

    async def _info(self, request: web.Request) -> web.Response:
        _, mode = self._app(request)
        return _json(
            {
                "name": self.app_name,
                "description": "A fake ClickAI assistant",
                "tags": [],
                "mode": mode,
                "author_name": "FakeClickAI",
            }
        )

    async def _resume(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/workflow/{run_id}/events?user=``: the next scripted resume, else 404."""
        self._app(request)
        if not self.resumes:
            raise web.HTTPNotFound
        if not request.query.get("user"):
            raise _ApiError(400, "invalid_param", "user is required")
        return await _raw(request, self.resumes.pop(0))

    async def _file(self, request: web.Request) -> web.Response:
        served = self._served.get(request.path)
        if served is None:
            raise self._not_found(_WERKZEUG_404, request)
        return web.Response(body=served[0], content_type=served[1])

    async def _assistants(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.studio_token:
            raise _ApiError(401, "unauthorized", "Invalid token")
        workspace_id = request.query.get("workspace_id")
        if not workspace_id:
            raise _ApiError(400, "invalid_param", "workspace_id is required")
        if workspace_id != self.workspace_id:
            raise _ApiError(403, "forbidden", "You do not have access to this workspace")
        try:
            page = max(1, int(request.query.get("page", "1")))
            page_size = max(1, int(request.query.get("page_size", "10")))
        except ValueError as exc:
            raise _ApiError(400, "invalid_param", "page and page_size must be integers") from exc
        mode = request.query.get("mode")
        items = [a for a in self.assistants if not mode or a.get("mode") == mode]
        chunk = items[(page - 1) * page_size : page * page_size]
        return _json(
            {
                "data": chunk,
                "page": page,
                "page_size": page_size,
                "total": len(items),
                "has_more": page * page_size < len(items),
            }
        )
