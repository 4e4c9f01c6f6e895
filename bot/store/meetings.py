"""组织生活: meetings (三会一课, 主题党日), members' answers, leave requests, minutes (migration 10).

A meeting belongs to one branch (a secretary's scope) and is for an audience (bot/audience.py)
inside it. Its time and place may change until it starts; each change of time or place bumps
`version`, which names the change notice (bot/meetings.py sends it to those already told).
Cancelling keeps the row (status 'cancelled'): notices and answers stay for the record.

meeting_members has one row per member who did something about a meeting: 参加 (`joining`),
签到 (`signed_at`), or a secretary's mark (`mark`: present / leave / absent), which wins over
what the member did. meeting_leaves holds one leave request per member and meeting.

Functions take the open `db`; callers that write wrap them in `store.transaction()`. Errors an
admin or member can fix are `MeetingError`s whose text is Chinese and ready to show.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import sqlite_utils

from bot import audience as audiences
from bot.store import members as store_members
from bot.store.members import Member

KINDS = ("支部党员大会", "支委会", "党小组会", "党课", "主题党日", "其他")
STATUSES = {"scheduled": "已安排", "cancelled": "已取消"}
MARKS = {"present": "出席", "leave": "请假", "absent": "缺席"}
LEAVE_STATUSES = {"pending": "待审批", "approved": "已准假", "rejected": "未准假"}
EDITABLE = ("kind", "title", "audience", "start", "end", "place", "link", "agenda", "speaker",
            "materials", "notice_days")
NOTIFIED_FIELDS = ("start", "end", "place", "link")  # a change here is told to those told
MAX_TITLE = 60
MAX_TEXT = 2000
MAX_MINUTES = 20000
MAX_HOURS = 12
MAX_NOTICE_DAYS = 30
CODE_DIGITS = 4


class MeetingError(ValueError):
    """Bad input or a refused change; str() is one Chinese line for the admin or member."""


@dataclass(frozen=True)
class Meeting:
    id: int
    kind: str
    title: str
    branch: str
    audience: dict[str, Any] = field(hash=False)
    start: datetime = field(hash=False, default=None)  # type: ignore[assignment]
    end: datetime = field(hash=False, default=None)  # type: ignore[assignment]
    place: str = ""
    link: str = ""
    agenda: str = ""
    speaker: str = ""
    materials: dict[str, Any] = field(hash=False, default_factory=dict)
    notice_days: int = 0
    status: str = "scheduled"
    version: int = 1
    code: str = ""
    minutes: str = ""
    attachments: tuple[str, ...] = ()
    makeup_task_id: int | None = None
    created_by: str = ""

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def includes(self, member: Member) -> bool:
        return audiences.includes(self.audience, member)

    @property
    def where(self) -> str:
        """The place, the link, or both, for a message."""
        parts = [p for p in (self.place, f"线上：{self.link}" if self.link else "") if p]
        return "；".join(parts) or "另行通知"


@dataclass(frozen=True)
class Answer:
    member_id: int
    joining: bool
    signed_at: datetime | None
    mark: str | None


@dataclass(frozen=True)
class Leave:
    id: int
    meeting_id: int
    member_id: int
    reason: str
    status: str
    asked_at: datetime
    decided_by: str


_COLUMNS = ("id, kind, title, branch, audience, start_at, end_at, place, link, agenda, speaker,"
            " materials, notice_days, status, version, code, minutes, attachments,"
            " makeup_task_id, created_by")


def _meeting(row: tuple) -> Meeting:
    (id_, kind, title, branch, audience, start, end, place, link, agenda, speaker, materials,
     notice_days, status, version, code, minutes, attachments, makeup, created_by) = row
    return Meeting(id_, kind, title, branch, json.loads(audience), datetime.fromisoformat(start),
                   datetime.fromisoformat(end), place, link, agenda, speaker,
                   json.loads(materials), notice_days, status, version, code, minutes,
                   tuple(json.loads(attachments)), makeup, created_by)


# --------------------------------------------------------------------------------- checks


def check_fields(db: sqlite_utils.Database, fields: Mapping[str, Any], *,
                 branch: str) -> dict[str, Any]:
    """Validate and normalise the fields given; returns them ready to store (as columns)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in EDITABLE:
            raise MeetingError(f"会议没有「{name}」这一项。")
        out.update(_CHECKS[name](db, value, branch))
    return out


