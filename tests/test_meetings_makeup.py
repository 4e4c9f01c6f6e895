"""After the meeting: a 补学 study task for those absent or on leave, pointing to the materials,
and a message to them, once; and the admin's chat command 会议 … with a preview and 确认 (as
定时 works), 放弃, 取消会议 N. Demo roster, sandbox identities m<id>."""

from __future__ import annotations

import pytest

from bot.store import meetings as store
from bot.store import tasks as store_tasks
from schedules import jobs
from schedules.runner import SchedulerRunner
from tests.meeting_helpers import CHEN, LI, LIU, WANG, ZHANG, at, bound, inbox
from tests.test_admin_chat import say


@pytest.fixture
def services(make_services):
    return bound(make_services())


@pytest.fixture
def runner(services) -> SchedulerRunner:
    return SchedulerRunner(services, jobs=[jobs.fire_meetings, jobs.drain_deliveries])


def test_absent_and_on_leave_get_one_makeup_task_with_the_materials(services, runner,
                                                                    clock) -> None:
    reading = services.store.db.execute("SELECT slug, short, article_no FROM readings"
                                        " LIMIT 1").fetchone()
    with services.store.transaction() as db:
        meeting = store.add(db, branch="第一党支部", kind="党课", title="学习党章", now=clock.now(),
                            start=at(11, 26, 14, 30), end=at(11, 26, 16), place="三楼",
                            agenda="党章第三章",
                            materials={"readings": [reading[0]],
                                       "links": ["https://www.12371.cn/"]})
        leave, _ = store.request_leave(db, meeting.id, LI, "出差", clock.now())
        store.decide_leave(db, leave.id, approve=True, by="王建国", now=clock.now())
    clock.set(at(11, 26, 14, 40))
    assert say(services, ZHANG, f"签到 {meeting.code}").startswith("签到成功")
    clock.set(at(11, 26, 16, 59))
    runner.tick()
    assert store.get(services.store.db, meeting.id).makeup_task_id is None  # marks may change
    clock.set(at(11, 26, 17, 0))
    runner.tick()
    runner.tick()
    task_id = store.get(services.store.db, meeting.id).makeup_task_id
    task = store_tasks.get_task(services.store.db, task_id)
    assert task is not None and task.title == "补学：学习党章"
    assert task.audience == {"members": [WANG, LI, LIU]} and task.due.isoformat() == "2026-12-10"
    assert task.readings == (reading[0],) and task.link == "https://www.12371.cn/"
    assert task.kind == "三会一课" and task.month == "2026-11"
    for member in (WANG, LI, LIU):
        [makeup] = [t for t in inbox(services, member) if "补学" in t]
        assert makeup.startswith("你没有参加11月26日（周四）14:30—16:00的【党课】学习党章，已为你安排补学")
        assert f"《{reading[1]}》{reading[2]}" in makeup and f"完成 {task.position}" in makeup
    assert not [t for t in inbox(services, ZHANG) if "补学" in t]
    assert say(services, LI, f"完成 {task.position}").startswith(f"已记录：第{task.position}项「补学：学习党章」完成")
    assert len(store_tasks.month_tasks(services.store.db, "2026-11")) == len(
        {t.id for t in store_tasks.month_tasks(services.store.db, "2026-11")})
    runner.tick()
    assert store.get(services.store.db, meeting.id).makeup_task_id == task_id
    assert services.store.db.execute("SELECT count(*) FROM tasks WHERE title = '补学：学习党章'"
                                     ).fetchone()[0] == 1


def test_everyone_present_means_no_task(services, runner, clock) -> None:
    with services.store.transaction() as db:
        meeting = store.add(db, branch="第一党支部", kind="支委会", title="支委会", now=clock.now(),
                            start=at(11, 24, 10), end=at(11, 24, 11), place="书记办公室",
                            audience={"members": [WANG]})
    clock.set(at(11, 24, 10, 5))
    say(services, WANG, f"签到 {meeting.code}")
    clock.set(at(11, 24, 12, 5))
    runner.tick()
    assert store.get(services.store.db, meeting.id).makeup_task_id == 0
    assert services.store.db.execute("SELECT count(*) FROM tasks WHERE title LIKE '补学%'"
                                     ).fetchone()[0] == 0


def test_the_chat_command_previews_confirms_and_notifies(services, runner, clock) -> None:
    preview = say(services, WANG, "会议 11-27 09:00-10:30 支委会 十一月支委会 书记办公室")
    assert preview.splitlines()[:5] == [
        "请确认这次会议：", "【支委会】十一月支委会", "时间：11月27日（周五）09:00—10:30",
        "地点：书记办公室", "对象：第一党支部全体党员（4 人）"]
    assert store.get(services.store.db, 1) is None
    confirmed = say(services, WANG, "确认")
    assert confirmed.startswith("已安排会议 #1：十一月支委会（11月27日（周五）09:00—10:30）")
    assert say(services, WANG, "确认").startswith("没有待确认的定时消息")
    runner.tick()
    assert inbox(services, LI)[-1].startswith("会议通知\n【支委会】十一月支委会")
    assert say(services, WANG, "取消会议 1").startswith("已取消会议 #1")
    runner.tick()
    assert inbox(services, LI)[-1].startswith("会议取消通知")


@pytest.mark.parametrize(("words", "answer"), [
    ("会议 明天", "没看懂这条会议安排"),
    ("会议 11-20 09:00-10:00 党课 x 三楼", "今年已经过去了"),
    ("会议 11-27 09:00-08:00 党课 x 三楼", "结束时间应晚于开始时间"),
    ("会议 11-27 09:00-10:00 座谈会 x 三楼", "会议类型「座谈会」不对"),
    ("会议 11-27 25:00-26:00 党课 x 三楼", "日期或时间不存在"),
])
def test_bad_chat_commands_are_explained_and_write_nothing(services, words, answer) -> None:
    reply = say(services, WANG, words)
    assert answer in reply and "定时" not in reply, reply
    assert say(services, WANG, "确认").startswith("没有待确认的定时消息")
    assert services.store.db.execute("SELECT count(*) FROM meetings").fetchone()[0] == 0


def test_discard_members_and_other_branches(services) -> None:
    say(services, WANG, "会议 11-27 09:00-10:30 党课 学习党章 三楼")
    assert say(services, WANG, "放弃") == "已放弃这次会议安排。"
    assert say(services, WANG, "确认").startswith("没有待确认的定时消息")
    assert say(services, LI, "会议 11-27 09:00-10:30 党课 学习党章 三楼").startswith("这个功能仅供党务干部使用")
    say(services, CHEN, "会议 11-27 09:00-10:30 党课 二支部党课 四楼")
    say(services, CHEN, "确认")
    assert say(services, WANG, "取消会议 1") == "没有编号为 1 的会议。"  # 第二党支部's
    assert store.get(services.store.db, 1).status == "scheduled"
