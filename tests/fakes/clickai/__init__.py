"""FakeClickAI: an in-process ClickAI (Dify Service API) server on 127.0.0.1 for tests and benches.

Start it as an async context manager; it listens on a free port::

    async with FakeClickAI() as fake:                    # key "app-test", a chatbot app
        client = ClickAIClient(base_url=fake.base_url, api_key=fake.key)
        ...
        assert fake.calls("chat-messages")[0].json["user"] == "telegram:42"

Or standalone: ``python -m tests.fakes.clickai --port 8901 [--key app-test] [--mode chat]
[--delta-delay 0.05]`` prints the base URL and serves until Ctrl-C.

What it implements (the reference's checklist): bearer auth (unknown key → 401, a key in
``disabled_keys`` → 403); state per (app key, user): conversations, messages, uploads, feedback;
``chat-messages`` validation (``inputs``/``user`` required, empty query, bad or foreign
``conversation_id`` → 404 ``not_found`` "Conversation Not Exists." + the flask-restx "did you mean"
suffix (an ``advanced-chat`` app, like a real chatflow, answers 200 with a new conversation
instead), foreign upload ids, required inputs from ``user_input_form``); absent ``response_mode`` =
blocking; the agent profile rejects blocking; streaming with identical ids on every frame, compact
JSON (``spaced=True`` for the legacy ``json.dumps`` style), ``event: ping`` every
``ping_interval`` seconds (chatflow/workflow open with one ping); ``message_end`` with usage;
stop (records it, ends the stream with the partial answer); upload (201, 413 above
``upload_limit``, 415 without a part Content-Type); feedback like/dislike/null; conversations
list/rename/delete (204, or ``delete_status=200``); messages paging; ``parameters``; ``info``;
``messages/{id}/suggested`` (``suggested_after_answer`` questions, or 403 when None = switched
off; ``suggested_questions`` are the opening ones in ``parameters``);
``completion-messages``; ``workflows/run``; assistant files served under ``/files/...``; the Studio
List Assistants API (``studio_token``, ``workspace_id``).

App profiles (``mode``): ``chat`` (chatbot), ``agent-chat``, ``advanced-chat`` (chatflow),
``completion``, ``workflow``. By default a turn answers ``"You said: <query>"`` in ``deltas``
pieces, ``first_token_delay`` then ``delta_delay`` seconds apart.

Scripting the next generation requests (chat/completion/workflow), consumed in order::

    fake.script(Reply(answer="Hi!", deltas=2))               # text, pacing, per-turn knobs
    fake.script(RawFrames(["data: {...}\\n\\n", "event: ping\\n\\n"]))   # exact bytes
    fake.script(HttpFailure(status=500))                     # an HTTP error instead

``Reply`` knobs: ``error="completion_request_error"`` (+``error_status``, ``error_message``,
``error_after`` deltas) = mid-stream error frame; ``replace="..."`` = message_replace;
``tool_steps=2`` = agent thoughts, each id sent three times; ``chatflow_order="legacy"`` =
workflow_finished before message_end; ``run_status="failed"`` (+``trailing_error=True``) = failed
run; ``outputs_only=True`` / ``outputs={...}`` = the answer only in workflow_finished outputs;
``hang=True`` = pings only; ``cut_after=1`` = close the connection after 1 delta without a terminal
frame; ``files=(FakeFile(),)`` with ``files_via="message_file"|"message_end"`` and
``relative_urls=True``; ``delta_delay=0.5`` for a slow trickle; ``spaced=True``.

``file_upload={...}`` sets what ``/parameters`` says about files (default: every type, 3 files,
as the real echo chatflow); ``fake.script_resume(RawFrames(...))`` queues answers for
``GET /v1/workflow/{run_id}/events`` (reopening a dropped stream; 404 when none is queued);
``fake.serve_file(path, data, content_type)`` serves a file under ``/files/...``.

Failing any endpoint: ``fake.fail_next(HttpFailure(status=429, code="too_many_requests",
headers={"Retry-After": "2"}, path="files/upload"))`` (``path=None`` = any request).

Assertions: ``fake.requests`` (every request: method, path, query, headers, json, form, files),
``fake.calls(path_suffix, method=None)``, ``fake.stops``, ``fake.conversations(user)``,
``fake.messages(user)``, ``fake.uploads(user)``, ``await fake.wait_for_requests(n)``.
"""

from tests.fakes.clickai.model import (
    DEFAULT_USER,
    AppMode,
    Endpoint,
    FakeFile,
    HttpFailure,
    RawFrames,
    RecordedRequest,
    Reply,
    _Turn,
)
from tests.fakes.clickai.server import FakeClickAI, main
from tests.fakes.clickai.wire import _Writer

__all__ = [
    "DEFAULT_USER",
    "AppMode",
    "Endpoint",
    "FakeClickAI",
    "FakeFile",
    "HttpFailure",
    "RawFrames",
    "RecordedRequest",
    "Reply",
    "_Turn",
    "_Writer",
    "main",
]
