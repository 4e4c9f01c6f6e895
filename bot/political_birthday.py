"""党员政治生日: a member's greeting on the anniversary of their 入党日期, and the month's list
for the secretaries' monthly 政治生日 activity.

Who and when (the scheduler's fire_political_birthdays calls `plan_day` at birthday.send_time
every day while birthday.enabled is on):

- the greeting: every active member whose 入党日期's anniversary is that day, at least one year
  on, on the day itself, holidays and weekends included (it is personal, not office business).
  29 February is greeted on 28 February in a common year. One broadcast per member and year
  (key political-birthday:<year>:<member>), so nothing is sent twice that year whatever the
  re-runs, and a date corrected after the greeting does not greet again.
- the list: on the first working day of each month (bot/holidays.py, 调休 included), each
  branch's secretaries (role 支部书记) get that month's birthdays in their branch, and the admins
  (role 党务干部) one list of every branch; once per branch and month (political-birthdays:
  <month>:branch:<branch>, political-birthdays:<month>:all). A branch with no birthday that
  month gets no message.

Members without a 入党日期, and inactive members, are in neither. Reads only: the scheduler
hands each Message to the delivery ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from bot.holidays import Calendar
from bot.party_dates import anniversary, years_between
from bot.store.members import Member
from bot.store.party_dates import PartyDates, active_with_joined

GREETING_LABEL = "（政治生日祝福）"
LIST_LABEL = "（本月政治生日名单）"


@dataclass(frozen=True)
class Birthday:
    member: Member
    dates: PartyDates
    day: date    # the anniversary this year (28 February for a 29 February in a common year)
    years: int   # years since 入党日期 on that day


@dataclass(frozen=True)
class Message:
    key: str
    member_ids: tuple[int, ...]
    text: str
    label: str


def birthdays_in(db: sqlite_utils.Database, year: int, month: int) -> list[Birthday]:
    """Active members' political birthdays in this month (at least one year on), by day."""
    found = []
    for member, dates in active_with_joined(db, months=(month,)):
        assert dates.joined is not None
        day = anniversary(dates.joined, year)
        years = years_between(dates.joined, day)
        if years >= 1:
            found.append(Birthday(member, dates, day, years))
    return sorted(found, key=lambda b: (b.day, b.member.branch, b.member.grp, b.member.id))


def is_list_day(day: date, calendar: Calendar) -> bool:
    """The first working day of `day`'s month: the day the secretaries get the month's list."""
    return day == calendar.next_workday(day.replace(day=1))


def plan_day(db: sqlite_utils.Database, day: date, calendar: Calendar, oath: str) -> list[Message]:
    """The greetings due on `day`, then the month's lists when `day` is the month's first
    working day."""
    month = birthdays_in(db, day.year, day.month)
    messages = [greeting(b, day, oath) for b in month if b.day == day]
    if is_list_day(day, calendar):
        messages += month_lists(db, day, month)
    return messages


# --- the greeting --------------------------------------------------------------------------

def greeting_key(year: int, member_id: int) -> str:
    return f"political-birthday:{year}:{member_id}"


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def greeting(birthday: Birthday, today: date, oath: str) -> Message:
    member, joined = birthday.member, birthday.dates.joined
    assert joined is not None
    lines = [f"{member.name}同志：",
             f"今天是您的政治生日！{_cn(joined)}，您光荣地加入了中国共产党，"
             f"到今天已经整整{birthday.years}年。"]
    if joined.day != birthday.day.day:  # 29 February, greeted on the 28th of a common year
        lines.append("今年的2月没有29日，我们在2月28日为您送上祝福。")
    if birthday.dates.confirmed:
        age = years_between(birthday.dates.confirmed, today)
        lines.append(f"您的党龄（自{_cn(birthday.dates.confirmed)}转正起算）"
                     + (f"已满{age}年。" if age >= 1 else "不满一年。"))
    lines += ["在这个特殊的日子里，让我们一起重温入党誓词：", f"“{oath}”",
              "祝您政治生日快乐！愿您常思入党初衷，牢记党员身份，在岗位上继续发挥先锋模范作用。",
              _signature(member.branch)]
    return Message(greeting_key(today.year, member.id), (member.id,), "\n".join(lines),
                   GREETING_LABEL)


def _signature(branch: str) -> str:
    from bot.nudges import signature  # the one spelling of a branch's signature

    return signature(branch)


# --- the secretaries' list -----------------------------------------------------------------

def list_key(month: str, branch: str | None) -> str:
    return f"political-birthdays:{month}:" + (f"branch:{branch}" if branch else "all")


def month_lists(db: sqlite_utils.Database, day: date, month: list[Birthday]) -> list[Message]:
    """One message per branch with birthdays, to its secretaries; one to the admins with all."""
    if not month:
        return []
    by_branch: dict[str, list[Birthday]] = defaultdict(list)
    for birthday in month:
        by_branch[birthday.member.branch].append(birthday)
    secretaries: dict[str, list[int]] = defaultdict(list)
    admins: list[int] = []
    for member_id, branch, role in db.execute(
            "SELECT id, branch, role FROM members WHERE active = 1"
            " AND role IN ('secretary', 'admin') ORDER BY id"):
        (secretaries[branch] if role == "secretary" else admins).append(member_id)
    label = f"{day.year:04d}-{day.month:02d}"
    messages = [Message(list_key(label, branch), tuple(secretaries[branch]),
                        branch_list_text(branch, day, entries), LIST_LABEL)
                for branch, entries in sorted(by_branch.items()) if secretaries[branch]]
    if admins:
        messages.append(Message(list_key(label, None), tuple(admins),
                                all_list_text(day, by_branch), LIST_LABEL))
    return messages


def _entry(number: int, birthday: Birthday, *, branch: bool) -> str:
    where = "，".join(part for part in (birthday.member.branch if branch else "",
                                         birthday.member.grp) if part)
    joined = birthday.dates.joined
    assert joined is not None
    leap = "（2月29日入党，今年在2月28日）" if joined.day != birthday.day.day else ""
    return (f"{number}. {birthday.member.name}" + (f"（{where}）" if where else "")
            + f"：{birthday.day.month}月{birthday.day.day}日，{joined.year}年入党，"
            f"入党{birthday.years}周年{leap}")


def branch_list_text(branch: str, day: date, entries: list[Birthday]) -> str:
    lines = [f"您好！本月（{day.month}月）本支部有{len(entries)}名党员过政治生日："]
    lines += [_entry(n, b, branch=False) for n, b in enumerate(entries, start=1)]
    lines += ["可结合本月主题党日组织过政治生日活动（重温入党誓词、赠送政治生日贺卡等）。"
              "政治生日当天，党员本人会收到祝福消息。", _signature(branch)]
    return "\n".join(lines)


def all_list_text(day: date, by_branch: dict[str, list[Birthday]]) -> str:
    total = sum(len(entries) for entries in by_branch.values())
    lines = [f"您好！本月（{day.month}月）共有{total}名党员过政治生日，各支部名单如下："]
    for branch, entries in sorted(by_branch.items()):
        lines.append(f"【{branch}】{len(entries)}人")
        lines += [_entry(n, b, branch=False) for n, b in enumerate(entries, start=1)]
    lines.append("有支部书记的支部，书记已收到本支部名单；请各支部结合主题党日组织政治生日活动。")
    return "\n".join(lines)
