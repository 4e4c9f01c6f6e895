"""bot.store.tasks and bot.tasks: tasks, numbering, completions, the content sync and imports,
on a real SQLite file with the demo roster (bot.seed.DEMO_ROSTER) and the real content/."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import report as reports
from bot.library import ContentError, TaskSpec, load_library
from bot.library_sync import sync_library
from bot.services import Services
from bot.store import members
from bot.store import tasks as store_tasks
from bot.store.tasks import TaskError
from bot.tasks import TaskSyncReport, import_month, sync_tasks
from tests.paths import CONTENT

# Demo roster: 1 王建国 (第一党支部, 综合处党小组), 5 陈静 (第二党支部, 业务一处党小组).
WANG, CHEN = 1, 5


def spec(slug: str, month: str = "2027-03", **fields) -> TaskSpec:
    values = dict(id=slug, month=month, title=f"任务 {slug}", detail="读一读", link=None,
                  readings=(), due=date(int(month[:4]), int(month[5:]), 20), required=True,
                  kind="study", audience={"all": True})
    values.update(fields)
    return TaskSpec(**values)


def member(services: Services, member_id: int) -> members.Member:
    found = members.get_member(services.store.db, member_id)
    assert found is not None
    return found


def rows(services: Services) -> list[dict]:
    return list(services.store.db.query(
        "SELECT slug, month, position, title, removed, origin FROM tasks ORDER BY month, position"))


def sync(services: Services, *specs: TaskSpec):
    with services.store.transaction() as db:
        return sync_tasks(db, tuple(specs), services.clock.now())


def add(services: Services, **fields) -> store_tasks.Task:
    values = dict(month="2027-03", title="学习党章", due="2027-03-20")
    values.update(fields)
    with services.store.transaction() as db:
        return store_tasks.add_task(db, now=services.clock.now(), **values)


# --- the content files reach the store --------------------------------------------------------


def test_init_loads_every_content_task_numbered_in_file_order(services):
    library = load_library(CONTENT)
    november = [t for t in library.tasks if t.month == "2026-11"]
    stored = store_tasks.month_tasks(services.store.db, "2026-11")
    assert [t.slug for t in stored] == [t.id for t in november]
    assert [t.position for t in stored] == list(range(1, len(november) + 1))
    first = stored[0]
    assert first.origin == "file" and first.required and first.kind == "study"
    assert first.readings == november[0].readings and first.due == november[0].due
    branch_only = stored[-1]
    assert branch_only.audience == {"branches": ["第一党支部"]} and not branch_only.required


def test_sync_library_twice_changes_nothing(services):
    before = list(services.store.db.query("SELECT * FROM tasks ORDER BY id"))
    assert before
    sync_library(services.store, load_library(CONTENT), services.clock.now() + timedelta(days=1))
    assert list(services.store.db.query("SELECT * FROM tasks ORDER BY id")) == before


def test_sync_reports_added_updated_and_removed(make_services):
    services = make_services()
    a, b, c = spec("a"), spec("b"), spec("c")
    content_tasks = len(load_library(CONTENT).tasks)
    # The first sync also drops the 10 tasks init loaded from content/ (not in this list).
    assert sync(services, a, b, c) == TaskSyncReport(3, 0, content_tasks)
    assert sync(services, a, b, c) == TaskSyncReport(0, 0, 0)
    edited = replace(b, title="改过的标题", due=date(2027, 3, 28), audience={"groups": ["财务处党小组"]})
    assert sync(services, a, edited) == TaskSyncReport(0, 1, 1)
    stored = {t.slug: t for t in store_tasks.month_tasks(services.store.db, "2027-03",
                                                         include_removed=True)}
    assert stored["b"].title == "改过的标题" and stored["b"].position == 2
    assert stored["b"].due == date(2027, 3, 28)
    assert stored["b"].audience == {"groups": ["第一党支部/财务处党小组"]}  # with its branch
    assert stored["c"].removed and stored["c"].position == 3


def test_a_removed_task_that_comes_back_keeps_its_number(make_services):
    services = make_services()
    sync(services, spec("a"), spec("b"), spec("c"))
    sync(services, spec("a"), spec("c"))
    sync(services, spec("a"), spec("c"), spec("d"))      # d is new: number 4, not 2
    sync(services, spec("a"), spec("b"), spec("c"), spec("d"))  # b is back as number 2
    march = [(t.slug, t.position) for t in store_tasks.month_tasks(services.store.db, "2027-03")]
    assert march == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


def test_a_task_inserted_mid_file_takes_the_next_number(make_services):
    services = make_services()
    sync(services, spec("a"), spec("b"))
    sync(services, spec("a"), spec("new"), spec("b"))
    march = [(t.slug, t.position) for t in store_tasks.month_tasks(services.store.db, "2027-03")]
    assert march == [("a", 1), ("b", 2), ("new", 3)]


def test_a_task_moved_to_another_month_is_numbered_there(make_services):
    services = make_services()
    sync(services, spec("a"), spec("b"), spec("x", month="2027-04"))
    sync(services, spec("a"), spec("b", month="2027-04", due=date(2027, 4, 9)),
         spec("x", month="2027-04"))
    april = [(t.slug, t.position) for t in store_tasks.month_tasks(services.store.db, "2027-04")]
    assert april == [("x", 1), ("b", 2)]
    assert [t.slug for t in store_tasks.month_tasks(services.store.db, "2027-03")] == ["a"]


def test_sync_keeps_admin_tasks_and_completions(make_services):
    services = make_services()
    sync(services, spec("a"))
    mine = add(services)
    task_a = store_tasks.by_slug(services.store.db, "a")
    with services.store.transaction() as db:
        store_tasks.mark_done(db, task_a, WANG, at=services.clock.now(), day=date(2026, 11, 23),
                              via="sandbox")
    sync(services)  # every file task gone
    db = services.store.db
    assert store_tasks.get_task(db, mine.id).removed is False
    assert store_tasks.by_slug(db, "a").removed is True
    assert db.execute("SELECT count(*) FROM task_done").fetchone()[0] == 1


# --- admin tasks ----------------------------------------------------------------------------


def test_add_numbers_after_the_months_file_tasks(services):
    task = add(services, month="2026-11", due="2026-11-30", link="https://www.12371.cn/",
               readings=["jlcf-2023-058"], required=False, kind="主题党日",
               audience={"branches": ["第二党支部"]})
    assert task.position == 6 and task.origin == "admin" and task.slug == "2026-11-admin-6"
    assert task.readings == ("jlcf-2023-058",) and not task.required and task.kind == "主题党日"
    assert store_tasks.month_tasks(services.store.db, "2026-11")[-1] == task


@pytest.mark.parametrize("fields, message", [
    ({"title": "  "}, "标题不能为空"),
    ({"title": "长" * 101}, "太长"),
    ({"month": "2027-13"}, "格式不对"),
    ({"month": "三月"}, "格式不对"),
    ({"due": "2027-02-28"}, "早于"),
    ({"due": "3月20日"}, "格式不对"),
    ({"link": "www.12371.cn"}, "不是有效的网址"),
    ({"link": "javascript:alert(1)"}, "不是有效的网址"),
    ({"readings": ["no-such-reading"]}, "no-such-reading"),
    ({"kind": "party"}, "任务类型"),
    ({"audience": {}}, "面向谁"),
    ({"audience": {"everyone": True}}, "面向谁"),
    ({"origin": "web"}, "来源"),
    ({"slug": "有 空格"}, "任务编号"),
    ({"slug": "2026-11-study-ch6"}, "已经有"),
])
def test_add_refuses_bad_fields_and_writes_nothing(services, fields, message):
    before = rows(services)
    with pytest.raises(TaskError, match=message):
        add(services, **fields)
    assert rows(services) == before


def test_edit_changes_fields_but_not_the_number(services):
    task = add(services)
    with services.store.transaction() as db:
        edited = store_tasks.edit_task(db, task.id, now=services.clock.now(), title="学习新党章",
                                       due=date(2027, 3, 31), required=False,
                                       audience={"members": [WANG]}, readings=[])
    assert (edited.title, edited.due, edited.required) == ("学习新党章", date(2027, 3, 31), False)
    assert edited.position == task.position and edited.month == task.month
    assert edited.includes(member(services, WANG)) and not edited.includes(member(services, CHEN))


def test_edit_refuses_bad_input_and_file_tasks(services):
    task = add(services)
    file_task = store_tasks.by_position(services.store.db, "2026-11", 1)
    for task_id, changes, message in (
        (task.id, {"due": "2027-02-01"}, "早于"),
        (task.id, {"month": "2027-04"}, "没有「month」"),
        (task.id, {}, "没有要修改"),
        (file_task.id, {"title": "改"}, "content/tasks/2026-11.toml"),
        (99999, {"title": "改"}, "没有这项任务"),
    ):
        before = rows(services)
        with pytest.raises(TaskError, match=message), services.store.transaction() as db:
            store_tasks.edit_task(db, task_id, now=services.clock.now(), **changes)
        assert rows(services) == before


def test_remove_is_soft_and_the_number_is_not_reused(services):
    first = add(services)
    with services.store.transaction() as db:
        store_tasks.remove_task(db, first.id, now=services.clock.now())
    second = add(services, title="第二个")
    db = services.store.db
    assert second.position == first.position + 1
    assert store_tasks.month_tasks(db, "2027-03") == [second]
    assert store_tasks.get_task(db, first.id).removed
    with pytest.raises(TaskError, match="已经删除"), services.store.transaction() as tx:
        store_tasks.remove_task(tx, first.id, now=services.clock.now())


# --- completions ----------------------------------------------------------------------------


def test_mark_done_is_idempotent(services):
    task = store_tasks.by_position(services.store.db, "2026-11", 2)
    now = services.clock.now()
    with services.store.transaction() as db:
        first = store_tasks.mark_done(db, task, WANG, at=now, day=now.date(), via="sandbox")
    with services.store.transaction() as db:
        again = store_tasks.mark_done(db, task, WANG, at=now + timedelta(days=1),
                                      day=now.date() + timedelta(days=1), via="wecom")
    assert first == store_tasks.DoneResult(True, now.date())
    assert again == store_tasks.DoneResult(False, now.date())
    stored = list(services.store.db.query("SELECT day, at, via FROM task_done"))
    assert stored == [{"day": "2026-11-23", "at": now.isoformat(), "via": "sandbox"}]


def test_undo_only_on_the_day_it_was_marked(services):
    task = store_tasks.by_position(services.store.db, "2026-11", 2)
    now = services.clock.now()
    with services.store.transaction() as db:
        assert store_tasks.undo_done(db, task, WANG, today=now.date()).status == "not_done"
        store_tasks.mark_done(db, task, WANG, at=now, day=now.date(), via="sandbox")
        late = store_tasks.undo_done(db, task, WANG, today=now.date() + timedelta(days=1))
        assert late == store_tasks.UndoResult("too_late", now.date())
        assert store_tasks.member_task(db, "2026-11", 2, member(services, WANG)).done
        assert store_tasks.undo_done(db, task, WANG, today=now.date()).status == "undone"
        assert not store_tasks.member_task(db, "2026-11", 2, member(services, WANG)).done


def test_member_tasks_follow_the_audience(services):
    db = services.store.db
    wang = [m.task.position for m in store_tasks.member_tasks(db, "2026-11", member(services, WANG))]
    chen = [m.task.position for m in store_tasks.member_tasks(db, "2026-11", member(services, CHEN))]
    assert wang == [1, 2, 3, 4, 5]      # 5 is 第一党支部's
    assert chen == [1, 2, 3, 4]
    assert store_tasks.member_task(db, "2026-11", 5, member(services, CHEN)) is None
    assert store_tasks.member_task(db, "2026-11", 5, member(services, WANG)) is not None
    assert store_tasks.member_task(db, "2026-11", 99, member(services, WANG)) is None


def test_completions_count_the_active_audience_on_the_roster_by_the_due_date(services):
    """bot.report.task_counts (学习任务 and `tasks list`): the active members a task is
    expected of, by the report's 应学 rule."""
    db = services.store.db
    db.execute("UPDATE members SET created_at = '2026-10-01T09:00:00+08:00'")
    db.execute("UPDATE members SET created_at = '2026-11-21T09:00:00+08:00' WHERE id = 3")
    db.conn.commit()
    now = services.clock.now()
    branch_task = store_tasks.by_position(db, "2026-11", 5)
    everyone_task = store_tasks.by_position(db, "2026-11", 1)
    with services.store.transaction() as tx:
        for member_id in (WANG, 2, CHEN):
            for task in (branch_task, everyone_task):
                store_tasks.mark_done(tx, task, member_id, at=now, day=now.date(), via="sandbox")
        members.deactivate(tx, 2)
    tasks = store_tasks.month_tasks(db, "2026-11")
    by_id = reports.task_counts(db, tasks, reports.load_people(db, active_only=True))
    counts = {t.position: by_id[t.id] for t in tasks}
    # Chen is outside task 5's audience; member 2 left: neither counts there. Member 3 joined
    # on 11-21, after task 1 was due (11-20): not expected to do it.
    assert counts == {1: (2, 6), 2: (0, 7), 3: (0, 7), 4: (0, 7), 5: (1, 3)}


