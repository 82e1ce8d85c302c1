"""``clickai-bridge check``: one line per set-up check, from the config to each platform."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from bridge.app import API_MODES, required_inputs
from bridge.check_backends import check_backend, renamed
from bridge.clickai import ClickAIClient
from bridge.config import ClickAIConfig, Settings
from bridge.errors import BridgeError, ClickAIError
from bridge.store.probe import probe_store

Printer = Callable[[str], None]

TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
"""The only ports the official Bot API delivers webhooks to."""
OFFICIAL_TELEGRAM = "api.telegram.org"


def describe_clickai_error(exc: ClickAIError, base_url: str) -> str:
    """Turn a failed ClickAI call into advice that tells a wrong key from a wrong URL."""
    if exc.kind == "auth":
        return f"the API key was refused ({exc.status or 401}); check clickai.api_key"
    if exc.kind == "forbidden":
        return "the app is disabled or its API access is off (403); check the app in ClickAI"
    if exc.status == 404:
        return f"no ClickAI API at {base_url} (404); check clickai.base_url (it ends in /v1)"
    if exc.status == 0:
        return f"cannot reach {base_url} ({exc.message}); check clickai.base_url and the network"
    return f"unexpected answer: {exc}"


async def check(settings: Settings, say: Printer, *, source: str = "") -> bool:
    """Run every check, printing one line each ("name: ok (…)" or "name: FAIL: …")."""
    say(f"config: ok ({source})" if source else "config: ok")
    results = [
        check_channels(settings, say),
        await check_store(settings, say),
        check_listen(settings, say),
    ]
    if settings.clickai is not None:
        results.append(await check_clickai(settings.clickai, say))
    results += [await check_backend(name, cfg, say) for name, cfg in settings.backends.items()]
    if settings.telegram.enabled:
        results.append(await check_telegram(settings, say))
    if settings.slack.enabled:
        results.append(await check_slack(settings, say))
    for name, bot in settings.telegram.more_bots():
        if bot.enabled:
            as_bot = settings.model_copy(update={"telegram": bot})
            results.append(await check_telegram(as_bot, renamed(say, "telegram", name)))
    for name, app in settings.slack.more_bots():
        if app.enabled:
            as_app = settings.model_copy(update={"slack": app})
            results.append(await check_slack(as_app, renamed(say, "slack", name)))
    return all(results)


def check_channels(settings: Settings, say: Printer) -> bool:
    enabled = [
        f"{name} ({mode})"
        for name, on, mode in (
            ("telegram", settings.telegram.enabled, settings.telegram.mode),
            ("slack", settings.slack.enabled, settings.slack.mode),
        )
        if on
    ]
    if not enabled:
        say("channels: FAIL: none enabled; set telegram.enabled or slack.enabled to true")
        return False
    say(f"channels: ok ({', '.join(enabled)})")
    return True


async def check_store(settings: Settings, say: Printer) -> bool:
    try:
        status = await probe_store(settings.store.url, schema=settings.store.schema_)
    except BridgeError as exc:
        say(f"store: FAIL: {exc}")
        return False
    say(f"store: ok ({status.describe()})")
    return True


def check_listen(settings: Settings, say: Printer) -> bool:
    """``server.listen`` can be bound now (nothing else listens there)."""
    host, port = settings.server.host, settings.server.port
    problem = listen_problem(host, port)
    if problem:
        say(f"server: FAIL: cannot listen on {settings.server.listen}: {problem}")
        return False
    say(f"server: ok ({settings.server.listen} is free)")
    return True


def listen_problem(host: str, port: int) -> str:
    """Why binding ``host:port`` fails now ("" when it would work)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"unknown host {host!r} ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use (is another bridge running?)"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine"
            if exc.errno == errno.EACCES:
                return "permission denied (ports below 1024 need privileges)"
            return exc.strerror or str(exc)
    return ""


