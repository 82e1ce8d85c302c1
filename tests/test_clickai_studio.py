"""StudioClient (List Assistants API) against FakeClickAI's Studio endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bridge.clickai import StudioClient
from bridge.config import ClickAIConfig
from bridge.errors import ClickAIError, ConfigError
from tests.fakes.clickai import FakeClickAI

ASSISTANTS = [
    {"id": f"a-{i}", "name": f"Bot {i}", "mode": "workflow" if i % 2 else "chat"} for i in range(5)
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickAI]:
    async with FakeClickAI(assistants=ASSISTANTS, studio_token="st-1", workspace_id="ws-1") as f:
        yield f


async def test_list_assistants_query_and_auth(fake: FakeClickAI) -> None:
    async with StudioClient(base_url=fake.studio_base_url, token="st-1") as studio:
        page = await studio.list_assistants(workspace_id="ws-1", mode="workflow", page_size=10)
    assert [a["id"] for a in page["data"]] == ["a-1", "a-3"]
    (request,) = fake.calls("/assistant/api/assistant/my-assistants")
    assert request.headers["Authorization"] == "Bearer st-1"
    assert request.query == {
        "page": "1",
        "page_size": "10",
        "workspace_id": "ws-1",
        "mode": "workflow",
    }


async def test_iter_assistants_walks_every_page(fake: FakeClickAI) -> None:
    async with StudioClient(base_url=fake.studio_base_url, token=SecretStr("st-1")) as studio:
        names = [a["name"] async for a in studio.iter_assistants(workspace_id="ws-1", page_size=2)]
    assert names == [f"Bot {i}" for i in range(5)]
    assert [r.query["page"] for r in fake.requests] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("token", "workspace", "kind"), [("bad", "ws-1", "auth"), ("st-1", "ws-2", "forbidden")]
)
async def test_studio_errors(fake: FakeClickAI, token: str, workspace: str, kind: str) -> None:
    async with StudioClient(base_url=fake.studio_base_url, token=token, max_retries=0) as studio:
        with pytest.raises(ClickAIError) as info:
            await studio.list_assistants(workspace_id=workspace)
    assert info.value.kind == kind


def test_from_config_needs_a_studio_token() -> None:
    config = ClickAIConfig(api_key=SecretStr("app-x"))
    with pytest.raises(ConfigError, match="studio_token"):
        StudioClient.from_config(config)
