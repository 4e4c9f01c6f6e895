"""Daily check-ins (学习打卡): at most one per member per day, with streaks and monthly counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlite_utils


@dataclass(frozen=True)
class CheckinResult:
    created: bool
    at: datetime  # when the day's check-in was (first) recorded


@dataclass(frozen=True)
class CheckinStats:
    month_count: int
    current_streak: int  # consecutive days up to today (or up to yesterday if not yet today)
    longest_streak: int
    total: int
    checked_today: bool


def record_checkin(db: sqlite_utils.Database, *, member_id: int, day: date, note: str,
                   at: datetime, via: str) -> CheckinResult:
    """Record today's check-in once; a second one that day changes nothing."""
    cursor = db.execute(
        "INSERT INTO checkins (member_id, day, note, at, via) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (member_id, day) DO NOTHING",
        [member_id, day.isoformat(), note, at.isoformat(), via],
    )
    if cursor.rowcount:
        return CheckinResult(created=True, at=at)
    first = db.execute("SELECT at FROM checkins WHERE member_id = ? AND day = ?",
                       [member_id, day.isoformat()]).fetchone()[0]
    return CheckinResult(created=False, at=datetime.fromisoformat(first))


def checkin_days(db: sqlite_utils.Database, member_id: int) -> list[date]:
    rows = db.execute("SELECT day FROM checkins WHERE member_id = ? ORDER BY day", [member_id])
    return [date.fromisoformat(day) for (day,) in rows]


def stats_for(db: sqlite_utils.Database, member_id: int, today: date) -> CheckinStats:
    days = checkin_days(db, member_id)
    month_prefix = today.strftime("%Y-%m")
    return CheckinStats(
        month_count=sum(1 for d in days if d.isoformat().startswith(month_prefix)),
        current_streak=current_streak(days, today),
        longest_streak=longest_streak(days),
        total=len(days),
        checked_today=bool(days) and days[-1] == today,
    )


@dataclass(frozen=True)
class StreakAndMonth:
    current_streak: int
    month_count: int


def streak_and_month(db: sqlite_utils.Database, member_id: int, today: date) -> StreakAndMonth:
    """What the check-in reply shows, read in time bounded by the streak and the month rather
    than by the member's whole history (`stats_for` reads every day ever checked in)."""
    month_start = today.replace(day=1).isoformat()
    month_count = db.execute(
        "SELECT COUNT(*) FROM checkins WHERE member_id = ? AND day BETWEEN ? AND ?",
        [member_id, month_start, today.isoformat()]).fetchone()[0]
    # Newest first, stopping at the first gap: the cursor reads no further than the streak.
    expected = today
    streak = 0
    rows = db.execute("SELECT day FROM checkins WHERE member_id = ? AND day <= ?"
                      " ORDER BY day DESC", [member_id, today.isoformat()])
    for (text,) in rows:
        day = date.fromisoformat(text)
        if streak == 0 and day == today - timedelta(days=1):
            expected = day  # today is still open: the streak may end yesterday
        if day != expected:
            break
        streak += 1
        expected -= timedelta(days=1)
    rows.close()
    return StreakAndMonth(current_streak=streak, month_count=month_count)


def current_streak(days: list[date], today: date) -> int:
    """Consecutive days ending today, or ending yesterday while today is still open."""
    seen = set(days)
    cursor = today if today in seen else today - timedelta(days=1)
    streak = 0
    while cursor in seen:
        streak += 1
        cursor -= timedelta(days=1)
    return streak


def longest_streak(days: list[date]) -> int:
    best = run = 0
    previous: date | None = None
    for day in sorted(set(days)):
        run = run + 1 if previous and day - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = day
    return best


def checkins_between(db: sqlite_utils.Database, start: date, end: date) -> list[dict]:
    """Rows for an export: one per check-in in [start, end], with the member's roster fields."""
    return list(db.query(
        "SELECT c.day, c.at, m.name, m.branch, m.grp, c.note, c.via FROM checkins c"
        " JOIN members m ON m.id = c.member_id WHERE c.day BETWEEN ? AND ?"
        " ORDER BY c.day, m.branch, m.grp, m.name",
        [start.isoformat(), end.isoformat()],
    ))
