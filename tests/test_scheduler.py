"""The scheduler: admin schedules, the daily reading and the integrity reminders fire at their
time, once, on working days where asked, with misfire grace, and only on the lease holder.

No test sleeps: every test sets the clock and calls SchedulerRunner.tick() (what APScheduler's
background thread calls). One test starts and stops the real APScheduler runner, waiting on an
event its first tick sets.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from bot import delivery
from bot.clock import SHANGHAI
from bot.reminders import holiday_calendar
from bot.services import Services
from bot.store import schedules as store_schedules
from schedules import admin, jobs, lease
from schedules.runner import SchedulerRunner, default_jobs
from schedules.timing import SpecError, fires_between, next_fires, trigger_for

BRANCH_ONE = (1, 2, 3, 4)   # 第一党支部
BRANCH_TWO = (5, 6, 7, 8)   # 第二党支部
EVERYONE = BRANCH_ONE + BRANCH_TWO


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(n) for n in range((end - start).days + 1)]


def add(services: Services, kind: str, spec: dict, *, text: str = "请按时参加支部学习",
        audience: dict | None = None, workdays_only: bool = False,
        content: dict | None = None) -> int:
    return admin.create(services, kind=kind, spec=spec, workdays_only=workdays_only,
                        audience=audience or {"all": True}, content=content or {"text": text},
                        actor="test")


def broadcasts(services: Services, prefix: str = "") -> list[dict]:
    return list(services.store.db.query(
        "SELECT id, key, schedule_id, fire_at, status, text FROM broadcasts WHERE key LIKE ?"
        " ORDER BY fire_at, id", [prefix + "%"]))


def inbox(services: Services, member_id: int) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def inboxes(services: Services, members=EVERYONE) -> dict[int, list[str]]:
    return {m: inbox(services, m) for m in members}


def status_of(services: Services, schedule_id: int) -> str:
    schedule = store_schedules.get(services.store.db, schedule_id)
    assert schedule is not None
    return schedule.status


def deliveries(services: Services, broadcast_id: int) -> Counter[str]:
    return Counter(status for (status,) in services.store.db.execute(
        "SELECT status FROM deliveries WHERE broadcast_id = ?", [broadcast_id]))


@pytest.fixture
def services(make_services) -> Services:
    return make_services()


@pytest.fixture
def runner(services) -> SchedulerRunner:
    return SchedulerRunner(services, jobs=default_jobs())


def admin_only_runner(services: Services) -> SchedulerRunner:
    """Admin schedules and delivery only: no daily reading or reminders in the inboxes."""
    return SchedulerRunner(services, jobs=[jobs.fire_admin_schedules, jobs.drain_deliveries])


# --- an admin schedule fires at its time, once ------------------------------------------------


def test_a_schedule_fires_at_its_time_once_and_lands_in_the_sandbox_inbox(
        services, runner, clock):
    sid = add(services, "once", {"at": "2026-11-23T10:00"}, text="十点：支部集中学习",
              audience={"branches": ["第二党支部"]})

    clock.set(at(2026, 11, 23, 9, 59, 59))
    assert runner.tick() is True  # the only runner: it takes the lease
    assert broadcasts(services, "schedule:") == []
    assert inboxes(services) == {m: [] for m in EVERYONE}

    clock.set(at(2026, 11, 23, 10, 0))
    runner.tick()
    [sent] = broadcasts(services, "schedule:")
    assert sent["key"] == f"schedule:{sid}:2026-11-23T10:00:00+08:00"
    assert sent["schedule_id"] == sid and sent["status"] == "done"
    assert deliveries(services, sent["id"]) == Counter({"sent": 4})
    got = inboxes(services)
    assert all(got[m] == ["十点：支部集中学习"] for m in BRANCH_TWO)
    assert all(got[m] == [] for m in BRANCH_ONE)
    assert status_of(services, sid) == "done"

    # Ticking again (same instant, a minute later, a day later) does not double anything.
    for later in (at(2026, 11, 23, 10, 0), at(2026, 11, 23, 10, 1), at(2026, 11, 24, 10, 0)):
        clock.set(later)
        runner.tick()
        runner.tick()
    assert len(broadcasts(services, "schedule:")) == 1
    assert inboxes(services) == got


def test_re_handling_a_fire_after_a_crash_creates_nothing_twice(services, clock):
    """A crash after the broadcast was sent but before the schedule was marked handled: the
    next tick sees the same fire again, and its deterministic key makes that a no-op."""
    runner = admin_only_runner(services)
    sid = add(services, "daily", {"time": "10:00"}, audience={"members": [2]})
    clock.set(at(2026, 11, 23, 10, 0, 30))
    runner.tick()
    before = store_schedules.get(services.store.db, sid)
    with services.store.transaction() as db:  # roll "handled" back to before the fire
        store_schedules.mark_handled(db, sid, at(2026, 11, 23, 9, 0))
    runner.tick()
    runner.tick()
    assert len(broadcasts(services, f"schedule:{sid}:")) == 1
    assert inbox(services, 2) == ["请按时参加支部学习"]
    assert store_schedules.get(services.store.db, sid).last_fire_at >= before.last_fire_at


# --- kinds, specs and working days ------------------------------------------------------------


def fire_days(services: Services, kind: str, spec: dict, start: datetime, end: datetime,
              workdays_only: bool = False) -> list[date]:
    calendar = holiday_calendar(services)
    trigger = trigger_for(kind, spec, SHANGHAI)
    return [f.date() for f in fires_between(trigger, start, end,
                                            calendar.is_workday if workdays_only else None)]


GOLDEN_WEEK = (at(2026, 9, 27, 12), at(2026, 10, 13))  # 中秋 ends 09-27; 国庆 10-01..10-07
WORKDAYS_AROUND_GOLDEN_WEEK = [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30),
                               date(2026, 10, 8), date(2026, 10, 9),
                               date(2026, 10, 10),  # the make-up Saturday
                               date(2026, 10, 12)]


def test_daily_weekly_monthly_and_cron_specs_with_working_days_around_national_day(services):
    start, end = GOLDEN_WEEK
    assert fire_days(services, "daily", {"time": "08:00"}, start, end) == days(
        date(2026, 9, 28), date(2026, 10, 12))
    assert fire_days(services, "daily", {"time": "08:00"}, start, end,
                     workdays_only=True) == WORKDAYS_AROUND_GOLDEN_WEEK
    # "Every day" in cron, working days only: the same, make-up Saturday included.
    assert fire_days(services, "cron", {"cron": "0 8 * * *"}, start, end,
                     workdays_only=True) == WORKDAYS_AROUND_GOLDEN_WEEK
    # Monday to Friday by the weekday field is not "working days": it has no Saturday 10-10
    # and, without the flag, does fire in the holiday.
    assert fire_days(services, "cron", {"cron": "0 8 * * 1-5"}, start, end) == [
        d for d in days(date(2026, 9, 28), date(2026, 10, 12)) if d.weekday() < 5]
    assert fire_days(services, "cron", {"cron": "0 8 * * 1-5"}, start, end,
                     workdays_only=True) == [d for d in WORKDAYS_AROUND_GOLDEN_WEEK
                                             if d != date(2026, 10, 10)]
    # Weekly on Friday and Saturday: Fri 10-02 and Sat 10-03 are the holiday, Sat 10-10 works.
    weekly = {"time": "17:00", "weekdays": ["fri", "sat"]}
    assert fire_days(services, "weekly", weekly, start, end) == [
        date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 9), date(2026, 10, 10)]
    assert fire_days(services, "weekly", weekly, start, end, workdays_only=True) == [
        date(2026, 10, 9), date(2026, 10, 10)]
    # Monthly on the 1st (主题党日): 10-01 is 国庆, 11-01 a Sunday; 12-01 a Tuesday.
    monthly = {"time": "09:00", "day": 1}
    year = (at(2026, 9, 15), at(2026, 12, 31))
    assert fire_days(services, "monthly", monthly, *year) == [
        date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert fire_days(services, "monthly", monthly, *year, workdays_only=True) == [
        date(2026, 12, 1)]


def test_the_spring_festival_make_up_saturday_is_a_working_day(services):
    start, end = at(2026, 2, 12, 12), at(2026, 2, 25, 12)
    assert fire_days(services, "daily", {"time": "08:30"}, start, end, workdays_only=True) == [
        date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 25)]


def test_next_fires_and_the_crontab_weekday_translation():
    now = at(2026, 11, 23, 9, 0)  # a Monday

    def next_five(kind: str, spec: dict) -> list[str]:
        return [f"{f:%a %m-%d %H:%M}" for f in next_fires(trigger_for(kind, spec, SHANGHAI),
                                                           now, 5)]

    assert next_five("daily", {"time": "08:30"}) == [
        "Tue 11-24 08:30", "Wed 11-25 08:30", "Thu 11-26 08:30", "Fri 11-27 08:30",
        "Sat 11-28 08:30"]
    assert next_five("daily", {"time": "9:05"}) == [
        "Mon 11-23 09:05", "Tue 11-24 09:05", "Wed 11-25 09:05", "Thu 11-26 09:05",
        "Fri 11-27 09:05"]
    assert next_five("weekly", {"time": "09:00", "weekdays": ["mon", "fri"]}) == [
        "Fri 11-27 09:00", "Mon 11-30 09:00", "Fri 12-04 09:00", "Mon 12-07 09:00",
        "Fri 12-11 09:00"]
    assert next_five("monthly", {"time": "09:00", "day": 31}) == [
        "Thu 12-31 09:00", "Sun 01-31 09:00", "Wed 03-31 09:00", "Mon 05-31 09:00",
        "Sat 07-31 09:00"]
    assert next_five("once", {"at": "2026-12-01T08:00"}) == ["Tue 12-01 08:00"]
    # A one-off already past has no next fire (a DateTrigger would answer its date anyway).
    assert next_five("once", {"at": "2026-11-23T08:59"}) == []

    def weekdays_of(cron: str) -> list[str]:
        fires = next_fires(trigger_for("cron", {"cron": cron}, SHANGHAI), now, 14)
        return sorted({f"{f:%a}" for f in fires}, key=["Mon", "Tue", "Wed", "Thu", "Fri",
                                                       "Sat", "Sun"].index)

    # crontab numbers weekdays from Sunday = 0 (and 7); APScheduler from Monday = 0.
    assert weekdays_of("0 8 * * 1") == ["Mon"]
    assert weekdays_of("0 8 * * 0") == ["Sun"]
    assert weekdays_of("0 8 * * 7") == ["Sun"]
    assert weekdays_of("0 8 * * 6,0") == ["Sat", "Sun"]
    assert weekdays_of("0 8 * * 5-7") == ["Fri", "Sat", "Sun"]
    assert weekdays_of("0 8 * * 0-4") == ["Mon", "Tue", "Wed", "Thu", "Sun"]
    assert weekdays_of("0 8 * * 0-6") == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekdays_of("0 8 * * */2") == ["Tue", "Thu", "Sat", "Sun"]  # 0, 2, 4, 6
    assert weekdays_of("0 8 * * mon-fri") == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    # Day of month AND weekday both restricted: cron fires when either matches.
    first_or_monday = next_fires(trigger_for("cron", {"cron": "0 9 1 * 1"}, SHANGHAI), now, 4)
    assert [f"{f:%a %m-%d}" for f in first_or_monday] == [
        "Mon 11-30", "Tue 12-01", "Mon 12-07", "Mon 12-14"]
    # ... but a starred field keeps the other one's meaning: the 1st, when it is a Tue/Thu/...
    first_on_even_day = next_fires(trigger_for("cron", {"cron": "0 9 1 * */2"}, SHANGHAI),
                                   now, 2)
    assert [f"{f:%a %Y-%m-%d}" for f in first_on_even_day] == ["Tue 2026-12-01",
                                                                "Thu 2027-04-01"]


@pytest.mark.parametrize(("kind", "spec", "says"), [
    ("daily", {"time": "25:00"}, "时间请写成 时:分"),
    ("daily", {"time": "8点"}, "时间请写成 时:分"),
    ("weekly", {"time": "08:00", "weekdays": []}, "每周发送需要选择星期几"),
    ("weekly", {"time": "08:00", "weekdays": ["xyz"]}, "每周发送需要选择星期几"),
    ("monthly", {"time": "08:00", "day": 32}, "每月发送需要 1 到 31"),
    ("once", {"at": "2026-12-01 25:00"}, "只发一次需要日期和时间"),
    ("cron", {"cron": "0 8 * *"}, "要有 5 项"),
    ("cron", {"cron": "61 8 * * *"}, "「分」一项（61）无法识别"),
    ("cron", {"cron": "0 8 * * 8"}, "0 和 7 都是星期日"),
    ("cron", {"cron": "0 8 * * 5-1"}, "范围从小到大"),
    ("yearly", {}, "不支持的发送方式 yearly"),
])
def test_specs_that_cannot_fire_are_refused_with_a_sentence(kind, spec, says):
    with pytest.raises(SpecError, match=says):
        trigger_for(kind, spec, SHANGHAI)


def test_a_workdays_only_schedule_through_national_day_via_the_runner(services, clock):
    runner = admin_only_runner(services)
    clock.set(at(2026, 9, 27, 12))
    sid = add(services, "daily", {"time": "08:00"}, workdays_only=True,
              audience={"members": [3]}, text="早上好，今日学习")
    everyday = add(services, "daily", {"time": "08:00"}, audience={"members": [4]},
                   text="每天都发")
    for day in days(date(2026, 9, 28), date(2026, 10, 12)):
        clock.set(at(day.year, day.month, day.day, 7, 59))
        runner.tick()
        clock.set(at(day.year, day.month, day.day, 8, 1))
        runner.tick()
    fired = [datetime.fromisoformat(b["fire_at"]).date()
             for b in broadcasts(services, f"schedule:{sid}:")]
    assert fired == WORKDAYS_AROUND_GOLDEN_WEEK
    assert len(broadcasts(services, f"schedule:{everyday}:")) == 15
    assert inbox(services, 3) == ["早上好，今日学习"] * 7
    assert len(inbox(services, 4)) == 15


# --- the daily reading and the integrity reminders --------------------------------------------


def tick_daily(runner: SchedulerRunner, clock, first: date, last: date,
               times: tuple[tuple[int, int], ...] = ((8, 29), (8, 31), (18, 0))) -> None:
    for day in days(first, last):
        for hour, minute in times:
            clock.set(at(day.year, day.month, day.day, hour, minute))
            runner.tick()


def reading_days(services: Services) -> list[date]:
    return [date.fromisoformat(b["key"].removeprefix("reading:"))
            for b in broadcasts(services, "reading:")]


def test_the_daily_reading_goes_out_at_0830_on_working_days_never_in_the_national_day_break(
        services, runner, clock):
    clock.set(at(2026, 9, 27, 12))
    runner.tick()  # the first run starts from now: nothing earlier is sent
    tick_daily(runner, clock, date(2026, 9, 28), date(2026, 10, 12))

    assert reading_days(services) == WORKDAYS_AROUND_GOLDEN_WEEK
    assert not set(reading_days(services)) & set(days(date(2026, 10, 1), date(2026, 10, 7)))
    rows = broadcasts(services, "reading:")
    assert {r["status"] for r in rows} == {"done"}
    assert {datetime.fromisoformat(r["fire_at"]).strftime("%H:%M") for r in rows} == {"08:30"}
    # Everyone got each of them, once, dated the day it went out.
    readings = [t for t in inbox(services, 6) if t.startswith("【每日纪法】")]
    assert [t.splitlines()[0] for t in readings] == [
        f"【每日纪法】{d:%Y年%-m月%-d日}" for d in WORKDAYS_AROUND_GOLDEN_WEEK]
    assert len({t for t in readings}) == len(readings)  # no repeats across days
    for member in EVERYONE:
        assert len([t for t in inbox(services, member) if t.startswith("【每日纪法】")]) == 7


def test_spring_festival_reminder_on_02_13_and_the_reading_on_make_up_saturday_02_14(
        services, runner, clock):
    clock.set(at(2026, 2, 12, 12))
    runner.tick()
    tick_daily(runner, clock, date(2026, 2, 13), date(2026, 2, 24))

    assert reading_days(services) == [date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24)]
    [reminder] = broadcasts(services, "reminder:")
    assert services.store.db.execute(
        "SELECT occasion, lead_workdays FROM reminders WHERE id = 'spring-festival'"
    ).fetchone() == ("春节", 2)
    # The break starts Sun 02-15; Sat 02-14 is a make-up working day, so two working days
    # before the break is Friday 02-13.
    assert reminder["key"] == "reminder:spring-festival:2026-02-13"
    assert reminder["status"] == "done"
    assert deliveries(services, reminder["id"]) == Counter({"sent": 8})
    for member in EVERYONE:
        [text] = [t for t in inbox(services, member) if "新春佳节将至" in t]
        branch = "第一党支部" if member in BRANCH_ONE else "第二党支部"
        assert text.rstrip().endswith(branch)
        assert "{branch}" not in text


def test_the_reading_can_be_turned_to_every_day(make_services, clock):
    services = make_services(reading={"workdays_only": False, "push_time": "07:45"})
    runner = SchedulerRunner(services, jobs=default_jobs())
    clock.set(at(2026, 9, 30, 12))
    runner.tick()
    tick_daily(runner, clock, date(2026, 10, 1), date(2026, 10, 3), times=((7, 44), (7, 46)))
    assert reading_days(services) == days(date(2026, 10, 1), date(2026, 10, 3))


def test_a_reminder_fan_out_interrupted_mid_expansion_is_finished_per_branch(
        services, clock, monkeypatch):
    """A crash after the first chunk of a reminder's rows: resuming must not fall back to the
    stored summary text ("本支部") for the rest; each member still sees their branch."""
    body = services.store.db.execute(
        "SELECT body FROM reminders WHERE id = 'spring-festival'").fetchone()[0]
    monkeypatch.setattr(delivery, "EXPAND_CHUNK", 4)
    per_branch = jobs._per_branch(body)
    calls = itertools.count()

    def dies_on_the_fifth(recipient):
        if next(calls) == 5:  # call 0 is create_broadcast's summary
            raise KeyboardInterrupt("the process died here")
        return per_branch(recipient)

    clock.set(at(2026, 2, 13, 8, 30))
    with pytest.raises(KeyboardInterrupt):
        delivery.create_broadcast(services, key="reminder:spring-festival:2026-02-13",
                                  text=dies_on_the_fifth, audience={"all": True},
                                  fire_at=clock.now())
    [half] = broadcasts(services, "reminder:")
    assert half["status"] == "expanding" and sum(deliveries(services, half["id"]).values()) == 4

    jobs.drain_deliveries(services)  # what the next tick (or `deliveries drain`) does
    assert deliveries(services, half["id"]) == Counter({"sent": 8})
    for member in EVERYONE:
        [text] = inbox(services, member)
        assert text.rstrip().endswith("第一党支部" if member in BRANCH_ONE else "第二党支部")


# --- misfire grace ----------------------------------------------------------------------------


def test_after_a_30_minute_outage_a_missed_fire_is_sent_once_at_the_next_tick(
        services, runner, clock):
    sid = add(services, "once", {"at": "2026-11-23T10:00"}, audience={"members": [1, 5]},
              text="十点的通知")
    clock.set(at(2026, 11, 23, 9, 55))
    runner.tick()
    clock.set(at(2026, 11, 23, 10, 30))  # down from 09:55 to 10:30
    runner.tick()
    clock.set(at(2026, 11, 23, 10, 30, 10))
    runner.tick()
    [sent] = broadcasts(services, "schedule:")
    assert sent["status"] == "done" and sent["fire_at"] == "2026-11-23T10:00:00+08:00"
    assert inbox(services, 1) == ["十点的通知"] and inbox(services, 5) == ["十点的通知"]
    assert status_of(services, sid) == "done"


def test_after_a_2_hour_outage_the_fire_is_recorded_missed_and_not_sent(
        services, runner, clock):
    sid = add(services, "once", {"at": "2026-11-23T10:00"}, audience={"members": [1, 5]})
    daily = add(services, "daily", {"time": "10:00"}, audience={"members": [2]})
    clock.set(at(2026, 11, 23, 9, 55))
    runner.tick()
    clock.set(at(2026, 11, 23, 12, 0))  # down from 09:55 to 12:00
    runner.tick()
    runner.tick()
    rows = broadcasts(services, "schedule:")
    assert [(r["schedule_id"], r["status"]) for r in rows] == [(sid, "missed"), (daily, "missed")]
    assert all(sum(deliveries(services, r["id"]).values()) == 0 for r in rows)
    assert inboxes(services) == {m: [] for m in EVERYONE}
    assert status_of(services, sid) == "done"
    # The recurring one carries on normally the next day.
    clock.set(at(2026, 11, 24, 10, 0, 5))
    runner.tick()
    assert inbox(services, 2) == ["请按时参加支部学习"]


def test_the_grace_period_boundary_and_its_setting(make_services, clock):
    services = make_services(scheduler={"misfire_grace_s": 600})
    runner = admin_only_runner(services)
    on_time = add(services, "once", {"at": "2026-11-23T10:00"}, audience={"members": [1]})
    late = add(services, "once", {"at": "2026-11-23T10:05"}, audience={"members": [2]})
    clock.set(at(2026, 11, 23, 10, 10))  # 10 min after the first (= grace), 5 after the second
    runner.tick()
    assert [r["status"] for r in broadcasts(services, "schedule:")] == ["done", "done"]
    assert status_of(services, on_time) == status_of(services, late) == "done"

    too_late = add(services, "once", {"at": "2026-11-23T10:20"}, audience={"members": [3]})
    clock.set(at(2026, 11, 23, 10, 30, 1))  # 10 min 1 s late
    runner.tick()
    assert broadcasts(services, f"schedule:{too_late}:")[0]["status"] == "missed"
    assert inbox(services, 3) == []


def test_the_daily_reading_missed_by_hours_is_recorded_not_sent(services, runner, clock):
    clock.set(at(2026, 11, 24, 8, 0))
    runner.tick()
    clock.set(at(2026, 11, 24, 11, 0))
    runner.tick()
    [missed] = broadcasts(services, "reading:")
    assert missed["key"] == "reading:2026-11-24" and missed["status"] == "missed"
    assert inbox(services, 1) == []


# --- pause, resume, done -----------------------------------------------------------------------


def test_paused_schedules_do_not_fire_and_resume_does_not_send_what_fell_due(services, clock):
    runner = admin_only_runner(services)
    sid = add(services, "daily", {"time": "10:00"}, audience={"members": [7]}, text="每日十点")
    clock.set(at(2026, 11, 23, 10, 0, 30))
    runner.tick()
    assert inbox(services, 7) == ["每日十点"]

    admin.set_status(services, sid, "paused", actor="test")
    for day in (24, 25):
        clock.set(at(2026, 11, day, 10, 0, 30))
        runner.tick()
    assert inbox(services, 7) == ["每日十点"]

    clock.set(at(2026, 11, 25, 10, 20))  # Wednesday's fire is 20 min old: within the grace
    admin.set_status(services, sid, "active", actor="test")
    runner.tick()
    clock.set(at(2026, 11, 25, 18, 0))
    runner.tick()
    assert inbox(services, 7) == ["每日十点"]
    assert [b["fire_at"][:10] for b in broadcasts(services, "schedule:")] == ["2026-11-23"]

    clock.set(at(2026, 11, 26, 10, 0, 30))
    runner.tick()
    assert inbox(services, 7) == ["每日十点", "每日十点"]
    assert [b["fire_at"][:10] for b in broadcasts(services, "schedule:")] == [
        "2026-11-23", "2026-11-26"]

    admin.set_status(services, sid, "cancelled", actor="test")
    clock.set(at(2026, 11, 27, 10, 0, 30))
    runner.tick()
    assert len(inbox(services, 7)) == 2


def test_a_one_off_becomes_done_and_leaves_the_active_list(services, clock):
    runner = admin_only_runner(services)
    sid = add(services, "once", {"at": "2026-11-23T09:30"}, audience={"members": [8]})
    clock.set(at(2026, 11, 23, 9, 29))
    runner.tick()
    assert status_of(services, sid) == "active"
    clock.set(at(2026, 11, 23, 9, 31))
    runner.tick()
    assert status_of(services, sid) == "done"
    assert [s.id for s in store_schedules.active(services.store.db)] == []
    assert [s.id for s in store_schedules.list_all(services.store.db)] == []
    assert [s.id for s in store_schedules.list_all(services.store.db,
                                                    include_finished=True)] == [sid]
    with pytest.raises(admin.ScheduleError, match="已完成"):
        admin.set_status(services, sid, "active", actor="test")


def test_a_one_off_paused_past_its_time_is_done_without_sending(services, clock):
    runner = admin_only_runner(services)
    sid = add(services, "once", {"at": "2026-11-23T09:30"}, audience={"members": [8]})
    admin.set_status(services, sid, "paused", actor="test")
    clock.set(at(2026, 11, 23, 9, 45))
    runner.tick()
    admin.set_status(services, sid, "active", actor="test")
    runner.tick()
    assert status_of(services, sid) == "done"
    assert broadcasts(services) == [] and inbox(services, 8) == []


def test_a_one_off_in_the_past_or_a_date_that_never_comes_is_refused(services):
    with pytest.raises(admin.ScheduleError, match="今后不会发送"):
        add(services, "once", {"at": "2026-11-23T08:59"})
    with pytest.raises(admin.ScheduleError, match="今后不会发送"):
        add(services, "cron", {"cron": "0 8 30 2 *"})
    with pytest.raises(admin.ScheduleError, match="不是工作日"):
        add(services, "once", {"at": "2026-11-28T09:00"}, workdays_only=True)  # a Saturday
    assert store_schedules.list_all(services.store.db, include_finished=True) == []


def test_a_failing_job_does_not_stop_the_others(services, runner, clock, caplog):
    ran = []

    def broken(_services):
        raise RuntimeError("boom")

    runner.jobs = [broken, lambda s: ran.append(s.clock.now())]
    assert runner.tick() is True
    assert ran == [clock.now()]
    assert "scheduled job broken failed" in caplog.text


# --- the lease: one scheduler among processes ---------------------------------------------------


@pytest.fixture
def two_processes(make_services) -> tuple[SchedulerRunner, SchedulerRunner, list[str]]:
    """Two runners, each on its own Store (own connections) on the same database file, as two
    gunicorn workers would be. `ran` records which runner ran its jobs."""
    ran: list[str] = []
    runners = []
    for name in ("A", "B"):
        services = make_services()

        def record(_services, name=name):
            ran.append(name)

        runners.append(SchedulerRunner(services, holder=f"worker-{name}",
                                       jobs=[record, *default_jobs()]))
    first, second = runners
    assert first.services.store is not second.services.store
    assert first.services.store.path == second.services.store.path
    return first, second, ran


def test_only_the_lease_holder_runs_jobs_and_a_fire_goes_out_once(two_processes, clock):
    a, b, ran = two_processes
    sid = add(a.services, "once", {"at": "2026-11-23T09:05"}, audience={"members": [6]},
              text="只发一次")
    assert a.tick() is True
    assert b.tick() is False
    assert lease.current_holder(b.services.store, clock.timestamp()) == "worker-A"
    for _ in range(30):  # five minutes of 10-second ticks on both
        clock.advance(seconds=10)
        assert b.tick() is False
        assert a.tick() is True
    assert set(ran) == {"A"} and len(ran) == 31
    assert not b.is_leader and a.is_leader
    assert [r["schedule_id"] for r in broadcasts(b.services, "schedule:")] == [sid]
    assert inbox(b.services, 6) == ["只发一次"]


def test_when_the_holder_dies_the_other_takes_over_within_a_minute(two_processes, clock):
    a, b, ran = two_processes
    tick_s = b.services.config.get("scheduler.tick_s")
    assert a.tick() is True
    last_renewal = clock.now()
    # A dies: nobody calls its tick again. B keeps ticking every tick_s seconds.
    took_over_after = None
    for step in range(1, 20):
        clock.set(last_renewal + timedelta(seconds=step * tick_s))
        if b.tick():
            took_over_after = (clock.now() - last_renewal).total_seconds()
            break
        assert lease.current_holder(b.services.store, clock.timestamp()) == "worker-A"
    assert took_over_after is not None
    assert lease.LEASE_SECONDS <= took_over_after <= 60
    assert ran == ["A", "B"]

    # Exactly at expiry, not before.
    lease.release(b.services.store, "worker-B", clock.timestamp())
    assert lease.try_acquire(a.services.store, "worker-A", clock.timestamp()) is True
    expires = clock.timestamp() + lease.LEASE_SECONDS
    assert lease.try_acquire(b.services.store, "worker-B", expires - 0.001) is False
    assert lease.try_acquire(b.services.store, "worker-B", expires) is True

    # A comes back (it was only paused, say): B holds the lease now; A does not run jobs.
    clock.set(datetime.fromtimestamp(expires, SHANGHAI) + timedelta(seconds=1))
    del ran[:]
    assert a.tick() is False and b.tick() is True
    assert ran == ["B"]


def test_a_scheduled_fire_during_the_takeover_is_sent_once(two_processes, clock):
    a, b, _ran = two_processes
    sid = add(a.services, "once", {"at": "2026-11-23T09:00:30"}, audience={"members": [3]},
              text="交接期间的通知")
    assert a.tick() is True  # 09:00:00; A dies right after this renewal
    for seconds in range(10, 70, 10):
        clock.set(at(2026, 11, 23, 9, 0, 0) + timedelta(seconds=seconds))
        b.tick()
    assert b.is_leader
    assert [r["schedule_id"] for r in broadcasts(b.services, "schedule:")] == [sid]
    assert inbox(b.services, 3) == ["交接期间的通知"]


def test_release_on_stop_hands_over_at_once(two_processes, clock):
    a, b, ran = two_processes
    assert a.tick() is True and b.tick() is False
    a.stop()  # never started APScheduler: stop() still releases the lease
    assert lease.current_holder(b.services.store, clock.timestamp()) is None
    assert b.tick() is True  # same instant: no waiting for the lease to expire
    # A tick still in flight when stop() ran (shutdown does not wait for it) gets nothing back.
    assert a.tick() is False
    assert lease.current_holder(a.services.store, clock.timestamp()) == "worker-B"
    assert ran == ["A", "B"]


def test_the_real_apscheduler_runner_starts_ticks_and_stops_cleanly(make_services, clock):
    services = make_services(scheduler={"tick_s": 1})
    clock.set(datetime.now(SHANGHAI))  # APScheduler runs on the wall clock
    ticked = threading.Event()
    runner = SchedulerRunner(services, jobs=[lambda _s: ticked.set()])
    runner.start()
    try:
        assert ticked.wait(timeout=10), "the first tick never ran"
        scheduler = runner._scheduler
        assert scheduler is not None and scheduler.running
        assert [job.id for job in scheduler.get_jobs()] == ["tick"]
        assert runner.is_leader
        assert lease.current_holder(services.store, clock.timestamp()) == runner.holder
    finally:
        runner.stop()
    assert runner._scheduler is None and not scheduler.running
    assert not runner.is_leader
    assert lease.current_holder(services.store, clock.timestamp()) is None
    assert runner.tick() is False
