"""The coordination ports and their timings; engines live in the sibling modules."""

from __future__ import annotations

import os
import secrets
import socket
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from bridge.errors import BridgeError
from bridge.store.base import Namespace


class ScopeBusy(BridgeError):
    """A conversation stayed busy (another turn held it) longer than the bounded wait."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timings:
    """How leases are kept: renewed every ``lease_s / 3``, taken over once ``lease_s`` passed.

    A live replica renews twice before its lease could expire, so only a replica that stopped
    renewing (killed, frozen, cut off from the database) for a whole ``lease_s`` loses a turn.
    """

    lease_s: float = 30.0
    scope_wait_s: float = 300.0

    @property
    def renew_s(self) -> float:
        return self.lease_s / 3

    @property
    def sweep_s(self) -> float:
        return self.lease_s / 3


def replica_id() -> str:
    """A fresh id for this process: host, pid and a random suffix (never reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class ScopeLocks(Protocol):
    """One turn at a time per conversation scope (across replicas for shared engines)."""

    def hold(self, namespace: Namespace, scope: str) -> AbstractAsyncContextManager[float]:
        """Wait (bounded) for the scope, hold it for the block; yields the seconds waited.

        Raises ``ScopeBusy`` when the wait bound passed first.
        """
        ...

    async def renew(self) -> None:
        """Extend every lock this replica holds (called periodically while turns run)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Coordination:
    """What the relay needs to share work: who it is, the scope locks, and the lease timings.

    ``shared`` is True when other replicas may use the same store: start-up recovery then takes
    only expired leases and every replica sweeps for more; a lone process takes them all.
    """

    replica: str
    locks: ScopeLocks
    timings: Timings
    shared: bool


class Leadership(Protocol):
    """Who may poll a bot's updates: exactly one replica at a time."""

    async def acquire(self) -> None:
        """Return once this replica is the leader."""

    def lost(self) -> bool:
        """True once leadership was lost after :meth:`acquire` returned."""
        ...

    async def wait_lost(self) -> None:
        """Return when leadership is lost (the connection holding it broke)."""

    async def release(self) -> None:
        """Give leadership up (clean shutdown); idempotent."""
