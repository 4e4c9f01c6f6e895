"""A simulated quarter (2026 Q4: the 国庆 break, the 10-10 make-up working Saturday) for 第一党支部:
a 主题党日 each month, a 党课 and a 党员大会 once, with notices, a leave asked and approved, sign-ins
over real HTTP to the WeCom webhook, minutes, 补学 tasks and the compliance table, checked member
by member and against the delivery ledger. The scheduler job runs at each step (no drain: the
ledger rows are what is checked, nothing leaves the machine)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from bot import create_app
from bot import meetings as domain
from bot.clock import SHANGHAI
from bot.store import meetings as store
from bot.store import members
from bot.store import tasks as store_tasks
from schedules import jobs
from schedules.runner import SchedulerRunner
from tests.browser import serve
from tests.conftest import WECOM_TEST
from tests.test_events_passive import post
from tests.wechat import text_xml

WANG, LI, ZHANG, LIU = 1, 2, 3, 4
USERS = {WANG: "wangjianguo", LI: "lihongmei", ZHANG: "zhangwei", LIU: "liufang"}


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def ledger(services) -> dict[int, Counter[str]]:
    """member -> Counter of the meeting broadcast kinds they have a row in."""
    found: dict[int, Counter[str]] = {m: Counter() for m in USERS}
    for key, member_id in services.store.db.execute(
            "SELECT b.key, d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
            " WHERE b.key LIKE 'meeting:%'"):
        kind = key.split(":")[2]
        found.setdefault(member_id, Counter())[f"{key.split(':')[1]}:{kind}"] += 1
    return found


def test_a_quarter_of_organisational_life(make_services, clock) -> None:
    clock.set(at(9, 25, 9))
    services = make_services(wecom=WECOM_TEST)
    with services.store.transaction() as db:
        for member_id, user in USERS.items():
            members.bind_identity(db, channel="wecom", external_id=user, member_id=member_id,
                                  now=clock.now())
    runner = SchedulerRunner(services, jobs=[jobs.fire_meetings])
    plan = {  # title -> kind, start, end, notice days before
        "十月主题党日": ("主题党日", at(10, 10, 15), at(10, 10, 17), 0),   # the make-up Saturday
        "专题党课": ("党课", at(10, 16, 14, 30), at(10, 16, 16), 3),
        "十一月主题党日": ("主题党日", at(11, 20, 15), at(11, 20, 17), 3),
        "支部党员大会": ("支部党员大会", at(11, 27, 14, 30), at(11, 27, 16), 3),
        "十二月主题党日": ("主题党日", at(12, 18, 15), at(12, 18, 17), 3),
    }
    ids = {}
    with services.store.transaction() as db:
        for title, (kind, start, end, days) in plan.items():
            ids[title] = store.add(db, branch="第一党支部", kind=kind, title=title, start=start,
                                   end=end, place="三楼党员活动室", notice_days=days,
                                   now=clock.now(), created_by="test").id
    runner.tick()
    assert all(ledger(services)[m] == Counter({f"{ids['十月主题党日']}:notice": 1}) for m in USERS)

    with serve(create_app(services=services)) as url:
        port = int(url.rsplit(":", 1)[1])
        msg_ids = iter(range(1000, 2000))

        def say(member_id: int, text: str) -> str:
            now = int(clock.timestamp())
            return post(port, "wecom", text_xml(USERS[member_id], text, next(msg_ids), now), now)

        def sign_in(title: str, *who: int) -> None:
            code = store.get(services.store.db, ids[title]).code
            for member_id in who:
                assert say(member_id, f"签到 {code}").startswith(f"签到成功：{title}")

        # October: 国庆 (10-01..10-07); the 10-10 Saturday is a working day, reminded that morning.
        clock.set(at(9, 30, 8, 30))
        runner.tick()
        clock.set(at(10, 10, 8, 30))
        runner.tick()
        clock.set(at(10, 10, 15, 5))
        sign_in("十月主题党日", WANG, LI, ZHANG, LIU)
        clock.set(at(10, 13, 8, 30))  # three days before the 党课: its notice
        runner.tick()
        assert say(LI, "党课什么时候").startswith("近期你要参加的党课（1 个）")
        assert say(LI, "请假 到省里参加培训").startswith("已提交请假申请：专题党课")
        runner.tick()  # the secretary hears of it
        assert say(WANG, "准假 1") == "已同意李红梅的请假（「专题党课」），已通知本人。"
        runner.tick()
        clock.set(at(10, 16, 8, 30))
        runner.tick()
        clock.set(at(10, 16, 14, 25))
        sign_in("专题党课", WANG, ZHANG)
        clock.set(at(10, 16, 16, 0))
        assert say(LIU, f"签到 {store.get(services.store.db, ids['专题党课']).code}").startswith(
            "「专题党课」已经结束")
        with services.store.transaction() as db:
            store.set_minutes(db, ids["专题党课"], minutes="王建国同志讲授专题党课。",
                              attachments=["签到表.pdf"], now=clock.now())
        clock.set(at(10, 16, 17, 0))
        runner.tick()

        # November: one absent from the 主题党日; the 党员大会 moved by an hour after its notice.
        for day in (17, 20):  # the 主题党日's notice, then its reminder
            clock.set(at(11, day, 8, 30))
            runner.tick()
        clock.set(at(11, 20, 15, 10))
        sign_in("十一月主题党日", WANG, LI, LIU)
        clock.set(at(11, 20, 18))
        runner.tick()
        clock.set(at(11, 24, 8, 30))  # the 党员大会's notice
        runner.tick()
        clock.set(at(11, 25, 10))
        with services.store.transaction() as db:
            store.edit(db, ids["支部党员大会"], now=clock.now(), start=at(11, 27, 15, 30),
                       end=at(11, 27, 17))
        runner.tick()
        clock.set(at(11, 27, 8, 30))
        runner.tick()
        clock.set(at(11, 27, 15, 20))
        sign_in("支部党员大会", WANG, LI, ZHANG, LIU)
        clock.set(at(11, 27, 18))
        runner.tick()

        # December: the compliance table, then the 主题党日.
        clock.set(at(12, 15, 8, 30))
        runner.tick()
        table = {r.label: (r.held, r.planned, r.required) for r in domain.compliance(
            services.store.db, "第一党支部", clock.now())}
        assert table == {"支部党员大会": (1, 0, 1), "支委会": (0, 0, 3),
                         "党小组会（综合处党小组）": (0, 0, 3), "党小组会（财务处党小组）": (0, 0, 3),
                         "党课": (1, 0, 1), "主题党日": (2, 1, 3)}
        [warning] = domain.quarter_warnings(services.store.db, ["第一党支部"], clock.now())
        assert (warning.branch, warning.days_left) == ("第一党支部", 17)
        sentences = [r.sentence for r in warning.missing]
        assert "本季度支委会：已开 0 次，应开至少 3 次" in sentences
        assert not [s for s in sentences if "党课" in s or "党员大会" in s]
        clock.set(at(12, 18, 8, 30))
        runner.tick()
        clock.set(at(12, 18, 15, 1))
        sign_in("十二月主题党日", WANG, LI, ZHANG, LIU)
        clock.set(at(12, 18, 18))
        runner.tick()

    # Member by member, against the ledger: each notice, reminder, change and 补学 once.
    lesson, november, congress = ids["专题党课"], ids["十一月主题党日"], ids["支部党员大会"]
    got = ledger(services)
    for member_id in USERS:
        expected = Counter()
        for meeting_id in ids.values():
            expected[f"{meeting_id}:notice"] = 1
            expected[f"{meeting_id}:reminder"] = 1
        expected[f"{congress}:change"] = 1
        if member_id == LI:
            expected[f"{lesson}:makeup"] = 1
        if member_id == LIU:
            expected[f"{lesson}:makeup"] = 1
        if member_id == ZHANG:
            expected[f"{november}:makeup"] = 1
        assert got[member_id] == expected, (member_id, got[member_id], expected)
    assert got[WANG][f"{lesson}:makeup"] == 0
    leave_rows = services.store.db.execute(
        "SELECT b.key, d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key LIKE 'leave:%' ORDER BY b.id").fetchall()
    assert [(k.split(":")[2], m) for k, m in leave_rows] == [("asked", WANG), ("decided", LI)]

    # Attendance and the 补学 tasks.
    now = clock.now()
    statuses = {title: {a.member.id: a.status for a in domain.attendance(
        services.store.db, store.get(services.store.db, meeting_id), now)}
        for title, meeting_id in ids.items()}
    assert statuses["专题党课"] == {WANG: "present", LI: "leave", ZHANG: "present", LIU: "absent"}
    assert statuses["十一月主题党日"] == {WANG: "present", LI: "present", ZHANG: "absent",
                                   LIU: "present"}
    assert all(s == "present" for t in ("十月主题党日", "支部党员大会", "十二月主题党日")
               for s in statuses[t].values())
    makeups = {t.title: t.audience for m in ("2026-10", "2026-11")
               for t in store_tasks.month_tasks(services.store.db, m) if t.title.startswith("补学")}
    assert makeups == {"补学：专题党课": {"members": [LI, LIU]},
                       "补学：十一月主题党日": {"members": [ZHANG]}}
    assert store.get(services.store.db, lesson).minutes == "王建国同志讲授专题党课。"
