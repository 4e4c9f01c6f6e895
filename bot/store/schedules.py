"""Admin schedules: the source of truth the scheduler reads on every tick."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

STATUSES = ("active", "paused", "cancelled", "done")


@dataclass(frozen=True)
class Schedule:
    id: int
    kind: str
    spec: dict[str, Any]
    workdays_only: bool
    audience: dict[str, Any]
    content: dict[str, Any]   # {"text": ...} | {"reading": "today"} | {"reminder": id}
    created_by: str
    created_at: datetime
    status: str
    last_fire_at: datetime | None  # the latest fire time already handled (sent or missed)


_COLUMNS = ("id, kind, spec, workdays_only, audience, content, created_by, created_at, status,"
            " last_fire_at")


def _schedule(row: tuple) -> Schedule:
    return Schedule(row[0], row[1], json.loads(row[2]), bool(row[3]), json.loads(row[4]),
                    json.loads(row[5]), row[6], datetime.fromisoformat(row[7]), row[8],
                    datetime.fromisoformat(row[9]) if row[9] else None)


def add(db: sqlite_utils.Database, *, kind: str, spec: dict[str, Any], workdays_only: bool,
        audience: dict[str, Any], content: dict[str, Any], created_by: str,
        now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO schedules (kind, spec, workdays_only, audience, content, created_by,"
        " created_at, last_fire_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [kind, json.dumps(spec, ensure_ascii=False), int(workdays_only),
         json.dumps(audience, ensure_ascii=False), json.dumps(content, ensure_ascii=False),
         created_by, now.isoformat(), now.isoformat()])
    return int(cursor.lastrowid)


def get(db: sqlite_utils.Database, schedule_id: int) -> Schedule | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM schedules WHERE id = ?", [schedule_id]).fetchone()
    return _schedule(row) if row else None


def list_all(db: sqlite_utils.Database, *, include_finished: bool = False) -> list[Schedule]:
    sql = f"SELECT {_COLUMNS} FROM schedules"
    if not include_finished:
        sql += " WHERE status IN ('active', 'paused')"
    return [_schedule(row) for row in db.execute(sql + " ORDER BY id")]


def active(db: sqlite_utils.Database) -> list[Schedule]:
    return [_schedule(row) for row in db.execute(
        f"SELECT {_COLUMNS} FROM schedules WHERE status = 'active' ORDER BY id")]


def set_status(db: sqlite_utils.Database, schedule_id: int, status: str) -> bool:
    assert status in STATUSES
    return db.execute("UPDATE schedules SET status = ? WHERE id = ?",
                      [status, schedule_id]).rowcount > 0


def mark_handled(db: sqlite_utils.Database, schedule_id: int, up_to: datetime) -> None:
    db.execute("UPDATE schedules SET last_fire_at = ? WHERE id = ?",
               [up_to.isoformat(), schedule_id])


def broadcasts_of(db: sqlite_utils.Database, schedule_id: int) -> list[dict]:
    return list(db.query(
        "SELECT id, key, fire_at, status, text FROM broadcasts WHERE schedule_id = ?"
        " ORDER BY fire_at DESC", [schedule_id]))
