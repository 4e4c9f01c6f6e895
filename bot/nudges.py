"""Nudges (督学): private reminders to members who fall behind, and escalation to their leaders.

On a working day at nudge.send_time each active member gets at most one nudge, from the first
of these rules that matches:

1. behind   (上月未完成) last month's required tasks are not all done, and they have not been
            told this month (an escalation of level 1, recorded once per member and month);
2. due      (临近截止) a required task they have not done is due in days_before_due days (when
            that day is not a working day: the last working day before it);
3. monthly  (月度提醒) on the first working day from monthly_day on: this month's required
            tasks they have not done;
4. inactive (久未打卡) no check-in for inactive_days days (counted from joining when they never
            checked in), once until they check in again.

A rule that loses to the one-a-day cap is not lost when it can wait: "behind" and "inactive"
fire on a later working day. Escalation (DOMAIN.md): two months behind in a row, the group
leader is told too (the branch secretary when the group has none); three, the branch secretary.
Each leader gets one notice listing all of their people; each (member, month, level) is told
once (the escalations table).

Sending: the plan is written first (nudges and escalations rows, each with its text and the
deterministic key of the broadcast that carries it), then one broadcast per key is created
through the delivery ledger with the members of those rows. Texts are grouped, so members who
get the same words share one broadcast. A re-run or a crash between the two steps re-creates
the same keys from the rows, and the ledger sends nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils

from bot import delivery
from bot.holidays import Calendar
from bot.report import (
    Audiences,
    Person,
    Progress,
    Task,
    done_pairs,
    last_ended_month,
    load_people,
    missed_streaks,
    month_of,
    previous_month,
    progress,
)
from bot.services import Services
from bot.store.members import Member

RULES = ("behind", "due", "monthly", "inactive")  # in priority order
RULE_NAMES = {"behind": "上月未完成", "due": "临近截止", "monthly": "月度提醒",
              "inactive": "久未打卡"}
LEVEL_NAMES = {2: "党小组长", 3: "支部书记"}
CHINESE_COUNT = {2: "两", 3: "三"}
WEEKDAY_NAMES = "一二三四五六日"


@dataclass(frozen=True)
class Settings:
    monthly_day: int
    days_before_due: int
    inactive_days: int

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Settings:
        return cls(section["monthly_day"], section["days_before_due"], section["inactive_days"])


@dataclass(frozen=True)
class Nudge:
    member: Member
    rule: str
    text: str
    months: int = 0          # "behind": months in a row, for the escalation record
    also: tuple[str, ...] = ()  # rules that matched too but lost to the one-a-day cap


@dataclass(frozen=True)
class Notice:
    """One message to a group leader or secretary about all of their people behind."""
    told: Member | None      # None: nobody to tell (recorded so it is not retried daily)
    month: str               # the month examined (the previous one)
    # (member, months behind in a row, the levels this tells): a secretary standing in for a
    # missing group leader hears of someone three months behind once, for levels 2 and 3.
    about: tuple[tuple[Member, int, tuple[int, ...]], ...]
    text: str

    @property
    def level(self) -> int:
        return min(level for _m, _months, levels in self.about for level in levels)


@dataclass(frozen=True)
class Plan:
    day: date
    workday: bool
    nudges: list[Nudge] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    broadcast_ids: list[int]


# --- deciding ------------------------------------------------------------------------------

def reminder_day(due: date, days_before: int, calendar: Calendar) -> date:
    """When to remind about a task due on `due`: N days before, moved back to a working day."""
    day = due - timedelta(days=days_before)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def monthly_day(day: date, settings: Settings, calendar: Calendar) -> date:
    """The monthly reminder's day in `day`'s month: the first working day from monthly_day."""
    return calendar.next_workday(day.replace(day=settings.monthly_day))


def plan_day(db: sqlite_utils.Database, day: date, settings: Settings,
             calendar: Calendar) -> Plan:
    """Who would be nudged on `day` and with what, and which leaders would be told. Reads only."""
    if not calendar.is_workday(day):
        return Plan(day, False)
    people = load_people(db, active_only=True)
    prev = last_ended_month(month_of(day), day)  # escalation is about ended months only
    prev_state = progress(db, prev, people)
    streaks = missed_streaks(db, prev, people, first=prev_state)
    told = {(m, level) for m, level in db.execute(
        "SELECT member_id, level FROM escalations WHERE month = ?", [prev])}
    matches = _rule_matches(db, day, settings, calendar, people, prev_state, streaks, told)
    nudged_today = {m for (m,) in db.execute("SELECT member_id FROM nudges WHERE day = ?",
                                             [day.isoformat()])}
    nudges = []
    for person in people:
        found = matches.get(person.id, {})
        rules = [rule for rule in RULES if rule in found]
        if rules and person.id not in nudged_today:
            nudges.append(Nudge(person.member, rules[0], found[rules[0]],
                                streaks[person.id] if rules[0] == "behind" else 0,
                                tuple(rules[1:])))
    notices = _notices(people, prev, prev_state, streaks, told)
    return Plan(day, True, nudges, notices)


def _rule_matches(db: sqlite_utils.Database, day: date, settings: Settings, calendar: Calendar,
                  people: Sequence[Person], prev_state: dict[int, Progress],
                  streaks: dict[int, int], told: set[tuple[int, int]]
                  ) -> dict[int, dict[str, str]]:
    """member id -> {rule: the text that rule would send}."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    prev = previous_month(month_of(day))
    for person in people:
        if streaks[person.id] and (person.id, 1) not in told:
            found[person.id]["behind"] = behind_text(person.member, prev, streaks[person.id],
                                                     prev_state[person.id].missing)
    for person, tasks in _due_soon(db, day, settings.days_before_due, calendar, people):
        found[person.id]["due"] = due_text(person.member, tasks, day)
    if day == monthly_day(day, settings, calendar):
        state = progress(db, month_of(day), people)
        for person in people:
            if state[person.id].missing:
                found[person.id]["monthly"] = monthly_text(person.member, day,
                                                           state[person.id].missing)
    if settings.inactive_days:
        for person, idle in _inactive(db, day, settings.inactive_days, people):
            found[person.id]["inactive"] = inactive_text(person.member, idle)
    return found


