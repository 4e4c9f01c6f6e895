"""The monthly study report (学习情况月报): pure data, then separate renderers.

`month_report(db, "2026-11")` answers, per member: the required tasks of the month in their
audience (应学), how many are done (已学), the titles not done (缺项), check-in days, quiz
accuracy and how many months in a row they have left required tasks undone; and per branch
and group the completion rates. `report_rows`, `report_sheets`, `report_csv` and
`report_xlsx` turn it into a table, a CSV text or an XLSX workbook, for the CLI and the console.

Everything is bulk SQL (one query per table per month) and a pass in Python over the roster;
nothing is queried per member, so 5,000 members and a million check-ins stay quick (bench/report.py).

Rules shared with the nudges (bot/nudges.py):
- a task is required of a member when it is required, not removed, its audience includes the
  member (bot.audience.includes), and the member was on the roster by its due date;
- "done" means a completion is recorded (task_done), whenever it was made;
- a member is behind in a month when they had required tasks there and not all are done; the
  months missed in a row count ENDED months only (the month under way is never "missed"
  before it ends), end at the last ended month up to the one asked about, and a month with
  nothing required breaks the run.

Every figure shown anywhere (console pages, CLI report, XLSX, nudges) is named and defined once
in METRICS below; pages show `legend()` so the words on screen are the ones computed here.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import sqlite_utils

from bot.audience import includes
from bot.exports import Sheet, csv_text, month_range, write_workbook
from bot.store.members import Member

HEADER = ["支部", "党小组", "姓名", "应学", "已学", "缺项", "打卡天数", "答题正确率",
          "连续未完成月数", "备注", "需关注"]
LEGEND_HEADER = ["指标", "含义"]
SUMMARY_HEADER = ["党小组", "人数", "有必学任务人数", "全部完成人数", "完成率", "应学合计",
                  "已学合计", "任务完成度", "未完成人员"]
OVERVIEW_HEADER = ["排名", "支部", "人数", "有必学任务人数", "全部完成人数", "完成率",
                   "任务完成度"]
PERCENT = "0.0%"


@dataclass(frozen=True)
class Metric:
    """One figure: its Chinese label and the one-sentence definition shown in legends."""
    label: str
    definition: str


METRICS = {
    "required": Metric("应学", "本人所在范围（全体、本支部或本党小组）本月的必学任务项数；"
                            "截止日之后才加入名册的不计。"),
    "done": Metric("已学", "应学任务中已登记完成的项数。"),
    "rate": Metric("完成率", "应学任务全部完成的人数 ÷ 有应学任务的人数。"),
    "task_rate": Metric("任务完成度", "已学项数合计 ÷ 应学项数合计（按任务项计，不按人计）。"),
    "months_missed": Metric("连续未完成月数", "截至最近一个已结束的月份，连续有应学任务未完成的"
                                         "月数；本月未结束前不计为未完成。"),
    "attention": Metric("需关注", "上月及以前有未完成的月份（连续未完成月数 ≥ 1），或本月有已过截止"
                               "日仍未完成的应学任务；表中以底色标出。"),
}
LEGEND_ORDER = ("rate", "task_rate", "required", "done", "months_missed", "attention")


def legend(*keys: str) -> list[Metric]:
    """The definitions to show under a page's figures (all of them when none are named)."""
    return [METRICS[k] for k in (keys or LEGEND_ORDER)]


@dataclass(frozen=True)
class Task:
    id: int
    month: str
    position: int
    title: str
    due: date
    audience: dict


@dataclass(frozen=True)
class Person:
    """A roster row with the day they joined it (for tasks due before they arrived)."""
    member: Member
    joined: date

    @property
    def id(self) -> int:
        return self.member.id


@dataclass
class MemberRow:
    member_id: int
    branch: str
    grp: str
    name: str
    required: int
    done: int
    missing: list[str]
    checkin_days: int
    quiz_attempts: int
    quiz_correct: int
    months_missed: int
    note: str = ""
    overdue: int = 0  # required tasks not done whose due date has passed

    @property
    def needs_attention(self) -> bool:
        """METRICS["attention"]: a missed ended month, or a task past its due date undone."""
        return self.months_missed >= 1 or self.overdue > 0

    @property
    def quiz_rate(self) -> float | None:
        return self.quiz_correct / self.quiz_attempts if self.quiz_attempts else None

    @property
    def complete(self) -> bool:
        return self.done >= self.required