async def check_clickai(cfg: ClickAIConfig, say: Printer) -> bool:
    """The key works; names the app and its mode; the config fits the app."""
    # One attempt each: retries would only delay the verdict and log warnings in between.
    client = ClickAIClient.from_config(cfg.model_copy(update={"max_retries": 0}))
    try:
        info = await client.info()
        params = await client.parameters()
    except ClickAIError as exc:
        say(f"clickai: FAIL: {describe_clickai_error(exc, cfg.base_url)}")
        return False
    finally:
        await client.aclose()
    name, mode = str(info.get("name") or "?"), str(info.get("mode") or "?")
    problems = []
    if cfg.app_mode != "auto" and mode in API_MODES and cfg.app_mode != mode:
        problems.append(f"clickai.app_mode is {cfg.app_mode!r} but the app is {mode!r}")
    single_turn = API_MODES.get(cfg.app_mode if cfg.app_mode != "auto" else mode) != "chat"
    missing = [
        v
        for v in required_inputs(params)
        if v not in cfg.inputs and not (single_turn and v == cfg.query_variable)
    ]
    if missing:
        problems.append(f"the app requires inputs {', '.join(missing)}; set [clickai] inputs")
    if problems:
        say(f"clickai: FAIL: app {name!r} ({mode}): {'; '.join(problems)}")
        return False
    opening = "with" if params.get("opening_statement") else "without"
    say(f"clickai: ok ({cfg.base_url}; app {name!r}, mode {mode}, {opening} an opening statement)")
    return True


def webhook_problem(url: str) -> str:
    """Why Telegram would refuse ``url`` as a webhook ("" when it is acceptable)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "telegram.webhook_url must start with https:// (Telegram calls only HTTPS)"
    if not parts.hostname:
        return "telegram.webhook_url has no host name"
    try:
        port = parts.port or 443
    except ValueError:
        return "telegram.webhook_url has an invalid port"
    if port not in TELEGRAM_WEBHOOK_PORTS:
        allowed = ", ".join(str(p) for p in TELEGRAM_WEBHOOK_PORTS)
        return f"Telegram delivers webhooks only to ports {allowed}, not {port}"
    return ""


async def check_telegram(settings: Settings, say: Printer) -> bool:
    cfg = settings.telegram
    assert cfg.token is not None
    if cfg.mode == "webhook" and cfg.webhook_url:
        # A self-hosted Bot API server (--local) accepts any port and plain HTTP.
        official = urlsplit(cfg.api_base_url).hostname == OFFICIAL_TELEGRAM
        problem = webhook_problem(cfg.webhook_url) if official else ""
        if problem:
            say(f"telegram: FAIL: {problem}")
            return False
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
    where = f"webhook {cfg.webhook_url}" if cfg.mode == "webhook" else "polling"
    say(f"telegram: ok (@{name}, {where})")
    return True


async def check_slack(settings: Settings, say: Printer) -> bool:
    """auth.test with the bot token and, in Socket Mode, apps.connections.open with the app
    token; one line for both."""
    cfg = settings.slack
    assert cfg.bot_token is not None
    base = cfg.api_base_url if cfg.api_base_url.endswith("/") else cfg.api_base_url + "/"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            token = cfg.bot_token.get_secret_value()
            resp = await http.post(
                base + "auth.test", headers={"Authorization": f"Bearer {token}"}
            )
            body = _json(resp)
            if not body.get("ok"):
                say(
                    f"slack: FAIL: bot token: auth.test said {body.get('error', resp.status_code)}"
                )
                return False
            who = f"team {body.get('team', '?')}, bot {body.get('user', '?')}"
            if cfg.mode == "socket" and cfg.app_token is not None:
                app_token = cfg.app_token.get_secret_value()
                resp = await http.post(
                    base + "apps.connections.open",
                    headers={"Authorization": f"Bearer {app_token}"},
                )
                opened = _json(resp)
                if not opened.get("ok"):
                    error = opened.get("error", resp.status_code)
                    say(f"slack: FAIL: app token (slack.app_token) refused: {error}")
                    return False
    except httpx.HTTPError as exc:
        say(f"slack: FAIL: cannot reach {cfg.api_base_url} ({type(exc).__name__})")
        return False
    say(f"slack: ok ({who}, {cfg.mode} mode)")
    return True


def _json(resp: httpx.Response) -> dict[str, object]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
