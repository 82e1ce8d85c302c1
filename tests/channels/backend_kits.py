"""Per-backend test kits for the end-to-end scenarios: a fake, its env, its scripted faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.agentok import Fail, FakeAgentok, Flow, Say
from tests.fakes.chatbase import CbReply, FakeChatbase
from tests.fakes.maiagent import FakeMaiAgent, MaiReply


class Kit(Protocol):
    kind: str
    files: bool
    feedback: bool

    def env(self) -> dict[str, str]: ...
    def answer(self, query: str) -> str: ...
    def conversation_sent(self) -> list[str | None]: ...
    def fail_mid_answer(self) -> str: ...
    def lose_conversation(self) -> None: ...
    def uploads(self) -> list[Any]: ...
    def ratings(self) -> list[Any]: ...


def _env(kind: str, base_url: str, key: str, id_key: str, app_id: str) -> dict[str, str]:
    return {
        "BRIDGE_BACKENDS__AI__KIND": kind,
        "BRIDGE_BACKENDS__AI__BASE_URL": base_url,
        "BRIDGE_BACKENDS__AI__API_KEY": key,
        f"BRIDGE_BACKENDS__AI__{id_key.upper()}": app_id,
        "BRIDGE_BACKENDS__AI__MAX_RETRIES": "1",
        "BRIDGE_BACKENDS__AI__POLL_INTERVAL_S": "0.02",
        "BRIDGE_TELEGRAM__BACKEND": "ai",
        "BRIDGE_SLACK__BACKEND": "ai",
    }


@dataclass
class ChatbaseKit:
    fake: FakeChatbase
    kind = "chatbase"
    files = False
    feedback = True

    def env(self) -> dict[str, str]:
        f = self.fake
        return _env("chatbase", f.base_url, f.key, "agent_id", f.agent_id)

    def answer(self, query: str) -> str:
        return f"You said: {query}"

    def conversation_sent(self) -> list[str | None]:
        return [c.json.get("conversationId") for c in self.fake.calls("/chat")]

    def fail_mid_answer(self) -> str:
        self.fake.script(CbReply(answer="abcdef", deltas=3, error_after=2))
        return "abcd"

    def lose_conversation(self) -> None:
        for cid in self.fake.conversations:
            self.fake.end_conversation(cid)

    def uploads(self) -> list[Any]:
        return []

    def ratings(self) -> list[Any]:
        return [c.json["feedback"] for c in self.fake.calls("/feedback", "PATCH")]


@dataclass
class MaiAgentKit:
    fake: FakeMaiAgent
    kind = "maiagent"
    files = True
    feedback = False

    def env(self) -> dict[str, str]:
        f = self.fake
        return _env("maiagent", f.base_url, f.key, "chatbot_id", f.chatbot_id)

    def answer(self, query: str) -> str:
        return f"You said: {query}"

    def conversation_sent(self) -> list[str | None]:
        return [c.json.get("conversation") for c in self.fake.calls("/completions/")]

    def fail_mid_answer(self) -> str:
        self.fake.script(MaiReply(answer="abcdef", deltas=3, cut_after=2))
        return "abcd"

    def lose_conversation(self) -> None:
        for cid in list(self.fake.conversations):
            self.fake.forget(cid)

    def uploads(self) -> list[Any]:
        return list(self.fake.uploads.values())

    def ratings(self) -> list[Any]:
        return []


@dataclass
class AgentokKit:
    fake: FakeAgentok
    kind = "agentok"
    files = False
    feedback = False

    def env(self) -> dict[str, str]:
        f = self.fake
        return _env("agentok", f.base_url, f.key, "flow_id", f.project)

    def answer(self, query: str) -> str:
        return f"planner: Plan for: {query}\n\nwriter: Answer: {query}"

    def conversation_sent(self) -> list[str | None]:
        return [c.path.split("/")[3] for c in self.fake.calls("/messages", "POST")]

    def fail_mid_answer(self) -> str:
        self.fake.script(Flow(steps=(Say("planner", "abcd"), Fail())))
        return "planner: abcd"

    def lose_conversation(self) -> None:
        self.fake.chats.clear()

    def uploads(self) -> list[Any]:
        return []

    def ratings(self) -> list[Any]:
        return []


KINDS = ("chatbase", "maiagent", "agentok")


@asynccontextmanager
async def kit_for(kind: str) -> AsyncIterator[Kit]:
    if kind == "chatbase":
        async with FakeChatbase() as cb:
            yield ChatbaseKit(cb)
    elif kind == "maiagent":
        async with FakeMaiAgent() as mai:
            yield MaiAgentKit(mai)
    else:
        async with FakeAgentok() as ak:
            yield AgentokKit(ak)