@dataclass
class Tally:
    """Members and completions of a group, a branch or everyone."""
    members: int = 0
    with_tasks: int = 0      # members with at least one required task
    complete: int = 0        # of those, how many did all of them
    required: int = 0
    done: int = 0
    not_done: list[str] = field(default_factory=list)

    def add(self, row: MemberRow) -> None:
        self.members += 1
        self.required += row.required
        self.done += row.done
        if row.required:
            self.with_tasks += 1
            if row.complete:
                self.complete += 1
            else:
                self.not_done.append(row.name)

    @property
    def rate(self) -> float | None:
        """Members who did all their required tasks, of those who had any."""
        return self.complete / self.with_tasks if self.with_tasks else None

    @property
    def task_rate(self) -> float | None:
        """Required tasks done, of all required tasks."""
        return self.done / self.required if self.required else None


@dataclass
class BranchSummary:
    branch: str
    total: Tally
    groups: dict[str, Tally]


@dataclass
class MonthReport:
    month: str
    branch: str | None
    tasks: list[Task]
    rows: list[MemberRow]
    branches: list[BranchSummary]
    total: Tally


class ReportError(ValueError):
    """A month that is not a month, or a branch nobody belongs to: one line for the user."""


# --- loading ---------------------------------------------------------------------------------

def load_people(db: sqlite_utils.Database, *, active_only: bool = False,
                branch: str | None = None) -> list[Person]:
    sql = ("SELECT id, name, branch, grp, phone, role, active, demo, created_at FROM members"
           " WHERE 1 = 1")
    params: list[object] = []
    if active_only:
        sql += " AND active = 1"
    if branch is not None:
        sql += " AND branch = ?"
        params.append(branch)
    people = []
    for row in db.execute(sql + " ORDER BY branch, grp, id", params):
        member = Member(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]),
                        bool(row[7]))
        people.append(Person(member, date.fromisoformat(row[8][:10])))
    return people


def required_tasks(db: sqlite_utils.Database, month: str) -> list[Task]:
    rows = db.execute(
        "SELECT id, month, position, title, due, audience FROM tasks"
        " WHERE month = ? AND required = 1 AND removed = 0 ORDER BY position, id", [month])
    return [Task(r[0], r[1], r[2], r[3], date.fromisoformat(r[4][:10]), json.loads(r[5]))
            for r in rows]


class Assigned(Protocol):
    """A task as the rule needs it: a report Task, or bot.store.tasks.Task (学习任务's)."""
    @property
    def id(self) -> int: ...
    @property
    def month(self) -> str: ...
    @property
    def due(self) -> date: ...
    @property
    def audience(self) -> dict: ...


def applies(task: Assigned, person: Person) -> bool:
    return person.joined <= task.due and includes(task.audience, person.member)


def expected_of(task: Assigned, people: Sequence[Person]) -> list[Person]:
    """METRICS["required"]'s rule for one task, required or 选学 (学习任务's 「完成 x / y」):
    of the people month_report lists for the task's month (on the roster by its end), those
    in its audience who were on the roster by its due date."""
    _start, end = parse_month(task.month)
    return [p for p in people if p.joined <= end and applies(task, p)]


def task_counts(db: sqlite_utils.Database, tasks: Sequence[Assigned],
                people: Sequence[Person]) -> dict[int, tuple[int, int]]:
    """task id -> (done, expected): of the people each task is expected of (expected_of),
    how many marked it done. 学习任务's 「完成 x / y」 and `tasks list` show this."""
    done = done_pairs(db, tasks)  # type: ignore[arg-type]  (only .id is read)
    counts = {}
    for task in tasks:
        expected = [p.id for p in expected_of(task, people)]
        counts[task.id] = (sum((task.id, m) in done for m in expected), len(expected))
    return counts


class Audiences:
    """`applies`, asked once per task and (branch, group, role) rather than once per member:
    bot.audience.includes stays the one test, and a roster of thousands costs a few calls.
    Audiences naming members by id are asked per member."""

    def __init__(self, tasks: Sequence[Task] = ()) -> None:
        self._seen: dict[tuple[int, str, str, str], bool] = {}
        self._lists: dict[tuple, list[Task]] = {}
        self._masks: dict[int, int] = {}
        self._tasks = list(tasks)
        self.bits = {t.id: 1 << i for i, t in enumerate(tasks)}
        self._by_id = any("members" in t.audience for t in tasks)
        self._first_due = min((t.due for t in tasks), default=None)

    def tasks_for(self, person: Person) -> list[Task]:
        """Which of the tasks given at creation apply to the person; one list shared by
        everyone alike (same branch, group and role, on the roster before every due date)."""
        if self._by_id:
            return [t for t in self._tasks if self.applies(t, person)]
        m = person.member
        early = self._first_due is None or person.joined <= self._first_due
        key = (m.branch, m.grp, m.role, None if early else person.joined)
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = [t for t in self._tasks if self.applies(t, person)]
        return found

    def mask_for(self, person: Person) -> int:
        """`tasks_for(person)` as a bit mask (bit i: the i-th task given at creation)."""
        found = self.tasks_for(person)
        mask = self._masks.get(id(found))
        if mask is None:
            mask = sum(self.bits[t.id] for t in found)
            if not self._by_id:  # the list is cached, so its id() is stable
                self._masks[id(found)] = mask
        return mask

    def applies(self, task: Task, person: Person) -> bool:
        if person.joined > task.due:
            return False
        if "members" in task.audience:
            return includes(task.audience, person.member)
        m = person.member
        key = (task.id, m.branch, m.grp, m.role)
        if key not in self._seen:
            self._seen[key] = includes(task.audience, m)
        return self._seen[key]


