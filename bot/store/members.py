"""Members (the roster) and their channel identities (an OA openid, a WeCom userid, a sandbox id)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

# Role keys as stored, with the Chinese names admins use in the roster's 角色 column.
ROLES: dict[str, str] = {
    "member": "党员",
    "group_leader": "党小组长",
    "secretary": "支部书记",
    "admin": "党务干部",
}
ROLE_ALIASES: dict[str, str] = {
    "党员": "member", "预备党员": "member", "": "member",
    "党小组长": "group_leader", "组长": "group_leader",
    "支部书记": "secretary", "书记": "secretary", "副书记": "secretary", "支部副书记": "secretary",
    "党务干部": "admin", "管理员": "admin", "组织委员": "admin", "宣传委员": "admin",
    "纪检委员": "admin",
}
ADMIN_ROLES = {"admin", "secretary"}
BIND_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    branch: str
    grp: str
    phone: str
    role: str
    active: bool
    demo: bool

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


_COLUMNS = "m.id, m.name, m.branch, m.grp, m.phone, m.role, m.active, m.demo"


def _member(row: tuple) -> Member:
    return Member(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), bool(row[7]))


def normalise_external_id(channel: str, external_id: str) -> str:
    # WeCom userids are case-insensitive on the platform, which answers them lower-cased.
    return external_id.lower() if channel == "wecom" else external_id


def role_key(text: str) -> str | None:
    """The stored role for a roster's 角色 cell (Chinese or English), or None if unknown."""
    text = text.strip()
    if text in ROLES:
        return text
    return ROLE_ALIASES.get(text)


