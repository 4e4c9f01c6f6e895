"""A small key-value table with expiry: access tokens, leases, counters."""

from __future__ import annotations

import sqlite_utils


def get(db: sqlite_utils.Database, key: str, now: float) -> str | None:
    row = db.execute("SELECT value, expires_at FROM kv WHERE key = ?", [key]).fetchone()
    if row is None or (row[1] is not None and row[1] <= now):
        return None
    return row[0]


def put(db: sqlite_utils.Database, key: str, value: str, expires_at: float | None) -> None:
    db.execute(
        "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
        " SET value = excluded.value, expires_at = excluded.expires_at",
        [key, value, expires_at],
    )


def delete(db: sqlite_utils.Database, key: str) -> None:
    db.execute("DELETE FROM kv WHERE key = ?", [key])