ID_CHUNK = 900  # bound variables per query, well under every SQLite build's limit


def done_pairs(db: sqlite_utils.Database, tasks: Sequence[Task],
               member_ids: Sequence[int] | None = None) -> set[tuple[int, int]]:
    """(task id, member id) of the recorded completions of these tasks: everyone's in one
    query, or only these members' (in chunks) when they are few."""
    if not tasks:
        return set()
    marks = ",".join("?" * len(tasks))
    sql = f"SELECT task_id, member_id FROM task_done WHERE task_id IN ({marks})"
    task_ids = [t.id for t in tasks]
    if member_ids is None:
        return set(db.execute(sql, task_ids).fetchall())
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(member_ids), ID_CHUNK):
        chunk = member_ids[start:start + ID_CHUNK]
        pairs.update(db.execute(f"{sql} AND member_id IN ({','.join('?' * len(chunk))})",
                                task_ids + list(chunk)).fetchall())
    return pairs


@dataclass(frozen=True)
class Progress:
    required: list[Task]
    missing: list[Task]

    @property
    def behind(self) -> bool:
        return bool(self.missing)


def done_masks(db: sqlite_utils.Database, tasks: Sequence[Task],
               member_ids: Sequence[int] | None = None) -> dict[int, int]:
    """member id -> the tasks they have done as a bit mask (bit i: tasks[i]), summed in SQL:
    one small row per member instead of one per completion."""
    if not tasks:
        return {}
    if len(tasks) > 62:  # beyond a 64-bit integer: count in Python
        bits = {t.id: 1 << i for i, t in enumerate(tasks)}
        masks: dict[int, int] = defaultdict(int)
        for task_id, member_id in done_pairs(db, tasks, member_ids):
            masks[member_id] |= bits[task_id]
        return masks
    cases = " ".join(f"WHEN {t.id} THEN {1 << i}" for i, t in enumerate(tasks))
    sql = (f"SELECT member_id, sum(CASE task_id {cases} END) FROM task_done"
           f" WHERE task_id IN ({','.join(str(t.id) for t in tasks)})")
    # "+member_id": grouping by the bare column lets SQLite scan the whole table through
    # task_done_member instead of seeking these tasks through the primary key (8x slower).
    if member_ids is None:
        return dict(db.execute(sql + " GROUP BY +member_id").fetchall())
    result: dict[int, int] = {}
    for start in range(0, len(member_ids), ID_CHUNK):
        chunk = member_ids[start:start + ID_CHUNK]
        result.update(db.execute(f"{sql} AND member_id IN ({','.join('?' * len(chunk))})"
                                 " GROUP BY +member_id", list(chunk)).fetchall())
    return result


def progress(db: sqlite_utils.Database, month: str,
             people: Sequence[Person]) -> dict[int, Progress]:
    """Each person's required tasks of the month and those not done."""
    tasks = required_tasks(db, month)
    done = done_masks(db, tasks)
    audiences = Audiences(tasks)
    bits = audiences.bits
    result = {}
    for person in people:
        mine = audiences.tasks_for(person)
        have = done.get(person.member.id, 0)
        result[person.member.id] = Progress(mine, [t for t in mine if not have & bits[t.id]])
    return result


