"""The audit log: who did what, when (admins, the CLI, the scheduler).

Rows keep machine-readable codes: `actor` ("console:张书记", "cli", "init", "chat:王建国"),
`action` ("roster import", "account.create") and `detail`, a JSON object of the facts
({"created": 0, "updated": 2, "wecom": 1}). Older rows hold a free-form string instead. Tests
and operators read these values; people read them through bot/audit_text.py, the one place that
turns a row into a Chinese sentence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlite_utils


def record(db: sqlite_utils.Database, *, actor: str, action: str,
           detail: Mapping[str, Any] | str, at: datetime) -> None:
    """Append a row. `detail` is a mapping of JSON values (stored as a JSON object); a string is
    stored as given (kept for callers outside this code base)."""
    if not isinstance(detail, str):
        detail = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)
    db.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
               [at.isoformat(), actor, action, detail])


def facts(detail: str) -> dict[str, Any] | None:
    """A row's structured detail, or None for an old free-form string."""
    if not detail.startswith("{"):
        return None
    try:
        value = json.loads(detail)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def recent(db: sqlite_utils.Database, limit: int = 100) -> list[dict]:
    return list(db.query("SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                         [limit]))
