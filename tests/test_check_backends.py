"""``check`` reaches every ``[backends.NAME]`` and every extra bot, one line each."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.agentok import FakeAgentok
from tests.fakes.chatbase import FakeChatbase
from tests.fakes.clickai import FakeClickAI
from tests.fakes.maiagent import FakeMaiAgent
from tests.fakes.telegram import FakeTelegram
from tests.test_check import run_check, settings_for, telegram_env

SALES_TOKEN = "777:SALES-token-abcdefghijklmnop"


def backend_env(name: str, kind: str, base_url: str, key: str, **ids: str) -> dict[str, str]:
    env = {
        f"BRIDGE_BACKENDS__{name}__KIND": kind,
        f"BRIDGE_BACKENDS__{name}__BASE_URL": base_url,
        f"BRIDGE_BACKENDS__{name}__API_KEY": key,
    }
    env.update({f"BRIDGE_BACKENDS__{name}__{k.upper()}": v for k, v in ids.items()})
    return env


async def test_every_backend_and_bot_gets_a_line(tmp_path: Path) -> None:
    async with (
        FakeClickAI() as ai,
        FakeChatbase() as cb,
        FakeMaiAgent() as mai,
        FakeAgentok() as ak,
        FakeTelegram() as tg,
        FakeTelegram(token=SALES_TOKEN) as sales,
    ):
        bots = [{"name": "sales", "token": SALES_TOKEN, "api_base_url": sales.url}]
        settings = settings_for(
            ai,
            tmp_path,
            **telegram_env(tg),
            BRIDGE_TELEGRAM__BOTS=json.dumps(bots),
            **backend_env("CB", "chatbase", cb.base_url, cb.key, agent_id=cb.agent_id),
            **backend_env("BADKEY", "maiagent", mai.base_url, "wrong", chatbot_id="x"),
            **backend_env("AK", "agentok", ak.base_url, ak.key, flow_id=ak.project),
            **backend_env("NOAGENT", "chatbase", cb.base_url, cb.key, agent_id="ghost"),
        )
        ok, lines = await run_check(settings)
    assert not ok
    by_name = {line.split(":")[0]: line for line in lines}
    assert by_name["backend cb (chatbase)"].endswith(f"ok ({cb.base_url}, agent_id agent-1)")
    assert "check backends.badkey.api_key" in by_name["backend badkey (maiagent)"]
    assert by_name["backend ak (agentok)"].startswith("backend ak (agentok): ok")
    assert "check backends.noagent.agent_id" in by_name["backend noagent (chatbase)"]
    assert by_name["telegram"].startswith("telegram: ok")
    assert by_name["telegram.sales"].startswith("telegram.sales: ok")
    assert [r.method for r in cb.calls("/conversations")] == ["GET", "GET"]
