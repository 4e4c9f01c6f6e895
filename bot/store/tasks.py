"""Monthly study tasks (学习任务) and members' completions (tables tasks, task_done; migration 4).

A task's `position` is the number members type ("完成 2", "第二项"): given once, in the order
tasks are added to their month, and never reused or shifted, so a removal leaves a gap rather
than renumbering what members already know. Removal is soft: completions stay for the reports.

Tasks come from content/tasks/*.toml (origin 'file', kept in step by bot.tasks.sync_tasks) or
from an admin (origin 'admin': the CLI, `tasks import`, the web console). A file task is edited
in its file: edit_task and remove_task refuse it, since the next sync would undo the change.

Functions take the open `db`; callers that write wrap them in `store.transaction()`.
Errors an admin or member can fix are `TaskError`s whose text is Chinese and ready to show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

import sqlite_utils

from bot import audience as audiences
from bot.library import TASK_KINDS
from bot.store.members import Member

ORIGINS = ("file", "admin")
KIND_NAMES = {"study": "学习", "主题党日": "主题党日", "三会一课": "三会一课", "other": "其他"}
EDITABLE = ("title", "detail", "link", "readings", "due", "required", "kind", "audience")
MAX_TITLE = 100
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class TaskError(ValueError):
    """Bad input or a refused change; str() is one Chinese line for the admin or member."""


@dataclass(frozen=True)
class Task:
    id: int
    slug: str
    month: str
    position: int
    title: str
    detail: str
    link: str
    readings: tuple[str, ...]
    due: date
    required: bool
    kind: str
    audience: dict[str, Any] = field(hash=False)
    origin: str = "admin"
    removed: bool = False

    def includes(self, member: Member) -> bool:
        return audiences.includes(self.audience, member)


@dataclass(frozen=True)
class MemberTask:
    task: Task
    done_day: date | None  # the day the member marked it done, or None

    @property
    def done(self) -> bool:
        return self.done_day is not None


@dataclass(frozen=True)
class DoneResult:
    created: bool  # False: it was already marked, and nothing changed
    day: date      # the day it was (first) marked


@dataclass(frozen=True)
class UndoResult:
    status: str    # "undone" | "not_done" | "too_late"
    day: date | None = None  # for "too_late": the day it was marked


@dataclass(frozen=True)
class TaskReading:
    slug: str
    short: str       # 纪律处分条例
    article_no: str  # 第五十八条
    title: str


_COLUMNS = ("id, slug, month, position, title, detail, link, readings, due, required, kind,"
            " audience, origin, removed")


def _task(row: tuple) -> Task:
    (id_, slug, month, position, title, detail, link, readings, due, required, kind,
     audience, origin, removed) = row
    return Task(id_, slug, month, position, title, detail, link, tuple(json.loads(readings)),
                date.fromisoformat(due), bool(required), kind, json.loads(audience), origin,
                bool(removed))


# --------------------------------------------------------------------------------- checks


def check_month(month: str) -> str:
    found = _MONTH_RE.match(month.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise TaskError(f"月份「{month}」格式不对，应写成 2026-12 这样的年-月。")
    return month.strip()


def month_start(month: str) -> date:
    year, number = check_month(month).split("-")
    return date(int(year), int(number), 1)


def check_fields(db: sqlite_utils.Database, month: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the task fields given; returns them ready to store."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in EDITABLE:
            raise TaskError(f"任务没有「{name}」这一项。")
        out[name] = _CHECKS[name](db, month, value)
    return out


def _check_title(db: sqlite_utils.Database, month: str, value: Any) -> str:
    title = str(value or "").strip()
    if not title:
        raise TaskError("任务标题不能为空。")
    if len(title) > MAX_TITLE:
        raise TaskError(f"任务标题太长（{len(title)} 字），请控制在 {MAX_TITLE} 字以内。")
    return title


def _check_detail(db: sqlite_utils.Database, month: str, value: Any) -> str:
    return str(value or "").strip()


def _check_link(db: sqlite_utils.Database, month: str, value: Any) -> str:
    link = str(value or "").strip()
    parsed = urlparse(link)
    if link and (parsed.scheme not in ("http", "https") or not parsed.netloc or " " in link):
        raise TaskError(f"链接「{link}」不是有效的网址，应以 http:// 或 https:// 开头。")
    return link


def _check_readings(db: sqlite_utils.Database, month: str, value: Any) -> str:
    slugs = [str(s).strip() for s in (value or ()) if str(s).strip()]
    known = {r.slug for r in readings_of(db, slugs)}
    missing = [s for s in slugs if s not in known]
    if missing:
        raise TaskError(f"纪法条文库里没有编号为「{'、'.join(missing)}」的条文。")
    return json.dumps(list(dict.fromkeys(slugs)), ensure_ascii=False)


def _check_due(db: sqlite_utils.Database, month: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise TaskError(f"截止日期「{value}」格式不对，应写成 2026-12-18 这样的日期。") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TaskError("截止日期应写成 2026-12-18 这样的日期。")
    if value < month_start(month):
        raise TaskError(f"截止日期 {value.isoformat()} 早于任务所在的 {month} 月。")
    return value.isoformat()


def _check_required(db: sqlite_utils.Database, month: str, value: Any) -> int:
    if not isinstance(value, bool):
        raise TaskError("「必学」只能是 是 或 否。")
    return int(value)


def _check_kind(db: sqlite_utils.Database, month: str, value: Any) -> str:
    if value not in TASK_KINDS:
        raise TaskError(f"任务类型「{value}」不对，可选：{'、'.join(TASK_KINDS)}。")
    return str(value)


def _check_audience(db: sqlite_utils.Database, month: str, value: Any) -> str:
    try:
        checked = audiences.validate(value if isinstance(value, Mapping) else {})
    except audiences.AudienceError:
        raise TaskError("请说明任务面向谁：全体党员、某个支部、党小组、角色或指定党员。") from None
    try:
        # A group is stored with its branch ("第一党支部/第一党小组"); a bare name several
        # branches share is refused with the candidates. Names nobody is in yet are kept as
        # written: the CLI and the console check them against the roster before.
        checked = audiences.resolve(db, checked, keep_unknown=True)
    except audiences.AudienceError as exc:
        raise TaskError(f"{exc}。") from None
    return json.dumps(checked, ensure_ascii=False, sort_keys=True)


_CHECKS = {"title": _check_title, "detail": _check_detail, "link": _check_link,
           "readings": _check_readings, "due": _check_due, "required": _check_required,
           "kind": _check_kind, "audience": _check_audience}


# --------------------------------------------------------------------------------- reads


def get_task(db: sqlite_utils.Database, task_id: int) -> Task | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE id = ?", [task_id]).fetchone()
    return _task(row) if row else None


def by_slug(db: sqlite_utils.Database, slug: str) -> Task | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE slug = ?", [slug]).fetchone()
    return _task(row) if row else None


def by_position(db: sqlite_utils.Database, month: str, position: int) -> Task | None:
    """The task numbered `position` in `month`, removed or not."""
    row = db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE month = ? AND position = ?",
                     [month, position]).fetchone()
    return _task(row) if row else None


def month_tasks(db: sqlite_utils.Database, month: str, *,
                include_removed: bool = False) -> list[Task]:
    """A month's tasks in their members' numbering."""
    where = "" if include_removed else " AND removed = 0"
    return [_task(row) for row in db.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE month = ?{where} ORDER BY position", [month])]


def months(db: sqlite_utils.Database) -> list[str]:
    """Months with at least one task that is not removed, oldest first."""
    return [row[0] for row in db.execute(
        "SELECT DISTINCT month FROM tasks WHERE removed = 0 ORDER BY month")]


def member_tasks(db: sqlite_utils.Database, month: str, member: Member) -> list[MemberTask]:
    """The month's tasks this member is in the audience of, each with its done day."""
    done = {row[0]: date.fromisoformat(row[1]) for row in db.execute(
        "SELECT d.task_id, d.day FROM task_done d JOIN tasks t ON t.id = d.task_id"
        " WHERE t.month = ? AND d.member_id = ?", [month, member.id])}
    return [MemberTask(task, done.get(task.id))
            for task in month_tasks(db, month) if task.includes(member)]