def _due_soon(db: sqlite_utils.Database, day: date, days_before: int, calendar: Calendar,
              people: Sequence[Person]) -> list[tuple[Person, list[Task]]]:
    """People with required tasks not done whose reminder day is `day`."""
    rows = db.execute(
        "SELECT id, month, position, title, due, audience FROM tasks"
        " WHERE required = 1 AND removed = 0 AND due >= ? ORDER BY due, position, id",
        [day.isoformat()])
    tasks = [Task(r[0], r[1], r[2], r[3], date.fromisoformat(r[4][:10]), json.loads(r[5]))
             for r in rows]
    tasks = [t for t in tasks if reminder_day(t.due, days_before, calendar) == day]
    done = done_pairs(db, tasks)
    audiences = Audiences()
    result = []
    for person in people:
        mine = [t for t in tasks
                if audiences.applies(t, person) and (t.id, person.id) not in done]
        if mine:
            result.append((person, mine))
    return result


def _inactive(db: sqlite_utils.Database, day: date, idle_days: int,
              people: Sequence[Person]) -> list[tuple[Person, int]]:
    """People with no check-in for `idle_days` days (since joining, if never) who have not
    been nudged for it since their last check-in; with the days idle."""
    last = dict(db.execute("SELECT member_id, max(day) FROM checkins WHERE day <= ?"
                           " GROUP BY member_id", [day.isoformat()]).fetchall())
    told = dict(db.execute("SELECT member_id, max(day) FROM nudges WHERE rule = 'inactive'"
                           " GROUP BY member_id").fetchall())
    result = []
    for person in people:
        since = date.fromisoformat(last[person.id]) if person.id in last else person.joined
        idle = (day - since).days
        if idle >= idle_days and not told.get(person.id, "") > since.isoformat():
            result.append((person, idle))
    return result


