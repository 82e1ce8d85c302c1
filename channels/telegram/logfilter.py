"""Keeps the bot token out of logs: PTB and httpx put it in every request URL."""

from __future__ import annotations

import logging

# Loggers that may print Bot API URLs: httpx logs every request at INFO; PTB logs its base URL
# and request details at DEBUG.
LOGGERS = (
    "httpx",
    "telegram",
    "telegram.ext",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class TokenRedaction(logging.Filter):
    """Rewrites any record that contains the token; installed on :data:`LOGGERS` while running."""

    def __init__(self, token: str) -> None:
        super().__init__("telegram-token")
        self._token = token
        self._installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._token:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        if self._token in message:
            record.msg = message.replace(self._token, "<bot-token>")
            record.args = None
        return True

    def install(self) -> None:
        if not self._installed:
            for name in LOGGERS:
                logging.getLogger(name).addFilter(self)
            self._installed = True

    def remove(self) -> None:
        if self._installed:
            for name in LOGGERS:
                logging.getLogger(name).removeFilter(self)
            self._installed = False
