"""FakeAgentok: Agentok Studio's chats API as its FastAPI code implements it (not as its docs say).

``POST /v1/chats/{id}/messages`` holds the request until the flow run ends (and kills a run
already going); runs store each agent turn as a whole ``assistant`` message plus marker messages;
``GET …/messages`` returns them unordered; human input goes to ``POST …/input``::

    async with FakeAgentok() as fake:              # key "ak-test", project (flow) "7"
        fake.script(Flow(steps=(Say("planner", "Plan"), Ask("Which city?"), Say("w", "{input}"))))
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.wire import WireFake

WAIT, RECEIVED, COMPLETED = (
    "__STATUS_WAIT_FOR_HUMAN_INPUT__",
    "__STATUS_RECEIVED_HUMAN_INPUT__",
    "__STATUS_COMPLETED__",
)


@dataclass(frozen=True)
class Say:
    """An agent turn; ``{query}`` and ``{input}`` are filled in."""

    sender: str
    content: str


@dataclass(frozen=True)
class Ask:
    """The flow asks the human and waits for ``POST …/input``."""

    prompt: str


@dataclass(frozen=True)
class Fail:
    """The generated program exits non-zero."""

    error: str = "ValueError: bad flow"


@dataclass(frozen=True)
class Hang:
    """The run never ends on its own."""


Step = Say | Ask | Fail | Hang


@dataclass(frozen=True, kw_only=True)
class Flow:
    steps: tuple[Step, ...] = (
        Say("planner", "Plan for: {query}"),
        Say("writer", "Answer: {query}"),
    )
    summary: str = "Done: {query}"
    delay: float = 0.01


@dataclass
class AkChat:
    id: int
    name: str
    project: str
    status: str = "ready"
    messages: list[dict[str, Any]] = field(default_factory=list)
    run: asyncio.Task[None] | None = None
    inbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class FakeAgentok(WireFake):
    def __init__(self, *, key: str = "ak-test", project: str = "7") -> None:
        super().__init__()
        self.key, self.project = key, project
        self.chats: dict[int, AkChat] = {}
        self._scripts: list[Flow] = []
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(100)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def script(self, *flows: Flow) -> None:
        self._scripts.extend(flows)

    def routes(self, app: web.Application) -> None:
        add = app.router.add_route
        add("GET", "/v1/chats", self._list)
        add("POST", "/v1/chats", self._create)
        add("GET", "/v1/chats/{id}", self._get)
        add("GET", "/v1/chats/{id}/messages", self._messages)
        add("POST", "/v1/chats/{id}/messages", self._send)
        add("POST", "/v1/chats/{id}/input", self._input)
        add("POST", "/v1/chats/{id}/abort", self._abort)

    async def __aexit__(self, *exc_info: object) -> None:
        for chat in self.chats.values():
            if chat.run is not None:
                chat.run.cancel()
        await super().__aexit__(*exc_info)

    def _refuse(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-api-key") != self.key:
            return web.json_response({"detail": "Invalid API key"}, status=401)
        return None

    def _chat(self, request: web.Request) -> AkChat | web.Response:
        chat = self.chats.get(int(request.match_info["id"]))
        return (
            chat
            if chat is not None
            else web.json_response({"detail": "Chat not found"}, status=404)
        )

    def _add(self, chat: AkChat, kind: str, content: str, sender: str = "") -> None:
        chat.messages.append(
            {
                "id": next(self._message_ids),
                "chat_id": chat.id,
                "type": kind,
                "content": content,
                "sender": sender or None,
                "metadata": {"sender": sender} if sender else {},
                "created_at": time.time(),
            }
        )

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        return web.json_response([{"id": c.id, "status": c.status} for c in self.chats.values()])

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        body = self.recorded(request).json or {}
        missing = [k for k in ("name", "from_type", "user_id") if k not in body]
        if missing or body.get("from_type") not in ("project", "template"):
            return web.json_response({"detail": [{"loc": ["body", *missing]}]}, status=422)
        chat = AkChat(next(self._ids), str(body["name"]), str(body.get("from_project")))
        self.chats[chat.id] = chat
        return web.json_response(_chat_json(chat))

    async def _get(self, request: web.Request) -> web.Response:
        chat = self._chat(request)
        return chat if isinstance(chat, web.Response) else web.json_response(_chat_json(chat))

    async def _messages(self, request: web.Request) -> web.Response:
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        return web.json_response(list(reversed(chat.messages)))  # no ORDER BY on the server

    async def _send(self, request: web.Request) -> web.Response:
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        body = self.recorded(request).json or {}
        if "type" not in body or "content" not in body:
            return web.json_response({"detail": [{"loc": ["body", "content"]}]}, status=422)
        if chat.run is not None and not chat.run.done():
            chat.run.cancel()  # a new message kills the run already going
        self._add(chat, "user", str(body["content"]))
        chat.status = "running"
        flow = self._scripts.pop(0) if self._scripts else Flow()
        chat.run = asyncio.create_task(self._run(chat, flow, str(body["content"])))
        await asyncio.wait([chat.run])
        return web.json_response(None)

    async def _run(self, chat: AkChat, flow: Flow, query: str) -> None:
        values = {"query": query, "input": ""}
        try:
            for step in flow.steps:
                await asyncio.sleep(flow.delay)
                if isinstance(step, Say):
                    self._add(chat, "assistant", step.content.format(**values), step.sender)
                elif isinstance(step, Ask):
                    self._add(chat, "assistant", f"{WAIT} {step.prompt}")
                    chat.status = "wait_for_human_input"
                    values["input"] = await chat.inbox.get()
                    self._add(chat, "assistant", RECEIVED)
                    chat.status = "running"
                elif isinstance(step, Fail):
                    self._add(chat, "assistant", f"{COMPLETED} 1: {step.error}")
                    chat.status = "failed"
                    return
                else:
                    await asyncio.sleep(3600)
            self._add(chat, "summary", flow.summary.format(**values))
            self._add(chat, "assistant", f"{COMPLETED} DONE")
            chat.status = "completed"
        except asyncio.CancelledError:
            self._add(chat, "assistant", f"{COMPLETED} TERMINATED")
            chat.status = "aborted"
            raise

    async def _input(self, request: web.Request) -> web.Response:
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        body = self.recorded(request).json or {}
        if chat.run is None or chat.run.done() or chat.status != "wait_for_human_input":
            return web.json_response({"error": f"No assistant found with that chat ID {chat.id}"})
        chat.inbox.put_nowait(str(body.get("content", "")))
        return web.json_response({"detail": "Input sent to assistant."})

    async def _abort(self, request: web.Request) -> web.Response:
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        if chat.run is not None and not chat.run.done():
            chat.run.cancel()
        return web.json_response({"detail": "Chat aborted."})


def _chat_json(chat: AkChat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "name": chat.name,
        "status": chat.status,
        "from_type": "project",
        "from_project": chat.project,
    }
