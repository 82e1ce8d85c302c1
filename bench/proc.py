"""The process under test: spawned alone so its CPU time and peak RSS are its own (/proc)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def clean_env(extra: dict[str, str], root: Path = ROOT) -> dict[str, str]:
    """The parent environment without any BRIDGE_* setting, plus ``extra``; modules are
    imported from ``root`` first (another checkout measures another version of the bridge)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BRIDGE_")}
    paths = [str(root), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(filter(None, paths)))
    env.update(extra)
    return env


class Child:
    """One spawned Python module (``python -m <module> …``) with its log in ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args, self.env, self.cwd = args, env, cwd
        self.log = cwd / "child.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> int:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", *self.args, env=self.env, cwd=self.cwd,
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        return self.proc.pid

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            return await self.proc.wait()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Hogs:
    """``n`` busy-looping processes beside the bridge for the whole run (CPU contention)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Hogs:
        for _ in range(self.n):
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
            self.procs.append(proc)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
