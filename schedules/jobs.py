"""The scheduler's jobs. They only decide what is due and build broadcasts; bot.delivery sends.

Every fire has a deterministic broadcast key, so running a job twice (two ticks, a restart, a
second process that briefly believed it led) creates nothing twice. A fire missed by more than
the grace period is recorded as missed (a broadcast with no deliveries) for the admins to see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot import delivery
from bot.audience import Recipient
from bot.daily import format_reading, reading_for
from bot.reminders import due_on, holiday_calendar
from bot.services import Services
from bot.store import kv
from bot.store import schedules as store_schedules
from schedules.timing import SpecError, fires_between, next_fires, trigger_for

log = logging.getLogger(__name__)
EVERYONE = {"all": True}


def _grace(services: Services) -> timedelta:
    return timedelta(seconds=services.config.get("scheduler.misfire_grace_s"))


def record_missed(services: Services, key: str, fire: datetime, audience: dict[str, Any],
                  schedule_id: int | None, text: str) -> None:
    with services.store.transaction() as db:
        db.execute(
            "INSERT INTO broadcasts (key, schedule_id, fire_at, text, audience, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'missed', ?) ON CONFLICT (key) DO NOTHING",
            [key, schedule_id, fire.isoformat(), text, json.dumps(audience, ensure_ascii=False),
             services.clock.now().isoformat()])
    log.warning("missed %s (due %s, beyond the grace period)", key, fire.isoformat())


def _handle_fire(services: Services, *, key: str, fire: datetime, audience: dict[str, Any],
                 text: Callable[[], str | delivery.TextFor], schedule_id: int | None,
                 label: str, robot: str | None = None) -> None:
    if services.clock.now() - fire > _grace(services):
        record_missed(services, key, fire, audience, schedule_id, label)
        return
    body = text()
    delivery.create_broadcast(services, key=key, text=body, audience=audience, fire_at=fire,
                              schedule_id=schedule_id)
    if robot:  # also one message in each branch's group (content {"robot": "text"|"markdown"})
        delivery.create_robot_broadcast(services, key=key, text=body, audience=audience,
                                        fire_at=fire, msgtype=robot, schedule_id=schedule_id)


def fire_admin_schedules(services: Services) -> None:
    now = services.clock.now()
    calendar = holiday_calendar(services)
    for schedule in store_schedules.active(services.store.db):
        try:
            trigger = trigger_for(schedule.kind, schedule.spec, services.clock.tz)
        except SpecError as exc:
            log.error("schedule %s cannot fire: %s", schedule.id, exc)
            continue
        since = schedule.last_fire_at or schedule.created_at
        workdays = calendar.is_workday if schedule.workdays_only else None
        fires = list(fires_between(trigger, since, now, workdays))
        for fire in fires:
            _handle_fire(services, key=f"schedule:{schedule.id}:{fire.isoformat()}", fire=fire,
                         audience=schedule.audience,
                         text=lambda s=schedule, f=fire: render_content(services, s.content, f),
                         schedule_id=schedule.id, label=describe_content(schedule.content),
                         robot=schedule.content.get("robot"))
        with services.store.transaction() as db:
            store_schedules.mark_handled(db, schedule.id, now)
            # A one-off is done once its time has passed (next_fires, not the trigger's own
            # get_next_fire_time: a DateTrigger answers its date even when it is past).
            if schedule.kind == "once" and not next_fires(trigger, now, 1):
                store_schedules.set_status(db, schedule.id, "done")


def render_content(services: Services, content: dict[str, Any],
                   fire: datetime) -> str | delivery.TextFor:
    """The text of a fire: fixed text, the day's reading, or a reminder filled per branch."""
    if "text" in content:
        return str(content["text"])
    if "reading" in content:
        with services.store.transaction() as db:
            reading = reading_for(db, fire.date(), services.config.section("reading"))
        return format_reading(reading, fire.date()) if reading else "今日暂无纪法条文。"
    if "reminder" in content:
        row = services.store.db.execute("SELECT body FROM reminders WHERE id = ?",
                                        [content["reminder"]]).fetchone()
        body = row[0] if row else "请严守廉洁纪律。\n{branch}"
        return lambda r, body=body: body.format(branch=r.branch)
    raise ValueError(f"unknown schedule content {content!r}")


