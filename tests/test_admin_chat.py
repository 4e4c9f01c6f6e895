"""Admins schedule by chat: "定时 12-01 08:00 一支部 内容" -> a preview -> "确认"; 定时列表;
取消定时 N. Through bot.conversation.handle_inbound with sandbox identities ("m<id>"), as a
message from WeChat would arrive. Demo roster: 1-4 第一党支部 (1 王建国 secretary, 2 李红梅),
5-8 第二党支部 (5 陈静 admin).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from bot.clock import SHANGHAI
from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.services import Services
from bot.store import members
from bot.store import schedules as store_schedules
from schedules import admin
from schedules.runner import SchedulerRunner, default_jobs

CHEN_JING, WANG_JIANGUO, LI_HONGMEI = 5, 1, 2
BRANCH_ONE = (1, 2, 3, 4)
STUDY = "请于本周五前完成第三章学习"
_keys = itertools.count()


@pytest.fixture
def services(make_services) -> Services:
    services = make_services()
    with services.store.transaction() as db:
        for member_id in range(1, 9):
            members.bind_identity(db, channel="sandbox", external_id=f"m{member_id}",
                                  member_id=member_id, now=services.clock.now())
    return services


def say(services: Services, member_id: int, text: str, key: str | None = None) -> str:
    inbound = Inbound("sandbox", f"m{member_id}", "text", text,
                      key or f"chat-{next(_keys)}", services.clock.now())
    return handle_inbound(services, inbound).text


def schedules(services: Services) -> list[store_schedules.Schedule]:
    return store_schedules.list_all(services.store.db, include_finished=True)


def inbox(services: Services, member_id: int) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


# --- schedule, preview, confirm, and the scheduler sends it -------------------------------------


def test_an_admin_schedules_previews_confirms_and_exactly_those_four_get_it(services, clock):
    preview = say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    assert preview.splitlines() == [
        "请确认这条定时消息：",
        "时间：2026-12-01 08:00",
        "对象：第一党支部（4 人）",
        f"内容：{STUDY}",
        "回复「确认」创建，回复「放弃」作废（10 分钟内有效）。",
    ]
    assert schedules(services) == []  # nothing until confirmed

    clock.advance(minutes=3)
    assert say(services, CHEN_JING, "确认") == (
        "已创建定时消息 1，将于 2026-12-01 08:00 发送。\n发送「取消定时 1」可以取消。")
    [created] = schedules(services)
    assert (created.kind, created.spec, created.audience, created.content) == (
        "once", {"at": "2026-12-01T08:00"}, {"branches": ["第一党支部"]}, {"text": STUDY})
    assert (created.status, created.created_by, created.workdays_only) == (
        "active", "chat:陈静", False)
    assert say(services, CHEN_JING, "确认").startswith("没有待确认的定时消息")  # used up

    runner = SchedulerRunner(services, jobs=default_jobs())
    clock.set(at(11, 30, 9))
    runner.tick()
    clock.set(at(12, 1, 7, 59))
    runner.tick()
    assert all(STUDY not in inbox(services, m) for m in range(1, 9))
    clock.set(at(12, 1, 8, 0))
    runner.tick()
    runner.tick()
    for member_id in range(1, 9):
        expected = [STUDY] if member_id in BRANCH_ONE else []
        assert [t for t in inbox(services, member_id) if t == STUDY] == expected
    assert schedules(services)[0].status == "done"
    [broadcast] = services.store.db.execute(
        "SELECT schedule_id, status FROM broadcasts WHERE key LIKE 'schedule:%'").fetchall()
    assert tuple(broadcast) == (1, "done")


def test_a_redelivered_confirmation_creates_one_schedule(services):
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    first = say(services, CHEN_JING, "确认", key="wechat-msgid-42")
    again = say(services, CHEN_JING, "确认", key="wechat-msgid-42")  # WeChat's retry
    assert first == again and first.startswith("已创建定时消息 1")
    assert len(schedules(services)) == 1


def test_full_width_input_and_everyone(services):
    reply = say(services, CHEN_JING, "定时　12-01　08：00　全体　明天上午九点召开党员大会")
    assert "时间：2026-12-01 08:00" in reply and "对象：全体党员（8 人）" in reply
    say(services, CHEN_JING, "确认")
    assert schedules(services)[0].audience == {"all": True}


def test_discard_throws_the_pending_schedule_away(services):
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    assert say(services, CHEN_JING, "放弃") == "已放弃这条定时消息。"
    assert say(services, CHEN_JING, "确认") == "没有待确认的定时消息（或已超过 10 分钟）。"
    assert schedules(services) == []


def test_the_pending_confirmation_expires_after_ten_minutes(services, clock):
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    clock.advance(minutes=10)
    assert say(services, CHEN_JING, "确认") == "没有待确认的定时消息（或已超过 10 分钟）。"
    assert schedules(services) == []

    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    clock.advance(minutes=9, seconds=59)
    assert say(services, CHEN_JING, "确认").startswith("已创建定时消息 1")


def test_a_newer_preview_replaces_the_older_one(services):
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    say(services, CHEN_JING, "定时 12-02 09:30 第二党支部 改为周三学习")
    say(services, CHEN_JING, "确认")
    [only] = schedules(services)
    assert only.spec == {"at": "2026-12-02T09:30"}
    assert only.audience == {"branches": ["第二党支部"]}


def test_a_confirmation_after_the_time_itself_has_passed_creates_nothing(services, clock):
    reply = say(services, CHEN_JING, f"定时 今天 09:05 一支部 {STUDY}")
    assert "时间：2026-11-23 09:05" in reply
    clock.advance(minutes=6)  # still within the ten minutes, but past 09:05
    assert say(services, CHEN_JING, "确认") == (
        "2026-11-23 09:05 已经过去，这条定时消息未创建。请换一个将来的时间重新设置。")
    assert schedules(services) == []


# --- what is asked about, never guessed -------------------------------------------------------


@pytest.mark.parametrize(("message", "answer"), [
    (f"定时 12-01 08:00 支部 {STUDY}", "「支部」可能指：第一党支部、第二党支部。请写出完整名称。"),
    (f"定时 01-01 08:00 一支部 {STUDY}",
     "01-01 今年已经过去了：是指明年的 01-01 吗？请写完整日期，例如 2027-01-01"),
    (f"定时 12-01 8点 一支部 {STUDY}", "没看懂时间「8点」，请写成 08:00 这样。"),
    (f"定时 12-01 25:00 一支部 {STUDY}", "日期或时间不存在：12-01 25:00"),
    (f"定时 02-30 08:00 一支部 {STUDY}", "日期或时间不存在：02-30 08:00"),
    (f"定时 今天 08:00 一支部 {STUDY}", "2026-11-23 08:00 已经过去了，请换一个将来的时间。"),
    (f"定时 下周一 08:00 一支部 {STUDY}", "没看懂日期「下周一」。"),
    (f"定时 12-01 08:00 第九支部 {STUDY}", "没有找到「第九支部」。"),
    ("定时 12-01 08:00 一支部", "没看懂这条定时消息。"),
    (f"定时 12-01 08:00 一支部 {'学' * 601}", "内容太长（最多 600 字）"),
])
def test_unclear_requests_are_asked_about_and_create_nothing(services, message, answer):
    reply = say(services, CHEN_JING, message)
    assert reply.startswith(answer), reply
    assert "请确认" not in reply
    assert say(services, CHEN_JING, "确认").startswith("没有待确认的定时消息")
    assert schedules(services) == []


# --- who may ----------------------------------------------------------------------------------


REFUSAL = "这个功能仅供党务干部使用。如需发送通知，请联系支部书记或党务干部。"


def test_a_plain_member_gets_the_polite_refusal(services):
    for text in (f"定时 12-01 08:00 一支部 {STUDY}", "确认", "放弃", "定时列表", "取消定时 1"):
        assert say(services, LI_HONGMEI, text) == REFUSAL
    assert schedules(services) == []


def test_an_admin_pending_is_not_confirmed_by_someone_else(services):
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    assert say(services, WANG_JIANGUO, "确认").startswith("没有待确认的定时消息")
    assert schedules(services) == []


def test_the_branch_secretary_targets_only_his_own_branch(services):
    own = "支部书记只能给本支部（第一党支部）发送定时消息。"
    for who in ("第二党支部", "二支部", "全体", "业务一处党小组"):
        assert say(services, WANG_JIANGUO, f"定时 12-01 08:00 {who} {STUDY}") == own
        assert say(services, WANG_JIANGUO, "确认").startswith("没有待确认的定时消息")
    assert "对象：第一党支部（4 人）" in say(services, WANG_JIANGUO,
                                          f"定时 12-01 08:00 第一党支部 {STUDY}")
    assert "对象：第一党支部 · 综合处党小组（2 人）" in say(services, WANG_JIANGUO,
                                           f"定时 12-01 08:00 综合处党小组 {STUDY}")
    assert say(services, WANG_JIANGUO, "确认").startswith("已创建定时消息 1")
    [created] = schedules(services)
    assert created.audience == {"groups": ["第一党支部/综合处党小组"]}
    assert created.created_by == "chat:王建国"


# --- 定时列表 and 取消定时 -----------------------------------------------------------------------


def test_list_and_cancel(services, clock):
    assert say(services, CHEN_JING, "定时列表") == "目前没有生效的定时消息。"
    say(services, CHEN_JING, f"定时 12-01 08:00 一支部 {STUDY}")
    say(services, CHEN_JING, "确认")
    admin.create(services, kind="weekly", spec={"time": "17:00", "weekdays": ["fri"]},
                 workdays_only=True, audience={"all": True}, content={"text": "本周学习小结"},
                 actor="cli")
    assert say(services, CHEN_JING, "定时列表").splitlines() == [
        "定时消息：",
        "1. [生效中] 2026-12-01 08:00 → 第一党支部：请于本周五前完成第三章学习",
        "2. [生效中] 每周五 17:00（仅工作日） → 全体党员：本周学习小结",
    ]
    assert say(services, CHEN_JING, "取消定时 1") == "定时消息 1 已取消。"
    assert say(services, CHEN_JING, "取消定时 1").startswith("没有可以取消的定时消息 1")
    assert say(services, CHEN_JING, "取消定时 99") == (
        "没有可以取消的定时消息 99。发送「定时列表」查看。")
    assert say(services, CHEN_JING, "定时列表").splitlines() == [
        "定时消息：", "2. [生效中] 每周五 17:00（仅工作日） → 全体党员：本周学习小结"]
    assert [s.status for s in schedules(services)] == ["cancelled", "active"]
    audit = services.store.db.execute(
        "SELECT actor, detail FROM audit WHERE action = 'schedule cancelled'").fetchall()
    assert [tuple(row) for row in audit] == [("chat:陈静", '{"schedule": 1}')]

    # The cancelled one never goes out.
    runner = SchedulerRunner(services, jobs=default_jobs())
    clock.set(at(11, 30, 9))
    runner.tick()
    clock.set(at(12, 1, 8, 1))
    runner.tick()
    assert all(STUDY not in inbox(services, m) for m in range(1, 9))


def test_a_secretary_cancels_his_branch_schedules_but_not_others(services):
    admin.create(services, kind="once", spec={"at": "2026-12-01T08:00"}, workdays_only=False,
                 audience={"all": True}, content={"text": "全体通知"}, actor="chat:陈静")
    admin.create(services, kind="once", spec={"at": "2026-12-01T08:00"}, workdays_only=False,
                 audience={"branches": ["第一党支部"]}, content={"text": "一支部通知"},
                 actor="chat:陈静")
    assert say(services, WANG_JIANGUO, "取消定时 1") == (
        "定时消息 1 的对象不只是本支部（第一党支部），支部书记不能取消。请联系党务干部。")
    assert say(services, WANG_JIANGUO, "取消定时 2") == "定时消息 2 已取消。"
    assert [s.status for s in schedules(services)] == ["active", "cancelled"]


def test_a_schedule_confirmed_minutes_later_fires_at_its_own_time(services, clock):
    """What the admin was told holds: confirmed at 09:09 for 09:30, it goes out at 09:30,
    not at the confirmation and not twice."""
    say(services, CHEN_JING, f"定时 今天 09:30 一支部 {STUDY}")
    clock.advance(minutes=9)
    say(services, CHEN_JING, "确认")
    runner = SchedulerRunner(services, jobs=default_jobs())
    runner.tick()
    assert inbox(services, 1) == []
    clock.set(at(11, 23, 9, 30) + timedelta(seconds=5))
    runner.tick()
    runner.tick()
    assert inbox(services, 1) == [STUDY]
