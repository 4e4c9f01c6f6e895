"""Members' 入党日期 and 转正日期 (migration 10's columns on `members`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlite_utils

from bot.store.members import _COLUMNS, Member, _member


@dataclass(frozen=True)
class PartyDates:
    joined: date | None      # 入党日期: the political birthday
    confirmed: date | None   # 转正日期: 党龄 counts from it (党章 第七条)


def set_dates(db: sqlite_utils.Database, member_id: int, *, joined: date | None,
              confirmed: date | None) -> None:
    """Record what the roster says; a date the roster leaves blank keeps the one stored."""
    db.execute(
        "UPDATE members SET party_joined_on = coalesce(?, party_joined_on),"
        " party_confirmed_on = coalesce(?, party_confirmed_on) WHERE id = ?",
        [joined.isoformat() if joined else None, confirmed.isoformat() if confirmed else None,
         member_id])


def would_change(db: sqlite_utils.Database, member_id: int, *, joined: date | None,
                 confirmed: date | None) -> bool:
    """Whether set_dates with these dates would change what is stored (a blank keeps it)."""
    stored = dates_of(db, [member_id]).get(member_id, PartyDates(None, None))
    return (joined is not None and joined != stored.joined) or (
        confirmed is not None and confirmed != stored.confirmed)


def dates_of(db: sqlite_utils.Database, member_ids: list[int]) -> dict[int, PartyDates]:
    """member id -> their dates, for the members asked about."""
    if not member_ids:
        return {}
    marks = ", ".join("?" * len(member_ids))
    rows = db.execute(f"SELECT id, party_joined_on, party_confirmed_on FROM members"
                      f" WHERE id IN ({marks})", member_ids)
    return {row[0]: PartyDates(_day(row[1]), _day(row[2])) for row in rows}


def active_with_joined(db: sqlite_utils.Database, *,
                       months: tuple[int, ...]) -> list[tuple[Member, PartyDates]]:
    """Active members whose 入党日期 falls in one of these months, by branch, group, id."""
    marks = ", ".join("?" * len(months))
    rows = db.execute(
        f"SELECT {_COLUMNS}, m.party_joined_on, m.party_confirmed_on FROM members m"
        f" WHERE m.active = 1 AND m.party_joined_on IS NOT NULL"
        f" AND CAST(substr(m.party_joined_on, 6, 2) AS INTEGER) IN ({marks})"
        " ORDER BY m.branch, m.grp, m.id", list(months))
    width = len(_COLUMNS.split(","))
    return [(_member(row[:width]), PartyDates(_day(row[width]), _day(row[width + 1])))
            for row in rows]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