def still_behind(db: sqlite_utils.Database, month: str,
                 people: Sequence[Person], roster_size: int) -> list[Person]:
    """The people with required tasks in `month` not all done (the yes/no only, by bit
    masks); when the people are a small part of the roster only their completions are read."""
    tasks = required_tasks(db, month)
    if not tasks:
        return []
    few = len(people) * 4 < roster_size
    done = done_masks(db, tasks, [p.member.id for p in people] if few else None)
    audiences = Audiences(tasks)
    return [p for p in people
            if audiences.mask_for(p) & ~done.get(p.member.id, 0)]


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def month_of(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def last_ended_month(month: str, today: date) -> str:
    """The latest month, no later than `month`, that has ended by `today` (a month ends after
    its last day, so on its last day it is still under way)."""
    return min(month, previous_month(month_of(today)))


def missed_streaks(db: sqlite_utils.Database, month: str, people: Sequence[Person],
                   first: dict[int, Progress] | None = None) -> dict[int, int]:
    """Months in a row, ending with `month`, in which each person was behind (0: not behind).

    Walks back one month at a time with only the people still behind, and stops at the
    earliest month that has any task; `first` is `month`'s progress when already known.
    """
    earliest = db.execute("SELECT min(month) FROM tasks").fetchone()[0]
    streak = {p.member.id: 0 for p in people}
    if earliest is None:
        return streak
    if first is not None:
        behind = [p for p in people if first[p.member.id].behind]
    else:
        behind = still_behind(db, month, people, len(people))
    current = month
    while behind:
        for person in behind:
            streak[person.member.id] += 1
        current = previous_month(current)
        if current < earliest:
            break
        behind = still_behind(db, current, behind, len(people))
    return streak


def _counts(db: sqlite_utils.Database, sql: str, start: date, end: date) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in db.execute(sql, [start.isoformat(), end.isoformat()])}


def _checkin_days(db: sqlite_utils.Database, start: date, end: date) -> dict[int, tuple]:
    return _counts(db, "SELECT member_id, count(*) FROM checkins WHERE day BETWEEN ? AND ?"
                       " GROUP BY member_id", start, end)


def _quiz(db: sqlite_utils.Database, start: date, end: date) -> dict[int, tuple]:
    return _counts(db, "SELECT member_id, count(*), sum(correct) FROM quiz_attempts"
                       " WHERE day BETWEEN ? AND ? GROUP BY member_id", start, end)


def _task_activity(db: sqlite_utils.Database, tasks: Sequence[Task]) -> set[int]:
    return {m for _t, m in done_pairs(db, tasks)}


# --- the report ------------------------------------------------------------------------------

def parse_month(text: str) -> tuple[date, date]:
    try:
        return month_range(text.strip())
    except ValueError as exc:
        raise ReportError(f"月份格式不对：{text!r}，应写作 2026-11 这样的 年-月") from exc


def branches(db: sqlite_utils.Database) -> list[str]:
    return [b for (b,) in db.execute("SELECT DISTINCT branch FROM members ORDER BY branch")]


def month_report(db: sqlite_utils.Database, month: str, *, today: date,
                 branch: str | None = None) -> MonthReport:
    """The month's figures for every branch, or for one, as seen on `today` (which months have
    ended and which due dates have passed).

    Who is listed: members on the roster by the month's end who are still active, and members
    since deactivated who did something that month (noted 已停用); members who joined during
    the month are noted 本月新加入.
    """
    start, end = parse_month(month)
    month = month_of(start)
    if branch is not None and branch not in branches(db):
        known = "、".join(branches(db)) or "（名册为空）"
        raise ReportError(f"没有名为「{branch}」的支部（现有：{known}）")
    tasks = required_tasks(db, month)
    checkins = _checkin_days(db, start, end)
    quiz = _quiz(db, start, end)
    active_then = checkins.keys() | quiz.keys() | _task_activity(db, tasks)
    people = [p for p in load_people(db, branch=branch) if p.joined <= end
              and (p.member.active or p.id in active_then)]
    state = progress(db, month, people)
    streaks = months_missed(db, month, people, today, state)
    rows = [_row(p, state[p.id], checkins, quiz, streaks[p.id], start, today) for p in people]
    return MonthReport(month, branch, tasks, rows, *_summaries(rows))


def months_missed(db: sqlite_utils.Database, month: str, people: Sequence[Person],
                  today: date, state: dict[int, Progress] | None = None) -> dict[int, int]:
    """METRICS["months_missed"] for `month` seen on `today`: the run of missed months ending at
    the last ended month (`state`: `month`'s progress, reused when that month has ended)."""
    ended = last_ended_month(month, today)
    return missed_streaks(db, ended, people, first=state if ended == month else None)


