"""Console accounts (admin_users) and failed-login throttling (login_failures), migration 7.

Passwords arrive here already hashed (bot.console.passwords); this module only stores rows.
Any change that must end existing sessions (password, disable) bumps session_version, which
every console request compares with the version in its cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from bot.store.members import ROLES as ROLES_OF_MEMBERS

ROLES = ("admin", "secretary")
# A console account's role. 支部书记 is the roster's word (bot.store.members.ROLES); a console
# admin is 管理员 (the roster's "admin" member role is 党务干部, a person, not an account).
ROLE_NAMES = {"admin": "管理员", "secretary": ROLES_OF_MEMBERS["secretary"]}


@dataclass(frozen=True)
class Admin:
    id: int
    name: str
    role: str
    branch: str | None
    active: bool
    session_version: int
    password_hash: str
    created_at: str
    last_login_at: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


_COLUMNS = ("id, name, role, branch, active, session_version, password_hash, created_at,"
            " last_login_at")


def _row(row: tuple | None) -> Admin | None:
    if row is None:
        return None
    return Admin(id=row[0], name=row[1], role=row[2], branch=row[3], active=bool(row[4]),
                 session_version=row[5], password_hash=row[6], created_at=row[7],
                 last_login_at=row[8])


def by_name(db: sqlite_utils.Database, name: str) -> Admin | None:
    return _row(db.execute(f"SELECT {_COLUMNS} FROM admin_users WHERE name = ?",
                           [name]).fetchone())


def by_id(db: sqlite_utils.Database, admin_id: int) -> Admin | None:
    return _row(db.execute(f"SELECT {_COLUMNS} FROM admin_users WHERE id = ?",
                           [admin_id]).fetchone())


def all_admins(db: sqlite_utils.Database) -> list[Admin]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM admin_users ORDER BY name").fetchall()
    return [_row(row) for row in rows]  # type: ignore[misc]


def count_active_admins(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COUNT(*) FROM admin_users WHERE role = 'admin' AND active = 1"
                      ).fetchone()[0]


def create(db: sqlite_utils.Database, *, name: str, password_hash: str, role: str,
           branch: str | None, at: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO admin_users (name, password_hash, role, branch, created_at)"
        " VALUES (?, ?, ?, ?, ?)", [name, password_hash, role, branch, at.isoformat()])
    return int(cursor.lastrowid)


def set_password(db: sqlite_utils.Database, admin_id: int, password_hash: str) -> None:
    db.execute("UPDATE admin_users SET password_hash = ?, session_version = session_version + 1"
               " WHERE id = ?", [password_hash, admin_id])


def rehash(db: sqlite_utils.Database, admin_id: int, password_hash: str) -> None:
    """A stronger hash of the same password: sessions stay valid."""
    db.execute("UPDATE admin_users SET password_hash = ? WHERE id = ?", [password_hash, admin_id])


def set_active(db: sqlite_utils.Database, admin_id: int, active: bool) -> None:
    db.execute("UPDATE admin_users SET active = ?, session_version = session_version + 1"
               " WHERE id = ?", [int(active), admin_id])


def set_role(db: sqlite_utils.Database, admin_id: int, role: str, branch: str | None) -> None:
    # A new role or branch is read from the row on every request; ending the sessions as well
    # makes the change visible at once, with no page still showing the old branch's data.
    db.execute("UPDATE admin_users SET role = ?, branch = ?, session_version = session_version + 1"
               " WHERE id = ?", [role, branch, admin_id])


def end_sessions(db: sqlite_utils.Database, admin_id: int) -> None:
    """Log out: the session cookie is signed, not stored, so a copy of it would stay valid
    until it idles out; a new session_version refuses every copy at once."""
    db.execute("UPDATE admin_users SET session_version = session_version + 1 WHERE id = ?",
               [admin_id])


def touch_login(db: sqlite_utils.Database, admin_id: int, at: datetime) -> None:
    db.execute("UPDATE admin_users SET last_login_at = ? WHERE id = ?", [at.isoformat(), admin_id])


# --- failed logins -------------------------------------------------------------------------

@dataclass(frozen=True)
class Failures:
    failures: int
    last_at: float
    locked_until: float


def failures_of(db: sqlite_utils.Database, who: str) -> Failures:
    row = db.execute("SELECT failures, last_at, locked_until FROM login_failures WHERE who = ?",
                     [who]).fetchone()
    return Failures(*row) if row else Failures(0, 0.0, 0.0)


def put_failures(db: sqlite_utils.Database, who: str, value: Failures) -> None:
    db.execute(
        "INSERT INTO login_failures (who, failures, last_at, locked_until) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (who) DO UPDATE SET failures = excluded.failures,"
        " last_at = excluded.last_at, locked_until = excluded.locked_until",
        [who, value.failures, value.last_at, value.locked_until])


def clear_failures(db: sqlite_utils.Database, who: str) -> None:
    db.execute("DELETE FROM login_failures WHERE who = ?", [who])
