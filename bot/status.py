"""What an operator needs to know about a running service, read from the store in one place.

`/healthz` (bot/health.py) and `/metrics` (bot/metrics.py) both render a `Status`; neither
computes anything of its own, so the two never disagree.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlite_utils

from bot.services import Services
from bot.store import alerts
from schedules.lease import LEASE_KEY

# Delivery and alert states, listed so that a state with no rows is still reported as 0.
DELIVERY_STATES = ("pending", "sent", "failed", "undeliverable")


# A leader renews its lease every scheduler.tick_s; one late renewal is tolerated (a long tick
# makes APScheduler skip the next), two are not: the holder is then most likely dead (kill -9),
# and the row still names it until the lease expires.
MISSED_HEARTBEATS = 2


@dataclass(frozen=True)
class Lease:
    holder: str | None          # who the lease row names (None when nobody holds it)
    expires_in_s: float | None  # None when nobody holds it
    heartbeat_age_s: float | None = None  # since the holder last renewed
    held_for_s: float | None = None       # since the holder took it
    overdue_after_s: float | None = None  # a heartbeat older than this is overdue

    @property
    def state(self) -> str:
        """"none" (no holder), "ok" (a fresh heartbeat) or "unknown" (overdue: maybe dead)."""
        if self.holder is None:
            return "none"
        if (self.heartbeat_age_s is not None and self.overdue_after_s is not None
                and self.heartbeat_age_s > self.overdue_after_s):
            return "unknown"
        return "ok"


@dataclass(frozen=True)
class LastPush:
    key: str
    fire_at: str
    status: str


@dataclass(frozen=True)
class Token:
    name: str              # e.g. "wx0123..._access_token" (never the token itself)
    expires_in_s: float | None
    quota_spent: bool      # a 45009 on the token URL: no fetch until the cool-down ends


@dataclass(frozen=True)
class Status:
    now: datetime
    database_ok: bool
    database_error: str = ""
    schema_version: int = 0
    database_bytes: int = 0
    lease: Lease = Lease(None, None)
    last_push: LastPush | None = None
    tokens: tuple[Token, ...] = ()
    open_alerts: int = 0
    members_active: int = 0
    checkins_today: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    inbound_total: int = 0

    @property
    def healthy(self) -> bool:
        """Serving members needs the database only; the rest is reported, not judged."""
        return self.database_ok


def collect(services: Services, *, with_counts: bool = True) -> Status:
    """The service's state. `with_counts=False` skips the table counts only /metrics shows:
    /healthz is polled often, and counting the dedupe table and the ledger grows with them."""
    now = services.clock.now()
    try:
        return _collect(services, services.store.db, now, with_counts)
    except sqlite3.Error as exc:
        return Status(now=now, database_ok=False, database_error=str(exc))


def _collect(services: Services, db: sqlite_utils.Database, now: datetime,
             with_counts: bool) -> Status:
    stamp = now.timestamp()
    status = Status(
        now=now,
        database_ok=db.execute("SELECT 1").fetchone()[0] == 1,
        schema_version=db.execute("PRAGMA user_version").fetchone()[0],
        database_bytes=_database_bytes(services.store.path),
        lease=_lease(db, stamp, MISSED_HEARTBEATS * services.config.get("scheduler.tick_s")),
        last_push=_last_push(db),
        tokens=_tokens(db, stamp),
        open_alerts=alerts.open_count(db),
    )
    if not with_counts:
        return status
    return replace(
        status,
        members_active=_count(db, "SELECT count(*) FROM members WHERE active = 1"),
        checkins_today=_count(db, "SELECT count(*) FROM checkins WHERE day = ?",
                              now.date().isoformat()),
        deliveries=_deliveries(db),
        inbound_total=_count(db, "SELECT count(*) FROM inbound"),
    )


def _count(db: sqlite_utils.Database, sql: str, *params: object) -> int:
    return int(db.execute(sql, params).fetchone()[0])


def _database_bytes(path: str) -> int:
    """The database and its WAL: what a backup copies and what the disk must hold."""
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def _lease(db: sqlite_utils.Database, stamp: float, overdue_after_s: float) -> Lease:
    row = db.execute("SELECT value, expires_at FROM kv WHERE key = ?", [LEASE_KEY]).fetchone()
    if row is None or row[1] is None or row[1] <= stamp:
        return Lease(None, None)
    value = json.loads(row[0])
    # A row written before "renewed" existed had "since" rewritten at every renewal.
    renewed = value.get("renewed", value.get("since"))
    since = value.get("since", renewed)
    return Lease(value["holder"], round(row[1] - stamp, 1),
                 heartbeat_age_s=None if renewed is None else round(stamp - renewed, 1),
                 held_for_s=None if since is None else round(stamp - since, 1),
                 overdue_after_s=float(overdue_after_s))


def _last_push(db: sqlite_utils.Database) -> LastPush | None:
    row = db.execute("SELECT key, fire_at, status FROM broadcasts"
                     " ORDER BY fire_at DESC, id DESC LIMIT 1").fetchone()
    return LastPush(*row) if row else None


def _tokens(db: sqlite_utils.Database, stamp: float) -> tuple[Token, ...]:
    rows = db.execute("SELECT key, expires_at FROM kv WHERE key LIKE 'session:%access_token'"
                      " OR key LIKE 'quota:%' ORDER BY key").fetchall()
    expiry: dict[str, float | None] = {}
    spent: set[str] = set()
    for key, expires_at in rows:
        live = expires_at is None or expires_at > stamp
        if key.startswith("quota:"):
            if live:
                spent.add(key.removeprefix("quota:"))
        elif live:
            expiry[key.removeprefix("session:")] = (
                None if expires_at is None else round(expires_at - stamp))
    names = sorted(set(expiry) | spent)
    return tuple(Token(name, expiry.get(name), name in spent) for name in names)


def _deliveries(db: sqlite_utils.Database) -> dict[str, int]:
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    for status, count in db.execute("SELECT status, count(*) FROM deliveries GROUP BY status"):
        counts[status] = count
    return counts
