"""Month files (content/tasks/*.toml, already validated as TaskSpecs) into the tasks table.

`sync_tasks` keeps the store in step with content/: run by bot.library_sync.sync_library at every
`init`; idempotent; an edited task is updated in place (its number stays), a task dropped from
the files is soft-removed, and one that comes back gets its old number back.

`import_month` is an admin loading a whole month from a file of their own
(`python -m bot tasks import FILE`): the same format, stored with origin 'admin'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from bot import audience as audiences
from bot.library import ContentError, TaskSpec, load_tasks
from bot.store import Store, audit
from bot.store import tasks as store_tasks


@dataclass(frozen=True)
class TaskSyncReport:
    added: int
    updated: int
    removed: int


@dataclass(frozen=True)
class TaskImportReport:
    month: str
    added: int
    updated: int
    unchanged: int
    others: int  # tasks of the month the file does not list (left as they are)


def sync_tasks(db: sqlite_utils.Database, specs: tuple[TaskSpec, ...],
               now: datetime) -> TaskSyncReport:
    """Inside the caller's transaction: upsert every file task, soft-remove the ones gone."""
    counts = {"added": 0, "updated": 0, "same": 0}
    for spec in specs:
        counts[upsert_spec(db, spec, origin="file", now=now)] += 1
    keep = {spec.id for spec in specs}
    gone = [row[0] for row in db.execute(
        "SELECT slug FROM tasks WHERE origin = 'file' AND removed = 0") if row[0] not in keep]
    for slug in gone:
        db.execute("UPDATE tasks SET removed = 1, updated_at = ? WHERE slug = ?",
                   [now.isoformat(), slug])
    return TaskSyncReport(counts["added"], counts["updated"], len(gone))


def upsert_spec(db: sqlite_utils.Database, spec: TaskSpec, *, origin: str, now: datetime) -> str:
    """Insert or update one task by its slug: "added", "updated" or "same"."""
    existing = store_tasks.by_slug(db, spec.id)
    values = _values(spec, origin, _audience(db, spec, existing))
    if existing is None:
        position = store_tasks.next_position(db, spec.month)
        db.execute(
            "INSERT INTO tasks (slug, month, position, title, detail, link, readings, due,"
            " required, kind, audience, origin, removed, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [spec.id, spec.month, position, *values.values(), now.isoformat(), now.isoformat()])
        return "added"
    if _stored_values(existing) == values and existing.month == spec.month and not existing.removed:
        return "same"
    # A task moved to another month's file takes the next number there.
    position = (existing.position if existing.month == spec.month
                else store_tasks.next_position(db, spec.month))
    sets = ", ".join(f"{name} = ?" for name in values)
    db.execute(f"UPDATE tasks SET month = ?, position = ?, {sets}, removed = 0, updated_at = ?"
               " WHERE id = ?",
               [spec.month, position, *values.values(), now.isoformat(), existing.id])
    return "updated"


def _audience(db: sqlite_utils.Database, spec: TaskSpec,
              existing: store_tasks.Task | None) -> dict[str, object]:
    """The file's audience with each group as "支部/党小组" (bot.audience.resolve_group).

    A group nobody is in yet stays as written (a first `init` runs before the roster is
    imported; the next one resolves it). A bare name that several branches now share keeps
    the branch it was stored with before, so a roster import never stops the next start;
    a new one is a ContentError naming the candidates.
    """
    names = spec.audience.get("groups")
    if not names:
        return spec.audience
    earlier = _earlier_groups(existing)
    groups = []
    for name in names:
        try:
            groups.append(audiences.resolve_group(db, name, keep_unknown=True))
        except audiences.AudienceError as exc:
            if name not in earlier:
                raise ContentError(spec.file or Path("content/tasks") / f"{spec.month}.toml",
                                   spec.id, "audience", str(exc), entry_kind="task") from None
            groups.append(earlier[name])
    return {**spec.audience, "groups": list(dict.fromkeys(groups))}


def _earlier_groups(existing: store_tasks.Task | None) -> dict[str, str]:
    """bare name -> the one "支部/党小组" the stored task had for it."""
    if existing is None:
        return {}
    found: dict[str, list[str]] = {}
    for ref in existing.audience.get("groups", ()):
        branch, grp = audiences.split_group(str(ref))
        if branch:
            found.setdefault(grp, []).append(str(ref))
    return {grp: refs[0] for grp, refs in found.items() if len(refs) == 1}


def _values(spec: TaskSpec, origin: str, audience: dict[str, object]) -> dict[str, object]:
    return {"title": spec.title, "detail": spec.detail, "link": spec.link or "",
            "readings": json.dumps(list(spec.readings), ensure_ascii=False),
            "due": spec.due.isoformat(), "required": int(spec.required), "kind": spec.kind,
            "audience": json.dumps(audience, ensure_ascii=False, sort_keys=True),
            "origin": origin}


def _stored_values(task: store_tasks.Task) -> dict[str, object]:
    return {"title": task.title, "detail": task.detail, "link": task.link,
            "readings": json.dumps(list(task.readings), ensure_ascii=False),
            "due": task.due.isoformat(), "required": int(task.required), "kind": task.kind,
            "audience": json.dumps(task.audience, ensure_ascii=False, sort_keys=True),
            "origin": task.origin}


def import_month(store: Store, path: Path, *, actor: str, now: datetime) -> TaskImportReport:
    """Load a month file as admin tasks, all or nothing.

    Raises ContentError (the file's own problem, located) or TaskError (a reading the library
    does not have, a task that belongs to content/tasks).
    """
    specs = load_tasks(path)  # never empty: the loader refuses a file with no [[task]]
    month = specs[0].month
    with store.transaction() as db:
        _check_importable(db, specs)
        counts = {"added": 0, "updated": 0, "same": 0}
        for spec in specs:
            counts[upsert_spec(db, spec, origin="admin", now=now)] += 1
        listed = {spec.id for spec in specs}
        others = sum(1 for t in store_tasks.month_tasks(db, month) if t.slug not in listed)
        if counts["added"] or counts["updated"]:
            audit.record(db, actor=actor, action="tasks import",
                         detail={"month": month, "file": path.name, "added": counts["added"],
                                 "updated": counts["updated"]}, at=now)
    return TaskImportReport(month, counts["added"], counts["updated"], counts["same"], others)


def _check_importable(db: sqlite_utils.Database, specs: tuple[TaskSpec, ...]) -> None:
    for spec in specs:
        existing = store_tasks.by_slug(db, spec.id)
        if existing is not None and existing.origin == "file":
            raise store_tasks.TaskError(
                f"任务「{spec.id}」来自内容文件 content/tasks/{existing.month}.toml，"
                "请直接修改该文件后运行 python -m bot init。")
        known = {r.slug for r in store_tasks.readings_of(db, spec.readings)}
        missing = [slug for slug in spec.readings if slug not in known]
        if missing:
            raise store_tasks.TaskError(
                f"任务「{spec.id}」引用的条文「{'、'.join(missing)}」不在纪法条文库里。")
