"""Console task pages over the Flask test client: list, create, edit, remove, roles, bad input."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from bot import audit_text
from bot.store import tasks as store_tasks
from tests.console_helpers import logged_in, text, token

MONTH = "2026-11"


@pytest.fixture
def admin(services, client):
    return logged_in(services, client, "admin1")


@pytest.fixture
def secretary(services, client):
    return logged_in(services, client, "shuji1", role="secretary", branch="第一党支部")


def form(client, **fields):
    base = {"csrf_token": token(client, "/admin/tasks"), "title": "学习党章第三章",
            "detail": "通读并写学习笔记", "link": "", "due": "2026-11-28", "kind": "study",
            "required": "1", "audience": "all"}
    return {**base, **fields}


def admin_tasks(services) -> list[store_tasks.Task]:
    return [t for t in store_tasks.month_tasks(services.store.db, MONTH) if t.origin == "admin"]


def audit_rows(services) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in services.store.db.execute(
        "SELECT actor, action, detail FROM audit ORDER BY id")]


def svg_of(page: str, figure_id: str) -> ET.Element:
    found = re.search(rf'<figure class="chart card" id="{figure_id}">(.*?)</figure>', page, re.S)
    assert found, figure_id
    return ET.fromstring(found.group(1))


# -- access -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/tasks", "/admin/tasks/new", "/admin/tasks/1/edit"])
def test_pages_need_a_login(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_a_post_without_csrf_is_refused_and_writes_nothing(services, admin) -> None:
    fields = form(admin)
    del fields["csrf_token"]
    response = admin.post(f"/admin/tasks/new?month={MONTH}", data=fields)
    assert response.status_code == 400 and "页面已过期" in text(response)
    assert admin_tasks(services) == []


# -- the month's list and completion --------------------------------------------------------------

def test_month_lists_tasks_with_completion_table_and_charts(services, admin) -> None:
    page = text(admin.get("/admin/tasks", query_string={"month": MONTH}))
    tasks = store_tasks.month_tasks(services.store.db, MONTH)
    assert tasks
    for task in tasks:
        assert task.title in page
    branches = re.findall(r"<tr><td>(第.党支部)</td>", page)
    assert branches == ["第一党支部", "第二党支部"]
    bars = svg_of(page, "branch-chart").findall(".//{http://www.w3.org/2000/svg}rect[@class='bar']")
    assert len(bars) == 2
    groups = svg_of(page, "group-chart").findall(
        ".//{http://www.w3.org/2000/svg}rect[@class='bar']")
    assert len(groups) == 4


def on_the_roster_since_october(db) -> None:
    """The demo roster joins on the test day (11-23): backdated, every November task is theirs
    (a member is expected to do a task only if on the roster by its due date, bot/report.py)."""
    db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    db.conn.commit()


def test_completion_counts_follow_task_done(services, admin) -> None:
    db = services.store.db
    on_the_roster_since_october(db)
    task = next(t for t in store_tasks.month_tasks(db, MONTH) if t.audience.get("all"))
    members = db.execute("SELECT id FROM members WHERE branch = '第一党支部'").fetchall()
    with services.store.transaction() as tx:
        for (member_id,) in members:
            store_tasks.mark_done(tx, task, member_id, at=services.clock.now(),
                                  day=services.clock.today(), via="test")
    page = text(admin.get("/admin/tasks", query_string={"month": MONTH}))
    row = re.search(rf"{re.escape(task.title)}</strong>.*?<td>(\d+) / (\d+)", page, re.S)
    assert row and (int(row.group(1)), int(row.group(2))) == (4, 8)


@pytest.mark.parametrize("month", ["2026-13", "11-2026", "abc", "2026-1x"])
def test_bad_month_is_a_clear_400(admin, month) -> None:
    response = admin.get("/admin/tasks", query_string={"month": month})
    assert response.status_code == 400 and "格式不对" in text(response)


def test_a_month_without_tasks_says_so(admin) -> None:
    page = admin.get("/admin/tasks", query_string={"month": "2027-05"})
    assert page.status_code == 200 and "2027-05 还没有学习任务" in text(page)


# -- create, edit, remove ------------------------------------------------------------------------

def test_admin_creates_edits_and_removes_a_task(services, admin) -> None:
    response = admin.post(f"/admin/tasks/new?month={MONTH}", data=form(admin))
    assert response.status_code == 302
    (task,) = admin_tasks(services)
    assert (task.title, task.due.isoformat(), task.audience) == (
        "学习党章第三章", "2026-11-28", {"all": True})
    assert "学习党章第三章" in text(admin.get(response.headers["Location"]))

    edit = admin.post(f"/admin/tasks/{task.id}/edit",
                      data=form(admin, title="学习党章第四章", due="2026-11-30",
                                audience="branch:第二党支部", required=""))
    assert edit.status_code == 302
    (changed,) = admin_tasks(services)
    assert (changed.id, changed.position, changed.title, changed.due.isoformat()) == (
        task.id, task.position, "学习党章第四章", "2026-11-30")
    assert changed.audience == {"branches": ["第二党支部"]} and not changed.required

    removed = admin.post(f"/admin/tasks/{task.id}/remove",
                         data={"csrf_token": token(admin, "/admin/tasks")})
    assert removed.status_code == 302
    assert admin_tasks(services) == []
    assert store_tasks.get_task(services.store.db, task.id).removed
    actions = [(actor, action) for actor, action, _ in audit_rows(services)]
    assert [a for a in actions if a[1].startswith("task.")] == [
        ("console:admin1", "task.add"), ("console:admin1", "task.edit"),
        ("console:admin1", "task.remove")]
    edit_detail = next(d for _, a, d in audit_rows(services) if a == "task.edit")
    assert json.loads(edit_detail)["fields"] == ["title", "due", "required", "audience"]
    assert audit_text.detail_text("task.edit", edit_detail) == (
        f"2026-11 第 {task.position} 项「学习党章第四章」：改了标题、截止日期、必学/选学、对象")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"due": "2026-02-30"}, "截止日期「2026-02-30」格式不对"),
    ({"due": "下周五"}, "格式不对"),
    ({"due": ""}, "格式不对"),
    ({"due": "2026-10-31"}, "早于任务所在的"),
    ({"title": "   "}, "标题不能为空"),
    ({"title": "长" * 101}, "太长"),
    ({"link": "javascript:alert(1)"}, "不是有效的网址"),
    ({"kind": "party"}, "任务类型"),
    ({"audience": "branch:不存在的支部"}, "请从列表中选择"),
])
def test_bad_task_input_is_refused_and_nothing_is_written(services, admin, fields,
                                                          reason) -> None:
    response = admin.post(f"/admin/tasks/new?month={MONTH}", data=form(admin, **fields))
    assert response.status_code == 400
    page = text(response)
    assert reason in page
    assert 'id="task-form"' in page  # the form comes back with what was typed
    if fields.get("title", "").strip():
        assert fields["title"] in page
    assert admin_tasks(services) == []
    assert not [a for _, a, _ in audit_rows(services) if a.startswith("task.")]


def test_bad_edit_keeps_the_task_unchanged(services, admin) -> None:
    admin.post(f"/admin/tasks/new?month={MONTH}", data=form(admin))
    (task,) = admin_tasks(services)
    response = admin.post(f"/admin/tasks/{task.id}/edit", data=form(admin, due="2026-11-31"))
    assert response.status_code == 400 and "格式不对" in text(response)
    assert admin_tasks(services) == [task]


def test_file_tasks_are_edited_in_their_file(services, admin) -> None:
    task = next(t for t in store_tasks.month_tasks(services.store.db, MONTH)
                if t.origin == "file")
    page = text(admin.get(f"/admin/tasks/{task.id}/edit"))
    assert "来自内容文件" in page and 'id="task-form"' not in page
    response = admin.post(f"/admin/tasks/{task.id}/edit", data=form(admin, title="改掉"))
    assert response.status_code == 400 and "来自内容文件" in text(response)
    assert store_tasks.get_task(services.store.db, task.id).title == task.title


def test_unknown_task_is_404(admin) -> None:
    assert admin.get("/admin/tasks/99999/edit").status_code == 404
    response = admin.post("/admin/tasks/99999/remove",
                          data={"csrf_token": token(admin, "/admin/tasks")})
    assert response.status_code == 404


# -- a branch secretary ----------------------------------------------------------------------------

def test_secretary_sees_only_their_branch(services, secretary) -> None:
    db = services.store.db
    on_the_roster_since_october(db)
    with services.store.transaction() as tx:
        other = store_tasks.add_task(tx, month=MONTH, title="二支部专项学习", due="2026-11-27",
                                     now=services.clock.now(),
                                     audience={"branches": ["第二党支部"]})
    page = text(secretary.get("/admin/tasks", query_string={"month": MONTH}))
    assert "二支部专项学习" not in page
    assert re.findall(r"<tr><td>(第.党支部)</td>", page) == ["第一党支部"]
    for task in store_tasks.month_tasks(db, MONTH):
        if task.audience.get("all"):
            row = re.search(rf"{re.escape(task.title)}</strong>.*?<td>(\d+) / (\d+)", page,
                            re.S)
            assert row and int(row.group(2)) == 4  # counted over their branch only
    # and cannot reach the other branch's task through the raw routes
    assert secretary.get(f"/admin/tasks/{other.id}/edit").status_code == 403
    response = secretary.post(f"/admin/tasks/{other.id}/edit",
                              data=form(secretary, title="改掉", audience="branch:第一党支部"))
    assert response.status_code == 403
    response = secretary.post(f"/admin/tasks/{other.id}/remove",
                              data={"csrf_token": token(secretary, "/admin/tasks")})
    assert response.status_code == 403
    unchanged = store_tasks.get_task(db, other.id)
    assert unchanged.title == "二支部专项学习" and not unchanged.removed
    assert [a for _, a, _ in audit_rows(services)].count("denied") == 3


def test_secretary_creates_for_their_branch_only(services, secretary) -> None:
    page = text(secretary.get(f"/admin/tasks/new?month={MONTH}"))
    assert 'value="all"' not in page and "branch:第二党支部" not in page
    for audience in ("all", "branch:第二党支部", "group:业务一处党小组"):
        refused = secretary.post(f"/admin/tasks/new?month={MONTH}",
                                 data=form(secretary, audience=audience))
        assert refused.status_code == 400
    assert admin_tasks(services) == []
    ok = secretary.post(f"/admin/tasks/new?month={MONTH}",
                        data=form(secretary, audience="group:综合处党小组"))
    assert ok.status_code == 302
    (task,) = admin_tasks(services)
    assert task.audience == {"groups": ["第一党支部/综合处党小组"]}
    edit = secretary.post(f"/admin/tasks/{task.id}/edit",
                          data=form(secretary, audience="branch:第一党支部", title="改后"))
    assert edit.status_code == 302
    assert admin_tasks(services)[0].audience == {"branches": ["第一党支部"]}


def test_secretary_cannot_edit_a_task_for_everyone(services, secretary) -> None:
    with services.store.transaction() as tx:
        everyone = store_tasks.add_task(tx, month=MONTH, title="全体学习", due="2026-11-27",
                                        now=services.clock.now())
    page = text(secretary.get("/admin/tasks", query_string={"month": MONTH}))
    assert "全体学习" in page
    assert f"/admin/tasks/{everyone.id}/edit" not in page
    assert secretary.get(f"/admin/tasks/{everyone.id}/edit").status_code == 403
