"""When a schedule fires: its kind and spec turned into an APScheduler trigger, filtered by
the working-day calendar where the schedule asks for working days only.

Kinds and specs (JSON in the schedules table):
    once     {"at": "2026-12-01T08:00"}
    daily    {"time": "08:30"}
    weekly   {"time": "08:30", "weekdays": ["mon", "fri"]}
    monthly  {"time": "09:00", "day": 1}
    cron     {"cron": "0 8 * * 1"}            standard crontab: 0 and 7 are Sunday
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

KINDS = ("once", "daily", "weekly", "monthly", "cron")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DOW = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri",
             "6": "sat", "7": "sun"}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SpecError(ValueError):
    """A schedule spec that cannot fire; the message says what to write instead."""


def trigger_for(kind: str, spec: Mapping[str, Any], tz: ZoneInfo) -> BaseTrigger:
    if kind == "once":
        try:
            at = datetime.fromisoformat(str(spec["at"]))
        except (KeyError, ValueError):
            raise SpecError('a one-off schedule needs "at", like 2026-12-01T08:00') from None
        return DateTrigger(run_date=at if at.tzinfo else at.replace(tzinfo=tz), timezone=tz)
    if kind == "cron":
        return _cron(str(spec.get("cron", "")), tz)
    hour, minute = _time(spec)
    if kind == "daily":
        return CronTrigger(hour=hour, minute=minute, timezone=tz)
    if kind == "weekly":
        days = spec.get("weekdays") or []
        if not days or any(d not in WEEKDAY_NAMES for d in days):
            raise SpecError(f"weekly needs weekdays from {', '.join(WEEKDAY_NAMES)}")
        return CronTrigger(day_of_week=",".join(days), hour=hour, minute=minute, timezone=tz)
    if kind == "monthly":
        day = spec.get("day")
        if not isinstance(day, int) or not 1 <= day <= 31:
            raise SpecError("monthly needs a day of the month from 1 to 31")
        return CronTrigger(day=day, hour=hour, minute=minute, timezone=tz)
    raise SpecError(f"unknown schedule kind {kind!r}; expected one of {', '.join(KINDS)}")


def _time(spec: Mapping[str, Any]) -> tuple[int, int]:
    match = _TIME.match(str(spec.get("time", "")))
    if not match:
        raise SpecError('a time looks like "08:30"')
    return int(match.group(1)), int(match.group(2))


def _cron(expression: str, tz: ZoneInfo) -> CronTrigger:
    fields = expression.split()
    if len(fields) != 5:
        raise SpecError("a cron expression has five fields: minute hour day month weekday")
    # APScheduler numbers weekdays from Monday = 0; crontab from Sunday = 0. Use names.
    fields[4] = re.sub(r"\d+", lambda m: _CRON_DOW.get(m.group(), m.group()), fields[4])
    try:
        return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                           day_of_week=fields[4], timezone=tz)
    except ValueError as exc:
        raise SpecError(f"bad cron expression {expression!r}: {exc}") from None


def fires_between(trigger: BaseTrigger, start: datetime, end: datetime,
                  is_workday: Callable[[date], bool] | None = None,
                  limit: int = 1000) -> Iterator[datetime]:
    """Fire times in (start, end], skipping non-working days when `is_workday` is given."""
    cursor = start + timedelta(microseconds=1)
    previous = None
    for _ in range(limit * 10):
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > end:
            return
        if is_workday is None or is_workday(fire.date()):
            yield fire
            limit -= 1
            if not limit:
                return
        previous, cursor = fire, fire + timedelta(microseconds=1)


def next_fires(trigger: BaseTrigger, after: datetime, count: int,
               is_workday: Callable[[date], bool] | None = None) -> list[datetime]:
    """The next `count` fire times (within ten years) after `after`."""
    return list(fires_between(trigger, after, after + timedelta(days=3660), is_workday, count))
