"""The numbers behind 概览, as plain functions of (services, branch scope): easy to test alone.

`scope` is None for an admin (every branch) or one branch for its secretary; every query here
filters by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlite_utils

from bot import audience as audiences
from bot import report as reports
from bot.reminders import holiday_calendar
from bot.services import Services
from bot.store import alerts
from bot.store import members as store_members
from bot.store import schedules as store_schedules
from schedules import daily_push
from schedules.jobs import describe_content
from schedules.timing import SpecError, fires_between, trigger_for


@dataclass(frozen=True)
class Rate:
    done: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.done / self.total, 1) if self.total else None


def _branch_sql(scope: str | None, alias: str = "m") -> tuple[str, list[str]]:
    return (f" AND {alias}.branch = ?", [scope]) if scope else ("", [])


def active_count(db: sqlite_utils.Database, scope: str | None) -> int:
    where, params = _branch_sql(scope)
    return db.execute(f"SELECT count(*) FROM members m WHERE m.active = 1{where}",
                      params).fetchone()[0]


def checkin_rate(db: sqlite_utils.Database, scope: str | None, day: date) -> Rate:
    where, params = _branch_sql(scope)
    done = db.execute(
        "SELECT count(*) FROM checkins c JOIN members m ON m.id = c.member_id"
        f" WHERE c.day = ? AND m.active = 1{where}", [day.isoformat(), *params]).fetchone()[0]
    return Rate(done, active_count(db, scope))


def trend(db: sqlite_utils.Database, scope: str | None, today: date,
          days: int = 30) -> list[tuple[str, float | None]]:
    """(MM-DD, check-in rate %) for the last `days` days up to today, today's roster as the base."""
    start = today - timedelta(days=days - 1)
    where, params = _branch_sql(scope)
    per_day = dict(db.execute(
        "SELECT c.day, count(*) FROM checkins c JOIN members m ON m.id = c.member_id"
        f" WHERE c.day BETWEEN ? AND ? AND m.active = 1{where} GROUP BY c.day",
        [start.isoformat(), today.isoformat(), *params]).fetchall())
    total = active_count(db, scope)
    points = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        count = per_day.get(day.isoformat(), 0)
        points.append((f"{day:%m-%d}", round(100 * count / total, 1) if total else None))
    return points


def branch_completion(services: Services, scope: str | None,
                      today: date) -> tuple[str, list[tuple[str, float | None]]]:
    """Per branch, this month's completion: 完成率 of required study tasks (bot.report, the
    same figure as 学习任务 and 报表) when the month has any, otherwise of check-ins on the
    working days so far. Returns (what was measured, rows)."""
    db = services.store.db
    month = f"{today:%Y-%m}"
    if reports.required_tasks(db, month):
        if scope is not None and scope not in reports.branches(db):
            return TASK_MEASURE, []
        report = reports.month_report(db, month, branch=scope, today=today)
        return TASK_MEASURE, [(b.branch, _percent(b.total.rate)) for b in
                              sorted(report.branches, key=lambda b: b.branch)]
    people = [m for m in store_members.list_members(db, active_only=True)
              if scope is None or m.branch == scope]
    rates: dict[str, list[int]] = {}
    calendar = holiday_calendar(services)
    workdays = [today.replace(day=d) for d in range(1, today.day + 1)
                if calendar.is_workday(today.replace(day=d))]
    days = {d.isoformat() for d in workdays}
    counted = dict(db.execute(
        "SELECT member_id, count(*) FROM checkins WHERE day BETWEEN ? AND ?"
        " GROUP BY member_id", [today.replace(day=1).isoformat(), today.isoformat()]
    ).fetchall()) if days else {}
    for member in people:
        tally = rates.setdefault(member.branch, [0, 0])
        tally[0] += min(counted.get(member.id, 0), len(days))
        tally[1] += len(days)
    rows = [(branch, Rate(d, t).percent) for branch, (d, t) in sorted(rates.items())]
    return "本月工作日打卡率", rows


TASK_MEASURE = f"本月必学任务{reports.METRICS['rate'].label}"


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


