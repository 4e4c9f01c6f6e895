"""组织生活 in chat: 参加, 请假 理由 (the secretary approves in chat, the member is told), 签到 1234
in its window (wrong, expired, not in the audience, twice, five wrong tries pause), and questions
answered from the store. Through bot.conversation.handle_inbound as a message arrives, and the
sign-in once over real HTTP to the WeCom webhook. Demo roster: 1 王建国 (第一党支部 secretary),
2 李红梅, 3 张伟, 4 刘芳 (第一党支部), 5 陈静 (第二党支部, admin), 6-8 第二党支部."""

from __future__ import annotations

import pytest

from bot import create_app, meetings
from bot.store import meetings as store
from bot.store import members
from schedules import jobs
from schedules.runner import SchedulerRunner
from tests.browser import serve
from tests.conftest import WECOM_TEST
from tests.meeting_helpers import CHEN, LI, LIU, WANG, YANG, ZHANG, at, bound, inbox
from tests.test_admin_chat import say
from tests.test_events_passive import post
from tests.wechat import text_xml


@pytest.fixture
def services(make_services):
    return bound(make_services())


@pytest.fixture
def lesson(services) -> store.Meeting:
    with services.store.transaction() as db:
        return store.add(db, branch="第一党支部", kind="党课", title="学习党章", now=services.clock.now(),
                         start=at(11, 26, 14, 30), end=at(11, 26, 16, 0), place="三楼会议室")


_RUNNERS: dict[int, SchedulerRunner] = {}


def tick(services) -> None:
    """One scheduler tick (the same runner each time: it holds the lease)."""
    runner = _RUNNERS.setdefault(id(services), SchedulerRunner(
        services, jobs=[jobs.fire_meetings, jobs.drain_deliveries]))
    runner.tick()


def test_join_and_the_questions(services, lesson) -> None:
    assert say(services, LI, "参加").startswith("已记录你参加：学习党章\n时间：11月26日（周四）14:30—16:00")
    assert store.answers(services.store.db, lesson.id)[LI].joining
    week = say(services, LI, "这周有什么会")
    assert week.startswith("本周你要参加的会议（1 个）：\n1. 【党课】学习党章")
    assert "（已确认参加）" in week
    assert say(services, LI, "党课什么时候").startswith("近期你要参加的党课（1 个）")
    assert say(services, LI, "我要参加哪些会").startswith("近期你要参加的会议（1 个）")
    assert say(services, LI, "下周有什么会") == "下周没有安排你参加的会议。"
    assert say(services, LI, "主题党日是哪天") == "近期没有安排你参加的主题党日。"
    assert say(services, YANG, "这周有什么会") == "本周没有安排你参加的会议。"  # another branch
    assert say(services, YANG, "参加").startswith("你近期没有要参加的会议")


def test_leave_is_asked_approved_in_chat_and_the_member_told(services, lesson, clock) -> None:
    assert say(services, LI, "请假") == "请写明请假理由，例如「请假 出差在外」。"
    asked = say(services, LI, "请假 到省里出差")
    assert asked.startswith("已提交请假申请：学习党章") and "理由：到省里出差" in asked
    assert say(services, LI, "请假 到省里出差").endswith("正在等待支部书记审批。")
    tick(services)
    [to_secretary] = inbox(services, WANG)[-1:]
    assert to_secretary.startswith("请假申请（编号 1）：李红梅申请不参加「学习党章」")
    assert all("请假申请" not in text for text in inbox(services, CHEN))  # the other branch's
    assert say(services, WANG, "准假 1") == "已同意李红梅的请假（「学习党章」），已通知本人。"
    assert say(services, WANG, "不准假 1") == "这份请假申请已经处理过（已准假）。"
    assert say(services, WANG, "准假 99") == "没有编号为 99 的请假申请。"
    tick(services)
    assert inbox(services, LI)[-1].startswith("你参加「学习党章」（11月26日（周四）14:30—16:00）的请假申请已同意")
    assert "（请假已准假）" in say(services, LI, "这周有什么会")
    clock.set(at(11, 26, 15, 0))
    assert say(services, ZHANG, "请假 有事") == "「学习党章」已经开始，不能再请假；请直接向支部书记说明。"


def test_a_member_cannot_approve_and_a_secretary_only_their_branch(services, lesson) -> None:
    say(services, LI, "请假 出差")
    assert say(services, LI, "准假 1").startswith("这个功能仅供党务干部使用")
    assert store.leaves(services.store.db, lesson.id)[LI].status == "pending"
    with services.store.transaction() as db:
        other = store.add(db, branch="第二党支部", kind="党课", title="二支部党课",
                          now=services.clock.now(), start=at(11, 27, 9), end=at(11, 27, 10),
                          place="四楼")
    say(services, YANG, "请假 病假")
    leave_id = store.leaves(services.store.db, other.id)[YANG].id
    assert say(services, WANG, f"准假 {leave_id}") == f"没有编号为 {leave_id} 的请假申请。"
    assert say(services, CHEN, f"不准假 {leave_id}").startswith("已不同意杨帆的请假")  # admin: all


