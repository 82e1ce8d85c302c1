"""``clickai-bridge run | check | chat | apps``: argument parsing, logging, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bridge import check, commands, terminal
from bridge.app import BridgeApp, settle_heap
from bridge.config import Settings, default_config_path, load_settings
from bridge.errors import BridgeError, ConfigError
from bridge.logs import setup_logging
from bridge.version import bridge_version

log = logging.getLogger("bridge")

NO_RUNTIME_KEY = "not-needed-to-list-apps"
"""Stands in for ``clickai.api_key`` when ``apps`` runs with only the Studio credentials."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clickai-bridge", description="Bridge ClickAI assistants into Telegram and Slack."
    )
    parser.add_argument(
        "--version", action="version", version=f"clickai-bridge {bridge_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "start every enabled channel and serve until SIGINT/SIGTERM"),
        ("check", "validate the config and reach the store, ClickAI and each enabled channel"),
        ("chat", "talk to the ClickAI app (or --backend NAME) from the terminal"),
        ("apps", "list the workspace's assistants (needs only the Studio credentials)"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--config",
            type=Path,
            default=None,
            help="TOML file (default: $BRIDGE_CONFIG, then ./config.toml)",
        )
        if name == "chat":
            cmd.add_argument(
                "--backend",
                default=None,
                help="the backend to talk to: clickai or a [backends.NAME] (default: the "
                "default bot's)",
            )
        if name == "apps":
            cmd.add_argument(
                "--mode", default=None, help="only apps of this mode (chat, agent-chat, …)"
            )
    return parser


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings (for log redaction)."""
    c = settings.clickai
    values = [
        c.api_key if c else None,
        c.studio_token if c else None,
        settings.telegram.token,
        settings.telegram.webhook_secret,
        settings.slack.bot_token,
        settings.slack.app_token,
        settings.slack.signing_secret,
        settings.coordination.redis_url,
    ]
    values += [b.api_key for b in settings.backends.values()]
    for bot in settings.telegram.bots:
        values += [bot.token, bot.webhook_secret]
    for app in settings.slack.apps:
        values += [app.bot_token, app.app_token, app.signing_secret]
    return [v.get_secret_value() for v in values if v is not None]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except BrokenPipeError:
        # The reader went away (``check | head -1``): stop quietly, and keep Python's final
        # flush of stdout from printing a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(args: argparse.Namespace) -> int:
    say = commands.printer()
    try:
        settings = _load(args.command, args.config, os.environ)
    except ConfigError as exc:
        if args.command == "check":
            say(f"config: FAIL: {exc}")
            return 1
        print(f"clickai-bridge: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        _level(args.command, settings),
        settings.log.format,
        secrets_of(settings),
        library_level=settings.log.library_level,
    )
    try:
        if args.command == "run":
            return asyncio.run(_run(settings))
        if args.command == "check":
            source = args.config or default_config_path(os.environ)
            where = str(source) if source.exists() else "environment only"
            return 0 if asyncio.run(check.check(settings, say, source=where)) else 1
        if args.command == "apps":
            return 0 if asyncio.run(commands.apps(settings, args.mode, say)) else 1
        asyncio.run(terminal.chat(settings, sys.stdin, sys.stdout, backend=args.backend))
        return 0
    except BridgeError as exc:
        print(f"clickai-bridge: {_redact(str(exc), settings)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        raise  # main() ends quietly: the reader of our output went away
    except Exception as exc:  # an unforeseen start-up failure: one line, the trace only at DEBUG
        log.debug("%s failed", args.command, exc_info=True)
        line = _redact(f"{type(exc).__name__}: {exc}".splitlines()[0], settings)
        print(f"clickai-bridge: {args.command} failed: {line}", file=sys.stderr)
        return 1


def _redact(text: str, settings: Settings) -> str:
    for secret in secrets_of(settings):
        if secret:
            text = text.replace(secret, "***")
    return text


def _load(command: str, path: Path | None, environ: Mapping[str, str]) -> Settings:
    """The settings; ``apps`` does without ``clickai.api_key`` (it uses the Studio token)."""
    try:
        return load_settings(path, environ)
    except ConfigError:
        if command != "apps":
            raise
        return load_settings(path, {**environ, "BRIDGE_CLICKAI__API_KEY": NO_RUNTIME_KEY})


def _level(command: str, settings: Settings) -> str:
    """``run`` logs at the configured level; the one-shot commands keep their output clean."""
    configured = settings.log.level
    if command == "run" or configured == "DEBUG":
        return configured
    # check prints its own verdict per line: retry warnings in between would only confuse it.
    return "ERROR" if command == "check" else max(configured, "WARNING", key=_severity)


def _severity(level: str) -> int:
    return logging.getLevelNamesMapping()[level]


async def _run(settings: Settings) -> int:
    app = BridgeApp(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    settle_heap()
    enabled = ", ".join(c.name for c in app.channels) or "no channel (enable telegram or slack)"
    log.info(
        "clickai-bridge %s running: %s; /healthz on %s",
        bridge_version(),
        enabled,
        settings.server.listen,
    )
    signalled = asyncio.create_task(stop.wait())
    failed = asyncio.create_task(app.fatal.wait())
    await asyncio.wait((signalled, failed), return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    failed.cancel()
    log.info("stopping: finishing in-flight answers (up to %ss)", settings.bridge.shutdown_grace_s)
    await app.stop()
    if app.fatal.is_set():
        log.error("stopped: this replica lost its polling leadership; restart it to stand by")
        return 1
    log.info("stopped cleanly")
    return 0