def describe_content(content: dict[str, Any]) -> str:
    if "text" in content:
        return str(content["text"])[:200]
    if "reading" in content:
        return "（每日纪法条文）"
    return f"（廉洁提醒 {content.get('reminder')}）"


def _builtin_fires(services: Services, name: str, trigger: BaseTrigger,
                   workdays_only: bool) -> tuple[list[datetime], datetime]:
    """Fires of a built-in job since it was last handled (the first run starts from now), and
    the time to record as handled once they are (see _mark_handled)."""
    now = services.clock.now()
    since = builtin_handled_at(services, name) or now
    workdays = holiday_calendar(services).is_workday if workdays_only else None
    return list(fires_between(trigger, since, now, workdays)), now


def _mark_handled(services: Services, name: str, up_to: datetime) -> None:
    # Recorded after the fires' broadcasts exist: a crash before this re-handles them, and
    # their keys make that a no-op.
    with services.store.transaction() as db:
        mark_builtin_handled(db, name, up_to)


def builtin_handled_at(services: Services, name: str) -> datetime | None:
    """Up to when a built-in job's fires are dealt with; None before its first run."""
    stored = kv.get(services.store.db, f"builtin:{name}:handled", services.clock.timestamp())
    return datetime.fromisoformat(stored) if stored else None


def mark_builtin_handled(db: sqlite_utils.Database, name: str, up_to: datetime) -> None:
    """A built-in job's fires up to `up_to` are dealt with (in the caller's transaction)."""
    kv.put(db, f"builtin:{name}:handled", up_to.isoformat(), None)


def _push_trigger(services: Services) -> BaseTrigger:
    """The daily push's time as set now (config.toml's, or the console's: schedules/daily_push)."""
    from schedules import daily_push  # it builds on schedules.admin, which imports this module

    return daily_push.trigger(services, daily_push.setting(services))


def fire_daily_reading(services: Services) -> None:
    """每日纪法 at its time (read again on every tick: a change in the console needs no restart);
    while paused its fires are marked handled unsent, so resuming sends no backlog."""
    from schedules import daily_push

    push = daily_push.setting(services)
    fires, now = _builtin_fires(services, "reading", daily_push.trigger(services, push),
                                push.workdays_only)
    for fire in fires if not push.paused else ():
        _handle_fire(services, key=daily_push.broadcast_key(fire.date()), fire=fire,
                     audience=EVERYONE,
                     text=lambda f=fire: render_content(services, {"reading": "today"}, f),
                     schedule_id=None, label="（每日纪法条文）")
    _mark_handled(services, "reading", now)


def fire_reminders(services: Services) -> None:
    calendar = holiday_calendar(services)
    fires, now = _builtin_fires(services, "reminders", _push_trigger(services), True)
    for fire in fires:
        for plan in due_on(services, fire.date(), calendar):
            body = plan.reminder.body
            _handle_fire(services, key=f"reminder:{plan.reminder.id}:{fire.date()}", fire=fire,
                         audience=EVERYONE, schedule_id=None, label=plan.reminder.title,
                         text=lambda body=body: _per_branch(body))
    _mark_handled(services, "reminders", now)


def _birthday_trigger(services: Services, time: str) -> CronTrigger:
    hour, minute = time.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=services.clock.tz)


def fire_political_birthdays(services: Services) -> None:
    """党员政治生日 at its send time every day, holidays included (a greeting is personal;
    bot/political_birthday.py keeps the secretaries' list to the month's first working day).
    The setting is read every tick: config.toml's, or the console's (schedules/birthday_push).
    While off the fires are still marked handled, so turning it on sends no backlog."""
    from bot import political_birthday
    from schedules import birthday_push  # it builds on schedules.admin, which imports this module

    push = birthday_push.setting(services)
    fires, now = _builtin_fires(services, "birthdays", _birthday_trigger(services, push.time),
                                False)
    for fire in fires if push.enabled else ():
        calendar = holiday_calendar(services)
        for message in political_birthday.plan_day(services.store.db, fire.date(), calendar,
                                                   push.oath):
            _handle_fire(services, key=message.key, fire=fire, schedule_id=None,
                         audience={"members": list(message.member_ids)},
                         text=lambda m=message: m.text, label=message.label)
    _mark_handled(services, "birthdays", now)


