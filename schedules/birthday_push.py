"""The 党员政治生日 push's switch, time and 入党誓词, and an admin's changes to them.

config.toml's `[birthday] enabled / send_time / oath` give the first setting. Once an admin
changes it in the console (成员 -> 政治生日, /admin/birthdays), the stored setting (one `kv` row)
wins over config.toml until they choose 「恢复为配置文件的设置」. The scheduler reads it on every
tick (schedules/jobs.fire_political_birthdays), so a change takes effect without a restart, as
for the 每日纪法 push (schedules/daily_push.py, the pattern this follows).

No backlog: while off the job still marks its fires handled, and every change here marks them
handled up to now, so turning it on (or moving the time to one already past today) never sends
a greeting or a list for a time already gone; the next fire is the next send time.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from bot.config import MAX_OATH_CHARS
from bot.services import Services
from bot.store import audit, kv
from schedules.admin import ScheduleError
from schedules.jobs import mark_builtin_handled

log = logging.getLogger(__name__)
SETTING_KEY = "birthday-push:setting"  # kv: the console's setting, JSON; absent = config.toml's
JOB_NAME = "birthdays"  # the built-in job's name in builtin:<name>:handled
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class BirthdayPush:
    enabled: bool
    time: str            # "09:00"
    oath: str            # the 入党誓词 quoted in the greeting
    changed_by: str | None = None      # the console account that set it; None: config.toml's
    changed_at: datetime | None = None

    @property
    def from_config(self) -> bool:
        return self.changed_by is None

    @property
    def when(self) -> str:
        return f"每天 {self.time}，" + ("已开启" if self.enabled else "未开启")


def setting(services: Services) -> BirthdayPush:
    """The setting in force: the console's when one was stored, else config.toml's."""
    stored = kv.get(services.store.db, SETTING_KEY, services.clock.timestamp())
    if stored:
        try:
            data = json.loads(stored)
            if _TIME.fullmatch(data["time"]) and check_oath(data["oath"]) == data["oath"]:
                return BirthdayPush(bool(data["enabled"]), data["time"], data["oath"],
                                    str(data["by"]), datetime.fromisoformat(data["at"]))
        except (ValueError, KeyError, TypeError, ScheduleError):
            pass
        # Only a hand-edited row gets here: config.toml's setting applies.
        log.error("birthday push: unreadable console setting %r; using config.toml's", stored)
    return configured(services)


def configured(services: Services) -> BirthdayPush:
    """config.toml's setting (the first one, and what 「恢复为配置文件的设置」 returns to)."""
    config = services.config
    return BirthdayPush(bool(config.get("birthday.enabled")), config.get("birthday.send_time"),
                        config.get("birthday.oath"))


def check_time(time: str) -> str:
    time = time.strip()
    if not _TIME.fullmatch(time):
        raise ScheduleError("请填写发送时间，格式如 09:00（00:00 到 23:59）", "time")
    return time


def check_oath(oath: str) -> str:
    """The oath as stored (trimmed), or a Chinese reason; the same bounds as config.toml's."""
    oath = oath.strip()
    if not oath:
        raise ScheduleError("请填写入党誓词（祝福消息里引用的誓词全文）", "oath")
    if len(oath) > MAX_OATH_CHARS:
        raise ScheduleError(f"入党誓词最多 {MAX_OATH_CHARS} 个字，现在是 {len(oath)} 个字", "oath")
    return oath


def change(services: Services, *, enabled: bool, time: str, oath: str,
           actor: str) -> BirthdayPush:
    """Store the console's setting (audited); a bad time or oath writes nothing."""
    after = BirthdayPush(enabled, check_time(time), check_oath(oath))
    before = setting(services)
    now = services.clock.now()
    with services.store.transaction() as db:
        stored = {"enabled": after.enabled, "time": after.time, "oath": after.oath,
                  "by": actor, "at": now.isoformat()}
        kv.put(db, SETTING_KEY, json.dumps(stored, ensure_ascii=False), None)
        mark_builtin_handled(db, JOB_NAME, now)  # no backlog: see the module's docstring
        audit.record(db, actor=actor, action="birthday-push edit", at=now,
                     detail={"when": after.when, "before": before.when,
                             "oath_changed": after.oath != before.oath})
    return setting(services)


def reset(services: Services, *, actor: str) -> BirthdayPush:
    """Back to config.toml's setting."""
    if setting(services).from_config:
        raise ScheduleError("政治生日推送已经在按配置文件的设置发送")
    now = services.clock.now()
    after = configured(services)
    with services.store.transaction() as db:
        kv.delete(db, SETTING_KEY)
        mark_builtin_handled(db, JOB_NAME, now)
        audit.record(db, actor=actor, action="birthday-push reset", detail={"when": after.when},
                     at=now)
    return after
