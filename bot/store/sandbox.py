"""The sandbox channel's inbox: what would have been pushed to a member's phone."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils


def deliver(db: sqlite_utils.Database, *, external_id: str, member_id: int | None, text: str,
            at: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO sandbox_inbox (member_id, external_id, text, at) VALUES (?, ?, ?, ?)",
        [member_id, external_id, text, at.isoformat()],
    )
    return int(cursor.lastrowid)


def messages_for(db: sqlite_utils.Database, external_id: str, after_id: int = 0,
                 limit: int = 100) -> list[dict]:
    return list(db.query(
        "SELECT id, text, at FROM sandbox_inbox WHERE external_id = ? AND id > ?"
        " ORDER BY id LIMIT ?",
        [external_id, after_id, limit],
    ))
