"""``check`` lines for the ``[backends.NAME]`` sections: one authenticated call each."""

from __future__ import annotations

from collections.abc import Callable

from bridge.backends.factory import build_backend
from bridge.config import BackendConfig
from bridge.errors import BackendError

Printer = Callable[[str], None]

_ID_KEY = {"chatbase": "agent_id", "maiagent": "chatbot_id", "agentok": "flow_id"}


async def check_backend(name: str, config: BackendConfig, say: Printer) -> bool:
    """The platform accepts the key (and, where its health call proves it, the app's id)."""
    label = f"backend {name} ({config.kind})"
    backend = build_backend(name, config.model_copy(update={"max_retries": 0}))
    try:
        await backend.health()
    except BackendError as exc:
        say(f"{label}: FAIL: {describe(exc, name, config)}")
        return False
    finally:
        await backend.aclose()
    app = f", {_ID_KEY[config.kind]} {config.app_id}" if config.kind in _ID_KEY else ""
    say(f"{label}: ok ({config.root}{app})")
    return True


def describe(exc: BackendError, name: str, config: BackendConfig) -> str:
    """Advice that tells a wrong key from a wrong id or URL."""
    key = f"backends.{name}"
    if exc.kind == "auth" and exc.code == "AGENT_NOT_FOUND":
        return f"no such agent; check {key}.agent_id"
    if exc.kind in ("auth", "forbidden"):
        return f"the API key was refused ({exc.status or exc.code}); check {key}.api_key"
    if exc.kind == "quota":
        return f"the account cannot use the API ({exc.code or exc.status}): {exc.message}"
    if exc.status == 404:
        return f"no {config.kind} API at {config.root} (404); check {key}.base_url"
    if exc.status == 0:
        return f"cannot reach {config.root} ({exc.message}); check {key}.base_url"
    return f"unexpected answer: {exc}"


def renamed(say: Printer, platform: str, bot: str) -> Printer:
    """A printer that labels a named bot's lines ``telegram.NAME:`` instead of ``telegram:``."""

    def say_as(line: str) -> None:
        prefix = f"{platform}:"
        say(f"{platform}.{bot}:{line[len(prefix) :]}" if line.startswith(prefix) else line)

    return say_as
