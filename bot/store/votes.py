"""Votes and nominations (推荐评选; tables votes, vote_candidates, vote_voters, vote_ballots;
migration "votes and nominations").

The secret ballot lives in the shape of the tables: `vote_voters` says who has voted (for
turnout and reminders), `vote_ballots` what was chosen, and the two share only the vote's id.
A ballot row is found again (to change it, or for 「我的投票」) by its token, which bot/votes.py
derives from the voter with a key that is not in the database; `seal` replaces every token
with random bytes once the vote has closed, after which nobody can find a voter's ballot.
No row holds a time, and both tables are WITHOUT ROWID: no rowid counts insertions.

Functions take the open `db`; callers that write wrap them in `store.transaction()`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

MODES = ("list", "free")
_COLUMNS = ("id, title, audience, branch, mode, choices, opens_at, closes_at, changeable,"
            " created_by, created_at, sealed_at")


@dataclass(frozen=True)
class Vote:
    id: int
    title: str
    audience: dict[str, Any] = field(hash=False)
    branch: str           # "" for an admin's vote (any audience); a secretary's branch else
    mode: str             # "list": numbered candidates; "free": any member of the audience
    choices: int          # how many names each voter may give
    opens_at: datetime
    closes_at: datetime
    changeable: bool      # whether a voter may change their ballot before the close
    created_by: str
    created_at: datetime
    sealed_at: datetime | None

    def status(self, now: datetime) -> str:
        """"upcoming", "open" or "closed"."""
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


def _vote(row: tuple[Any, ...]) -> Vote:
    (vote_id, title, audience, branch, mode, choices, opens_at, closes_at, changeable,
     created_by, created_at, sealed_at) = row
    return Vote(int(vote_id), title, json.loads(audience), branch, mode, int(choices),
                datetime.fromisoformat(opens_at), datetime.fromisoformat(closes_at),
                bool(changeable), created_by, datetime.fromisoformat(created_at),
                datetime.fromisoformat(sealed_at) if sealed_at else None)


def add(db: sqlite_utils.Database, *, title: str, audience: dict[str, Any], branch: str,
        mode: str, choices: int, opens_at: datetime, closes_at: datetime, changeable: bool,
        candidates: list[int], created_by: str, now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO votes (title, audience, branch, mode, choices, opens_at, closes_at,"
        " changeable, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [title, json.dumps(audience, ensure_ascii=False), branch, mode, choices,
         opens_at.isoformat(), closes_at.isoformat(), int(changeable), created_by,
         now.isoformat()])
    vote_id = int(cursor.lastrowid or 0)
    for position, member_id in enumerate(candidates, start=1):
        db.execute("INSERT INTO vote_candidates (vote_id, position, member_id) VALUES (?, ?, ?)",
                   [vote_id, position, member_id])
    return vote_id


def get(db: sqlite_utils.Database, vote_id: int) -> Vote | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM votes WHERE id = ?", [vote_id]).fetchone()
    return _vote(row) if row else None


def list_votes(db: sqlite_utils.Database, *, branch: str | None = None) -> list[Vote]:
    """Newest first; a secretary's (`branch`) only their branch's."""
    sql = f"SELECT {_COLUMNS} FROM votes"
    params: list[Any] = []
    if branch is not None:
        sql += " WHERE branch = ?"
        params.append(branch)
    return [_vote(r) for r in db.execute(sql + " ORDER BY id DESC", params).fetchall()]


def open_at(db: sqlite_utils.Database, now: datetime) -> list[Vote]:
    """Votes open at `now`, oldest first."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM votes WHERE opens_at <= ? AND closes_at > ?"
                      " ORDER BY id", [now.isoformat(), now.isoformat()]).fetchall()
    return [_vote(r) for r in rows]


def set_closes_at(db: sqlite_utils.Database, vote_id: int, at: datetime) -> None:
    db.execute("UPDATE votes SET closes_at = ? WHERE id = ?", [at.isoformat(), vote_id])


def candidates(db: sqlite_utils.Database, vote_id: int) -> list[tuple[int, int]]:
    """(position, member id), in ballot order."""
    return [(int(p), int(m)) for p, m in db.execute(
        "SELECT position, member_id FROM vote_candidates WHERE vote_id = ? ORDER BY position",
        [vote_id]).fetchall()]


# --- who has voted -----------------------------------------------------------------------------

def has_voted(db: sqlite_utils.Database, vote_id: int, member_id: int) -> bool:
    return db.execute("SELECT 1 FROM vote_voters WHERE vote_id = ? AND member_id = ?",
                      [vote_id, member_id]).fetchone() is not None


def voter_ids(db: sqlite_utils.Database, vote_id: int) -> set[int]:
    return {int(r[0]) for r in db.execute("SELECT member_id FROM vote_voters WHERE vote_id = ?",
                                          [vote_id]).fetchall()}


# --- what was chosen ---------------------------------------------------------------------------

def ballot(db: sqlite_utils.Database, vote_id: int, token: str) -> list[int] | None:
    row = db.execute("SELECT choices FROM vote_ballots WHERE vote_id = ? AND token = ?",
                     [vote_id, token]).fetchone()
    return None if row is None else [int(c) for c in json.loads(row[0])]


def cast(db: sqlite_utils.Database, vote_id: int, member_id: int, token: str,
         chosen: list[int]) -> None:
    """Record a first ballot: the voter and the choices, in two tables that share no key."""
    db.execute("INSERT INTO vote_voters (vote_id, member_id) VALUES (?, ?)", [vote_id, member_id])
    db.execute("INSERT INTO vote_ballots (vote_id, token, choices) VALUES (?, ?, ?)",
               [vote_id, token, _choices_text(chosen)])


def change(db: sqlite_utils.Database, vote_id: int, token: str, chosen: list[int]) -> bool:
    """Replace a ballot's choices; False when no ballot has this token."""
    return db.execute("UPDATE vote_ballots SET choices = ? WHERE vote_id = ? AND token = ?",
                      [_choices_text(chosen), vote_id, token]).rowcount == 1


def _choices_text(chosen: list[int]) -> str:
    # Sorted: the order a voter typed the names in is not kept (it could tell voters apart).
    return json.dumps(sorted(set(chosen)))


def tally(db: sqlite_utils.Database, vote_id: int) -> tuple[Counter[int], int]:
    """(votes per member id, number of ballots)."""
    counts: Counter[int] = Counter()
    ballots = 0
    for (choices,) in db.execute("SELECT choices FROM vote_ballots WHERE vote_id = ?",
                                 [vote_id]).fetchall():
        ballots += 1
        counts.update(int(c) for c in json.loads(choices))
    return counts, ballots


def seal(db: sqlite_utils.Database, vote_id: int, now: datetime) -> bool:
    """After the close: every token becomes random bytes (the rows re-sort by them), so no key
    finds a voter's ballot any more. Once; True when this call sealed it."""
    sealed = db.execute("UPDATE votes SET sealed_at = ? WHERE id = ? AND sealed_at IS NULL",
                        [now.isoformat(), vote_id]).rowcount == 1
    if sealed:
        db.execute("UPDATE vote_ballots SET token = lower(hex(randomblob(16))) WHERE vote_id = ?",
                   [vote_id])
    return sealed


def due_for_sealing(db: sqlite_utils.Database, now: datetime) -> list[int]:
    return [int(r[0]) for r in db.execute(
        "SELECT id FROM votes WHERE sealed_at IS NULL AND closes_at <= ? ORDER BY id",
        [now.isoformat()]).fetchall()]