def test_sign_in_window_codes_and_pause(services, lesson, clock) -> None:
    code = lesson.code
    wrong = "0000" if code != "0000" else "1111"
    assert say(services, LI, f"签到 {code}").startswith("现在不在签到时间。「学习党章」的签到从 11月26日 14:00")
    clock.set(at(11, 26, 14, 0))
    assert say(services, LI, "签到 12") .startswith("签到码是 4 位数字")
    assert say(services, YANG, f"签到 {code}") == "你不在「学习党章」的参会名单中，无需签到。如有疑问请联系支部书记。"
    for left in (4, 3, 2, 1):
        assert say(services, ZHANG, f"签到 {wrong}").startswith(f"签到码不对（还可以再试 {left} 次）")
    assert say(services, ZHANG, f"签到 {wrong}").startswith("签到码连续 5 次不对，签到暂停 15 分钟（到 14:15）")
    assert say(services, ZHANG, f"签到 {code}").startswith("签到码错误次数过多，请于 14:15 后再试")
    assert store.answer_of(services.store.db, lesson.id, ZHANG) is None
    clock.set(at(11, 26, 14, 16))
    assert say(services, ZHANG, f"签到 {code}").startswith("签到成功：学习党章")
    assert say(services, LI, f"签到 {code}") == "签到成功：学习党章\n李红梅，签到时间 14:16。"
    clock.set(at(11, 26, 14, 40))
    assert say(services, LI, f"签到 {code}") == "你已于 14:16 签到「学习党章」，无需重复。"
    assert say(services, LI, "签到").startswith(("打卡成功", "今天已打卡"))  # bare: 打卡
    clock.set(at(11, 26, 16, 0))
    assert say(services, LIU, f"签到 {code}") == "「学习党章」已经结束，签到码已失效。如确已参会，请联系支部书记登记。"
    attendance = {a.member.id: a.status for a in meetings.attendance(
        services.store.db, lesson, clock.now())}
    assert attendance == {WANG: "absent", LI: "present", ZHANG: "present", LIU: "absent"}


def test_a_retried_message_changes_nothing_twice(services, lesson, clock) -> None:
    clock.set(at(11, 26, 14, 10))
    wrong = "0000" if lesson.code != "0000" else "1111"
    first = say(services, ZHANG, f"签到 {wrong}", key="retry-1")
    assert say(services, ZHANG, f"签到 {wrong}", key="retry-1") == first
    assert say(services, ZHANG, f"签到 {wrong}").startswith("签到码不对（还可以再试 3 次）")


def test_sign_in_over_real_http_to_the_wecom_webhook(make_services, clock) -> None:
    services = make_services(wecom=WECOM_TEST)
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="lihongmei", member_id=LI,
                              now=clock.now())
        meeting = store.add(db, branch="第一党支部", kind="主题党日", title="十一月主题党日",
                            now=clock.now(), start=at(11, 23, 9, 20), end=at(11, 23, 11),
                            place="党员活动室")
    with serve(create_app(services=services)) as url:
        port = int(url.rsplit(":", 1)[1])
        now = int(clock.timestamp())
        answer = post(port, "wecom", text_xml("lihongmei", f"签到 {meeting.code}", 9001, now), now)
        again = post(port, "wecom", text_xml("lihongmei", f"签到 {meeting.code}", 9001, now), now)
    assert answer == "签到成功：十一月主题党日\n李红梅，签到时间 09:00。"
    assert again == answer  # the platform's retry: the remembered reply, nothing twice
    assert store.answers(services.store.db, meeting.id)[LI].signed_at == clock.now()


def test_the_wecom_menu_button_signs_in_during_the_window_only(make_services, clock) -> None:
    from bot.conversation import handle_inbound
    from bot.messages import Inbound

    services = make_services(wecom=WECOM_TEST)
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="lihongmei", member_id=LI,
                              now=clock.now())
        meeting = store.add(db, branch="第一党支部", kind="党小组会", title="综合处党小组会",
                            now=clock.now(), start=at(11, 23, 10), end=at(11, 23, 11),
                            place="综合处", audience={"groups": ["第一党支部/综合处党小组"]})

    def click(key: str) -> str:
        inbound = Inbound("wecom", "lihongmei", "event", "", f"click-{clock.timestamp()}",
                          clock.now(), event="click", event_key=key)
        return handle_inbound(services, inbound).text

    assert click("MEETING_SIGNIN").startswith("现在不在签到时间。「综合处党小组会」的签到从 11月23日 09:30")
    clock.set(at(11, 23, 9, 45))
    assert click("MEETING_SIGNIN") == "签到成功：综合处党小组会\n李红梅，签到时间 09:45。"
    clock.set(at(11, 23, 9, 50))
    assert click("MEETING_SIGNIN") == "你已于 09:45 签到「综合处党小组会」，无需重复。"
    assert store.answers(services.store.db, meeting.id)[LI].signed_at == at(11, 23, 9, 45)


def test_the_menu_words_from_the_sandbox_still_need_the_code(services, lesson, clock) -> None:
    clock.set(at(11, 26, 14, 40))
    assert say(services, LI, "会议签到").startswith("请发送「签到 签到码」签到")
    assert store.answer_of(services.store.db, lesson.id, LI) is None