def _row(person: Person, state: Progress, checkins: dict[int, tuple], quiz: dict[int, tuple],
         streak: int, start: date, today: date) -> MemberRow:
    m = person.member
    attempts, correct = quiz.get(m.id, (0, 0))
    notes = (["本月新加入"] if person.joined >= start else []) + ([] if m.active else ["已停用"])
    return MemberRow(m.id, m.branch, m.grp, m.name, len(state.required),
                     len(state.required) - len(state.missing), [t.title for t in state.missing],
                     checkins.get(m.id, (0,))[0], attempts, int(correct or 0), streak,
                     "、".join(notes), sum(t.due < today for t in state.missing))


def _summaries(rows: Sequence[MemberRow]) -> tuple[list[BranchSummary], Tally]:
    by_branch: dict[str, BranchSummary] = {}
    total = Tally()
    for row in rows:
        summary = by_branch.setdefault(row.branch, BranchSummary(row.branch, Tally(), {}))
        summary.total.add(row)
        summary.groups.setdefault(row.grp, Tally()).add(row)
        total.add(row)
    return list(by_branch.values()), total


# --- renderers -------------------------------------------------------------------------------

def tasks_line(report: MonthReport) -> str:
    """How many required tasks the month has, and how that squares with each member's 应学."""
    total, each = len(report.tasks), {r.required for r in report.rows}
    if each <= {total}:
        return f"本月必学任务 {total} 项，每人应学 {total} 项"
    low, high = min(each), max(each)
    spread = f"{low} 项" if low == high else f"{low}–{high} 项"
    return (f"本月必学任务共 {total} 项，每人应学 {spread}"
            "（只计面向本人所在支部、党小组的任务，以及加入名册后截止的任务）")


def attention_count(report: MonthReport) -> int:
    return sum(r.needs_attention for r in report.rows)


def _percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def report_rows(report: MonthReport, *, numbers: bool = False) -> list[list[object]]:
    """The detail table under HEADER; rates as fractions when `numbers` (XLSX), else text."""
    def rate(value: float | None) -> object:
        return ("—" if value is None else value) if numbers else _percent_text(value)

    return [[r.branch, r.grp, r.name, r.required, r.done, "、".join(r.missing),
             r.checkin_days, rate(r.quiz_rate), r.months_missed, r.note,
             "是" if r.needs_attention else ""] for r in report.rows]


def _rate_cell(value: float | None) -> object:
    return "—" if value is None else value


def summary_rows(summary: BranchSummary) -> list[list[object]]:
    def line(name: str, t: Tally) -> list[object]:
        return [name, t.members, t.with_tasks, t.complete, _rate_cell(t.rate), t.required,
                t.done, _rate_cell(t.task_rate), "、".join(t.not_done)]

    return ([line(grp or "（未分组）", tally) for grp, tally in summary.groups.items()]
            + [line("合计", summary.total)])


def overview_rows(report: MonthReport) -> list[list[object]]:
    """Branches by completion rate, best first (branches with nothing required last)."""
    ranked = sorted(report.branches, key=lambda b: (b.total.rate is None, -(b.total.rate or 0),
                                                    b.branch))
    rows: list[list[object]] = []
    for place, b in enumerate(ranked, start=1):
        rows.append([place if b.total.rate is not None else "—", b.branch, b.total.members,
                     b.total.with_tasks, b.total.complete, _rate_cell(b.total.rate),
                     _rate_cell(b.total.task_rate)])
    return rows


def sheet_title(branch: str) -> str:
    # Excel refuses []:*?/\ in sheet names and cuts them at 31 characters.
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in branch)
    return f"汇总-{cleaned}"[:31]


def report_sheets(report: MonthReport) -> list[Sheet]:
    """总览 (branches compared), 明细 (one row per member), one summary per branch, then 说明
    (the legend: what each figure means, the same text as the console's)."""
    sheets = [
        Sheet("总览", OVERVIEW_HEADER, overview_rows(report), percent_columns=(5, 6)),
        Sheet("明细", HEADER, report_rows(report, numbers=True), percent_columns=(7,)),
    ]
    titles: set[str] = {"总览", "明细"}
    for summary in report.branches:
        title, n = sheet_title(summary.branch), 2
        while title in titles:  # two long names cut to the same 31 characters
            title, n = f"{sheet_title(summary.branch)[:28]}~{n}", n + 1
        titles.add(title)
        sheets.append(Sheet(title, SUMMARY_HEADER, summary_rows(summary),
                            percent_columns=(4, 7)))
    sheets.append(Sheet("说明", LEGEND_HEADER, [[m.label, m.definition] for m in legend()]))
    return sheets


def report_csv(report: MonthReport) -> str:
    return csv_text(HEADER, report_rows(report))


def report_xlsx(report: MonthReport) -> bytes:
    buffer = io.BytesIO()
    write_workbook(buffer, report_sheets(report))
    return buffer.getvalue()