def _notices(people: Sequence[Person], prev: str, prev_state: dict[int, Progress],
             streaks: dict[int, int], told: set[tuple[int, int]]) -> list[Notice]:
    """Level 2 (two months in a row) to the group leader, level 3 to the branch secretary;
    one notice per person told, listing all of their people."""
    leaders: dict[tuple[str, str], Member] = {}
    secretaries: dict[str, Member] = {}
    for person in people:  # ordered by id within branch and group: the first one is told
        m = person.member
        if m.role == "group_leader":
            leaders.setdefault((m.branch, m.grp), m)
        elif m.role == "secretary":
            secretaries.setdefault(m.branch, m)
    grouped: dict[int | None, dict[int, tuple[Member, int, list[int]]]] = defaultdict(dict)
    tellers: dict[int | None, Member | None] = {None: None}
    for person in people:
        m, months = person.member, streaks[person.id]
        for level in (2, 3):
            if months < level or (m.id, level) in told:
                continue
            who = _who_is_told(m, level, leaders, secretaries)
            tellers[who.id if who else None] = who
            grouped[who.id if who else None].setdefault(m.id, (m, months, []))[2].append(level)
    notices = []
    for told_id, entries in grouped.items():
        who = tellers[told_id]
        about = tuple((m, months, tuple(levels)) for m, months, levels in entries.values())
        level = min(lv for _m, _months, levels in about for lv in levels)
        text = notice_text(who, level, prev, about, prev_state) if who else ""
        notices.append(Notice(who, prev, about, text))
    return notices


def _who_is_told(member: Member, level: int, leaders: dict[tuple[str, str], Member],
                 secretaries: dict[str, Member]) -> Member | None:
    leader = leaders.get((member.branch, member.grp)) if level == 2 else None
    if leader is not None and leader.id != member.id:
        return leader
    secretary = secretaries.get(member.branch)
    return secretary if secretary is not None and secretary.id != member.id else None


# --- the words -----------------------------------------------------------------------------

def signature(branch: str) -> str:
    return f"——{branch if branch.endswith('支部') else branch + '党支部'}"


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _task_line(number: int, task: Task, today: date) -> str:
    left = (task.due - today).days
    when = ("已逾期" if left < 0 else "今天截止" if left == 0 else f"还有{left}天")
    return f"{number}. {task.title}（{_md(task.due)}截止，{when}）"


HOW_TO_MARK = "回复「任务」可查看任务清单，学完后回复「完成 序号」即可登记。"


def behind_text(member: Member, month: str, months: int, missing: Sequence[Task]) -> str:
    lines = [f"您好！您{int(month[5:])}月份还有{len(missing)}项必学任务没有完成："]
    lines += [f"{n}. {t.title}" for n, t in enumerate(missing, start=1)]
    if months >= 2:
        lines.append(f"这已是连续第{months}个月未完成学习任务，请务必重视，尽快补学。")
    else:
        lines.append("请抽时间尽快补学。")
    lines += [HOW_TO_MARK, signature(member.branch)]
    return "\n".join(lines)


def due_text(member: Member, tasks: Sequence[Task], today: date) -> str:
    lines = ["您好！以下必学任务即将截止，您还没有登记完成："]
    lines += [_task_line(n, t, today) for n, t in enumerate(tasks, start=1)]
    lines += ["请合理安排时间，按时完成学习。" + HOW_TO_MARK, signature(member.branch)]
    return "\n".join(lines)


def monthly_text(member: Member, today: date, missing: Sequence[Task]) -> str:
    lines = [f"您好！本月（{today.month}月）还有{len(missing)}项必学任务您尚未完成："]
    lines += [_task_line(n, t, today) for n, t in enumerate(missing, start=1)]
    lines += ["请抓紧时间学习。" + HOW_TO_MARK, signature(member.branch)]
    return "\n".join(lines)


def inactive_text(member: Member, idle_days: int) -> str:
    return (f"您好！您已经{idle_days}天没有学习打卡了。每天抽出几分钟学一学党纪法规，"
            f"学完回复「打卡」即可记录。\n{signature(member.branch)}")


