"""学习任务: the month's tasks, creating and editing them, completion by branch and group.

Writes go through bot.store.tasks (add_task / edit_task / remove_task), which checks every
field and answers a TaskError in Chinese. A branch secretary sees the tasks that reach anyone in
their branch, with counts for their branch only, and creates or changes only tasks addressed to
their branch or to groups inside it; a task for everyone is the admin's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import audience as audiences
from bot import report as reports
from bot.audit_text import task_facts
from bot.console import charts
from bot.console.base import branch_scope, db, record, require_branch, route, services
from bot.library import TASK_KINDS
from bot.store import members as store_members
from bot.store import tasks as store_tasks

KIND_NAMES = {"study": "学习", "主题党日": "主题党日", "三会一课": "三会一课", "other": "其他"}


# --- the month's tasks ---------------------------------------------------------------------

@route("/tasks")
def tasks() -> ResponseReturnValue:
    scope = branch_scope()
    month = request.args.get("month", "") or _this_month()
    try:
        month = store_tasks.check_month(month)
    except store_tasks.TaskError as exc:
        return _month_error(str(exc))
    # The roster is read once for all the month's tasks (not once per task: 5,000 members),
    # with each member's join date: who a task is expected of is the report's rule.
    people = reports.load_people(db(), active_only=True, branch=scope)
    visible = _visible(store_tasks.month_tasks(db(), month), scope)
    counts = reports.task_counts(db(), visible, people)  # one query for the completions
    rows = [_task_row(task, scope, counts[task.id]) for task in visible]
    report = (reports.month_report(db(), month, branch=scope, today=services().clock.today())
              if _has_roster(scope) else None)
    branch_rows = _branch_rows(report) if report else []
    group_rows = _group_rows(report) if report else []
    bars = charts.bar_chart([(r["name"], r["percent"]) for r in branch_rows],
                            title=f"{month} 各支部学习任务完成率", chart_id="task-branches")
    group_bars = charts.bar_chart([(f"{r['branch']} · {r['name']}", r["percent"])
                                   for r in group_rows],
                                  title=f"{month} 各党小组学习任务完成率", chart_id="task-groups")
    return render_template("console/tasks.html", month=month, rows=rows,
                           months=_months(month), branch_rows=branch_rows,
                           group_rows=group_rows, bars=bars, group_bars=group_bars,
                           scope=scope,
                           legend=reports.legend("rate", "task_rate", "required"))


def _this_month() -> str:
    today = services().clock.today()
    return f"{today.year}-{today.month:02d}"


def _month_error(message: str) -> ResponseReturnValue:
    return render_template("console/error.html", title="月份不对", text=message, code=400), 400


def _months(current: str) -> list[str]:
    return sorted({*store_tasks.months(db()), _this_month(), current}, reverse=True)


def _has_roster(scope: str | None) -> bool:
    sql = "SELECT 1 FROM members" + (" WHERE branch = ?" if scope else "") + " LIMIT 1"
    return db().execute(sql, [scope] if scope else []).fetchone() is not None


def _branch_members(scope: str) -> list[store_members.Member]:
    return store_members.list_members(db(), branch=scope)


def _visible(tasks: list[store_tasks.Task], scope: str | None) -> list[store_tasks.Task]:
    """An admin sees every task; a secretary the ones that reach their branch."""
    if scope is None:
        return tasks
    members = _branch_members(scope)
    return [t for t in tasks if _owned(t.audience, scope)
            or any(t.includes(m) for m in members)]


def _task_row(task: store_tasks.Task, scope: str | None,
              counts: tuple[int, int]) -> dict[str, Any]:
    """`counts`: (done, expected) over the active members in the viewer's scope the task is
    expected of (reports.task_counts: 报表's 应学 rule, so a member who joined after its due
    date is not counted)."""
    done, reach = counts
    return {"task": task, "kind": KIND_NAMES.get(task.kind, task.kind),
            "audience": audiences.describe(task.audience), "done": done, "reach": reach,
            "percent": round(100 * done / reach) if reach else None,
            "editable": task.origin == "admin" and (scope is None or _owned(task.audience, scope))}


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _branch_rows(report: reports.MonthReport) -> list[dict[str, Any]]:
    return [{"name": b.branch, "members": b.total.members, "with_tasks": b.total.with_tasks,
             "complete": b.total.complete, "percent": _percent(b.total.rate),
             "task_percent": _percent(b.total.task_rate)} for b in report.branches]


def _group_rows(report: reports.MonthReport) -> list[dict[str, Any]]:
    return [{"branch": b.branch, "name": grp or "（未分组）", "members": t.members,
             "with_tasks": t.with_tasks, "complete": t.complete, "percent": _percent(t.rate),
             "task_percent": _percent(t.task_rate), "not_done": t.not_done}
            for b in report.branches for grp, t in b.groups.items()]


# --- who may change what ----------------------------------------------------------------------

def _owned(audience: dict[str, Any], branch: str) -> bool:
    """A task addressed only to this branch, or only to groups of it written with the branch
    ("第一党支部/第一党小组": a bare name may be another branch's group too)."""
    return audiences.branch_of(audience) == branch


def _audience_choices(scope: str | None) -> list[tuple[str, str]]:
    """(value, label) for the audience select: everyone, a branch, a group
    ("group:第一党支部/第一党小组", shown 「第一党支部 · 第一党小组」)."""
    people = store_members.list_members(db(), active_only=True)
    branches = sorted({m.branch for m in people if scope is None or m.branch == scope})
    groups = [audiences.group_ref(b, g) for b, g in store_members.list_groups(db(), branch=scope)]
    choices = [] if scope else [("all", "全体党员")]
    choices += [(f"branch:{b}", b) for b in branches]
    choices += [(f"group:{ref}", audiences.group_label(ref)) for ref in groups]
    return choices


def _audience_value(audience: dict[str, Any]) -> str:
    if audience.get("all"):
        return "all"
    if set(audience) == {"branches"} and len(audience["branches"]) == 1:
        return f"branch:{audience['branches'][0]}"
    if set(audience) == {"groups"} and len(audience["groups"]) == 1:
        return f"group:{audience['groups'][0]}"
    return ""  # a mixed audience from a file or the CLI: kept unless the editor picks one


def _parse_audience(value: str, scope: str | None) -> dict[str, Any]:
    value = _qualified(value, scope)
    if value not in {v for v, _ in _audience_choices(scope)}:
        raise store_tasks.TaskError("请从列表中选择任务面向的对象。")
    if value == "all":
        return {"all": True}
    kind, _, name = value.partition(":")
    return {"branches": [name]} if kind == "branch" else {"groups": [name]}


def _qualified(value: str, scope: str | None) -> str:
    """"group:第一党小组" (a form from before groups had their branch) as
    "group:第一党支部/第一党小组": for a secretary the group of that name in their branch;
    for an admin the one group of that name, or refused naming the candidates."""
    kind, _, name = value.partition(":")
    if kind != "group" or audiences.GROUP_SEPARATOR in name:
        return value
    try:
        return f"group:{audiences.resolve_group(db(), name, within=scope)}"
    except audiences.AudienceError as exc:
        raise store_tasks.TaskError(f"{exc}。") from None


# --- create and edit --------------------------------------------------------------------------

def _form_fields(scope: str | None, *, keep_audience: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    form = request.form
    fields: dict[str, Any] = {
        "title": form.get("title", ""), "detail": form.get("detail", ""),
        "link": form.get("link", ""), "due": form.get("due", ""),
        "kind": form.get("kind", "study"), "required": form.get("required") == "1"}
    choice = form.get("audience", "")
    if keep_audience is not None and choice == "":
        fields["audience"] = keep_audience
    else:
        fields["audience"] = _parse_audience(choice, scope)
    return fields


def _render_form(*, task: store_tasks.Task | None, values: dict[str, Any], month: str,
                 error: str | None, status: int = 200) -> ResponseReturnValue:
    return render_template("console/task_form.html", task=task, values=values, month=month,
                           error=error, kinds=[(k, KIND_NAMES.get(k, k)) for k in TASK_KINDS],
                           choices=_audience_choices(branch_scope())), status


@route("/tasks/new", methods=("GET", "POST"))
def tasks_new() -> ResponseReturnValue:
    scope = branch_scope()
    month = request.values.get("month", "") or _this_month()
    try:
        month = store_tasks.check_month(month)
    except store_tasks.TaskError as exc:
        return _month_error(str(exc))
    if request.method == "GET":
        values = {"title": "", "detail": "", "link": "", "due": _month_end(month),
                  "kind": "study", "required": True,
                  "audience": f"branch:{scope}" if scope else "all"}
        return _render_form(task=None, values=values, month=month, error=None)
    try:
        fields = _form_fields(scope)
        with services().store.transaction() as tx:
            task = store_tasks.add_task(tx, month=month, now=services().clock.now(),
                                        origin="admin", **fields)
            record("task.add", task_facts(task))
    except store_tasks.TaskError as exc:
        return _render_form(task=None, values=dict(request.form), month=month,
                            error=str(exc), status=400)
    flash(f"已添加 {month} 第 {task.position} 项任务「{task.title}」。", "ok")
    return redirect(url_for("console.tasks", month=month))


def _month_end(month: str) -> str:
    start = store_tasks.month_start(month)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1).isoformat()


def _editable_task(task_id: int) -> store_tasks.Task:
    task = store_tasks.get_task(db(), task_id)
    if task is None or task.removed:
        abort(404)
    scope = branch_scope()
    if scope is not None and not _owned(task.audience, scope):
        require_branch(None, f"任务 {task.id}「{task.title}」")  # audited 403
    return task


@route("/tasks/<int:task_id>/edit", methods=("GET", "POST"))
def tasks_edit(task_id: int) -> ResponseReturnValue:
    task = _editable_task(task_id)
    if request.method == "GET":
        values = {"title": task.title, "detail": task.detail, "link": task.link,
                  "due": task.due.isoformat(), "kind": task.kind, "required": task.required,
                  "audience": _audience_value(task.audience)}
        error = None if task.origin == "admin" else (
            f"这项任务来自内容文件 content/tasks/{task.month}.toml，不能在这里修改："
            "请系统管理员修改该文件后运行 python -m bot init。")
        return _render_form(task=task, values=values, month=task.month, error=error)
    try:
        fields = _form_fields(branch_scope(), keep_audience=task.audience)
        with services().store.transaction() as tx:
            updated = store_tasks.edit_task(tx, task.id, now=services().clock.now(), **fields)
            changed = [n for n in fields if _differs(task, updated, n)]
            record("task.edit", {**task_facts(updated), "fields": changed})
    except store_tasks.TaskError as exc:
        return _render_form(task=task, values=dict(request.form), month=task.month,
                            error=str(exc), status=400)
    flash(f"已保存 {task.month} 第 {task.position} 项任务「{updated.title}」。", "ok")
    return redirect(url_for("console.tasks", month=task.month))


def _differs(old: store_tasks.Task, new: store_tasks.Task, name: str) -> bool:
    return getattr(old, name) != getattr(new, name)


@route("/tasks/<int:task_id>/remove", methods=("POST",))
def tasks_remove(task_id: int) -> ResponseReturnValue:
    task = _editable_task(task_id)
    try:
        with services().store.transaction() as tx:
            store_tasks.remove_task(tx, task.id, now=services().clock.now())
            record("task.remove", task_facts(task))
    except store_tasks.TaskError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.tasks", month=task.month))
    flash(f"已删除 {task.month} 第 {task.position} 项任务「{task.title}」（完成记录保留）。", "ok")
    return redirect(url_for("console.tasks", month=task.month))