@dataclass(frozen=True)
class Upcoming:
    at: datetime
    what: str
    audience: str
    schedule_id: int | None
    daily: bool = False  # the built-in 每日纪法 push (its page: 定时推送 -> 每日纪法)


def schedule_branch(audience: dict) -> str | None:
    """The one branch a schedule is for when its audience is exactly one branch or groups of
    that one branch ("支部/党小组"), else None (a schedule for everyone, several branches,
    bare group names or named members is an admin's): bot.audience.branch_of."""
    return audiences.branch_of(audience)


def visible_schedule(audience: dict, scope: str | None) -> bool:
    return scope is None or schedule_branch(audience) == scope


def upcoming(services: Services, scope: str | None, limit: int = 5) -> list[Upcoming]:
    """The next `limit` pushes visible in this scope, soonest first."""
    now = services.clock.now()
    return _fires(services, scope, now, now + timedelta(days=3660), limit)[:limit]


UPCOMING_HOURS = 24


def upcoming_count(services: Services, scope: str | None,
                   hours: int = UPCOMING_HOURS) -> int:
    """How many pushes fall in the next `hours` hours in this scope (the list is capped; this
    is not)."""
    now = services.clock.now()
    return len(_fires(services, scope, now, now + timedelta(hours=hours), 10_000))


def upcoming_note(in_window: int, shown: int, hours: int = UPCOMING_HOURS) -> str:
    """The heading of the capped list of next pushes, in the terms of the stat beside it: how
    many pushes the next `hours` hours really hold, and which ones the list shows."""
    if not shown:
        return ""
    if in_window > shown:
        return f"未来 {hours} 小时共 {in_window} 次，显示最近 {shown} 次"
    if in_window == shown:
        return f"未来 {hours} 小时共 {in_window} 次"
    if not in_window:
        return f"未来 {hours} 小时没有推送，显示之后最近的 {shown} 次"
    return f"未来 {hours} 小时共 {in_window} 次，另列出之后的 {shown - in_window} 次"


def _fires(services: Services, scope: str | None, start: datetime, end: datetime,
           per_schedule: int) -> list[Upcoming]:
    """Up to `per_schedule` fires in (start, end] of every active schedule in scope and of
    the daily reading (unless paused, and not twice in a day), soonest first."""
    is_workday = holiday_calendar(services).is_workday
    found: list[Upcoming] = []
    for s in store_schedules.active(services.store.db):
        if not visible_schedule(s.audience, scope):
            continue
        try:
            trigger = trigger_for(s.kind, s.spec, services.clock.tz)
        except SpecError:
            continue
        for fire in fires_between(trigger, start, end,
                                  is_workday if s.workdays_only else None, per_schedule):
            found.append(Upcoming(fire, describe_content(s.content)[:60],
                                  audiences.describe(s.audience), s.id))
    # The built-in push as set now (config.toml's or the console's), as 定时推送 shows it.
    for fire in daily_push.upcoming(services, start, end, per_schedule):
        found.append(Upcoming(fire, "每日纪法条文", "全体党员", None, daily=True))
    return sorted(found, key=lambda u: u.at)


def failed_deliveries(db: sqlite_utils.Database, scope: str | None, since: datetime,
                      limit: int = 20) -> list[dict]:
    """Broadcasts since `since` with failed or undeliverable rows, by reason (this scope's
    members only)."""
    where, params = _branch_sql(scope)
    return list(db.query(
        "SELECT b.id AS broadcast_id, b.key, b.fire_at, b.schedule_id, d.status, d.last_error,"
        " count(*) AS n FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " JOIN members m ON m.id = d.member_id"
        f" WHERE d.status IN ('failed', 'undeliverable') AND b.fire_at >= ?{where}"
        " GROUP BY b.id, d.status, d.last_error ORDER BY b.fire_at DESC, n DESC LIMIT ?",
        [since.isoformat(), *params, limit]))


def open_alerts(db: sqlite_utils.Database, limit: int = 10) -> list[alerts.Alert]:
    """Alerts not yet acknowledged, newest first (bot.store.alerts owns what "open" means)."""
    return alerts.list_alerts(db, limit=limit)
