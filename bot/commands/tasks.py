"""`python -m bot tasks add|list|edit|remove|import`: the secretary's monthly study tasks.

Bad input is one Chinese line and a non-zero exit, with nothing written: every check runs
before the transaction commits (bot.store.tasks raises TaskError inside it, which rolls back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot import audience as audiences
from bot import report as reports
from bot.audit_text import task_facts
from bot.cli import Ctx, pass_ctx
from bot.cli_help import ROLE_CHOICES_HELP, choices_help
from bot.library import TASK_KINDS, ContentError
from bot.store import audit, members
from bot.store import tasks as store_tasks
from bot.store.tasks import Task, TaskError
from bot.tasks import import_month

ROLE_CHOICES = tuple(members.ROLES)


@click.group("tasks")
def group() -> None:
    """每月的学习任务。"""


def _this_month(ctx: Ctx) -> str:
    today = ctx.services.clock.today()
    return f"{today.year:04d}-{today.month:02d}"


def _month(ctx: Ctx, month: str | None) -> str:
    try:
        return store_tasks.check_month(month) if month else _this_month(ctx)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from None


def _audience_options(command: Any) -> Any:
    for option in reversed((
        click.option("--all", "to_all", is_flag=True, help="面向全体党员（add 的默认）。"),
        click.option("--branch", multiple=True, help="面向某个支部；可重复。"),
        click.option("--group", "groups", multiple=True,
                     help="面向某个党小组，写作 支部/党小组（只有一个支部有这个名字时可只写组名）；"
                          "可重复。"),
        click.option("--member", "member_ids", multiple=True, type=int,
                     help="面向某位党员（编号）；可重复。"),
        click.option("--role", multiple=True, type=click.Choice(ROLE_CHOICES),
                     help="面向某个角色（" + ROLE_CHOICES_HELP + "）；可重复。"),
    )):
        command = option(command)
    return command


def _audience(ctx: Ctx, to_all: bool, branch: tuple[str, ...], groups: tuple[str, ...],
              member_ids: tuple[int, ...], role: tuple[str, ...]) -> dict | None:
    """The audience given on the command line (None if none was), checked against the roster:
    a misspelt branch would make the task silently reach nobody."""
    chosen: dict[str, Any] = {"all": True} if to_all else {}
    for key, values in (("branches", branch), ("groups", groups), ("members", member_ids),
                        ("roles", role)):
        if values:
            chosen[key] = list(dict.fromkeys(values))
    if not chosen:
        return None
    db = ctx.services.store.db
    try:
        # "支部/党小组", or a name only one branch's group has (else the candidates are named).
        chosen = audiences.resolve(db, chosen)
    except audiences.AudienceError as exc:
        raise click.ClickException(f"{exc}。") from None
    roster = members.list_members(db)
    for key, attr, label in (("branches", "branch", "支部"), ("members", "id", "党员编号")):
        known = {getattr(m, attr) for m in roster}
        unknown = [str(v) for v in chosen.get(key, ()) if v not in known]
        if unknown:
            names = "、".join(str(k) for k in sorted(known, key=str)) or "（名册为空）"
            raise click.ClickException(f"名册里没有{label}「{'、'.join(unknown)}」。现有：{names}")
    return chosen


def _find(ctx: Ctx, ref: str, month: str | None) -> Task:
    """A task by its number in the month (default: this month) or by its slug."""
    db = ctx.services.store.db
    task = None
    if ref.strip().isdigit():
        task = store_tasks.by_position(db, _month(ctx, month), int(ref))
    if task is None:
        task = store_tasks.by_slug(db, ref.strip())
    if task is None:
        where = _month(ctx, month)
        raise click.ClickException(f"{where} 没有第 {ref} 项任务（也没有这个编号的任务）。"
                                   "用 tasks list 查看。")
    return task


@group.command("list")
@click.option("--month", help="月份，写作 YYYY-MM（默认本月）。")
@click.option("--removed", is_flag=True, help="同时显示已删除的任务。")
@pass_ctx
def list_tasks(ctx: Ctx, month: str | None, removed: bool) -> None:
    """列出某月的学习任务：序号、标题、截止日期、必学或选学、对象、完成情况。"""
    month = _month(ctx, month)
    db = ctx.services.store.db
    tasks = store_tasks.month_tasks(db, month, include_removed=removed)
    if not tasks:
        click.echo(f"{month} 没有学习任务。用 tasks add 或 tasks import 添加。")
        return
    # Done / expected as on 学习任务: members on the roster by the due date (the report's 应学).
    counts = reports.task_counts(db, tasks, reports.load_people(db, active_only=True))
    click.echo(f"{month} 学习任务（{len(tasks)} 项）：")
    for task in tasks:
        done, expected = counts[task.id]
        rate = "已完成 —" if task.removed else f"已完成 {done}/{expected}"
        if expected and not task.removed:
            rate += f"（{done * 100 // expected}%）"
        notes = ("［已删除］" if task.removed else "") + ("［文件］" if task.origin == "file" else "")
        click.echo(f"{task.position:>3}. {task.title}｜{task.due:%m-%d} 截止｜"
                   f"{'必学' if task.required else '选学'}｜{store_tasks.KIND_NAMES[task.kind]}｜"
                   f"{audiences.describe(task.audience)}｜{rate}{notes}")


def _task_options(command: Any) -> Any:
    for option in reversed((
        click.option("--title", help="党员看到的任务标题。"),
        click.option("--due", help="截止日期，写作 YYYY-MM-DD。"),
        click.option("--detail", help="具体要做什么。"),
        click.option("--link", help="学习材料的公开链接（http 或 https）。"),
        click.option("--reading", "readings", multiple=True,
                     help="条文库中一篇学习内容的编号（如 jlcf-2023-058）；可重复。"),
        click.option("--required/--optional", "required", default=None,
                     help="必学（默认）或选学。"),
        click.option("--kind", type=click.Choice(TASK_KINDS),
                     help="类型（" + choices_help(store_tasks.KIND_NAMES) + "）。"),
    )):
        command = option(command)
    return command


@group.command("add")
@click.option("--month", help="月份，写作 YYYY-MM（默认本月）。")
@click.option("--slug", help="任务的固定编号（默认自动生成）。")
@_task_options
@_audience_options
@pass_ctx
def add(ctx: Ctx, month: str | None, slug: str | None, title: str | None, due: str | None,
        detail: str | None, link: str | None, readings: tuple[str, ...], required: bool | None,
        kind: str | None, to_all: bool, branch: tuple[str, ...], groups: tuple[str, ...],
        member_ids: tuple[int, ...], role: tuple[str, ...]) -> None:
    """添加一项任务，排在该月已有任务之后。"""
    month = _month(ctx, month)
    if not title or not due:
        raise click.ClickException("请用 --title 写任务标题，用 --due 写截止日期（如 2026-12-18）。")
    audience = _audience(ctx, to_all, branch, groups, member_ids, role)
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            task = store_tasks.add_task(
                db, month=month, title=title, due=due, now=now, detail=detail or "",
                link=link or "", readings=readings, required=True if required is None else required,
                kind=kind or "study", audience=audience, slug=slug)
            audit.record(db, actor="cli", action="task add", detail=task_facts(task), at=now)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已添加 {task.month} 第 {task.position} 项：{task.title}"
               f"（{task.due:%m-%d} 截止，{audiences.describe(task.audience)}）")


@group.command("edit")
@click.argument("ref")
@click.option("--month", help="REF 序号所在的月份（默认本月）。")
@click.option("--no-readings", is_flag=True, help="去掉这项任务的全部学习材料。")
@_task_options
@_audience_options
@pass_ctx
def edit(ctx: Ctx, ref: str, month: str | None, no_readings: bool, title: str | None,
         due: str | None, detail: str | None, link: str | None, readings: tuple[str, ...],
         required: bool | None, kind: str | None, to_all: bool, branch: tuple[str, ...],
         groups: tuple[str, ...], member_ids: tuple[int, ...], role: tuple[str, ...]) -> None:
    """修改一项任务（REF：它在 --month 月份中的序号，或任务编号）；序号不变。"""
    task = _find(ctx, ref, month)
    if readings and no_readings:
        raise click.ClickException("--reading 和 --no-readings 只能选一个。")
    changes: dict[str, Any] = {name: value for name, value in (
        ("title", title), ("due", due), ("detail", detail), ("link", link),
        ("required", required), ("kind", kind)) if value is not None}
    if readings or no_readings:
        changes["readings"] = readings
    audience = _audience(ctx, to_all, branch, groups, member_ids, role)
    if audience is not None:
        changes["audience"] = audience
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            updated = store_tasks.edit_task(db, task.id, now=now, **changes)
            audit.record(db, actor="cli", action="task edit",
                         detail={**task_facts(updated), "fields": list(changes)}, at=now)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已修改 {updated.month} 第 {updated.position} 项：{updated.title}"
               f"（{updated.due:%m-%d} 截止，{'必学' if updated.required else '选学'}，"
               f"{audiences.describe(updated.audience)}）")


@group.command("remove")
@click.argument("ref")
@click.option("--month", help="REF 序号所在的月份（默认本月）。")
@pass_ctx
def remove(ctx: Ctx, ref: str, month: str | None) -> None:
    """删除一项任务：党员不再看到它；序号不再使用；完成记录保留。"""
    task = _find(ctx, ref, month)
    services = ctx.services
    now = services.clock.now()
    try:
        with services.store.transaction() as db:
            store_tasks.remove_task(db, task.id, now=now)
            audit.record(db, actor="cli", action="task remove", detail=task_facts(task), at=now)
    except TaskError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已删除 {task.month} 第 {task.position} 项：{task.title}（完成记录保留，序号不再使用）")


@group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
def import_file(ctx: Ctx, file: Path) -> None:
    """从文件导入一整个月的任务。

    文件格式同 content/tasks 中的文件：month = "YYYY-MM" 和若干 [[task]]。
    """
    if not file.is_file():
        raise click.ClickException(f"找不到文件：{file}")
    services = ctx.services
    try:
        report = import_month(services.store, file, actor="cli", now=services.clock.now())
    except ContentError as exc:
        raise click.ClickException(f"文件有误，未导入：{exc}") from None
    except TaskError as exc:
        raise click.ClickException(f"未导入：{exc}") from None
    if not report.added and not report.updated:
        click.echo(f"{report.month} 的 {report.unchanged} 项任务已导入过，内容没有变化。")
    else:
        click.echo(f"已导入 {report.month}：新增 {report.added} 项，更新 {report.updated} 项，"
                   f"未变 {report.unchanged} 项。")
    if report.others:
        click.echo(f"注意：{report.month} 另有 {report.others} 项任务不在此文件中，未作改动"
                   "（需要时用 tasks remove 删除）。")