def member_task(db: sqlite_utils.Database, month: str, position: int,
                member: Member) -> MemberTask | None:
    """Task number `position` of the month as this member sees it; None if it is not theirs."""
    task = by_position(db, month, position)
    if task is None or task.removed or not task.includes(member):
        return None
    row = db.execute("SELECT day FROM task_done WHERE task_id = ? AND member_id = ?",
                     [task.id, member.id]).fetchone()
    return MemberTask(task, date.fromisoformat(row[0]) if row else None)


def readings_of(db: sqlite_utils.Database, slugs: Iterable[str]) -> list[TaskReading]:
    """The readings a task points to, in the task's order (unknown slugs are skipped)."""
    wanted = list(slugs)
    if not wanted:
        return []
    marks = ", ".join("?" for _ in wanted)
    found = {row[0]: TaskReading(*row) for row in db.execute(
        f"SELECT slug, short, article_no, title FROM readings WHERE slug IN ({marks})", wanted)}
    return [found[slug] for slug in wanted if slug in found]


# --------------------------------------------------------------------------------- writes


def next_position(db: sqlite_utils.Database, month: str) -> int:
    row = db.execute("SELECT max(position) FROM tasks WHERE month = ?", [month]).fetchone()
    return (row[0] or 0) + 1


def add_task(db: sqlite_utils.Database, *, month: str, title: str, due: date | str,
             now: datetime, detail: str = "", link: str = "", readings: Iterable[str] = (),
             required: bool = True, kind: str = "study",
             audience: Mapping[str, Any] | None = None, origin: str = "admin",
             slug: str | None = None) -> Task:
    """A new task at the end of its month's numbering."""
    month = check_month(month)
    if origin not in ORIGINS:
        raise TaskError(f"任务来源只能是 {'、'.join(ORIGINS)}。")
    values = check_fields(db, month, {
        "title": title, "detail": detail, "link": link, "readings": tuple(readings),
        "due": due, "required": required, "kind": kind,
        "audience": {"all": True} if audience is None else audience})
    position = next_position(db, month)
    slug = _new_slug(db, month, position) if slug is None else _check_slug(db, slug)
    db.execute(
        "INSERT INTO tasks (slug, month, position, title, detail, link, readings, due, required,"
        " kind, audience, origin, removed, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [slug, month, position, values["title"], values["detail"], values["link"],
         values["readings"], values["due"], values["required"], values["kind"],
         values["audience"], origin, now.isoformat(), now.isoformat()])
    task = by_slug(db, slug)
    assert task is not None
    return task


