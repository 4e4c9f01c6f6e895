"""The scheduler lease: a row in SQLite that says which process runs the scheduler.

Every process that could schedule (each web worker, each `serve`) tries to take or renew the
lease every few seconds; only its holder runs jobs. A holder that dies stops renewing, and
another process takes over once the lease has expired.
"""

from __future__ import annotations

import json
import os
import socket
import uuid

from bot.store import Store, kv

LEASE_KEY = "scheduler.lease"
LEASE_SECONDS = 45.0  # a dead holder is replaced within this (plus one renewal interval)


def holder_id() -> str:
    """Unique per process (and per call site): host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_acquire(store: Store, holder: str, now: float, seconds: float = LEASE_SECONDS) -> bool:
    """Take the lease if it is free or expired, or renew it if we hold it. True if held.

    The row says when the holder took it ("since") and when it last renewed ("renewed", its
    heartbeat): /healthz shows both, and calls a leader whose heartbeat is overdue unknown."""
    with store.transaction() as db:
        current = kv.get(db, LEASE_KEY, now)
        taken = json.loads(current) if current is not None else None
        if taken is not None and taken["holder"] != holder:
            return False
        since = taken.get("since", now) if taken is not None else now
        kv.put(db, LEASE_KEY, json.dumps({"holder": holder, "since": since, "renewed": now}),
               now + seconds)
        return True


def release(store: Store, holder: str, now: float) -> None:
    with store.transaction() as db:
        current = kv.get(db, LEASE_KEY, now)
        if current is not None and json.loads(current)["holder"] == holder:
            kv.delete(db, LEASE_KEY)


def current_holder(store: Store, now: float) -> str | None:
    value = kv.get(store.db, LEASE_KEY, now)
    return None if value is None else json.loads(value)["holder"]
