"""``chat --backend NAME`` talks to any configured backend from the terminal (as a subprocess)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.chatbase import FakeChatbase
from tests.fakes.clickai import FakeClickAI
from tests.test_cli import cli, env_for


async def test_chat_with_a_named_backend_streams_rates_and_continues(tmp_path: Path) -> None:
    async with FakeClickAI() as ai, FakeChatbase() as cb:
        env = env_for(
            ai,
            tmp_path,
            BRIDGE_BACKENDS__SUPPORT__KIND="chatbase",
            BRIDGE_BACKENDS__SUPPORT__BASE_URL=cb.base_url,
            BRIDGE_BACKENDS__SUPPORT__API_KEY=cb.key,
            BRIDGE_BACKENDS__SUPPORT__AGENT_ID=cb.agent_id,
        )
        code, out, err = await cli(
            "chat", "--backend", "support", env=env, cwd=tmp_path, stdin="hello\n/like\n"
        )
        assert code == 0, err
        assert "You said: hello" in out and "Thanks for your feedback" in out
        code, out, err = await cli(
            "chat", "--backend", "support", env=env, cwd=tmp_path, stdin="again\n"
        )
        assert code == 0, err
        code, _, err = await cli("chat", "--backend", "nope", env=env, cwd=tmp_path, stdin="x\n")
    assert code == 1 and "no backend named 'nope'" in err
    first, second = cb.calls("/chat")
    assert first.json["userId"].startswith("console.")
    assert second.json["conversationId"] == next(iter(cb.conversations))
    assert [c.json for c in cb.calls("/feedback")] == [{"feedback": "positive"}]
    assert ai.calls("chat-messages") == []
