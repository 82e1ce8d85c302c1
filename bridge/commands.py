"""The ``apps`` command and the line printer (``check`` and ``chat`` have modules of their own)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bridge.clickai import StudioClient
from bridge.config import Settings
from bridge.errors import ClickAIError

Printer = Callable[[str], None]


async def apps(settings: Settings, mode: str | None, say: Printer) -> bool:
    """List the workspace's assistants with the Studio List Assistants API."""
    c = settings.clickai
    if c is None or c.studio_token is None or not c.workspace_id:
        say("apps: set clickai.studio_token and clickai.workspace_id first")
        return False
    client = StudioClient.from_config(c)
    try:
        async for item in client.iter_assistants(workspace_id=c.workspace_id, mode=mode):
            say(f"{item.get('id', '?')}\t{item.get('mode', '?')}\t{item.get('name', '')}")
    except ClickAIError as exc:
        say(f"apps: FAIL: {studio_problem(exc, c.studio_base_url)}")
        return False
    finally:
        await client.aclose()
    return True


def studio_problem(exc: ClickAIError, url: str) -> str:
    """One line for a failed Studio call; a server without the Studio API answers an HTML 404."""
    if exc.status in (404, 405) or exc.message.lstrip().startswith("<"):
        return (
            f"no Studio API at {url} (HTTP {exc.status or '?'}): a plain Dify server has none; "
            "set clickai.studio_base_url to ClickAI Studio"
        )
    if exc.kind == "auth":
        return f"the Studio token was refused ({exc.status}); check clickai.studio_token"
    return str(exc).splitlines()[0][:200]


def printer(stream: TextIO = sys.stdout) -> Printer:
    def say(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return say
