"""Did a request change the store? Two measures: SQLite's own count of rows written on this
thread's connection (cheap, per example; the Flask test client runs the request on the test's
thread), and a hash of every row of every table (thorough, around a whole test)."""

from __future__ import annotations

import hashlib
import sqlite3

from bot.store import Store


def writes(store: Store) -> int:
    """Rows inserted, updated or deleted on this thread's connection since it opened."""
    return store.db.conn.total_changes


def fingerprint(path: str) -> dict[str, str]:
    """table -> sha256 of its rows, read on a separate connection."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
        result = {}
        for table in tables:
            digest = hashlib.sha256()
            # Table names come from sqlite_master itself, quoted: not user input.
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):  # noqa: S608
                digest.update(repr(row).encode())
            result[table] = digest.hexdigest()
        return result