def test_readings_of_names_source_and_article(services):
    found = store_tasks.readings_of(services.store.db, ["jlcf-2023-061", "nope", "jlcf-2023-058"])
    assert [(r.slug, r.short, r.article_no) for r in found] == [
        ("jlcf-2023-061", "纪律处分条例", "第六十一条"), ("jlcf-2023-058", "纪律处分条例", "第五十八条")]


# --- tasks import ---------------------------------------------------------------------------

MONTH_FILE = """\
month = "2027-01"

[[task]]
id = "2027-01-a"
title = "学习《廉洁自律准则》"
detail = "通读全文。"
readings = ["jlcf-2023-058"]
due = 2027-01-20
required = true
kind = "study"
audience = "all"

[[task]]
id = "2027-01-b"
title = "1月主题党日"
detail = "重温入党誓词。"
due = "2027-01-25"
required = false
kind = "主题党日"
audience = {groups = ["财务处党小组"]}
"""


def write(tmp_path: Path, text: str, name: str = "2027-01.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_month_adds_then_updates_then_changes_nothing(services, tmp_path):
    path = write(tmp_path, MONTH_FILE)
    now = services.clock.now()
    first = import_month(services.store, path, actor="cli", now=now)
    assert (first.month, first.added, first.updated, first.unchanged) == ("2027-01", 2, 0, 0)
    again = import_month(services.store, path, actor="cli", now=now)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    write(tmp_path, MONTH_FILE.replace("重温入党誓词。", "重温入党誓词，谈体会。"))
    edited = import_month(services.store, path, actor="cli", now=now)
    assert (edited.added, edited.updated, edited.unchanged) == (0, 1, 1)
    stored = store_tasks.month_tasks(services.store.db, "2027-01")
    assert [(t.position, t.origin, t.detail) for t in stored] == [
        (1, "admin", "通读全文。"), (2, "admin", "重温入党誓词，谈体会。")]
    audits = services.store.db.execute(
        "SELECT count(*) FROM audit WHERE action = 'tasks import'").fetchone()[0]
    assert audits == 2  # the unchanged re-import is not an event
    # A later init keeps the imported month (it is not in content/).
    sync_library(services.store, load_library(CONTENT), now)
    assert store_tasks.month_tasks(services.store.db, "2027-01") == stored


@pytest.mark.parametrize("change, error, message", [
    (("due = 2027-01-20", "due = 2026-12-20"), ContentError, "before the task's month"),
    (('kind = "主题党日"', 'kind = "party"'), ContentError, "kind"),
    (('month = "2027-01"', 'month = "2027-02"'), ContentError, "file name"),
    (("audience = \"all\"", "audience = \"everyone\""), ContentError, "audience"),
    (('readings = ["jlcf-2023-058"]', 'readings = ["jlcf-2099-001"]'), TaskError, "jlcf-2099-001"),
    (('id = "2027-01-b"', 'id = "2026-11-study-ch6"'), TaskError, "content/tasks/2026-11.toml"),
    (("[[task]]", "[[tsak]]"), ContentError, "tsak"),
    (('title = "1月主题党日"', 'title = "1月主题党日'), ContentError, "line"),
])
def test_a_bad_month_file_imports_nothing(services, tmp_path, change, error, message):
    path = write(tmp_path, MONTH_FILE.replace(*change))
    before = rows(services)
    with pytest.raises(error, match=message):
        import_month(services.store, path, actor="cli", now=services.clock.now())
    assert rows(services) == before


def test_audience_is_stored_as_json(services):
    task = add(services, audience={"roles": ["secretary"], "branches": ["第一党支部"]})
    raw = services.store.db.execute("SELECT audience FROM tasks WHERE id = ?",
                                    [task.id]).fetchone()[0]
    assert json.loads(raw) == {"branches": ["第一党支部"], "roles": ["secretary"]}
