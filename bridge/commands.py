"""The ``check``, ``apps`` and ``chat`` commands (``run`` lives in ``bridge.cli``)."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Literal, TextIO

import httpx

from bridge.app import BridgeApp
from bridge.clickai import ClickAIClient, StudioClient
from bridge.config import Settings
from bridge.errors import ClickAIError
from bridge.i18n import pick_language, t
from bridge.model import ReplyRef
from bridge.relay import Relay
from channels.console import ConsoleChannel

Printer = Callable[[str], None]


def describe_clickai_error(exc: ClickAIError, base_url: str) -> str:
    """Turn a failed ``/parameters`` call into advice that tells a wrong key from a wrong URL."""
    if exc.kind == "auth":
        return f"the API key was refused ({exc.status or 401}); check clickai.api_key"
    if exc.kind == "forbidden":
        return "the app is disabled or its API access is off (403); check the app in ClickAI"
    if exc.status == 404:
        return f"no ClickAI API at {base_url} (404); check clickai.base_url (it ends in /v1)"
    if exc.status == 0:
        return f"cannot reach {base_url} ({exc.message}); check clickai.base_url and the network"
    return f"unexpected answer: {exc}"


async def check(settings: Settings, say: Printer) -> bool:
    """Validate the config's reachability; prints one line per check. True when all pass."""
    say("config: ok")
    results = [await _check_clickai(settings, say)]
    if settings.telegram.enabled:
        results.append(await _check_telegram(settings, say))
    if settings.slack.enabled:
        results.append(await _check_slack(settings, say))
    return all(results)


async def _check_clickai(settings: Settings, say: Printer) -> bool:
    client = ClickAIClient.from_config(settings.clickai)
    try:
        params = await client.parameters()
    except ClickAIError as exc:
        say(f"clickai: FAIL: {describe_clickai_error(exc, settings.clickai.base_url)}")
        return False
    finally:
        await client.aclose()
    opening = "with" if params.get("opening_statement") else "without"
    say(f"clickai: ok ({settings.clickai.base_url}, app {opening} an opening statement)")
    return True


async def _check_telegram(settings: Settings, say: Printer) -> bool:
    cfg = settings.telegram
    assert cfg.token is not None
    url = f"{cfg.api_base_url.rstrip('/')}/bot{cfg.token.get_secret_value()}/getMe"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.get(url)
    except httpx.HTTPError as exc:
        say(f"telegram: FAIL: cannot reach {cfg.api_base_url} ({type(exc).__name__})")
        return False
    if resp.status_code in (401, 404):
        say(
            f"telegram: FAIL: the bot token was refused ({resp.status_code}); check telegram.token"
        )
        return False
    body = _json(resp)
    if resp.status_code != 200 or not body.get("ok"):
        say(f"telegram: FAIL: unexpected answer {resp.status_code} from getMe")
        return False
    result = body.get("result")
    name = result.get("username", "?") if isinstance(result, dict) else "?"
    say(f"telegram: ok (@{name}, {cfg.mode})")
    return True


async def _check_slack(settings: Settings, say: Printer) -> bool:
    cfg = settings.slack
    assert cfg.bot_token is not None
    base = cfg.api_base_url if cfg.api_base_url.endswith("/") else cfg.api_base_url + "/"
    ok = True
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            token = cfg.bot_token.get_secret_value()
            resp = await http.post(
                base + "auth.test", headers={"Authorization": f"Bearer {token}"}
            )
            body = _json(resp)
            if body.get("ok"):
                say(f"slack: ok (team {body.get('team', '?')}, bot {body.get('user', '?')})")
            else:
                say(f"slack: FAIL: auth.test said {body.get('error', resp.status_code)}")
                ok = False
            if cfg.mode == "socket" and cfg.app_token is not None:
                app_token = cfg.app_token.get_secret_value()
                resp = await http.post(
                    base + "apps.connections.open",
                    headers={"Authorization": f"Bearer {app_token}"},
                )
                body = _json(resp)
                if not body.get("ok"):
                    say(f"slack: FAIL: app token refused ({body.get('error', resp.status_code)})")
                    ok = False
    except httpx.HTTPError as exc:
        say(f"slack: FAIL: cannot reach {cfg.api_base_url} ({type(exc).__name__})")
        return False
    return ok


def _json(resp: httpx.Response) -> dict[str, object]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def apps(settings: Settings, mode: str | None, say: Printer) -> bool:
    """List the workspace's assistants with the Studio List Assistants API."""
    c = settings.clickai
    if c.studio_token is None or not c.workspace_id:
        say("apps: set clickai.studio_token and clickai.workspace_id first")
        return False
    client = StudioClient.from_config(c)
    try:
        async for item in client.iter_assistants(workspace_id=c.workspace_id, mode=mode):
            say(f"{item.get('id', '?')}\t{item.get('mode', '?')}\t{item.get('name', '')}")
    except ClickAIError as exc:
        say(f"apps: FAIL: {exc}")
        return False
    finally:
        await client.aclose()
    return True


async def chat(settings: Settings, stdin: TextIO, out: TextIO) -> None:
    """Talk to the app from the terminal; the conversation persists in the store."""
    lang = pick_language(os.environ.get("LANG"), settings.bridge.default_language)
    console = ConsoleChannel(user=getpass.getuser(), language=lang, out=out)
    app = BridgeApp(settings, channels=[console], serve_http=False)
    await app.start()
    assert app.relay is not None
    relay = app.relay
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    _start_reader(stdin, lines)
    backlog: deque[str | None] = deque()
    interactive = stdin.isatty()
    try:
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = backlog.popleft() if backlog else await lines.get()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text == "/like":
                await _rate(console, relay, "like", out, lang)
                continue
            if text == "/dislike":
                await _rate(console, relay, "dislike", out, lang)
                continue
            command = text[1:] if text in ("/new", "/stop") else None
            msg = console.message(text, command)
            if not await relay.submit(msg):
                console.forget(msg.message_id)
                continue
            waiter = console.waiter(msg.message_id)
            while waiter is not None and not waiter.done():
                getter: asyncio.Future[str | None] = asyncio.ensure_future(lines.get())
                await asyncio.wait([waiter, getter], return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    nxt = getter.result()
                    if nxt is not None and nxt.strip() == "/stop":
                        await relay.submit(console.message("/stop", "stop"))
                    else:
                        backlog.append(nxt)
                else:
                    getter.cancel()
    finally:
        await app.stop()


async def _rate(
    console: ConsoleChannel,
    relay: Relay,
    rating: Literal["like", "dislike"],
    out: TextIO,
    lang: str,
) -> None:
    if not console.last_reply:
        out.write(t(lang, "feedback_unknown") + "\n")
        return
    ref = ReplyRef(channel="console", chat_id=console.key.chat_id, message_id=console.last_reply)
    outcome = await relay.feedback(ref, rating, toggle=True)
    if not outcome.ok:
        key = "feedback_failed"
    elif not outcome.found:
        key = "feedback_unknown"
    else:
        key = f"feedback_{outcome.rating}" if outcome.rating else "feedback_cleared"
    out.write(t(lang, key) + "\n")
    out.flush()


def _start_reader(stdin: TextIO, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin on a daemon thread so a blocked read never holds up exit."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()


def printer(stream: TextIO = sys.stdout) -> Printer:
    def say(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return say
