"""The physical floor: polls updates, streams the SSE answer, one send + one final edit per reply.

``python -m bench.floor --clickai URL --key KEY --telegram URL --token TOKEN`` runs until
SIGTERM. It paces nothing; on a 429 it waits ``retry_after`` and retries (at most 20 times).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Sequence
from typing import Any

import httpx
from httpx_sse import aconnect_sse


class Floor:
    """The minimal direct client."""

    def __init__(self, http: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.http, self.args = http, args
        self.tg = f"{args.telegram}/bot{args.token}"
        self.conversations: dict[int, str] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def poll(self) -> None:
        offset = 0
        while True:
            r = await self.http.post(
                f"{self.tg}/getUpdates", json={"offset": offset, "timeout": 25}, timeout=35
            )
            for update in r.json().get("result", []):
                offset = max(offset, int(update["update_id"]) + 1)
                msg = update.get("message")
                if msg and msg.get("text"):
                    task = asyncio.create_task(self.answer(int(msg["chat"]["id"]), msg["text"]))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)

    async def bot(self, method: str, **params: Any) -> dict[str, Any]:
        for _ in range(20):
            r = await self.http.post(f"{self.tg}/{method}", json=params)
            body: dict[str, Any] = r.json()
            if r.status_code != 429:
                return body
            await asyncio.sleep(float(body.get("parameters", {}).get("retry_after", 1)))
        return {}

    async def answer(self, chat_id: int, query: str) -> None:
        payload = {
            "inputs": {},
            "query": query,
            "user": f"telegram:{chat_id}",
            "response_mode": "streaming",
            "conversation_id": self.conversations.get(chat_id, ""),
        }
        headers = {"Authorization": f"Bearer {self.args.key}"}
        text, shown, message_id = "", "", 0
        url = f"{self.args.clickai}/chat-messages"
        async with aconnect_sse(self.http, "POST", url, json=payload, headers=headers) as sse:
            async for event in sse.aiter_sse():
                if not event.data:
                    continue
                frame = json.loads(event.data)
                kind = frame.get("event")
                if kind == "message":
                    text += frame.get("answer", "")
                    if not message_id and text.strip():
                        sent = await self.bot("sendMessage", chat_id=chat_id, text=text)
                        message_id = int(sent.get("result", {}).get("message_id", 0))
                        shown = text
                elif kind == "message_end":
                    self.conversations[chat_id] = frame.get("conversation_id", "")
                    if message_id and text != shown:
                        await self.bot(
                            "editMessageText", chat_id=chat_id, message_id=message_id, text=text
                        )
                    break


async def _main(args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as http:
        floor = Floor(http, args)
        poller = asyncio.create_task(floor.poll())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, poller.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        for task in list(floor.tasks):
            task.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--clickai", required=True, help="App API root, e.g. http://…/v1")
    parser.add_argument("--key", required=True)
    parser.add_argument("--telegram", required=True, help="Bot API origin")
    parser.add_argument("--token", required=True)
    asyncio.run(_main(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
