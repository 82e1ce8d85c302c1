"""FakeClickAI: the assembled fake server (routes, lifecycle) and its command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from aiohttp import web

from tests.fakes.clickai.endpoints import _Endpoints
from tests.fakes.clickai.generate import _Generate


class FakeClickAI(_Generate, _Endpoints):
    """The fake server; see the package docstring for the scripting API."""

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The App Runtime API root, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.origin}/v1"

    @property
    def studio_base_url(self) -> str:
        return self.origin

    async def __aenter__(self) -> FakeClickAI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        add = app.router.add_route
        add("POST", "/v1/chat-messages", self._chat)
        add("POST", "/v1/completion-messages", self._completion)
        add("POST", "/v1/workflows/run", self._workflow)
        add("POST", "/v1/chat-messages/{task_id}/stop", self._stop)
        add("POST", "/v1/completion-messages/{task_id}/stop", self._stop)
        add("POST", "/v1/workflows/tasks/{task_id}/stop", self._stop)
        add("POST", "/v1/files/upload", self._upload)
        add("POST", "/v1/messages/{message_id}/feedbacks", self._feedback)
        add("GET", "/v1/messages/{message_id}/suggested", self._suggested)
        add("GET", "/v1/messages", self._messages)
        add("GET", "/v1/conversations", self._conversations)
        add("POST", "/v1/conversations/{conversation_id}/name", self._rename)
        add("DELETE", "/v1/conversations/{conversation_id}", self._delete)
        add("GET", "/v1/parameters", self._parameters)
        add("GET", "/v1/info", self._info)
        add("GET", "/v1/workflow/{run_id}/events", self._resume)
        add("GET", "/files/{tail:.*}", self._file)
        if self.studio:  # a plain Dify server has no Studio API
            add("GET", "/assistant/api/assistant/my-assistants", self._assistants)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self.origin = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeClickAI(
        key=args.key,
        mode=args.mode,
        port=args.port,
        deltas=args.deltas,
        delta_delay=args.delta_delay,
        first_token_delay=args.first_token_delay,
        ping_interval=args.ping_interval,
        spaced=args.spaced,
    )
    async with fake:
        print(fake.base_url, flush=True)
        print(
            f"bridge settings: BRIDGE_CLICKAI__BASE_URL={fake.base_url} "
            f"BRIDGE_CLICKAI__API_KEY={fake.key}",
            flush=True,
        )
        print(
            f"apps settings: BRIDGE_CLICKAI__STUDIO_BASE_URL={fake.studio_base_url} "
            f"BRIDGE_CLICKAI__STUDIO_TOKEN={fake.studio_token} "
            f"BRIDGE_CLICKAI__WORKSPACE_ID={fake.workspace_id}",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake ClickAI server.")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--key", default="app-test")
    parser.add_argument(
        "--mode",
        default="chat",
        choices=["chat", "agent-chat", "advanced-chat", "completion", "workflow"],
    )
    parser.add_argument("--deltas", type=int, default=8)
    parser.add_argument("--delta-delay", type=float, default=0.0)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--ping-interval", type=float, default=10.0)
    parser.add_argument("--spaced", action="store_true", help="legacy json.dumps frames")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
