"""``python -m bridge.healthcheck``: exit 0 when ``GET /healthz`` on ``server.listen`` says ok.

The Docker HEALTHCHECK runs this, so the probe follows the configured address and port.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Mapping

from bridge.config import ServerConfig, load_settings
from bridge.errors import ConfigError

_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def health_url(server: ServerConfig) -> str:
    """Where to probe: a wildcard listen address is reached over loopback."""
    host = _ANY.get(server.host, server.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.port}/healthz"


def probe(environ: Mapping[str, str] | None = None, *, timeout_s: float = 4.0) -> int:
    try:
        settings = load_settings(environ=environ)
    except ConfigError as exc:
        sys.stderr.write(f"healthcheck: config error: {exc}\n")
        return 1
    url = health_url(settings.server)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(probe())
