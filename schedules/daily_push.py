"""The built-in 每日纪法 push: when it goes out, and an admin's changes to that.

config.toml's `reading.push_time` / `reading.workdays_only` give the first setting. Once an
admin changes the time, the working-days rule or pauses the push in the console (定时推送 ->
每日纪法), the stored setting (one `kv` row) wins over config.toml until they choose 「恢复为配置
文件的设置」. The scheduler reads this on every tick (schedules/jobs.fire_daily_reading), so a
change takes effect in the running process, on whichever process holds the lease.

Exactly once a day: every fire's broadcast key is `reading:<day>`, whatever the time. Moving the
time later after today's push has gone out sends nothing more today; moving it earlier than now
before today's push does not send it at once (no backfill, as for an edited schedule): the next
fire is tomorrow's. Integrity reminders go out on their planned days at this same time; pausing
the reading does not pause them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlite_utils
from apscheduler.triggers.base import BaseTrigger

from bot.reminders import holiday_calendar
from bot.services import Services
from bot.store import audit, kv
from schedules.admin import ScheduleError, describe_when
from schedules.jobs import builtin_handled_at, mark_builtin_handled
from schedules.timing import fires_between, trigger_for

log = logging.getLogger(__name__)
SETTING_KEY = "daily-push:setting"  # kv: the console's setting, JSON; absent = config.toml's
KEY_PREFIX = "reading:"  # a fire's broadcast key is reading:<day>
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class DailyPush:
    time: str            # "08:30"
    workdays_only: bool
    paused: bool
    changed_by: str | None = None      # the console account that set it; None: config.toml's
    changed_at: datetime | None = None

    @property
    def from_config(self) -> bool:
        return self.changed_by is None

    @property
    def when(self) -> str:
        return describe_when("daily", {"time": self.time}, self.workdays_only)


def broadcast_key(day: date) -> str:
    return f"{KEY_PREFIX}{day.isoformat()}"


def setting(services: Services) -> DailyPush:
    """The setting in force: the console's when one was stored, else config.toml's."""
    stored = kv.get(services.store.db, SETTING_KEY, services.clock.timestamp())
    if stored:
        try:
            data = json.loads(stored)
            if _TIME.fullmatch(data["time"]):
                return DailyPush(data["time"], bool(data["workdays_only"]), bool(data["paused"]),
                                 str(data["by"]), datetime.fromisoformat(data["at"]))
        except (ValueError, KeyError, TypeError):
            pass
        # Only a hand-edited row gets here: the push keeps going at config.toml's time.
        log.error("daily push: unreadable console setting %r; using config.toml's", stored)
    return configured(services)


def configured(services: Services) -> DailyPush:
    """config.toml's setting (the first one, and what 「恢复为配置文件的设置」 returns to)."""
    return DailyPush(services.config.get("reading.push_time"),
                     bool(services.config.get("reading.workdays_only")), paused=False)


def trigger(services: Services, push: DailyPush) -> BaseTrigger:
    return trigger_for("daily", {"time": push.time}, services.clock.tz)


def sent_on(services: Services, day: date) -> bool:
    """Whether that day's push exists already (sent, sending, or recorded missed)."""
    return services.store.db.execute("SELECT 1 FROM broadcasts WHERE key = ?",
                                     [broadcast_key(day)]).fetchone() is not None


