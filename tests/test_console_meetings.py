"""组织生活 pages over the Flask test client: the quarter and compliance table, create / edit /
cancel with notices, the sign-in code, attendance, minutes, leave approvals, branch scope (a
secretary refused another branch's, audited), CSRF, the 概览 warning, the year's XLSX/CSV."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from bot import meetings as domain
from bot.clock import SHANGHAI
from bot.store import meetings as store
from tests.console_helpers import logged_in, login, text, token


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def admin(services, client):
    return logged_in(services, client, "admin1")


@pytest.fixture
def secretary(services, client):
    return logged_in(services, client, "shuji1", role="secretary", branch="第一党支部")


def form(client, **fields) -> dict:
    base = {"csrf_token": token(client, "/admin/meetings"), "kind": "党课", "title": "学习党章",
            "audience": "branch:第一党支部", "start": "2026-11-26T14:30",
            "end": "2026-11-26T16:00", "place": "三楼会议室", "link": "", "speaker": "王建国",
            "agenda": "学习党章第三章", "readings": "", "links": "https://www.12371.cn/",
            "notice_days": "0"}
    return {**base, **fields}


def all_meetings(services) -> list[store.Meeting]:
    rows = services.store.db.execute("SELECT id FROM meetings ORDER BY id").fetchall()
    return [store.get(services.store.db, r[0]) for r in rows]


def jump(clock, client, name: str, when: datetime) -> None:
    """Set the clock (past the console's idle timeout) and log in again."""
    clock.set(when)
    assert login(client, name).status_code == 302


def add(services, branch: str = "第一党支部", **fields) -> store.Meeting:
    values = {"kind": "党课", "title": "学习党章", "place": "三楼", "start": at(11, 26, 14, 30),
              "end": at(11, 26, 16), **fields}
    with services.store.transaction() as db:
        return store.add(db, branch=branch, now=services.clock.now(), **values)


def audit_actions(services) -> list[str]:
    return [r[0] for r in services.store.db.execute("SELECT action FROM audit ORDER BY id")]


def test_pages_need_a_login(client) -> None:
    for path in ("/admin/meetings", "/admin/meetings/new", "/admin/meetings/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_create_from_the_form_notifies_and_shows_the_code(services, secretary) -> None:
    response = secretary.post("/admin/meetings/new", data=form(secretary))
    assert response.status_code == 302
    [meeting] = all_meetings(services)
    assert (meeting.kind, meeting.branch, meeting.speaker, meeting.materials["links"]) == (
        "党课", "第一党支部", "王建国", ["https://www.12371.cn/"])
    assert services.store.db.execute(
        "SELECT count(*) FROM broadcasts WHERE key = ?",
        [f"meeting:{meeting.id}:notice"]).fetchone()[0] == 1
    page = text(secretary.get(response.headers["Location"], follow_redirects=True))
    assert "会议通知已发出" in page and meeting.code in page
    assert "签到码（11月26日 14:00 起可用）" in page
    assert "meeting.add" in audit_actions(services)


@pytest.mark.parametrize(("fields", "message"), [
    ({"start": "2026-11-20T14:30", "end": "2026-11-20T16:00"}, "不能安排过去的会议"),
    ({"end": "2026-11-26T14:00"}, "结束时间应晚于开始时间"),
    ({"start": ""}, "开始时间「」格式不对"),
    ({"title": ""}, "会议名称不能为空"),
    ({"kind": "茶话会"}, "会议类型「茶话会」不对"),
    ({"audience": "branch:第二党支部"}, "请从列表中选择参会对象"),
    ({"place": "", "link": ""}, "请填写会议地点或线上会议链接"),
    ({"links": "javascript:alert(1)"}, "不是有效的网址"),
    ({"notice_days": "abc"}, "提前通知天数应是数字"),
])
def test_bad_input_is_explained_and_writes_nothing(services, secretary, fields, message) -> None:
    response = secretary.post("/admin/meetings/new", data=form(secretary, **fields))
    assert response.status_code == 200 and message in text(response)
    assert all_meetings(services) == []


def test_a_post_without_csrf_is_refused(services, secretary) -> None:
    fields = form(secretary)
    del fields["csrf_token"]
    assert secretary.post("/admin/meetings/new", data=fields).status_code == 400
    assert all_meetings(services) == []


def test_a_secretary_is_kept_to_their_branch_and_the_refusal_audited(services, secretary) -> None:
    other = add(services, branch="第二党支部", title="二支部党课")
    assert secretary.get(f"/admin/meetings/{other.id}").status_code == 403
    assert secretary.get("/admin/meetings?branch=第二党支部").status_code == 403
    assert secretary.post(f"/admin/meetings/{other.id}/cancel",
                          data={"csrf_token": token(secretary)}).status_code == 403
    assert store.get(services.store.db, other.id).status == "scheduled"
    assert audit_actions(services).count("denied") == 3


def test_the_quarter_page_compliance_and_leaves(services, admin, clock) -> None:
    meeting = add(services)
    with services.store.transaction() as db:
        store.request_leave(db, meeting.id, 2, "出差", clock.now())
    page = text(admin.get("/admin/meetings?branch=第一党支部"))
    assert "2026年第4季度落实情况" in page
    assert "本季度党课：已开 0 次，应开至少 1 次" in page
    assert "本季度党小组会（财务处党小组）：已开 0 次，应开至少 3 次" in page
    assert "李红梅" in page and "出差" in page and "学习党章" in page
    leave_id = store.leaves(services.store.db, meeting.id)[2].id
    response = admin.post(f"/admin/meetings/leaves/{leave_id}",
                          data={"csrf_token": token(admin), "decision": "approve"},
                          follow_redirects=True)
    assert "已同意李红梅的请假" in text(response)
    assert store.leaves(services.store.db, meeting.id)[2].status == "approved"
    told = services.store.db.execute("SELECT d.text FROM deliveries d JOIN broadcasts b ON"
                                     " b.id = d.broadcast_id WHERE b.key = ?",
                                     [f"leave:{leave_id}:decided"]).fetchall()
    assert len(told) == 1 and "请假申请已同意" in told[0][0]
    again = admin.post(f"/admin/meetings/leaves/{leave_id}",
                       data={"csrf_token": token(admin), "decision": "reject"},
                       follow_redirects=True)
    assert "已经处理过" in text(again)
    jump(clock, admin, "admin1", at(11, 26, 17))
    page = text(admin.get("/admin/meetings?branch=第一党支部"))
    assert "本季度党课：已开 0 次" not in page  # held now


def test_edit_and_cancel_tell_those_told(services, admin) -> None:
    meeting = add(services)
    domain.send_notices(services)
    response = admin.post(f"/admin/meetings/{meeting.id}/edit",
                          data=form(admin, place="五楼党员活动室", audience=""),
                          follow_redirects=True)
    assert "已收到通知的党员会收到变更通知" in text(response)
    assert store.get(services.store.db, meeting.id).audience == {"branches": ["第一党支部"]}
    response = admin.post(f"/admin/meetings/{meeting.id}/cancel",
                          data={"csrf_token": token(admin)}, follow_redirects=True)
    assert "已取消「学习党章」" in text(response)
    keys = [r[0] for r in services.store.db.execute(
        "SELECT key FROM broadcasts WHERE key LIKE 'meeting:%' ORDER BY id")]
    assert keys == [f"meeting:{meeting.id}:{k}" for k in ("notice", "change:2", "cancel")]
    edit_again = admin.post(f"/admin/meetings/{meeting.id}/edit", data=form(admin))
    assert "已经取消" in text(edit_again)


def test_attendance_and_minutes_after_the_start(services, admin, clock) -> None:
    meeting = add(services)
    early = admin.post(f"/admin/meetings/{meeting.id}/minutes",
                       data={"csrf_token": token(admin), "minutes": "x"}, follow_redirects=True)
    assert "还没有开始，会后再写会议记录" in text(early)
    jump(clock, admin, "admin1", at(11, 26, 15))
    with services.store.transaction() as db:
        store.sign_in(db, meeting.id, 2, clock.now())
    page = text(admin.get(f"/admin/meetings/{meeting.id}"))
    assert "党员发送「签到 " in page and meeting.code in page
    admin.post(f"/admin/meetings/{meeting.id}/attendance",
               data={"csrf_token": token(admin), "mark-3": "present", "mark-4": "",
                     "mark-99": "present"})
    admin.post(f"/admin/meetings/{meeting.id}/minutes",
               data={"csrf_token": token(admin), "minutes": "王建国同志讲授党课。",
                     "attachments": "签到表.pdf\n\n课件.pptx"})
    fresh = store.get(services.store.db, meeting.id)
    assert fresh.minutes == "王建国同志讲授党课。" and fresh.attachments == ("签到表.pdf", "课件.pptx")
    clock.set(at(11, 26, 16))
    status = {a.member.id: a.status for a in domain.attendance(services.store.db, fresh,
                                                              clock.now())}
    assert status == {1: "absent", 2: "present", 3: "present", 4: "absent"}
    assert 99 not in store.answers(services.store.db, meeting.id)


def test_the_dashboard_warns_before_the_quarter_ends(services, secretary, clock) -> None:
    assert "组织生活提醒" not in text(secretary.get("/admin/"))  # 2026-11-23: weeks left
    jump(clock, secretary, "shuji1", at(12, 15, 9))
    page = text(secretary.get("/admin/"))
    assert "第一党支部：2026年第4季度还剩 17 天，以下组织生活还没有达到要求" in page
    assert "<li>本季度党课：已开 0 次，应开至少 1 次</li>" in page
    assert "第二党支部" not in page.split("组织生活提醒")[1].split("</section>")[0]


def test_the_years_xlsx_and_csv(services, admin, clock) -> None:
    meeting = add(services)
    clock.set(at(11, 26, 15))
    with services.store.transaction() as db:
        store.sign_in(db, meeting.id, 2, clock.now())
    jump(clock, admin, "admin1", at(11, 27, 9))
    response = admin.get("/admin/meetings/year.xlsx?branch=第一党支部&year=2026")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    meetings_sheet, attendance = book["会议"], book["出勤"]
    rows = list(meetings_sheet.values)
    assert rows[1][:4] == ("第一党支部", "党课", "学习党章", "2026-11-26 14:30")
    assert rows[1][9:13] == (4, 1, 0, 3)
    names = {r[3]: r[5] for r in list(attendance.values)[1:]}
    assert names == {"王建国": "缺席", "李红梅": "出席", "张伟": "缺席", "刘芳": "缺席"}
    csv = admin.get("/admin/meetings/year.csv?branch=第一党支部&year=2026")
    assert csv.data.startswith("\ufeff".encode()) and "李红梅" in csv.data.decode("utf-8-sig")
    assert admin.get("/admin/meetings/year.csv?year=abc").status_code == 404
    assert "meeting.download" in audit_actions(services)
