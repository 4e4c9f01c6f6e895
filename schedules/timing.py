"""When a schedule fires: its kind and spec turned into an APScheduler trigger, filtered by
the working-day calendar where the schedule asks for working days only.

Kinds and specs (JSON in the schedules table):
    once     {"at": "2026-12-01T08:00"}
    daily    {"time": "08:30"}
    weekly   {"time": "08:30", "weekdays": ["mon", "fri"]}
    monthly  {"time": "09:00", "day": 1}
    cron     {"cron": "0 8 * * 1"}            standard crontab: 0 and 7 are Sunday; when both
                                              day of month and weekday are restricted, either
                                              one matching is enough (as cron does)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

KINDS = ("once", "daily", "weekly", "monthly", "cron")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # crontab 0..7
_CRON_DOW_PART = re.compile(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SpecError(ValueError):
    """A schedule spec that cannot fire; the message says what to write instead."""


def trigger_for(kind: str, spec: Mapping[str, Any], tz: ZoneInfo) -> BaseTrigger:
    if kind not in KINDS:
        raise SpecError(f"不支持的发送方式 {kind}（可选：{'、'.join(KINDS)}）")
    if kind == "once":
        try:
            at = datetime.fromisoformat(str(spec["at"]))
        except (KeyError, ValueError):
            raise SpecError("只发一次需要日期和时间，如 2026-12-01 08:00") from None
        return DateTrigger(run_date=at if at.tzinfo else at.replace(tzinfo=tz), timezone=tz)
    if kind == "cron":
        return _cron(str(spec.get("cron", "")), tz)
    hour, minute = _time(spec)
    if kind == "daily":
        return CronTrigger(hour=hour, minute=minute, timezone=tz)
    if kind == "weekly":
        days = spec.get("weekdays") or []
        if not days or any(d not in WEEKDAY_NAMES for d in days):
            raise SpecError(f"每周发送需要选择星期几（命令行写 {','.join(WEEKDAY_NAMES)} 中的几天）")
        return CronTrigger(day_of_week=",".join(days), hour=hour, minute=minute, timezone=tz)
    if kind == "monthly":
        day = spec.get("day")
        if not isinstance(day, int) or not 1 <= day <= 31:
            raise SpecError("每月发送需要 1 到 31 之间的日期")
        return CronTrigger(day=day, hour=hour, minute=minute, timezone=tz)
    raise AssertionError(f"unhandled kind {kind!r}")


def _time(spec: Mapping[str, Any]) -> tuple[int, int]:
    match = _TIME.match(str(spec.get("time", "")))
    if not match:
        raise SpecError("时间请写成 时:分（24 小时制），如 08:30")
    return int(match.group(1)), int(match.group(2))


def _cron(expression: str, tz: ZoneInfo) -> BaseTrigger:
    fields = expression.split()
    if len(fields) != 5:
        raise SpecError("cron 表达式要有 5 项，依次是 分 时 日 月 星期，如 0 8 * * 1-5")
    minute, hour, day, month, weekday = fields
    # crontab fires when EITHER the day of month or the weekday matches, if both are
    # restricted (neither starts with *): "0 9 1 * 1" is the 1st and every Monday. APScheduler
    # would require both, so that case is the union of two triggers.
    either = not day.startswith("*") and not weekday.startswith("*")
    try:
        weekday = _crontab_weekdays(weekday)

        def cron(day: str, weekday: str) -> CronTrigger:
            return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                               day_of_week=weekday, timezone=tz)

        return OrTrigger([cron(day, "*"), cron("*", weekday)]) if either else cron(day, weekday)
    except ValueError as exc:
        raise SpecError(f"cron 表达式「{expression}」有误：{_cron_problem(fields, str(exc))}") from None


CRON_FIELD_NAMES = ("分", "时", "日", "月", "星期")


def _cron_problem(fields: list[str], detail: str) -> str:
    """Which of the five fields APScheduler refused, in words (its own message is English)."""
    if detail.startswith("星期"):  # ours, already in Chinese
        return detail
    for name, value, key in zip(CRON_FIELD_NAMES, fields,
                                ("minute", "hour", "day", "month", "day_of_week"), strict=True):
        try:
            CronTrigger(**{key: value})
        except ValueError:
            return f"「{name}」一项（{value}）无法识别"
    return "无法识别，请按 分 时 日 月 星期 的顺序写"


def _crontab_weekdays(field: str) -> str:
    """A crontab weekday field (Sunday = 0 or 7) in APScheduler's terms, as day names.

    APScheduler numbers weekdays from Monday = 0 and reads a range by its names' order, so
    numbers are expanded to the days they mean: "0-4" is sun,mon,tue,wed,thu (not the empty
    "sun-thu"), "*/2" is sun,tue,thu,sat. Names (mon-fri) are left as they are.
    """
    if field == "*":
        return field
    days: list[str] = []
    for part in field.lower().split(","):
        match = _CRON_DOW_PART.fullmatch(part)
        if match is None:
            days.append(part)  # names: APScheduler reads them as cron does
            continue
        start, end, step = match.groups()
        if start == "*":
            if end is not None:
                raise ValueError(f"星期一项的「{part}」：范围不能以 * 开头")
            first, last = 0, 6
        else:
            first = int(start)
            last = int(end) if end is not None else (6 if step else first)
        if not (0 <= first <= 7 and 0 <= last <= 7) or first > last:
            raise ValueError(f"星期一项的「{part}」：请用 0-7（0 和 7 都是星期日），范围从小到大")
        if step is not None and int(step) < 1:
            raise ValueError(f"星期一项的「{part}」：间隔至少为 1")
        days += [_CRON_DAY_NAMES[n] for n in range(first, last + 1, int(step or 1))]
    return ",".join(dict.fromkeys(days))


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
        if fire < cursor:
            # A DateTrigger answers its date whatever `now` is: a one-off already past (or
            # already handled) is not a fire in this window.
            previous = fire
            continue
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
