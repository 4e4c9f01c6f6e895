"""The audit log: who did what, when (admins, the CLI, the scheduler)."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils


def record(db: sqlite_utils.Database, *, actor: str, action: str, detail: str,
           at: datetime) -> None:
    db.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
               [at.isoformat(), actor, action, detail])


def recent(db: sqlite_utils.Database, limit: int = 100) -> list[dict]:
    return list(db.query("SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                         [limit]))
