"""``clickai-bridge run | check | chat | apps``: argument parsing, logging, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import commands
from bridge.app import BridgeApp
from bridge.config import Settings, load_settings
from bridge.errors import BridgeError, ConfigError
from bridge.logs import setup_logging

log = logging.getLogger("bridge")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clickai-bridge", description="Bridge ClickAI assistants into Telegram and Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "start every enabled channel and serve until SIGINT/SIGTERM"),
        ("check", "validate the config and reach ClickAI and each enabled channel"),
        ("chat", "talk to the ClickAI app from the terminal"),
        ("apps", "list the workspace's assistants"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--config",
            type=Path,
            default=None,
            help="TOML file (default: $BRIDGE_CONFIG, then ./config.toml)",
        )
        if name == "apps":
            cmd.add_argument(
                "--mode", default=None, help="only apps of this mode (chat, agent-chat, …)"
            )
    return parser


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings (for log redaction)."""
    values = [
        settings.clickai.api_key,
        settings.clickai.studio_token,
        settings.telegram.token,
        settings.telegram.webhook_secret,
        settings.slack.bot_token,
        settings.slack.app_token,
        settings.slack.signing_secret,
    ]
    return [v.get_secret_value() for v in values if v is not None]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"clickai-bridge: config error: {exc}", file=sys.stderr)
        return 2
    quiet = args.command in ("check", "apps", "chat")
    level = "WARNING" if quiet and settings.log.level == "INFO" else settings.log.level
    setup_logging(level, settings.log.format, secrets_of(settings))
    say = commands.printer()
    try:
        if args.command == "run":
            return asyncio.run(_run(settings))
        if args.command == "check":
            return 0 if asyncio.run(commands.check(settings, say)) else 1
        if args.command == "apps":
            return 0 if asyncio.run(commands.apps(settings, args.mode, say)) else 1
        asyncio.run(commands.chat(settings, sys.stdin, sys.stdout))
        return 0
    except BridgeError as exc:
        print(f"clickai-bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _run(settings: Settings) -> int:
    app = BridgeApp(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    enabled = ", ".join(c.name for c in app.channels) or "no channel (enable telegram or slack)"
    log.info("clickai-bridge running: %s; /healthz on %s", enabled, settings.server.listen)
    await stop.wait()
    log.info("stopping: finishing in-flight answers (up to %ss)", settings.bridge.shutdown_grace_s)
    await app.stop()
    log.info("stopped cleanly")
    return 0
