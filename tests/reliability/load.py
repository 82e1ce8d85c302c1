"""Load: N conversations × M messages through the real channel adapters against the fakes.

``python -m tests.reliability.load --conversations 1000 --messages 5 --channel telegram|slack``
(``--replicas N``: see :mod:`tests.reliability.load_replicas`)
runs the real ``BridgeApp`` in this process against FakeTelegram (Telegram's documented flood
limits) or FakeSlack (HTTP events, Tier-3-like ``chat.update`` limit) and FakeClickAI, all on
127.0.0.1, then prints messages, answers, duplicates, losses, platform 429s, store figures and
the wall time. Bounded: every wait has a deadline (``--time-limit``) and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from bridge.app import BridgeApp
from bridge.config import load_settings
from tests.fakes.clickai import FakeClickAI
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    Events,
    FakeSlack,
    json_body,
    signed_headers,
)
from tests.fakes.telegram import FakeTelegram, FloodLimits, TgUser
from tests.reliability.harness import BridgeProcess, free_port
from tests.reliability.outcomes import default_answer

SLACK_UPDATES_PER_MINUTE = 3000  # the fake's chat.update limit; the bridge is set below it


@dataclass
class Figures:
    channel: str
    conversations: int
    messages: int
    answers: int
    duplicates: int
    losses: int
    rate_limited_429: int
    conversation_rows: int
    reply_rows: int
    pending_events: int
    clickai_conversations: int
    scopes_with_one_clickai_conversation: int
    wall_s: float
    completed: bool


class CountingSlack(FakeSlack):
    """FakeSlack that counts its 429 answers."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.rate_limited = 0

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if response.status == 429:
            self.rate_limited += 1
        return response


def query(conv: int, n: int) -> str:
    return f"conversation {conv} message {n}"


