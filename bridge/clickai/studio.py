"""StudioClient: the ClickAI Studio "List Assistants" API (workspace apps, not app runtime)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr

from bridge.clickai.session import ApiSession
from bridge.config import ClickAIConfig
from bridge.errors import ClickAIError, ConfigError

LIST_PATH = "assistant/api/assistant/my-assistants"


class StudioClient:
    """Lists the assistants of a workspace with a Studio access token (Bearer)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | SecretStr,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 30.0,
        requests_per_minute: int = 60,
        max_retries: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = ApiSession(
            base_url=base_url,
            secret=token,
            transport=transport,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            requests_per_minute=requests_per_minute,
            max_retries=max_retries,
            sleep=sleep,
        )

    @classmethod
    def from_config(
        cls, config: ClickAIConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> StudioClient:
        """Raises ConfigError when ``clickai.studio_token`` is not set."""
        if config.studio_token is None:
            raise ConfigError("clickai.studio_token: required to list assistants")
        return cls(
            base_url=config.studio_base_url,
            token=config.studio_token,
            transport=transport,
            connect_timeout_s=config.connect_timeout_s,
            max_retries=config.max_retries,
        )

    async def __aenter__(self) -> StudioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    async def list_assistants(
        self, *, workspace_id: str, mode: str | None = None, page: int = 1, page_size: int = 10
    ) -> dict[str, Any]:
        """One page: ``{"data": [{"id", "name", "mode", ...}, ...], ...}``."""
        params: dict[str, str | int] = {
            "page": page,
            "page_size": page_size,
            "workspace_id": workspace_id,
        }
        if mode:
            params["mode"] = mode
        response = await self._session.call("GET", LIST_PATH, params=params)
        try:
            payload = json.loads(response.content)
        except ValueError as exc:
            raise ClickAIError("upstream", "Studio answered with a body that is not JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data", []), list):
            raise ClickAIError("upstream", "Studio answered with an unexpected JSON shape")
        return payload

    async def iter_assistants(
        self, *, workspace_id: str, mode: str | None = None, page_size: int = 50
    ) -> AsyncIterator[dict[str, Any]]:
        """Every assistant of the workspace, page after page."""
        page = 1
        while True:
            payload = await self.list_assistants(
                workspace_id=workspace_id, mode=mode, page=page, page_size=page_size
            )
            items = [item for item in payload.get("data", []) if isinstance(item, dict)]
            for item in items:
                yield item
            has_more = payload.get("has_more")
            if not items or has_more is False or (has_more is None and len(items) < page_size):
                return
            page += 1
