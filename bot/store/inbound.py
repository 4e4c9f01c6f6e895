"""Durable dedupe of inbound messages: WeChat redelivers a slow callback up to three times.

The reply is remembered in the same transaction as the message's effect, so a redelivery gets
the same answer and changes nothing, across workers and restarts.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils


def remembered_reply(db: sqlite_utils.Database, dedupe_key: str) -> str | None:
    row = db.execute("SELECT reply FROM inbound WHERE dedupe_key = ?", [dedupe_key]).fetchone()
    return None if row is None else row[0]


def remember_reply(db: sqlite_utils.Database, *, dedupe_key: str, channel: str, reply: str,
                   at: datetime) -> None:
    db.execute("INSERT INTO inbound (dedupe_key, channel, reply, at) VALUES (?, ?, ?, ?)",
               [dedupe_key, channel, reply, at.isoformat()])


def forget_before(db: sqlite_utils.Database, cutoff: datetime) -> int:
    """Drop dedupe records older than any possible redelivery (housekeeping)."""
    return db.execute("DELETE FROM inbound WHERE at < ?", [cutoff.isoformat()]).rowcount
