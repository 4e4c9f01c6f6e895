"""Meeting notices through the delivery ledger, exactly once: at creation or N days before, the
morning reminder (working-day aware), a change of time or place to those already told, a
cancellation. The settable clock and SchedulerRunner.tick(), the sandbox inboxes, and the fake
WeCom API over real HTTP for the exactly-once count."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from bot import meetings
from bot.clock import SHANGHAI
from bot.store import meetings as store
from schedules import jobs
from schedules.runner import SchedulerRunner
from tests.fakeapi import FakeWeChatAPI
from tests.test_channels import add_members, delivered_to, fake_api, settle, short_timeouts, wire

BRANCH_ONE = (1, 2, 3, 4)
BRANCH_TWO = (5, 6, 7, 8)


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def inbox(services, member_id: int) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def keys(services) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT key FROM broadcasts WHERE key LIKE 'meeting:%' ORDER BY id")]


def add(services, **fields) -> store.Meeting:
    values = {"branch": "第一党支部", "kind": "党课", "title": "学习党章", "place": "三楼会议室",
              "start": at(11, 26, 14, 30), "end": at(11, 26, 16, 0), **fields}
    with services.store.transaction() as db:
        return store.add(db, now=services.clock.now(), **values)


def edit(services, meeting_id: int, **changes) -> list[str]:
    with services.store.transaction() as db:
        return store.edit(db, meeting_id, now=services.clock.now(), **changes)[1]


@pytest.fixture
def services(make_services):
    return make_services()


@pytest.fixture
def runner(services) -> SchedulerRunner:
    return SchedulerRunner(services, jobs=[jobs.fire_meetings, jobs.drain_deliveries])


def test_notice_reminder_change_and_cancel_each_once(services, runner, clock) -> None:
    meeting = add(services)
    runner.tick()
    runner.tick()
    for member in BRANCH_ONE:
        [notice] = inbox(services, member)
        assert notice.startswith("会议通知\n【党课】学习党章\n时间：11月26日（周四）14:30—16:00")
        assert "回复「参加」确认参会" in notice
    assert all(inbox(services, m) == [] for m in BRANCH_TWO)

    clock.set(at(11, 26, 8, 29))
    runner.tick()
    assert keys(services) == [f"meeting:{meeting.id}:notice"]
    clock.set(at(11, 26, 8, 30))
    runner.tick()
    runner.tick()
    assert all(len(inbox(services, m)) == 2 for m in BRANCH_ONE)
    assert inbox(services, 1)[1].startswith("会议提醒：今天14:30 有会议")

    clock.set(at(11, 26, 10, 0))
    assert edit(services, meeting.id, agenda="学习党章第三章") == ["agenda"]
    runner.tick()
    assert all(len(inbox(services, m)) == 2 for m in BRANCH_ONE)  # the agenda is not told again
    assert edit(services, meeting.id, place="五楼党员活动室", start=at(11, 26, 15, 0)) == [
        "start", "place"]
    runner.tick()
    runner.tick()
    for member in BRANCH_ONE:
        change = inbox(services, member)[2]
        assert change.startswith("会议变更通知") and "地点：五楼党员活动室" in change
        assert "15:00—16:00" in change

    with services.store.transaction() as db:
        store.cancel(db, meeting.id, now=clock.now())
    runner.tick()
    runner.tick()
    for member in BRANCH_ONE:
        assert len(inbox(services, member)) == 4
        assert inbox(services, member)[3].startswith("会议取消通知\n原定11月26日（周四）15:00")
    assert keys(services) == [f"meeting:{meeting.id}:{k}" for k in (
        "notice", "reminder:2026-11-26", "change:2", "cancel")]


def test_notice_days_before_and_a_change_before_the_notice_tells_nobody_twice(
        services, runner, clock) -> None:
    meeting = add(services, start=at(12, 3, 14, 30), end=at(12, 3, 16, 0), notice_days=3)
    runner.tick()
    assert keys(services) == []
    edit(services, meeting.id, place="五楼")  # nobody was told yet: no change notice
    clock.set(at(11, 30, 8, 29))
    runner.tick()
    assert keys(services) == []
    clock.set(at(11, 30, 8, 30))
    runner.tick()
    runner.tick()
    [notice] = inbox(services, 2)
    assert "地点：五楼" in notice
    assert keys(services) == [f"meeting:{meeting.id}:notice"]


def test_weekend_meeting_is_reminded_on_the_last_working_day_a_make_up_saturday_on_the_day(
        services, runner, clock) -> None:
    saturday = add(services, kind="主题党日", title="十一月主题党日", start=at(11, 28, 9, 0),
                   end=at(11, 28, 11, 0))
    clock.set(at(11, 27, 8, 30))  # Friday
    runner.tick()
    assert f"meeting:{saturday.id}:reminder:2026-11-27" in keys(services)
    assert inbox(services, 1)[-1].startswith("会议提醒：11月28日09:00 有会议")

    clock.set(at(10, 9, 9, 0))  # before the 10-10 make-up working Saturday (after 国庆)
    make_up = add(services, kind="主题党日", title="十月主题党日", start=at(10, 10, 15, 0),
                  end=at(10, 10, 17, 0))
    clock.set(at(10, 10, 8, 30))
    runner.tick()
    assert f"meeting:{make_up.id}:reminder:2026-10-10" in keys(services)

    clock.set(at(9, 28, 9, 0))  # a meeting on 10-05, inside the 国庆 break
    holiday = add(services, kind="其他", title="节日慰问", start=at(10, 5, 9, 0),
                  end=at(10, 5, 10, 0))
    clock.set(at(9, 30, 8, 30))  # the last working day before the break
    runner.tick()
    assert f"meeting:{holiday.id}:reminder:2026-09-30" in keys(services)


def test_a_meeting_made_on_its_day_after_the_reminder_time_gets_the_notice_only(
        services, runner, clock) -> None:
    clock.set(at(11, 24, 10, 0))
    meeting = add(services, start=at(11, 24, 14, 0), end=at(11, 24, 15, 0))
    runner.tick()
    runner.tick()
    assert keys(services) == [f"meeting:{meeting.id}:notice"]


def test_reminder_time_is_calendar_aware() -> None:
    from bot.holidays import Calendar
    meeting = store.Meeting(1, "党课", "x", "b", {}, at(10, 7, 9), at(10, 7, 10))
    assert meetings.reminder_due(meeting, Calendar()) == at(9, 30, 8, 30)


# -- exactly once over the fake WeCom API --------------------------------------------------------

@pytest.fixture
def api(clock, monkeypatch) -> FakeWeChatAPI:
    short_timeouts(monkeypatch)
    with fake_api(clock) as fake:
        yield fake


def test_over_the_fake_wecom_api_each_member_gets_each_message_once(
        make_services, api, clock) -> None:
    services, channels = wire(make_services, api, mp=False)
    ids = add_members(services, 6, "wecom", branch="第一党支部", grp="第一党小组")
    meeting = add(services)
    for _ in range(3):
        meetings.send_notices(services)
        settle(services, channels, clock, step_s=1)
    clock.set(at(11, 26, 8, 30))
    for _ in range(3):
        meetings.send_notices(services)
        settle(services, channels, clock, step_s=1)
    edit(services, meeting.id, place="五楼")
    for _ in range(3):
        meetings.send_notices(services)
        settle(services, channels, clock, step_s=1)
    assert delivered_to(api, "wecom") == Counter({f"u{n:04d}": 3 for n in range(len(ids))})
