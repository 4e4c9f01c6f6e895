"""Meetings in the store and `python -m bot meeting ...` (CliRunner, real config and SQLite file,
the test clock: Monday 2026-11-23 09:00): add, list, show, edit, cancel, and every bad input
answered in one Chinese line with nothing written."""

from __future__ import annotations

import pytest

from bot.store import meetings as store
from tests.test_schedule_cli import Run, make_run, write_config


@pytest.fixture
def run(tmp_path, built) -> Run:
    run = make_run(write_config(tmp_path / "config.toml"))
    run("init")
    return run


def count(tmp_path) -> int:
    import sqlite3
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        return conn.execute("SELECT count(*) FROM meetings").fetchone()[0]


LESSON = ("meeting", "add", "--branch", "第一党支部", "--kind", "党课", "--title", "学习党章",
          "--start", "2026-12-03 14:30", "--end", "2026-12-03 16:00", "--place", "三楼会议室",
          "--speaker", "王建国")


def test_add_list_show_edit_cancel(run, tmp_path) -> None:
    added = run(*LESSON).output
    assert "已安排会议 #1：学习党章（12月3日（周四）14:30—16:00，三楼会议室），签到码" in added
    listed = run("meeting", "list").output
    assert "#1｜第一党支部｜党课｜学习党章｜12月3日（周四）14:30—16:00｜三楼会议室｜已安排" in listed
    shown = run("meeting", "show", "1").output
    assert "主讲：王建国" in shown and "参会对象 4 人：出席 0，请假 0，缺席 0" in shown
    assert "李红梅（综合处党小组）：未签到" in shown
    edited = run("meeting", "edit", "1", "--place", "五楼党员活动室").output
    assert "五楼党员活动室" in edited and "已通知已收到通知的党员" in edited
    assert "内容没有变化" in run("meeting", "edit", "1", "--place", "五楼党员活动室").output
    assert "已取消会议 #1" in run("meeting", "cancel", "1").output
    assert "「学习党章」已经取消" in run("meeting", "cancel", "1", ok=False).output
    assert "已取消" in run("meeting", "list", "--all").output


def test_a_group_meeting_and_a_committee_by_members(run, tmp_path) -> None:
    out = run("meeting", "add", "--branch", "第一党支部", "--kind", "党小组会", "--group",
              "财务处党小组", "--title", "十一月组会", "--start", "2026-11-26 10:00", "--end",
              "2026-11-26 11:00", "--place", "财务处").output
    assert "已安排会议 #1" in out
    shown = run("meeting", "show", "1").output
    assert "参会对象 2 人" in shown and "张伟" in shown and "李红梅" not in shown
    out = run("meeting", "add", "--branch", "第一党支部", "--kind", "支委会", "--member", "1",
              "--member", "3", "--title", "支委会", "--start", "2026-11-27 10:00", "--end",
              "2026-11-27 11:00", "--link", "https://meeting.example.cn/123").output
    assert "线上：https://meeting.example.cn/123" in out


@pytest.mark.parametrize(("args", "message"), [
    (("--start", "2026-11-20 14:30", "--end", "2026-11-20 16:00"), "已经过去，不能安排过去的会议"),
    (("--start", "2026-12-03 14:30", "--end", "2026-12-03 14:00"), "结束时间应晚于开始时间"),
    (("--start", "2026-12-03", "--end", "明天"), "格式不对"),
    (("--start", "2026-12-03 08:00", "--end", "2026-12-04 08:00"), "最长 12 小时"),
    (("--branch", "第九党支部"), "名册里没有支部「第九党支部」"),
    (("--group", "业务一处党小组"), "第一党支部没有党小组「业务一处党小组」"),
    (("--member", "5"), "党员编号 5 不是第一党支部的在册党员"),
    (("--place", "", "--link", "ftp://x"), "不是有效的网址"),
    (("--place", ""), "请填写会议地点或线上会议链接"),
    (("--reading", "no-such-article"), "条文库里没有编号为「no-such-article」"),
    (("--task", "99999"), "没有编号为 99999 的学习任务"),
    (("--notice-days", "40"), "提前通知天数应在 0 到 30 之间"),
    (("--title", "党" * 61), "会议名称太长"),
])
def test_bad_input_is_one_line_and_writes_nothing(run, tmp_path, args, message) -> None:
    base = dict(zip(LESSON[2::2], LESSON[3::2], strict=True))
    extra = dict(zip(args[::2], args[1::2], strict=True))
    repeated = {k: v for k, v in extra.items() if k in ("--group", "--member", "--reading",
                                                        "--task")}
    merged = {**base, **{k: v for k, v in extra.items() if k not in repeated}}
    argv = ["meeting", "add", *[x for kv in merged.items() for x in kv],
            *[x for kv in repeated.items() for x in kv]]
    result = run(*argv, ok=False)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert count(tmp_path) == 0


