"""Logging set-up: one format for the whole process, secrets scrubbed, library DEBUG held back."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping

REDACTED = "***"
OWN_LOGGERS = frozenset({"bridge", "channels", "bench", "__main__"})
"""Top-level logger names of this program; everything else is a third-party library."""


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (and bot-token URL parts) in a record's final text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {
                k: self.scrub(v) if isinstance(v, str) else v for k, v in fields.items()
            }
        return True


class LibraryLevel(logging.Filter):
    """Drops third-party records below ``level`` (so DEBUG shows this program's lines only)."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self._level = logging.getLevelNamesMapping()[level]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self._level:
            return True
        return record.name.partition(".")[0] in OWN_LOGGERS


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the fields of :func:`fields_extra` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            body.update({k: v for k, v in fields.items() if k not in body})
        if record.exc_text:
            body["exc"] = record.exc_text
        return json.dumps(body, ensure_ascii=False, default=str)


def fields_extra(fields: Mapping[str, object]) -> dict[str, object]:
    """``extra=`` for a log call whose values the JSON format shows as separate keys."""
    return {"fields": dict(fields)}


def key_values(fields: Mapping[str, object]) -> str:
    """``k=v k=v`` for the text format (empty values left out, seconds to 3 decimals)."""
    parts = []
    for key, value in fields.items():
        if value is None or value == "":
            continue
        parts.append(f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def setup_logging(
    level: str, fmt: str, secrets: Iterable[str], *, library_level: str = "INFO"
) -> RedactSecrets:
    """Configure the root logger to stderr; returns the redaction filter (for reuse).

    Third-party libraries log only at ``library_level`` and above (their DEBUG output would
    drown this program's); set it to DEBUG to see them.
    """
    redact = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(LibraryLevel(library_level))
    handler.addFilter(redact)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # These log every request URL at INFO; Telegram URLs contain the bot token.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redact