def notice_text(told: Member, level: int, month: str,
                about: Sequence[tuple[Member, int, tuple[int, ...]]],
                state: dict[int, Progress]) -> str:
    count = CHINESE_COUNT[level]
    leader = told.role == "group_leader"
    scope = f"您所在的{told.grp}有以下同志" if leader else "本支部以下同志"
    lines = [f"{told.name}同志：您好！{scope}已连续{count}个月及以上未完成支部规定的必学任务："]
    for n, (m, months, _levels) in enumerate(about, start=1):
        missing = "、".join(t.title for t in state[m.id].missing)
        where = "" if leader else f"{m.grp}，"
        lines.append(f"{n}. {m.name}（{where}连续{months}个月；{int(month[5:])}月缺：{missing}）")
    ask = ("请您近期与他们谈心谈话，督促按时完成学习。" if level == 2
           else "请您安排谈心谈话，了解情况，督促整改。")
    lines += [ask, signature(told.branch)]
    return "\n".join(lines)


# --- sending -------------------------------------------------------------------------------

def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]


def nudge_key(day: date, rule: str, text: str, member_ids: Sequence[int]) -> str:
    return f"nudge:{day.isoformat()}:{rule}:{_digest(text, sorted(member_ids))}"


def notice_key(month: str, level: int, told_id: int, text: str) -> str:
    return f"escalation:{month}:{level}:{told_id}:{_digest(text)}"


def record(services: Services, plan: Plan) -> None:
    """Write the plan's rows, each with its broadcast key; rows already there win."""
    now = services.clock.now().isoformat()
    day = plan.day.isoformat()
    by_text: dict[tuple[str, str], list[Nudge]] = defaultdict(list)
    for nudge in plan.nudges:
        by_text[(nudge.rule, nudge.text)].append(nudge)
    with services.store.transaction() as db:
        for (rule, text), group in by_text.items():
            key = nudge_key(plan.day, rule, text, [n.member.id for n in group])
            for nudge in group:
                added = db.execute(
                    "INSERT INTO nudges (member_id, day, rule, text, broadcast_key, at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [nudge.member.id, day, rule, text, key, now]).rowcount
                if added and rule == "behind":
                    _escalation(db, nudge.member.id, previous_month(month_of(plan.day)), 1,
                                nudge.months, nudge.member.id, "", key, day, now)
        for notice in plan.notices:
            key = notice_key(notice.month, notice.level, notice.told.id,
                             notice.text) if notice.told else None
            for member, months, levels in notice.about:
                for level in levels:
                    _escalation(db, member.id, notice.month, level, months,
                                notice.told.id if notice.told else None, notice.text, key, day,
                                now)


def _escalation(db: sqlite_utils.Database, member_id: int, month: str, level: int, months: int,
                told_id: int | None, text: str, key: str | None, day: str, now: str) -> None:
    db.execute(
        "INSERT INTO escalations (member_id, month, level, months, told_member_id, text,"
        " broadcast_key, day, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [member_id, month, level, months, told_id, text, key, day, now])


def send_recorded(services: Services, day: date, fire_at: datetime) -> list[int]:
    """One broadcast per key among the day's rows (idempotent: existing keys add nothing)."""
    db = services.store.db
    groups: dict[str, tuple[str, list[int]]] = {}
    for key, text, member_id in db.execute(
            "SELECT broadcast_key, text, member_id FROM nudges WHERE day = ?"
            " UNION ALL SELECT DISTINCT broadcast_key, text, told_member_id FROM escalations"
            " WHERE day = ? AND level >= 2 AND broadcast_key IS NOT NULL ORDER BY 1, 3",
            [day.isoformat(), day.isoformat()]):
        groups.setdefault(key, (text, []))[1].append(member_id)
    return [delivery.create_broadcast(services, key=key, text=text,
                                      audience={"members": members}, fire_at=fire_at)
            for key, (text, members) in groups.items()]


def run_day(services: Services, day: date, fire_at: datetime,
            calendar: Calendar | None = None) -> RunResult:
    """Decide, record, and hand the broadcasts to the delivery ledger (the drain sends them)."""
    from bot.reminders import holiday_calendar

    calendar = calendar or holiday_calendar(services)
    settings = Settings.from_config(services.config.section("nudge"))
    plan = plan_day(services.store.db, day, settings, calendar)
    if plan.workday:
        record(services, plan)
    return RunResult(plan, send_recorded(services, day, fire_at))
