"""The Docker image as far as it can be checked without an engine: what the Dockerfile says, the
defaults it layers under the mounted config, its healthcheck, and the README's run example."""

from __future__ import annotations

import asyncio
import fnmatch
import re
import shlex
import socket
from pathlib import Path

from prometheus_client import CollectorRegistry

from bridge.config import BridgeConfig, load_settings
from bridge.healthcheck import probe
from bridge.server import HttpServer

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = ROOT / "deploy" / "docker-defaults.toml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins)."""
    verdict = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern.removeprefix("**/")) for p in prefixes):
            verdict = not negate
    return verdict


def test_the_image_does_not_override_the_mounted_configs_store_and_server() -> None:
    env = dict(line.split("=", 1) for kind, rest in instructions() if kind == "ENV"
               for line in shlex.split(rest))  # fmt: skip
    assert not {k for k in env if k.startswith(("BRIDGE_STORE__", "BRIDGE_SERVER__"))}
    assert env["BRIDGE_CONFIG_DEFAULTS"] == "/app/deploy/docker-defaults.toml"


def test_defaults_apply_under_the_mounted_config(tmp_path: Path) -> None:
    base = {"BRIDGE_CONFIG_DEFAULTS": str(DEFAULTS), "BRIDGE_CLICKAI__API_KEY": "app-x"}
    missing = tmp_path / "none.toml"
    plain = load_settings(environ=base | {"BRIDGE_CONFIG": str(missing)})
    assert plain.store.url == "sqlite:////data/bridge.db"
    assert plain.server.listen == "0.0.0.0:8080"

    mounted = tmp_path / "config.toml"
    mounted.write_text(
        '[store]\nurl = "postgresql://db/bridge"\n[server]\nlisten = "0.0.0.0:9000"\n'
    )
    settings = load_settings(environ=base | {"BRIDGE_CONFIG": str(mounted)})
    assert settings.store.url == "postgresql://db/bridge"
    assert settings.server.listen == "0.0.0.0:9000"


def test_the_image_has_the_postgres_driver_and_a_build_context_it_can_copy() -> None:
    steps = instructions()
    assert any(kind == "RUN" and "'.[postgres,redis]'" in rest for kind, rest in steps)
    copied = [src for kind, rest in steps if kind == "COPY" for src in shlex.split(rest)[:-1]]
    assert "LICENSE" in copied  # pyproject's license-files needs it to build
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not ignored(src), f".dockerignore drops {src}"
    for private in (".venv/bin/python", "config.toml", "data/bridge.db", ".git/HEAD", "tests"):
        assert ignored(private), private


def test_the_healthcheck_follows_server_listen() -> None:
    healthcheck = next(rest for kind, rest in instructions() if kind == "HEALTHCHECK")
    assert '"bridge.healthcheck"' in healthcheck and "8080" not in healthcheck


async def test_the_healthcheck_probe_reaches_a_wildcard_listen_over_loopback(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "BRIDGE_CONFIG": str(tmp_path / "none.toml"),
        "BRIDGE_CLICKAI__API_KEY": "app-x",
        "BRIDGE_SERVER__LISTEN": f"0.0.0.0:{port}",
    }
    assert probe(env, timeout_s=2) == 1  # nothing listens yet
    server = HttpServer(host="0.0.0.0", port=port, registry=CollectorRegistry())
    await server.start()
    try:
        assert await asyncio.to_thread(probe, env, timeout_s=2) == 0
    finally:
        await server.stop()


def test_the_readme_example_publishes_the_port_and_outlasts_the_shutdown_grace() -> None:
    readme = (ROOT / "README.md").read_text()
    run = re.search(r"docker run -d[^`]*?clickai-bridge\n", readme)
    assert run is not None
    command = run.group(0)
    assert "-p 8080:8080" in command
    timeout = re.search(r"--stop-timeout (\d+)", command)
    assert timeout is not None
    # grace for in-flight answers, then up to 10 s to cut the rest and close everything
    assert int(timeout.group(1)) >= BridgeConfig().shutdown_grace_s + 10
