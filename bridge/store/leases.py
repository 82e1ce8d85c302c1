"""SQL of event leases and per-scope lock rows, shared by both engines (``$n`` placeholders).

Leases: an accepted event's ``owner`` renews ``lease_until`` while its turn runs; once it lapses
any replica may take the event over, and :data:`TAKE_EXPIRED` hands each one to exactly one
taker (PostgreSQL skips rows another taker has locked; SQLite serialises writers).
Scope locks: a row per busy conversation scope, taken with an upsert that only overwrites an
expired or own row, renewed with the event leases and deleted on release.
"""

from __future__ import annotations

from bridge.store.common import EVENT_READ, NS

RENEW_LEASES = (
    "UPDATE event SET lease_until = $2 WHERE owner = $1 AND status = 'accepted' "
    "AND lease_until < $2"
)
"""Args: owner, until."""

_EXPIRED = (
    f"SELECT bot, backend, event_id FROM event WHERE {NS} AND status = 'accepted' "
    "AND lease_until < $5 ORDER BY created_at LIMIT $7"
)


def take_expired_sql(*, skip_locked: bool) -> str:
    """Args: ns, owner, now, before, until, limit; returns the taken rows' event columns."""
    pick = _EXPIRED + (" FOR UPDATE SKIP LOCKED" if skip_locked else "")
    return (
        "UPDATE event SET owner = $3, lease_until = $6, updated_at = $4 "
        f"WHERE (bot, backend, event_id) IN ({pick}) "
        f"AND status = 'accepted' AND lease_until < $5 RETURNING {EVENT_READ}"
    )


LOCK_SCOPE = (
    "INSERT INTO scope_lock (bot, backend, scope, owner, until) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (bot, backend, scope) DO UPDATE SET owner = excluded.owner, "
    "until = excluded.until WHERE scope_lock.until < $6 OR scope_lock.owner = excluded.owner "
    "RETURNING owner"
)
"""Args: ns, scope, owner, until, now. Returns a row only when the lock was taken."""
UNLOCK_SCOPE = f"DELETE FROM scope_lock WHERE {NS} AND scope = $3 AND owner = $4"
"""Args: ns, scope, owner."""
RENEW_SCOPE_LOCKS = "UPDATE scope_lock SET until = $2 WHERE owner = $1"
"""Args: owner, until."""