def upcoming(services: Services, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The push's fires in (start, end] that will really go out: none while paused, and not a
    later time today when today's push has gone out already. What 概览 and 定时推送 show."""
    push = setting(services)
    if push.paused:
        return []
    workdays = holiday_calendar(services).is_workday if push.workdays_only else None
    fires = fires_between(trigger(services, push), start, end, workdays, limit + 1)
    return [f for f in fires if not sent_on(services, f.date())][:limit]


def change(services: Services, *, time: str, workdays_only: bool, actor: str) -> DailyPush:
    """Set the time and the working-days rule (audited); the pause state is kept."""
    time = time.strip()
    if not _TIME.fullmatch(time):
        raise ScheduleError("请填写发送时间，格式如 08:30（00:00 到 23:59）", "time")
    before = setting(services)
    now = services.clock.now()
    with services.store.transaction() as db:
        _store(db, DailyPush(time, workdays_only, before.paused), actor, now)
        audit.record(db, actor=actor, action="daily-push edit", at=now,
                     detail={"time": time, "workdays_only": workdays_only,
                             "before": before.when})
    return setting(services)


def set_paused(services: Services, paused: bool, *, actor: str) -> DailyPush:
    before = setting(services)
    if before.paused == paused:
        raise ScheduleError("每日纪法推送已经暂停" if paused else "每日纪法推送没有暂停，无需恢复")
    now = services.clock.now()
    with services.store.transaction() as db:
        _store(db, DailyPush(before.time, before.workdays_only, paused), actor, now)
        audit.record(db, actor=actor, action="daily-push paused" if paused else "daily-push active",
                     detail={"when": before.when}, at=now)
    return setting(services)


def reset(services: Services, *, actor: str) -> DailyPush:
    """Back to config.toml's setting (and not paused)."""
    if setting(services).from_config:
        raise ScheduleError("每日纪法推送已经在按配置文件的设置发送")
    now = services.clock.now()
    after = configured(services)
    with services.store.transaction() as db:
        kv.delete(db, SETTING_KEY)
        _no_backfill(db, now)
        audit.record(db, actor=actor, action="daily-push reset", detail={"when": after.when},
                     at=now)
    return after


def _store(db: sqlite_utils.Database, push: DailyPush, actor: str, now: datetime) -> None:
    stored = {"time": push.time, "workdays_only": push.workdays_only, "paused": push.paused,
              "by": actor, "at": now.isoformat()}
    kv.put(db, SETTING_KEY, json.dumps(stored, ensure_ascii=False), None)
    _no_backfill(db, now)


def _no_backfill(db: sqlite_utils.Database, now: datetime) -> None:
    # The scheduler looks for fires after the time it last handled: from now on, so a new time
    # already past today, or a resume, never sends what the old setting or the pause skipped.
    mark_builtin_handled(db, "reading", now)


def next_note(services: Services) -> str:
    """When the push goes out next, and why not today when today is skipped."""
    push = setting(services)
    if push.paused:
        return "已暂停：恢复前不会推送"
    now = services.clock.now()
    fires = upcoming(services, now, now + timedelta(days=3660), 1)
    if not fires:
        return "今后不会推送"
    text = f"下一次推送：{fires[0]:%Y-%m-%d %H:%M}"
    today = now.date()
    if fires[0].date() == today:
        return text
    todays_status = services.store.db.execute(
        "SELECT status FROM broadcasts WHERE key = ?", [broadcast_key(today)]).fetchone()
    if todays_status is not None:
        done = "今天的推送因服务停机已错过" if todays_status[0] == "missed" else "今天已推送过"
        return text + f"（{done}，每天只推送一次）"
    push_day = not push.workdays_only or holiday_calendar(services).is_workday(today)
    hour, minute = (int(part) for part in push.time.split(":"))
    todays = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not push_day or todays > now:
        return text
    handled = builtin_handled_at(services, "reading")
    if handled is None or todays <= handled:  # None: its first run starts from then
        return text + "（今天的推送时间已过，今天不补发）"
    return f"今天 {push.time} 的推送即将发出；之后：{fires[0]:%Y-%m-%d %H:%M}"


def recent_broadcasts(services: Services, limit: int = 30) -> list[dict]:
    """The push's latest broadcasts, newest first (for its page's 发送记录)."""
    return list(services.store.db.query(
        "SELECT id, key, fire_at, status FROM broadcasts WHERE key LIKE ? AND key NOT LIKE ?"
        " ORDER BY fire_at DESC LIMIT ?", [KEY_PREFIX + "%", "%#%", limit]))
