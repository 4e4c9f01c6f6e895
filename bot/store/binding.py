"""Guessing protection for binding: a few wrong tries, then a pause."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils


def paused_until(db: sqlite_utils.Database, who: str, now: datetime) -> datetime | None:
    row = db.execute("SELECT paused_until FROM bind_attempts WHERE who = ?", [who]).fetchone()
    if row is None or row[0] is None:
        return None
    until = datetime.fromisoformat(row[0])
    return until if until > now else None


def record_failure(db: sqlite_utils.Database, who: str, now: datetime, *, max_failures: int,
                   pause: timedelta) -> int:
    """Count a wrong try; at max_failures start a pause and reset the count. Returns tries left."""
    row = db.execute("SELECT failures FROM bind_attempts WHERE who = ?", [who]).fetchone()
    failures = (row[0] if row else 0) + 1
    paused = (now + pause).isoformat() if failures >= max_failures else None
    db.execute(
        "INSERT INTO bind_attempts (who, failures, paused_until) VALUES (?, ?, ?)"
        " ON CONFLICT (who) DO UPDATE SET failures = excluded.failures,"
        " paused_until = excluded.paused_until",
        [who, 0 if paused else failures, paused],
    )
    return 0 if paused else max_failures - failures


def clear(db: sqlite_utils.Database, who: str) -> None:
    db.execute("DELETE FROM bind_attempts WHERE who = ?", [who])