def _nudge_trigger(services: Services) -> CronTrigger:
    hour, minute = services.config.get("nudge.send_time").split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=services.clock.tz)


def fire_nudges(services: Services) -> None:
    """督学 at nudge.send_time on working days; bot/nudges.py decides who gets what. While
    nudges are off the fires are still marked handled, so turning them on sends no backlog."""
    from bot import nudges

    fires, now = _builtin_fires(services, "nudges", _nudge_trigger(services), True)
    for fire in fires if services.config.get("nudge.enabled") else ():
        if now - fire > _grace(services):
            record_missed(services, f"nudge:{fire.date()}", fire, {"members": []}, None,
                          "（督学提醒）")
            continue
        nudges.run_day(services, fire.date(), fire)
    _mark_handled(services, "nudges", now)


def fire_meetings(services: Services) -> None:
    """组织生活: notices, morning reminders, changes, cancellations, 补学 tasks and leave
    messages (bot/meetings.py); each has its own broadcast key, so every tick may run it."""
    from bot import meetings

    meetings.send_notices(services)
    meetings.send_leave_messages(services)


def _per_branch(body: str) -> delivery.TextFor:
    def text(recipient: Recipient) -> str:
        return body.format(branch=f"{recipient.branch}党支部" if not recipient.branch.endswith(
            "支部") else recipient.branch)
    return text


def resume_expansions(services: Services) -> None:
    """Finish fan-outs a crash interrupted. A reminder's text differs per branch, so its
    broadcast is finished with the per-branch text, not the stored summary (which says
    "本支部"); everything else resumes with the stored text (bot.delivery.resume_expansions).
    """
    rows = services.store.db.execute(
        "SELECT id, key, audience FROM broadcasts WHERE status = 'expanding'").fetchall()
    for broadcast_id, key, audience in rows:
        text = _per_branch_text_for(services, key)
        if text is not None:
            delivery.expand(services, broadcast_id, text, json.loads(audience))
    delivery.resume_expansions(services)


def _per_branch_text_for(services: Services, key: str) -> delivery.TextFor | None:
    """The per-recipient text of a reminder's broadcast, from its key: "reminder:<id>:<day>",
    or "schedule:<id>:..." of a schedule whose content is a reminder. None for the others."""
    kind, _, rest = key.partition(":")
    db = services.store.db
    if kind == "reminder":
        row = db.execute("SELECT body FROM reminders WHERE id = ?",
                         [rest.rpartition(":")[0]]).fetchone()
        return _per_branch(row[0]) if row else None
    schedule_id = rest.partition(":")[0]
    if kind == "schedule" and schedule_id.isdigit():
        schedule = store_schedules.get(db, int(schedule_id))
        if schedule is not None and "reminder" in schedule.content:
            text = render_content(services, schedule.content, services.clock.now())
            return None if isinstance(text, str) else text
    return None


def drain_slice_s(services: Services) -> float:
    """How long one tick may spend sending: half a tick (at most 5 s), so a 10,000-member
    Official Account fan-out is sent over several ticks while every tick still looks for due
    fires first: a fire is never later than a tick plus one slice."""
    return min(5.0, services.config.get("scheduler.tick_s") / 2)


def drain_deliveries(services: Services) -> None:
    resume_expansions(services)
    delivery.drain(services, budget_s=drain_slice_s(services))


def fire_votes(services: Services) -> None:
    """推荐评选: each opened vote's ballot (once, key vote:<id>:ballot), seals for closed ones."""
    from bot import votes

    votes.run_due(services)


def default_jobs() -> list[Callable[[Services], None]]:
    """In order: decide what is due, then send it."""
    return [fire_admin_schedules, fire_daily_reading, fire_reminders, fire_nudges,
            fire_political_birthdays, fire_votes, fire_meetings, drain_deliveries]