def add_member(db: sqlite_utils.Database, *, name: str, branch: str, grp: str = "",
               phone: str = "", role: str = "member", demo: bool = False,
               now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO members (name, branch, grp, phone, role, demo, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [name, branch, grp, phone, role, int(demo), now.isoformat()],
    )
    return int(cursor.lastrowid)


UPSERT_FIELDS = {"grp", "phone", "role"}  # what a roster row sets besides name and branch


def upsert_member(db: sqlite_utils.Database, *, name: str, branch: str, grp: str, phone: str,
                  role: str, now: datetime) -> tuple[int, bool]:
    """Insert, or update the member with this name in this branch. Returns (id, created)."""
    row = db.execute("SELECT id FROM members WHERE branch = ? AND name = ?",
                     [branch, name]).fetchone()
    if row is None:
        return add_member(db, name=name, branch=branch, grp=grp, phone=phone, role=role,
                          now=now), True
    db.execute("UPDATE members SET grp = ?, phone = ?, role = ?, active = 1 WHERE id = ?",
               [grp, phone, role, row[0]])
    return int(row[0]), False


def find_in_branch(db: sqlite_utils.Database, branch: str, name: str) -> Member | None:
    """The member a roster row names (a name is unique within its branch)."""
    row = db.execute(f"SELECT {_COLUMNS} FROM members m WHERE m.branch = ? AND m.name = ?",
                     [branch, name]).fetchone()
    return _member(row) if row else None


def differs(db: sqlite_utils.Database, member_id: int, fields: dict[str, str]) -> bool:
    """Whether upsert_member with these fields would change the stored member: a field's
    value, or reactivating them. `fields` are upsert_member's keywords, our code's names."""
    if not set(fields) <= UPSERT_FIELDS:  # column names go into the SQL text
        raise ValueError(f"not a member field: {sorted(set(fields) - UPSERT_FIELDS)}")
    columns = ", ".join(fields)
    row = db.execute(f"SELECT active, {columns} FROM members WHERE id = ?", [member_id]).fetchone()
    return row is None or not row[0] or list(row[1:]) != list(fields.values())


def get_member(db: sqlite_utils.Database, member_id: int) -> Member | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM members m WHERE m.id = ?", [member_id]).fetchone()
    return _member(row) if row else None


def list_members(db: sqlite_utils.Database, *, branch: str | None = None,
                 active_only: bool = False) -> list[Member]:
    sql = f"SELECT {_COLUMNS} FROM members m WHERE 1 = 1"
    params: list[object] = []
    if branch:
        sql += " AND m.branch = ?"
        params.append(branch)
    if active_only:
        sql += " AND m.active = 1"
    return [_member(row) for row in db.execute(sql + " ORDER BY m.branch, m.grp, m.id", params)]


def list_groups(db: sqlite_utils.Database, *, branch: str | None = None,
                name: str | None = None) -> list[tuple[str, str]]:
    """(branch, group) of the groups active members are in, sorted: a group is known by its
    branch and its name together, since two branches may each have a 「第一党小组」."""
    sql = "SELECT DISTINCT branch, grp FROM members WHERE active = 1 AND grp != ''"
    params: list[object] = []
    if branch is not None:
        sql += " AND branch = ?"
        params.append(branch)
    if name is not None:
        sql += " AND grp = ?"
        params.append(name)
    return [(b, g) for b, g in db.execute(sql + " ORDER BY branch, grp", params)]


def count_members(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM members").fetchone()[0])


def find_by_identity(db: sqlite_utils.Database, channel: str, external_id: str) -> Member | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM identities i JOIN members m ON m.id = i.member_id"
        " WHERE i.channel = ? AND i.external_id = ?",
        [channel, normalise_external_id(channel, external_id)],
    ).fetchone()
    return _member(row) if row else None


def bind_identity(db: sqlite_utils.Database, *, channel: str, external_id: str, member_id: int,
                  now: datetime) -> None:
    """Link a channel account to a member (replacing an earlier link of that account)."""
    db.execute(
        "INSERT INTO identities (channel, external_id, member_id, active, bound_at)"
        " VALUES (?, ?, ?, 1, ?) ON CONFLICT (channel, external_id) DO UPDATE SET"
        " member_id = excluded.member_id, active = 1, bound_at = excluded.bound_at",
        [channel, normalise_external_id(channel, external_id), member_id, now.isoformat()],
    )


def is_linked(db: sqlite_utils.Database, channel: str, external_id: str,
              member_id: int) -> bool:
    """Whether this channel account is already this member's, and reachable."""
    row = db.execute(
        "SELECT 1 FROM identities WHERE channel = ? AND external_id = ? AND member_id = ?"
        " AND active = 1", [channel, normalise_external_id(channel, external_id), member_id],
    ).fetchone()
    return row is not None


def set_identity_active(db: sqlite_utils.Database, channel: str, external_id: str,
                        active: bool) -> bool:
    """Mark a channel account (un)reachable, e.g. on unsubscribe. True if it was known."""
    cursor = db.execute(
        "UPDATE identities SET active = ? WHERE channel = ? AND external_id = ?",
        [int(active), channel, normalise_external_id(channel, external_id)],
    )
    return cursor.rowcount > 0


def identities_of(db: sqlite_utils.Database, member_id: int) -> list[tuple[str, str, bool]]:
    rows = db.execute("SELECT channel, external_id, active FROM identities WHERE member_id = ?"
                      " ORDER BY channel", [member_id])
    return [(channel, external_id, bool(active)) for channel, external_id, active in rows]


def find_for_binding(db: sqlite_utils.Database, name: str, phone_tail: str) -> list[Member]:
    """Active members with this name whose phone ends in these four digits."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM members m WHERE m.name = ? AND m.active = 1"
        " AND length(m.phone) >= 4 AND substr(m.phone, -4) = ?",
        [name, phone_tail],
    )
    return [_member(row) for row in rows]


def take_bind_code(db: sqlite_utils.Database, code: str) -> Member | None:
    """The member a one-time bind code belongs to; the code is used up."""
    row = db.execute(f"SELECT {_COLUMNS} FROM members m WHERE m.bind_code = ? AND m.active = 1",
                     [code.upper()]).fetchone()
    if row is None:
        return None
    db.execute("UPDATE members SET bind_code = NULL WHERE id = ?", [row[0]])
    return _member(row)


def new_bind_code(db: sqlite_utils.Database, member_id: int) -> str:
    """Give a member a fresh 8-character one-time bind code (replacing any earlier one)."""
    while True:
        code = "".join(secrets.choice(BIND_CODE_ALPHABET) for _ in range(8))
        exists = db.execute("SELECT 1 FROM members WHERE bind_code = ?", [code]).fetchone()
        if not exists:
            db.execute("UPDATE members SET bind_code = ? WHERE id = ?", [code, member_id])
            return code


def deactivate(db: sqlite_utils.Database, member_id: int) -> None:
    db.execute("UPDATE members SET active = 0 WHERE id = ?", [member_id])