def _new_slug(db: sqlite_utils.Database, month: str, position: int) -> str:
    slug, n = f"{month}-admin-{position}", 1
    while by_slug(db, slug) is not None:
        n += 1
        slug = f"{month}-admin-{position}-{n}"
    return slug


def _check_slug(db: sqlite_utils.Database, slug: str) -> str:
    slug = slug.strip()
    if not _SLUG_RE.match(slug):
        raise TaskError(f"任务编号「{slug}」只能用字母、数字、点、横线和下划线。")
    if by_slug(db, slug) is not None:
        raise TaskError(f"已经有编号为「{slug}」的任务。")
    return slug


def edit_task(db: sqlite_utils.Database, task_id: int, *, now: datetime,
              **changes: Any) -> Task:
    """Change some of EDITABLE; the number, month and completions stay."""
    task = _changeable(db, task_id)
    if not changes:
        raise TaskError("没有要修改的内容。")
    values = check_fields(db, task.month, changes)
    sets = ", ".join(f"{name} = ?" for name in values)
    db.execute(f"UPDATE tasks SET {sets}, updated_at = ? WHERE id = ?",
               [*values.values(), now.isoformat(), task.id])
    updated = get_task(db, task.id)
    assert updated is not None
    return updated


def remove_task(db: sqlite_utils.Database, task_id: int, *, now: datetime) -> Task:
    """Soft: members no longer see it; its number is not reused; completions stay."""
    task = _changeable(db, task_id)
    db.execute("UPDATE tasks SET removed = 1, updated_at = ? WHERE id = ?",
               [now.isoformat(), task.id])
    return _must(get_task(db, task.id))


def _changeable(db: sqlite_utils.Database, task_id: int) -> Task:
    task = get_task(db, task_id)
    if task is None:
        raise TaskError("没有这项任务。")
    if task.removed:
        raise TaskError(f"{task.month} 第 {task.position} 项「{task.title}」已经删除。")
    if task.origin == "file":
        raise TaskError(f"{task.month} 第 {task.position} 项「{task.title}」来自内容文件"
                        f" content/tasks/{task.month}.toml，请修改该文件后运行 python -m bot init。")
    return task


def _must(task: Task | None) -> Task:
    assert task is not None
    return task


def mark_done(db: sqlite_utils.Database, task: Task, member_id: int, *, at: datetime,
              day: date, via: str) -> DoneResult:
    """Idempotent: a second mark keeps the first day and time."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO task_done (task_id, member_id, day, at, via) VALUES (?, ?, ?, ?, ?)",
        [task.id, member_id, day.isoformat(), at.isoformat(), via])
    row = db.execute("SELECT day FROM task_done WHERE task_id = ? AND member_id = ?",
                     [task.id, member_id]).fetchone()
    return DoneResult(created=cursor.rowcount == 1, day=date.fromisoformat(row[0]))


def undo_done(db: sqlite_utils.Database, task: Task, member_id: int, *, today: date) -> UndoResult:
    """Take a completion back, only on the day it was marked (a later change is the admin's)."""
    row = db.execute("SELECT day FROM task_done WHERE task_id = ? AND member_id = ?",
                     [task.id, member_id]).fetchone()
    if row is None:
        return UndoResult("not_done")
    day = date.fromisoformat(row[0])
    if day != today:
        return UndoResult("too_late", day)
    db.execute("DELETE FROM task_done WHERE task_id = ? AND member_id = ?", [task.id, member_id])
    return UndoResult("undone", day)
