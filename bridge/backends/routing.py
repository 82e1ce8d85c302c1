"""Which backend answers a chat: each bot's default, overridden per chat or Slack channel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bridge.backends.base import Backend
from bridge.config import Settings


class BackendRouter:
    """Maps (channel instance, chat id) to a backend.

    ``bots`` maps a channel instance name (``telegram``, ``slack``, ``telegram-sales``) to its
    backend's name; ``chats`` maps ``(channel, chat_id)`` to another backend's name.
    """

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        default: str,
        bots: Mapping[str, str] | None = None,
        chats: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        if default not in backends:
            raise ValueError(f"unknown default backend {default!r}")
        self.backends = dict(backends)
        self._default = default
        self._bots = dict(bots or {})
        self._chats = dict(chats or {})
        for name in (*self._bots.values(), *self._chats.values()):
            if name not in self.backends:
                raise ValueError(f"unknown backend {name!r}")

    @classmethod
    def single(cls, backend: Backend) -> BackendRouter:
        return cls({backend.name: backend}, default=backend.name)

    @property
    def names(self) -> set[str]:
        """Every backend some chat may reach."""
        return {self._default, *self._bots.values(), *self._chats.values()}

    @property
    def default(self) -> Backend:
        return self.backends[self._default]

    def for_chat(self, channel: str, chat_id: str) -> Backend:
        name = self._chats.get((channel, chat_id)) or self._bots.get(channel) or self._default
        return self.backends[name]

    def for_bot(self, channel: str) -> Backend:
        return self.backends[self._bots.get(channel) or self._default]


def plan_routes(
    settings: Settings, channel_names: Iterable[str], *, default: str | None = None
) -> tuple[str, dict[str, str], dict[tuple[str, str], str]]:
    """(default backend, bot → backend, (bot, chat) → backend) for the channels that run.

    The default is ``default`` (``chat --backend``), else the default Telegram bot's backend,
    else the default Slack app's, else ``clickai``.
    """
    bots: dict[str, str] = {"telegram": settings.telegram.backend, "slack": settings.slack.backend}
    chats: dict[tuple[str, str], str] = {}
    for platform, section in (("telegram", settings.telegram), ("slack", settings.slack)):
        chats |= {(platform, chat): name for chat, name in section.routes.items()}
        for bot, config in section.more_bots():
            channel = f"{platform}.{bot}"
            bots[channel] = config.backend
            chats |= {(channel, chat): name for chat, name in config.routes.items()}
    if default is None:
        if settings.telegram.enabled:
            default = settings.telegram.backend
        elif settings.slack.enabled:
            default = settings.slack.backend
        else:
            default = "clickai" if settings.clickai is not None else next(iter(settings.backends))
    names = set(channel_names)
    return (
        default,
        {c: b for c, b in bots.items() if c in names},
        {k: b for k, b in chats.items() if k[0] in names},
    )