def _text(value: Any, label: str, limit: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise MeetingError(f"{label}不能为空。")
    if len(text) > limit:
        raise MeetingError(f"{label}太长（{len(text)} 字），请控制在 {limit} 字以内。")
    return text


def _check_kind(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    if value not in KINDS:
        raise MeetingError(f"会议类型「{value}」不对，可选：{'、'.join(KINDS)}。")
    return {"kind": value}


def _check_title(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"title": _text(value, "会议名称", MAX_TITLE, required=True)}


def parse_time(value: Any, tz: Any, label: str) -> datetime:
    """A datetime, or text written 2026-12-03 14:30 (the T form too), in the clock's zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace(" ", "T"))
        except ValueError:
            raise MeetingError(f"{label}「{value}」格式不对，应写成 2026-12-03 14:30 这样。") from None
    if not isinstance(value, datetime):
        raise MeetingError(f"{label}应写成 2026-12-03 14:30 这样。")
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def _check_start(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"start_at": _iso(value, "开始时间")}


def _check_end(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"end_at": _iso(value, "结束时间")}


def _iso(value: Any, label: str) -> str:
    from bot.clock import SHANGHAI
    return parse_time(value, SHANGHAI, label).replace(second=0, microsecond=0).isoformat()


def _check_place(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"place": _text(value, "地点", 100)}


def check_url(value: Any, label: str = "链接") -> str:
    link = str(value or "").strip()
    parsed = urlparse(link)
    if link and (parsed.scheme not in ("http", "https") or not parsed.netloc or " " in link):
        raise MeetingError(f"{label}「{link}」不是有效的网址，应以 http:// 或 https:// 开头。")
    return link


def _check_link(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"link": check_url(value, "线上会议链接")}


def _check_agenda(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"agenda": _text(value, "议程", MAX_TEXT)}


def _check_speaker(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    return {"speaker": _text(value, "主讲人", 40)}


def _check_materials(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    """{"readings": [slugs], "links": [urls], "task": task id}: each checked against the store."""
    from bot.store import tasks as store_tasks

    value = dict(value or {})
    unknown = set(value) - {"readings", "links", "task"}
    if unknown:
        raise MeetingError(f"学习材料只能是条文、链接或学习任务（多了：{'、'.join(sorted(unknown))}）。")
    slugs = [str(s).strip() for s in value.get("readings", ()) if str(s).strip()]
    known = {r.slug for r in store_tasks.readings_of(db, slugs)}
    missing = [s for s in slugs if s not in known]
    if missing:
        raise MeetingError(f"纪法条文库里没有编号为「{'、'.join(missing)}」的条文。")
    links = [check_url(link, "材料链接") for link in value.get("links", ()) if str(link).strip()]
    out: dict[str, Any] = {"readings": list(dict.fromkeys(slugs)), "links": links}
    if value.get("task") not in (None, ""):
        task = store_tasks.get_task(db, _int(value["task"], "学习任务编号"))
        if task is None or task.removed:
            raise MeetingError(f"没有编号为 {value['task']} 的学习任务。")
        if not task_fits(task, branch):
            raise MeetingError(f"学习任务「{task.title}」不是面向{branch}或全体党员的任务，"
                               "不能作为本支部会议的材料。")
        out["task"] = task.id
    return {"materials": json.dumps(out, ensure_ascii=False, sort_keys=True)}


def task_fits(task: Any, branch: str) -> bool:
    """A study task a meeting of `branch` may point to: one for every member, or one addressed
    to this branch alone (or its groups) — the tasks its secretary owns or shares."""
    return task.audience == {"all": True} or audiences.branch_of(task.audience) == branch


def material_tasks(db: sqlite_utils.Database, branch: str, since_month: str) -> list[Any]:
    """The tasks, not removed, of `since_month` and later that fit `branch`: the console's
    choices for a meeting's study task."""
    from bot.store import tasks as store_tasks

    months = [m for m in store_tasks.months(db) if m >= since_month]
    return [t for m in months for t in store_tasks.month_tasks(db, m) if task_fits(t, branch)]


def _int(value: Any, label: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise MeetingError(f"{label}应是数字，而不是「{value}」。") from None


def _check_notice_days(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    days = _int(value if value not in (None, "") else 0, "提前通知天数")
    if not 0 <= days <= MAX_NOTICE_DAYS:
        raise MeetingError(f"提前通知天数应在 0 到 {MAX_NOTICE_DAYS} 之间（0 表示创建时就通知）。")
    return {"notice_days": days}


def _check_audience(db: sqlite_utils.Database, value: Any, branch: str) -> dict[str, Any]:
    try:
        checked = audiences.validate(value if isinstance(value, Mapping) else {})
        checked = audiences.resolve(db, checked, within=branch)
    except audiences.AudienceError as exc:
        text = str(exc) if "党小组" in str(exc) else "请说明参会对象：本支部、党小组、支委或指定党员"
        raise MeetingError(f"{text}。") from None
    if checked.get("all") or set(checked) - {"branches", "groups", "members"}:
        raise MeetingError("参会对象只能是本支部、本支部的党小组或指定党员。")
    if any(b != branch for b in checked.get("branches", ())):
        raise MeetingError(f"参会对象只能在{branch}之内。")
    if any(audiences.split_group(str(g))[0] != branch for g in checked.get("groups", ())):
        raise MeetingError(f"参会对象的党小组应是{branch}的党小组。")
    roster = {m.id: m for m in store_members.list_members(db, active_only=True)}
    ids = [_int(i, "党员编号") for i in checked.get("members", ())]
    strangers = [str(i) for i in ids if i not in roster or roster[i].branch != branch]
    if strangers:
        raise MeetingError(f"党员编号 {'、'.join(strangers)} 不是{branch}的在册党员。")
    if ids:
        checked["members"] = list(dict.fromkeys(ids))
    if not audiences.members_of(db, checked):
        raise MeetingError("参会对象中没有在册党员。")
    return {"audience": json.dumps(checked, ensure_ascii=False, sort_keys=True)}


_CHECKS = {"kind": _check_kind, "title": _check_title, "audience": _check_audience,
           "start": _check_start, "end": _check_end, "place": _check_place,
           "link": _check_link, "agenda": _check_agenda, "speaker": _check_speaker,
           "materials": _check_materials, "notice_days": _check_notice_days}


def check_branch(db: sqlite_utils.Database, branch: str) -> str:
    branch = str(branch or "").strip()
    known = sorted({m.branch for m in store_members.list_members(db, active_only=True)})
    if branch not in known:
        raise MeetingError(f"名册里没有支部「{branch}」（现有：{'、'.join(known) or '无'}）。")
    return branch


def check_times(db: sqlite_utils.Database, start: datetime, end: datetime, now: datetime,
                audience: Mapping[str, Any], *, skip: int | None = None) -> None:
    """A meeting is in the future, ends after it starts, lasts at most MAX_HOURS, and does not
    overlap another meeting of any of its members."""
    if start <= now:
        raise MeetingError(f"开始时间 {start:%Y-%m-%d %H:%M} 已经过去，不能安排过去的会议。")
    if end <= start:
        raise MeetingError("结束时间应晚于开始时间。")
    if end - start > timedelta(hours=MAX_HOURS):
        raise MeetingError(f"一次会议最长 {MAX_HOURS} 小时，请检查结束时间。")
    mine = {m.id for m in audiences.members_of(db, audience)}
    for other in overlapping(db, start, end):
        if other.id == skip:
            continue
        if mine & {m.id for m in audiences.members_of(db, other.audience)}:
            raise MeetingError(f"与已安排的「{other.title}」（{other.start:%m-%d %H:%M}—"
                               f"{other.end:%H:%M}）时间重叠，参会人员有重复。")


# --------------------------------------------------------------------------------- reads


def get(db: sqlite_utils.Database, meeting_id: int) -> Meeting | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM meetings WHERE id = ?", [meeting_id]).fetchone()
    return _meeting(row) if row else None


def between(db: sqlite_utils.Database, start: datetime, end: datetime, *,
            branch: str | None = None, include_cancelled: bool = True) -> list[Meeting]:
    """Meetings starting in [start, end), oldest first; one branch's when given. (Times are
    stored as ISO text in one zone, so they compare as text.)"""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM meetings WHERE start_at >= ? AND start_at < ?"
        " AND (? IS NULL OR branch = ?) AND (? OR status = 'scheduled') ORDER BY start_at, id",
        [start.isoformat(), end.isoformat(), branch, branch, int(include_cancelled)])
    return [_meeting(r) for r in rows]


def overlapping(db: sqlite_utils.Database, start: datetime, end: datetime) -> list[Meeting]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM meetings WHERE status = 'scheduled'"
                      " AND start_at < ? AND end_at > ?", [end.isoformat(), start.isoformat()])
    return [_meeting(r) for r in rows]


def upcoming(db: sqlite_utils.Database, now: datetime, *, until: datetime | None = None,
             until_ended: bool = True) -> list[Meeting]:
    """Scheduled meetings not yet ended (not yet started, with until_ended=False), starting
    before `until` when given."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM meetings WHERE status = 'scheduled'"
        " AND (CASE WHEN ? THEN end_at ELSE start_at END) > ? AND (? IS NULL OR start_at < ?)"
        " ORDER BY start_at, id",
        [int(until_ended), now.isoformat(), until and until.isoformat(),
         until and until.isoformat()])
    return [_meeting(r) for r in rows]


def ended_without_makeup(db: sqlite_utils.Database, now: datetime) -> list[Meeting]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM meetings WHERE status = 'scheduled'"
                      " AND end_at <= ? AND makeup_task_id IS NULL ORDER BY end_at",
                      [now.isoformat()])
    return [_meeting(r) for r in rows]


def answers(db: sqlite_utils.Database, meeting_id: int) -> dict[int, Answer]:
    return {row[0]: Answer(row[0], bool(row[1]),
                           datetime.fromisoformat(row[2]) if row[2] else None, row[3])
            for row in db.execute("SELECT member_id, joining, signed_at, mark FROM meeting_members"
                                  " WHERE meeting_id = ?", [meeting_id])}


def answer_of(db: sqlite_utils.Database, meeting_id: int, member_id: int) -> Answer | None:
    return answers_for(db, meeting_id, [member_id]).get(member_id)


def answers_for(db: sqlite_utils.Database, meeting_id: int, ids: list[int]) -> dict[int, Answer]:
    return {k: v for k, v in answers(db, meeting_id).items() if k in set(ids)}


def _leave(row: tuple) -> Leave:
    return Leave(row[0], row[1], row[2], row[3], row[4], datetime.fromisoformat(row[5]), row[6])


_LEAVE_COLUMNS = "id, meeting_id, member_id, reason, status, asked_at, decided_by"


def leaves(db: sqlite_utils.Database, meeting_id: int) -> dict[int, Leave]:
    return {row[2]: _leave(row) for row in db.execute(
        f"SELECT {_LEAVE_COLUMNS} FROM meeting_leaves WHERE meeting_id = ?", [meeting_id])}


def get_leave(db: sqlite_utils.Database, leave_id: int) -> Leave | None:
    row = db.execute(f"SELECT {_LEAVE_COLUMNS} FROM meeting_leaves WHERE id = ?",
                     [leave_id]).fetchone()
    return _leave(row) if row else None


def pending_leaves(db: sqlite_utils.Database, *, branch: str | None = None) -> list[Leave]:
    """Requests still waiting, of meetings not cancelled (one branch's when given)."""
    rows = db.execute(
        "SELECT l.id, l.meeting_id, l.member_id, l.reason, l.status, l.asked_at, l.decided_by"
        " FROM meeting_leaves l JOIN meetings m ON m.id = l.meeting_id"
        " WHERE l.status = 'pending' AND m.status = 'scheduled' AND (? IS NULL OR m.branch = ?)"
        " ORDER BY l.id", [branch, branch])
    return [_leave(r) for r in rows]


# --------------------------------------------------------------------------------- writes


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def add(db: sqlite_utils.Database, *, branch: str, kind: str, title: str, start: Any,
        end: Any, now: datetime, audience: Mapping[str, Any] | None = None, place: str = "",
        link: str = "", agenda: str = "", speaker: str = "",
        materials: Mapping[str, Any] | None = None, notice_days: int = 0,
        created_by: str = "") -> Meeting:
    """A new meeting of `branch` (for the whole branch unless an audience is given)."""
    branch = check_branch(db, branch)
    values = check_fields(db, {
        "kind": kind, "title": title, "audience": audience or {"branches": [branch]},
        "start": start, "end": end, "place": place, "link": link, "agenda": agenda,
        "speaker": speaker, "materials": materials or {}, "notice_days": notice_days},
        branch=branch)
    if not values["place"] and not values["link"]:
        raise MeetingError("请填写会议地点或线上会议链接。")
    check_times(db, datetime.fromisoformat(values["start_at"]),
                datetime.fromisoformat(values["end_at"]), now, json.loads(values["audience"]))
    cursor = db.execute(
        "INSERT INTO meetings (branch, kind, title, audience, start_at, end_at, place, link,"
        " agenda, speaker, materials, notice_days, code, created_by, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [branch, *(values[c] for c in _FIELD_COLUMNS.values()), new_code(), created_by,
         now.isoformat(), now.isoformat()])
    return _must(get(db, int(cursor.lastrowid)))


def edit(db: sqlite_utils.Database, meeting_id: int, *, now: datetime,
         **changes: Any) -> tuple[Meeting, list[str]]:
    """Change some of EDITABLE before the meeting starts; returns it and the fields that
    really changed. A change of time or place bumps the version (the change notice's name)."""
    meeting = changeable(db, meeting_id, now)
    if not changes:
        raise MeetingError("没有要修改的内容。")
    values = check_fields(db, changes, branch=meeting.branch)
    before = _must(get(db, meeting.id))
    merged = {**_row_values(db, meeting.id), **values}
    if not merged["place"] and not merged["link"]:
        raise MeetingError("请填写会议地点或线上会议链接。")
    check_times(db, datetime.fromisoformat(merged["start_at"]),
                datetime.fromisoformat(merged["end_at"]), now, json.loads(merged["audience"]),
                skip=meeting.id)
    changed = [name for name, column in _FIELD_COLUMNS.items()
               if column in values and values[column] != _row_values(db, meeting.id)[column]]
    if not changed:
        return before, []
    bump = 1 if set(changed) & set(NOTIFIED_FIELDS) else 0
    db.execute("UPDATE meetings SET kind = ?, title = ?, audience = ?, start_at = ?, end_at = ?,"
               " place = ?, link = ?, agenda = ?, speaker = ?, materials = ?, notice_days = ?,"
               " version = version + ?, updated_at = ? WHERE id = ?",
               [*(merged[c] for c in _FIELD_COLUMNS.values()), bump, now.isoformat(),
                meeting.id])
    return _must(get(db, meeting.id)), changed


_FIELD_COLUMNS = {"kind": "kind", "title": "title", "audience": "audience", "start": "start_at",
                  "end": "end_at", "place": "place", "link": "link", "agenda": "agenda",
                  "speaker": "speaker", "materials": "materials", "notice_days": "notice_days"}


def _row_values(db: sqlite_utils.Database, meeting_id: int) -> dict[str, Any]:
    row = db.execute("SELECT kind, title, audience, start_at, end_at, place, link, agenda,"
                     " speaker, materials, notice_days FROM meetings WHERE id = ?",
                     [meeting_id]).fetchone()
    return dict(zip(_FIELD_COLUMNS.values(), row, strict=True))


def changeable(db: sqlite_utils.Database, meeting_id: int, now: datetime) -> Meeting:
    meeting = get(db, meeting_id)
    if meeting is None:
        raise MeetingError(f"没有编号为 {meeting_id} 的会议。")
    if meeting.cancelled:
        raise MeetingError(f"「{meeting.title}」已经取消。")
    if meeting.start <= now:
        raise MeetingError(f"「{meeting.title}」已经开始或结束，不能再修改或取消。")
    return meeting


def cancel(db: sqlite_utils.Database, meeting_id: int, *, now: datetime) -> Meeting:
    meeting = changeable(db, meeting_id, now)
    db.execute("UPDATE meetings SET status = 'cancelled', updated_at = ? WHERE id = ?",
               [now.isoformat(), meeting.id])
    return _must(get(db, meeting.id))


def set_minutes(db: sqlite_utils.Database, meeting_id: int, *, minutes: str,
                attachments: list[str], now: datetime) -> Meeting:
    meeting = get(db, meeting_id)
    if meeting is None:
        raise MeetingError(f"没有编号为 {meeting_id} 的会议。")
    if meeting.cancelled:
        raise MeetingError(f"「{meeting.title}」已经取消，没有会议记录。")
    if meeting.start > now:
        raise MeetingError(f"「{meeting.title}」还没有开始，会后再写会议记录。")
    text = _text(minutes, "会议记录", MAX_MINUTES)
    names = [_text(n, "附件名称", 100) for n in attachments if str(n).strip()]
    db.execute("UPDATE meetings SET minutes = ?, attachments = ?, updated_at = ? WHERE id = ?",
               [text, json.dumps(names, ensure_ascii=False), now.isoformat(), meeting.id])
    return _must(get(db, meeting.id))


def set_told_version(db: sqlite_utils.Database, meeting_id: int, version: int) -> None:
    """The version of the details the audience was last told (0: nobody told, or nothing more
    to tell after a cancellation)."""
    db.execute("UPDATE meetings SET told_version = ? WHERE id = ?", [version, meeting_id])


def told_version(db: sqlite_utils.Database, meeting_id: int) -> int:
    row = db.execute("SELECT told_version FROM meetings WHERE id = ?", [meeting_id]).fetchone()
    return int(row[0]) if row else 0


def to_retell(db: sqlite_utils.Database, since: datetime) -> list[Meeting]:
    """Meetings whose audience was told and has something new to hear: a change of time or
    place (version above told_version), or a cancellation. Started ones are left out."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM meetings WHERE told_version > 0"
                      " AND (status = 'cancelled' OR version > told_version) AND start_at > ?",
                      [since.isoformat()])
    return [_meeting(r) for r in rows]


def set_makeup_task(db: sqlite_utils.Database, meeting_id: int, task_id: int) -> None:
    db.execute("UPDATE meetings SET makeup_task_id = ? WHERE id = ?", [task_id, meeting_id])


def _touch(db: sqlite_utils.Database, meeting_id: int, member_id: int, now: datetime) -> None:
    db.execute("INSERT INTO meeting_members (meeting_id, member_id, updated_at) VALUES (?, ?, ?)"
               " ON CONFLICT DO NOTHING", [meeting_id, member_id, now.isoformat()])


def set_joining(db: sqlite_utils.Database, meeting_id: int, member_id: int,
                now: datetime) -> bool:
    """参加: True if newly recorded."""
    _touch(db, meeting_id, member_id, now)
    return db.execute("UPDATE meeting_members SET joining = 1, updated_at = ?"
                      " WHERE meeting_id = ? AND member_id = ? AND joining = 0",
                      [now.isoformat(), meeting_id, member_id]).rowcount == 1


def sign_in(db: sqlite_utils.Database, meeting_id: int, member_id: int, now: datetime) -> bool:
    """签到: True if newly recorded (a second sign-in keeps the first time)."""
    _touch(db, meeting_id, member_id, now)
    return db.execute("UPDATE meeting_members SET signed_at = ?, updated_at = ?"
                      " WHERE meeting_id = ? AND member_id = ? AND signed_at IS NULL",
                      [now.isoformat(), now.isoformat(), meeting_id, member_id]).rowcount == 1


def set_mark(db: sqlite_utils.Database, meeting_id: int, member_id: int, mark: str | None,
             now: datetime) -> None:
    """A secretary's attendance mark (None: back to what the member did)."""
    if mark is not None and mark not in MARKS:
        raise MeetingError(f"出勤只能是 {'、'.join(MARKS.values())}。")
    _touch(db, meeting_id, member_id, now)
    db.execute("UPDATE meeting_members SET mark = ?, updated_at = ? WHERE meeting_id = ?"
               " AND member_id = ?", [mark, now.isoformat(), meeting_id, member_id])


def request_leave(db: sqlite_utils.Database, meeting_id: int, member_id: int, reason: str,
                  now: datetime) -> tuple[Leave, bool]:
    """A leave request; a second one while the first waits replaces its reason. Returns the
    request and whether it is new (or changed)."""
    reason = _text(reason, "请假理由", 200, required=True)
    existing = leaves(db, meeting_id).get(member_id)
    if existing is not None and existing.status != "pending":
        return existing, False
    if existing is not None and existing.reason == reason:
        return existing, False
    db.execute("INSERT INTO meeting_leaves (meeting_id, member_id, reason, asked_at)"
               " VALUES (?, ?, ?, ?) ON CONFLICT (meeting_id, member_id) DO UPDATE"
               " SET reason = excluded.reason, asked_at = excluded.asked_at",
               [meeting_id, member_id, reason, now.isoformat()])
    return leaves(db, meeting_id)[member_id], True


def decide_leave(db: sqlite_utils.Database, leave_id: int, *, approve: bool, by: str,
                 now: datetime) -> Leave:
    leave = get_leave(db, leave_id)
    if leave is None:
        raise MeetingError(f"没有编号为 {leave_id} 的请假申请。")
    if leave.status != "pending":
        raise MeetingError(f"这份请假申请已经处理过（{LEAVE_STATUSES[leave.status]}）。")
    db.execute("UPDATE meeting_leaves SET status = ?, decided_at = ?, decided_by = ?"
               " WHERE id = ?", ["approved" if approve else "rejected", now.isoformat(), by,
                                 leave.id])
    return _must_leave(get_leave(db, leave.id))


def _must(meeting: Meeting | None) -> Meeting:
    assert meeting is not None
    return meeting


def _must_leave(leave: Leave | None) -> Leave:
    assert leave is not None
    return leave