def test_overlap_for_the_same_people_is_refused_other_groups_are_not(run, tmp_path) -> None:
    run(*LESSON)
    clash = run("meeting", "add", "--branch", "第一党支部", "--kind", "党小组会", "--group",
                "财务处党小组", "--title", "组会", "--start", "2026-12-03 15:00", "--end",
                "2026-12-03 17:00", "--place", "财务处", ok=False)
    assert "与已安排的「学习党章」（12-03 14:30—16:00）时间重叠" in clash.output
    other = run("meeting", "add", "--branch", "第二党支部", "--kind", "党课", "--title", "二支部党课",
                "--start", "2026-12-03 15:00", "--end", "2026-12-03 17:00", "--place", "四楼")
    assert "已安排会议 #2" in other.output
    run("meeting", "cancel", "1")
    assert "已安排会议 #3" in run(*LESSON).output  # a cancelled meeting holds no time


def test_edit_and_cancel_refuse_what_cannot_change(run, tmp_path, clock) -> None:
    assert "没有编号为 7 的会议" in run("meeting", "show", "7", ok=False).output
    run(*LESSON)
    assert "没有要修改的内容" in run("meeting", "edit", "1", ok=False).output
    assert "已经过去" in run("meeting", "edit", "1", "--start", "2026-11-01 10:00",
                             ok=False).output
    clock.advance(days=10, hours=6)  # 2026-12-03 15:00: the meeting is on
    assert "已经开始或结束" in run("meeting", "edit", "1", "--place", "x", ok=False).output
    assert "已经开始或结束" in run("meeting", "cancel", "1", ok=False).output


def test_store_answers_and_leaves_are_idempotent(make_services, clock) -> None:
    services = make_services()
    now = clock.now()
    with services.store.transaction() as db:
        meeting = store.add(db, branch="第一党支部", kind="主题党日", title="主题党日", now=now,
                            start="2026-11-28 09:00", end="2026-11-28 11:00", place="活动室")
        assert store.set_joining(db, meeting.id, 2, now) is True
        assert store.set_joining(db, meeting.id, 2, now) is False
        leave, new = store.request_leave(db, meeting.id, 3, "出差", now)
        assert new and leave.status == "pending"
        assert store.request_leave(db, meeting.id, 3, "出差", now)[1] is False
        with pytest.raises(store.MeetingError, match="请假理由不能为空"):
            store.request_leave(db, meeting.id, 3, "  ", now)
        decided = store.decide_leave(db, leave.id, approve=True, by="admin", now=now)
        assert decided.status == "approved"
        with pytest.raises(store.MeetingError, match="已经处理过"):
            store.decide_leave(db, leave.id, approve=False, by="admin", now=now)
        with pytest.raises(store.MeetingError, match="还没有开始"):
            store.set_minutes(db, meeting.id, minutes="x", attachments=[], now=now)
        with pytest.raises(store.MeetingError, match="出勤只能是"):
            store.set_mark(db, meeting.id, 2, "maybe", now)
