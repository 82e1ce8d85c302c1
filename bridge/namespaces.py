"""Which namespace (bot identity + backend name) each channel instance's store rows carry."""

from __future__ import annotations

import re

from bridge.config import Settings
from bridge.store.base import Namespace

DEFAULT_BACKEND = "clickai"
"""The backend the ``[clickai]`` section configures."""

_TELEGRAM_BOT_ID = re.compile(r"(\d+):")
_SLACK_APP_ID = re.compile(r"xapp-\d+-(A[A-Z0-9]+)-")


def telegram_bot(token: str, *, fallback: str = "telegram") -> str:
    """``telegram:<bot id>``: the numeric id before the token's colon survives a token revoke."""
    found = _TELEGRAM_BOT_ID.match(token)
    return f"telegram:{found.group(1)}" if found else fallback


def slack_bot(app_token: str | None, *, fallback: str = "slack") -> str:
    """``slack:<app id>`` read from an app-level token (``xapp-1-A0123…-…``), else ``fallback``.

    HTTP-mode apps have no app-level token: they are told apart by their bot name (``fallback``),
    so two HTTP-mode Slack apps sharing one database need distinct names or ``store.schema``.
    """
    found = _SLACK_APP_ID.match(app_token or "")
    return f"slack:{found.group(1)}" if found else fallback


def default_namespaces(settings: Settings) -> dict[str, Namespace]:
    """The namespace of each default channel (named ``telegram`` / ``slack``) the config has."""
    out: dict[str, Namespace] = {}
    tg = settings.telegram.token
    out["telegram"] = Namespace(
        bot=telegram_bot(tg.get_secret_value() if tg else ""), backend=DEFAULT_BACKEND
    )
    app_token = settings.slack.app_token
    out["slack"] = Namespace(
        bot=slack_bot(app_token.get_secret_value() if app_token else None),
        backend=DEFAULT_BACKEND,
    )
    return out