def _store_figures(db: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(db)
    try:
        conversations = conn.execute("SELECT COUNT(*) FROM conversation").fetchone()[0]
        replies = conn.execute("SELECT COUNT(*) FROM reply").fetchone()[0]
        pending = conn.execute("SELECT COUNT(*) FROM event WHERE status != 'done'").fetchone()[0]
        return int(conversations), int(replies), int(pending)
    finally:
        conn.close()


def _base_env(clickai: FakeClickAI, db: Path) -> dict[str, str]:
    return {
        "BRIDGE_CLICKAI__BASE_URL": clickai.base_url,
        "BRIDGE_CLICKAI__API_KEY": clickai.key,
        "BRIDGE_CLICKAI__APP_MODE": "chat",
        "BRIDGE_CLICKAI__REQUESTS_PER_MINUTE": "1000000",
        "BRIDGE_STORE__URL": f"sqlite:///{db}",
        "BRIDGE_SERVER__LISTEN": "127.0.0.1:0",
        "BRIDGE_BRIDGE__USER_MESSAGES_PER_MINUTE": "0",
        "BRIDGE_LOG__LEVEL": "WARNING",
    }


def _count(texts: list[str], expected: list[str]) -> tuple[int, int, int]:
    """(answers, duplicates, losses) of the expected answers among a chat's texts."""
    answers = duplicates = losses = 0
    for want in expected:
        seen = texts.count(want)
        answers += min(seen, 1)
        duplicates += max(seen - 1, 0)
        losses += 1 if seen == 0 else 0
    return answers, duplicates, losses


async def _settle(done: Any, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if done():
            return True
        await asyncio.sleep(0.1)
    return False


async def _idle(app: BridgeApp, deadline: float) -> None:
    """Wait (bounded) until every accepted turn finished; the stop cuts whatever is left."""
    assert app.relay is not None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app.relay.wait_idle(), max(1.0, deadline - time.monotonic()))


async def run_telegram(
    conversations: int, messages: int, time_limit_s: float, *, own_process: bool = False
) -> Figures:
    started = time.monotonic()
    deadline = started + time_limit_s
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        async with FakeTelegram(limits=FloodLimits()) as tg, FakeClickAI(deltas=2) as clickai:
            env = _base_env(clickai, db) | {
                "BRIDGE_TELEGRAM__ENABLED": "true",
                "BRIDGE_TELEGRAM__TOKEN": tg.token,
                "BRIDGE_TELEGRAM__API_BASE_URL": tg.url,
            }
            app: BridgeApp | None = None
            child: BridgeProcess | None = None
            if own_process:
                # The bridge in its own process, as deployed: its event loop is not shared with
                # the fakes, so the fake's clock sees calls when the bridge actually sends them.
                port = free_port()
                env["BRIDGE_SERVER__LISTEN"] = f"127.0.0.1:{port}"
                child = BridgeProcess(env, Path(tmp), port, "load")
                await child.start("telegram")
            else:
                app = BridgeApp(load_settings(None, env))
                await app.start()
            users = [TgUser(id=10_000 + i, first_name=f"L{i}") for i in range(conversations)]
            expected: dict[int, list[str]] = {u.id: [] for u in users}
            try:
                for n in range(messages):
                    for i, user in enumerate(users):
                        tg.push(tg.text(user.id, user, query(i, n)))
                        expected[user.id].append(default_answer(query(i, n)))
                total = conversations * messages

                def answered() -> int:
                    return sum(
                        len(set(tg.chat(uid).texts()) & set(want))
                        for uid, want in expected.items()
                    )

                completed = await _settle(lambda: answered() >= total, deadline)
                if app is not None:
                    await _idle(app, deadline)
            finally:
                if app is not None:
                    await app.stop()
                if child is not None:
                    child.signal(signal.SIGTERM)
                    await child.wait(max(30.0, deadline - time.monotonic()))
            answers = duplicates = losses = 0
            for uid, want in expected.items():
                a, d, lost = _count(tg.chat(uid).texts(), want)
                answers, duplicates, losses = answers + a, duplicates + d, losses + lost
            users_ = [f"telegram:{u.id}" for u in users]
            one_each = sum(1 for u in users_ if len(clickai.conversations(u)) == 1)
            clickai_convs = sum(len(clickai.conversations(u)) for u in users_)
            rows, replies, pending = _store_figures(db)
            return Figures(
                "telegram", conversations, total, answers, duplicates, losses, tg.rate_limited,
                rows, replies, pending, clickai_convs, one_each,
                round(time.monotonic() - started, 1), completed,
            )  # fmt: skip


async def run_slack(conversations: int, messages: int, time_limit_s: float) -> Figures:
    started = time.monotonic()
    deadline = started + time_limit_s
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        slack = CountingSlack(update_limit_per_minute=SLACK_UPDATES_PER_MINUTE)
        await slack.start()
        try:
            async with FakeClickAI(deltas=2) as clickai:
                env = _base_env(clickai, db) | {
                    "BRIDGE_SLACK__ENABLED": "true",
                    "BRIDGE_SLACK__MODE": "http",
                    "BRIDGE_SLACK__BOT_TOKEN": BOT_TOKEN,
                    "BRIDGE_SLACK__SIGNING_SECRET": SIGNING_SECRET,
                    "BRIDGE_SLACK__API_BASE_URL": slack.api_url,
                    "BRIDGE_SLACK__UPDATES_PER_MINUTE": str(SLACK_UPDATES_PER_MINUTE * 4 // 5),
                }
                app = BridgeApp(load_settings(None, env))
                await app.start()
                assert app.server is not None
                url = f"http://127.0.0.1:{app.server.bound_port}/slack/events"
                ev = Events()
                channels = [f"D{i:05d}" for i in range(conversations)]
                expected: dict[str, list[str]] = {c: [] for c in channels}
                refused = 0
                gate = asyncio.Semaphore(32)
                try:
                    async with ClientSession(timeout=ClientTimeout(total=30)) as session:

                        async def one(i: int, channel: str) -> None:
                            nonlocal refused
                            for n in range(messages):
                                text = query(i, n)
                                expected[channel].append(default_answer(text))
                                body = json_body(ev.envelope(ev.dm(text, channel=channel)))
                                async with (
                                    gate,
                                    session.post(
                                        url, data=body, headers=signed_headers(body)
                                    ) as r,
                                ):
                                    refused += r.status != 200

                        try:
                            await asyncio.wait_for(
                                asyncio.gather(*(one(i, c) for i, c in enumerate(channels))),
                                max(1.0, deadline - time.monotonic()),
                            )
                        except TimeoutError:
                            refused += 1
                    total = conversations * messages

                    def texts(channel: str) -> list[str]:
                        return [
                            m.body or m.text
                            for m in slack.messages
                            if m.channel == channel and not m.deleted
                        ]

                    def answered() -> int:
                        return sum(len(set(texts(c)) & set(w)) for c, w in expected.items())

                    completed = refused == 0 and await _settle(
                        lambda: answered() >= total, deadline
                    )
                    await _idle(app, deadline)
                finally:
                    await app.stop()
                answers = duplicates = losses = 0
                for channel, want in expected.items():
                    a, d, lost = _count(texts(channel), want)
                    answers, duplicates, losses = answers + a, duplicates + d, losses + lost
                scopes = {str(r.json["user"]) for r in clickai.calls("chat-messages")}
                one_each = sum(1 for u in scopes if len(clickai.conversations(u)) == 1)
                clickai_convs = sum(len(clickai.conversations(u)) for u in scopes)
                rows, replies, pending = _store_figures(db)
                return Figures(
                    "slack", conversations, total, answers, duplicates, losses,
                    slack.rate_limited, rows, replies, pending, clickai_convs, one_each,
                    round(time.monotonic() - started, 1), completed,
                )  # fmt: skip
        finally:
            await slack.close()


async def run(
    channel: str,
    conversations: int,
    messages: int,
    time_limit_s: float,
    *,
    own_process: bool = False,
) -> Figures:
    if channel == "telegram":
        return await run_telegram(conversations, messages, time_limit_s, own_process=own_process)
    return await run_slack(conversations, messages, time_limit_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.load")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--channel", choices=("telegram", "slack"), default="telegram")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds (bound)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="telegram: run the bridge in this process, sharing the fakes' event loop",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="telegram webhook: N bridge processes on one PostgreSQL (+ Redis), one killed",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.replicas > 1:
        from tests.reliability.load_replicas import run_replicas

        replicated = asyncio.run(
            run_replicas(args.replicas, args.conversations, args.messages, args.time_limit)
        )
        print(json.dumps(asdict(replicated), indent=2))
        return (
            0 if replicated.completed and not replicated.lost and not replicated.duplicates else 1
        )
    figures = asyncio.run(
        run(
            args.channel,
            args.conversations,
            args.messages,
            args.time_limit,
            own_process=not args.in_process,
        )
    )
    print(json.dumps(asdict(figures), indent=2))
    ok = (
        figures.completed
        and figures.duplicates == 0
        and figures.losses == 0
        and figures.rate_limited_429 == 0
        and figures.pending_events == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
