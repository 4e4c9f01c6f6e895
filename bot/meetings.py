"""组织生活 (三会一课, 主题党日): notices, sign-in, leave, attendance, 补学, compliance.

The store (bot/store/meetings.py) keeps the rows; this module decides what they mean and what is
said. Every message goes through the delivery ledger with a key derived from the meeting, so a
second run of `send_notices` (every scheduler tick, and right after a change) sends nothing twice:

    meeting:<id>:notice            the notice, at creation or notice_days before (REMINDER_AT)
    meeting:<id>:reminder:<day>    the morning reminder: the meeting's day at REMINDER_AT when
                                   it is a working day, else the last working day before it
    meeting:<id>:change:<version>  a change of time or place, to those already told
    meeting:<id>:cancel            a cancellation, to those already told
    meeting:<id>:makeup            the 补学 task's notice, after the meeting
    leave:<id>:asked / :decided    a leave request to the branch's secretaries; the answer
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from bot import audience as audiences
from bot.holidays import Calendar
from bot.store import kv
from bot.store import meetings as store
from bot.store import members as store_members
from bot.store import tasks as store_tasks
from bot.store.meetings import Meeting, MeetingError
from bot.store.members import Member

if TYPE_CHECKING:  # handlers import this module, and bot.services imports the handlers
    from bot.services import Services

REMINDER_AT = time(8, 30)
SIGN_IN_EARLY = timedelta(minutes=30)   # the code works from 30 minutes before the start
MAX_WRONG_CODES = 5
PAUSE_AFTER_WRONG = timedelta(minutes=15)
MAKEUP_AFTER = timedelta(hours=1)        # time for the secretary to correct marks first
MAKEUP_DAYS = 14                         # the 补学 task's due date after the meeting
WEEKDAYS = "一二三四五六日"
SECRETARY_ROLES = ("secretary",)

__all__ = ["MeetingError"]


# --------------------------------------------------------------------------- formatting


def when(meeting: Meeting) -> str:
    """12月3日（周四）14:30—16:00"""
    start, end = meeting.start, meeting.end
    head = f"{start.month}月{start.day}日（周{WEEKDAYS[start.weekday()]}）{start:%H:%M}"
    if end.date() == start.date():
        return f"{head}—{end:%H:%M}"
    return f"{head}—{end.month}月{end.day}日 {end:%H:%M}"


def summary(db: sqlite_utils.Database, meeting: Meeting) -> list[str]:
    """The lines every notice and answer shares."""
    lines = [f"【{meeting.kind}】{meeting.title}", f"时间：{when(meeting)}",
             f"地点：{meeting.where}"]
    if meeting.speaker:
        lines.append(f"主讲：{meeting.speaker}")
    if meeting.agenda:
        lines.append(f"议程：{meeting.agenda}")
    lines += material_lines(db, meeting)
    return lines


def material_lines(db: sqlite_utils.Database, meeting: Meeting) -> list[str]:
    materials = meeting.materials
    lines = [f"· 《{r.short}》{r.article_no}（发送「{r.short}{r.article_no}」看原文）"
             for r in store_tasks.readings_of(db, materials.get("readings", ()))]
    lines += [f"· {link}" for link in materials.get("links", ())]
    task = store_tasks.get_task(db, materials["task"]) if materials.get("task") else None
    if task is not None:
        lines.append(f"· 学习任务：{task.month} 第{task.position}项「{task.title}」")
    return ["学习材料：", *lines] if lines else []


def notice_text(db: sqlite_utils.Database, meeting: Meeting) -> str:
    return "\n".join(["会议通知", *summary(db, meeting),
                      "回复「参加」确认参会；不能参加请回复「请假 理由」。"])


def reminder_text(db: sqlite_utils.Database, meeting: Meeting, day: date) -> str:
    head = "今天" if day == meeting.start.date() else f"{meeting.start.month}月{meeting.start.day}日"
    return "\n".join([f"会议提醒：{head}{meeting.start:%H:%M} 有会议", *summary(db, meeting),
                      "到场后回复「签到 签到码」（签到码在会场公布）。"])


def change_text(db: sqlite_utils.Database, meeting: Meeting) -> str:
    return "\n".join(["会议变更通知（时间或地点有调整，以此为准）", *summary(db, meeting)])


def cancel_text(meeting: Meeting) -> str:
    return f"会议取消通知\n原定{when(meeting)}的【{meeting.kind}】{meeting.title}已取消，特此通知。"


# --------------------------------------------------------------------------- notices


def notice_due(meeting: Meeting, created: datetime) -> datetime:
    """When the notice goes out: at creation, or REMINDER_AT notice_days before the day."""
    if not meeting.notice_days:
        return created
    day = meeting.start.date() - timedelta(days=meeting.notice_days)
    return max(created, datetime.combine(day, REMINDER_AT, meeting.start.tzinfo))


def reminder_due(meeting: Meeting, calendar: Calendar) -> datetime:
    """The morning of the day when it is a working day; else the last working day before (on
    a weekend or holiday people are not at their desks to read it in time)."""
    day = meeting.start.date()
    if not calendar.is_workday(day):
        day = calendar.workday_before(day, 1)
    return datetime.combine(day, REMINDER_AT, meeting.start.tzinfo)


def _created_at(db: sqlite_utils.Database, meeting_id: int) -> datetime:
    row = db.execute("SELECT created_at FROM meetings WHERE id = ?", [meeting_id]).fetchone()
    return datetime.fromisoformat(row[0])


def told_members(db: sqlite_utils.Database, meeting_id: int) -> list[int]:
    """Members with a row in one of this meeting's notice, reminder or change broadcasts."""
    rows = db.execute(
        "SELECT DISTINCT d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key LIKE ? AND b.key NOT LIKE ? ORDER BY d.member_id",
        [f"meeting:{meeting_id}:%", f"meeting:{meeting_id}:makeup%"])
    return [row[0] for row in rows]


def send_notices(services: Services) -> None:
    """Everything due about meetings: changes and cancellations, notices, morning reminders,
    补学 tasks. Safe to run at any time, as often as wanted: each message has its own key."""
    from bot.reminders import holiday_calendar

    now = services.clock.now()
    db = services.store.db
    for meeting in store.to_retell(db, now):
        _retell(services, meeting, now)
    calendar = holiday_calendar(services)
    for meeting in store.upcoming(db, now, until_ended=False):
        _notice_and_reminder(services, meeting, now, calendar)
    for meeting in store.ended_without_makeup(db, now - MAKEUP_AFTER):
        assign_makeup(services, meeting)


def _broadcast(services: Services, key: str, text: str, audience: dict[str, Any]) -> None:
    from bot import delivery  # at call time: see the TYPE_CHECKING import above

    delivery.create_broadcast(services, key=key, text=text, audience=audience,
                              fire_at=services.clock.now())


def _retell(services: Services, meeting: Meeting, now: datetime) -> None:
    db = services.store.db
    told = told_members(db, meeting.id)
    if told and meeting.cancelled:
        _broadcast(services, f"meeting:{meeting.id}:cancel", cancel_text(meeting),
                   {"members": told})
    elif told:
        _broadcast(services, f"meeting:{meeting.id}:change:{meeting.version}",
                   change_text(db, meeting), {"members": told})
    with services.store.transaction() as tx:
        store.set_told_version(tx, meeting.id, 0 if meeting.cancelled else meeting.version)


def _notice_and_reminder(services: Services, meeting: Meeting, now: datetime,
                         calendar: Calendar) -> None:
    db = services.store.db
    created = _created_at(db, meeting.id)
    if now >= notice_due(meeting, created) and store.told_version(db, meeting.id) == 0:
        _broadcast(services, f"meeting:{meeting.id}:notice", notice_text(db, meeting),
                   meeting.audience)
        with services.store.transaction() as tx:
            store.set_told_version(tx, meeting.id, meeting.version)
    reminder = reminder_due(meeting, calendar)
    # A meeting made after its reminder's time was just announced: no second message.
    if reminder <= now < meeting.start and created < reminder:
        _broadcast(services, f"meeting:{meeting.id}:reminder:{reminder.date()}",
                   reminder_text(db, meeting, reminder.date()), meeting.audience)


# --------------------------------------------------------------------------- attendance


@dataclass(frozen=True)
class Attendee:
    member: Member
    status: str | None   # present / leave / absent; None while the meeting has not ended
    joining: bool
    signed_at: datetime | None
    leave: store.Leave | None


def attendance(db: sqlite_utils.Database, meeting: Meeting, now: datetime) -> list[Attendee]:
    """Every member of the audience (active, and anyone who answered) with their status: the
    secretary's mark, else signed in = 出席, an approved leave = 请假, else after the end 缺席."""
    answers = store.answers(db, meeting.id)
    leaves = store.leaves(db, meeting.id)
    people = {m.id: m for m in audiences.members_of(db, meeting.audience)}
    for member_id in answers.keys() - people.keys():
        member = store_members.get_member(db, member_id)
        if member is not None:
            people[member_id] = member
    result = []
    for member in sorted(people.values(), key=lambda m: (m.grp, m.id)):
        answer, leave = answers.get(member.id), leaves.get(member.id)
        result.append(Attendee(member, _status(answer, leave, meeting, now),
                               bool(answer and answer.joining),
                               answer.signed_at if answer else None, leave))
    return result


def _status(answer: store.Answer | None, leave: store.Leave | None, meeting: Meeting,
            now: datetime) -> str | None:
    if answer is not None and answer.mark:
        return answer.mark
    if answer is not None and answer.signed_at:
        return "present"
    if leave is not None and leave.status == "approved":
        return "leave"
    return "absent" if now >= meeting.end else None


def counts(attendees: Iterable[Attendee]) -> dict[str, int]:
    result = {"present": 0, "leave": 0, "absent": 0}
    for a in attendees:
        if a.status:
            result[a.status] += 1
    return result


# --------------------------------------------------------------------------- 补学


def assign_makeup(services: Services, meeting: Meeting) -> int | None:
    """After the meeting: one study task for those absent or on leave, pointing to the
    materials, and a message to them. Returns the task id (None when everyone came)."""
    now = services.clock.now()
    with services.store.transaction() as db:
        fresh = store.get(db, meeting.id)
        if fresh is None or fresh.makeup_task_id is not None:
            return fresh.makeup_task_id if fresh else None
        missing = [a.member.id for a in attendance(db, fresh, now)
                   if a.status in ("absent", "leave") and a.member.active]
        if not missing:
            store.set_makeup_task(db, fresh.id, 0)  # 0: looked at, nobody to make up
            return None
        task = store_tasks.add_task(db, **makeup_fields(db, fresh), now=now,
                                    audience={"members": missing})
        store.set_makeup_task(db, fresh.id, task.id)
    _broadcast(services, f"meeting:{meeting.id}:makeup", makeup_text(db, meeting, task),
               {"members": missing})
    return task.id


def makeup_fields(db: sqlite_utils.Database, meeting: Meeting) -> dict[str, Any]:
    end = meeting.end.date()
    due = end + timedelta(days=MAKEUP_DAYS)
    links = meeting.materials.get("links", [])
    detail = f"补学{when(meeting)}的{meeting.kind}「{meeting.title}」。"
    if meeting.agenda:
        detail += f"议程：{meeting.agenda}"
    return {"month": f"{end.year:04d}-{end.month:02d}", "title": f"补学：{meeting.title}"[:100],
            "due": due, "detail": detail, "link": links[0] if links else "",
            "readings": tuple(meeting.materials.get("readings", ())), "required": True,
            "kind": "主题党日" if meeting.kind == "主题党日" else "三会一课"}


def makeup_text(db: sqlite_utils.Database, meeting: Meeting, task: store_tasks.Task) -> str:
    lines = [f"你没有参加{when(meeting)}的【{meeting.kind}】{meeting.title}，已为你安排补学：",
             f"{task.month} 学习任务第{task.position}项「{task.title}」，{task.due.month}月"
             f"{task.due.day}日前完成。", *material_lines(db, meeting),
             f"学完后回复「完成 {task.position}」。"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- chat: members


def member_meetings(db: sqlite_utils.Database, member: Member, now: datetime, *,
                    until: datetime | None = None) -> list[Meeting]:
    """The scheduled meetings this member is in, not yet ended."""
    return [m for m in store.upcoming(db, now, until=until) if m.includes(member)]


def next_meeting(db: sqlite_utils.Database, member: Member, now: datetime) -> Meeting | None:
    """The member's next meeting that has not started (what 参加 and 请假 are about)."""
    return next((m for m in member_meetings(db, member, now) if m.start > now), None)


def join(db: sqlite_utils.Database, member: Member, now: datetime) -> str:
    meeting = next_meeting(db, member, now)
    if meeting is None:
        return "你近期没有要参加的会议。发送「我要参加哪些会」可以查看。"
    leave = store.leaves(db, meeting.id).get(member.id)
    store.set_joining(db, meeting.id, member.id, now)
    note = ""
    if leave is not None and leave.status == "pending":
        note = "\n（你之前提交的请假申请仍在等待审批，如不再请假请告诉支部书记。）"
    return f"已记录你参加：{meeting.title}\n时间：{when(meeting)}\n地点：{meeting.where}{note}"


def ask_leave(db: sqlite_utils.Database, member: Member, reason: str, now: datetime) -> str:
    """Inside the message's transaction: records the request; the secretaries' message is
    created by `send_leave_messages` after the commit (see handlers/meetings.py)."""
    reason = reason.strip()
    if not reason:
        return "请写明请假理由，例如「请假 出差在外」。"
    meeting = next_meeting(db, member, now)
    if meeting is None:
        started = [m for m in member_meetings(db, member, now) if m.start <= now]
        if started:
            return f"「{started[0].title}」已经开始，不能再请假；请直接向支部书记说明。"
        return "你近期没有要参加的会议，无需请假。"
    try:
        leave, changed = store.request_leave(db, meeting.id, member.id, reason, now)
    except MeetingError as exc:
        return str(exc)
    if leave.status != "pending":
        return f"你参加「{meeting.title}」的请假申请已经处理：{store.LEAVE_STATUSES[leave.status]}。"
    if not changed:
        return f"你参加「{meeting.title}」的请假申请已提交，正在等待支部书记审批。"
    kv.put(db, f"leave-asked:{leave.id}", str(leave.asked_at.timestamp()), None)
    return (f"已提交请假申请：{meeting.title}（{when(meeting)}）\n理由：{leave.reason}\n"
            "支部书记审批后会通知你。")


def secretaries(db: sqlite_utils.Database, branch: str) -> list[int]:
    return [m.id for m in store_members.list_members(db, active_only=True)
            if m.branch == branch and m.role in SECRETARY_ROLES]


def send_leave_messages(services: Services) -> None:
    """Tell the branch's secretaries about new leave requests, and members about decisions.
    The pending marks live in kv (written in the same transaction as the request or decision),
    so a crash between commit and send only delays the message to the next tick."""
    db = services.store.db
    for key, _value in db.execute("SELECT key, value FROM kv WHERE key LIKE 'leave-asked:%'"
                                  " OR key LIKE 'leave-decided:%'").fetchall():
        kind, _, leave_id = key.partition(":")
        leave = store.get_leave(db, int(leave_id))
        if leave is not None:
            _leave_message(services, kind, leave)
        with services.store.transaction() as tx:
            kv.delete(tx, key)


def _leave_message(services: Services, kind: str, leave: store.Leave) -> None:
    db = services.store.db
    meeting = store.get(db, leave.meeting_id)
    member = store_members.get_member(db, leave.member_id)
    if meeting is None or member is None:
        return
    if kind == "leave-asked":
        to = secretaries(db, meeting.branch)
        if to:
            _broadcast(services, f"leave:{leave.id}:asked:{leave.asked_at.isoformat()}",
                       f"请假申请（编号 {leave.id}）：{member.name}申请不参加「{meeting.title}」"
                       f"（{when(meeting)}）\n理由：{leave.reason}\n"
                       f"回复「准假 {leave.id}」同意，回复「不准假 {leave.id}」不同意；"
                       "也可以在管理后台的组织生活页面审批。", {"members": to})
        return
    verdict = ("已同意，会后请按补学安排学习会议内容。" if leave.status == "approved"
               else "未同意，请按时参加；如有困难请与支部书记联系。")
    _broadcast(services, f"leave:{leave.id}:decided",
               f"你参加「{meeting.title}」（{when(meeting)}）的请假申请{verdict}",
               {"members": [member.id]})


def decide_leave(db: sqlite_utils.Database, leave_id: int, *, approve: bool, by: str,
                 branch: str | None, now: datetime) -> str:
    """A secretary's (branch) or an admin's (None) decision; the member's message follows
    the commit (send_leave_messages)."""
    leave = store.get_leave(db, leave_id)
    meeting = store.get(db, leave.meeting_id) if leave else None
    if leave is None or meeting is None or (branch is not None and meeting.branch != branch):
        raise MeetingError(f"没有编号为 {leave_id} 的请假申请。")
    if meeting.end <= now:
        raise MeetingError(f"「{meeting.title}」已经结束，请在出勤表里直接登记。")
    decided = store.decide_leave(db, leave_id, approve=approve, by=by, now=now)
    kv.put(db, f"leave-decided:{decided.id}", decided.status, None)
    member = store_members.get_member(db, decided.member_id)
    name = member.name if member else "该党员"
    return f"已{'同意' if approve else '不同意'}{name}的请假（「{meeting.title}」），已通知本人。"


# --------------------------------------------------------------------------- chat: sign-in


def sign_in(db: sqlite_utils.Database, member: Member, code: str, now: datetime) -> str:
    """签到 1234: the code of a meeting in its window (SIGN_IN_EARLY before the start to the
    end) that this member is in. Five wrong codes in a row pause the member."""
    paused = kv.get(db, f"signin-paused:{member.id}", now.timestamp())
    if paused is not None:
        until = datetime.fromtimestamp(float(paused), now.tzinfo)
        return f"签到码错误次数过多，请于 {until:%H:%M} 后再试，或请支部书记在后台登记。"
    opened = now + SIGN_IN_EARLY + timedelta(seconds=1)  # `until` is exclusive
    windowed = [m for m in store.upcoming(db, now, until=opened)
                if m.start - SIGN_IN_EARLY <= now < m.end]
    mine = [m for m in windowed if m.includes(member)]
    match = next((m for m in windowed if m.code == code), None)
    if match is not None and not match.includes(member):
        return f"你不在「{match.title}」的参会名单中，无需签到。如有疑问请联系支部书记。"
    if match is not None:
        _clear_wrong(db, member)
        if not store.sign_in(db, match.id, member.id, now):
            signed = store.answers(db, match.id)[member.id].signed_at
            assert signed is not None
            return f"你已于 {signed.astimezone(now.tzinfo):%H:%M} 签到「{match.title}」，无需重复。"
        return f"签到成功：{match.title}\n{member.name}，签到时间 {now:%H:%M}。"
    if not mine:
        return _no_window_answer(db, member, code, now)
    return _wrong_code(db, member, now)


def sign_in_without_code(db: sqlite_utils.Database, member: Member, now: datetime) -> str:
    """The WeCom menu's 会议签到: the member is who WeCom says (their userid from the roster), so
    their one meeting in its sign-in window is signed without a code. Several at once: the
    code tells them apart."""
    paused = kv.get(db, f"signin-paused:{member.id}", now.timestamp())
    if paused is not None:
        return sign_in(db, member, "", now)
    opened = now + SIGN_IN_EARLY + timedelta(seconds=1)
    mine = [m for m in store.upcoming(db, now, until=opened)
            if m.start - SIGN_IN_EARLY <= now < m.end and m.includes(member)]
    if len(mine) != 1:
        return (_no_window_answer(db, member, "", now) if not mine else
                "现在有几个会议可以签到，请发送「签到 签到码」（签到码在会场公布）。")
    return sign_in(db, member, mine[0].code, now)


def _no_window_answer(db: sqlite_utils.Database, member: Member, code: str,
                      now: datetime) -> str:
    later = next_meeting(db, member, now)
    ended = db.execute("SELECT title FROM meetings WHERE code = ? AND end_at <= ? AND"
                       " end_at > ? AND status = 'scheduled'",
                       [code, now.isoformat(), (now - timedelta(days=1)).isoformat()]).fetchone()
    if ended:
        return f"「{ended[0]}」已经结束，签到码已失效。如确已参会，请联系支部书记登记。"
    if later is not None:
        opens = later.start - SIGN_IN_EARLY
        return (f"现在不在签到时间。「{later.title}」的签到从 {opens.month}月{opens.day}日 "
                f"{opens:%H:%M} 开始，到会议结束为止。")
    return "现在没有需要你签到的会议。每天的学习打卡请发送「打卡」。"


def _wrong_code(db: sqlite_utils.Database, member: Member, now: datetime) -> str:
    key = f"signin-wrong:{member.id}"
    wrong = int(kv.get(db, key, now.timestamp()) or 0) + 1
    if wrong >= MAX_WRONG_CODES:
        until = now + PAUSE_AFTER_WRONG
        kv.put(db, f"signin-paused:{member.id}", str(until.timestamp()), until.timestamp())
        kv.delete(db, key)
        return (f"签到码连续 {MAX_WRONG_CODES} 次不对，签到暂停 15 分钟（到 {until:%H:%M}）。"
                "请向会议主持人核对签到码。")
    kv.put(db, key, str(wrong), (now + PAUSE_AFTER_WRONG).timestamp())
    return (f"签到码不对（还可以再试 {MAX_WRONG_CODES - wrong} 次）。请核对会场公布的 "
            f"{store.CODE_DIGITS} 位签到码，发送「签到 签到码」。")


def _clear_wrong(db: sqlite_utils.Database, member: Member) -> None:
    kv.delete(db, f"signin-wrong:{member.id}")


# --------------------------------------------------------------------------- chat: questions

_KIND_WORDS = {"党课": "党课", "主题党日": "主题党日", "党员大会": "支部党员大会", "支委会": "支委会",
               "党小组会": "党小组会"}
_QUESTION = re.compile(r"(什么|哪些|哪天|几点|几号|啥|多会|何时|安排|吗|\?|？|有没有|时间)")
_MEETING_WORD = re.compile(r"(会议|开会|有会|的会|党课|主题党日|党员大会|支委会|党小组会|三会一课|组织生活|参加哪些会|什么会|哪些会)")
LIST_WORDS = ("会议", "会议安排", "我的会议", "近期会议", "组织生活")


@dataclass(frozen=True)
class Question:
    kind: str | None          # a meeting kind asked about, or None for any
    start: datetime
    end: datetime | None      # None: everything still to come
    span: str                 # 本周 / 下周 / 今天 / 明天 / 本月 / 近期


def parse_question(text: str, now: datetime) -> Question | None:
    """「这周有什么会」「党课什么时候」「我要参加哪些会」 -> a Question; None when the text is
    not about meetings."""
    text = text.strip()
    if text not in LIST_WORDS and not (_MEETING_WORD.search(text) and _QUESTION.search(text)):
        return None
    kind = next((k for word, k in _KIND_WORDS.items() if word in text), None)
    today = datetime.combine(now.date(), time(0), now.tzinfo)
    monday = today - timedelta(days=today.weekday())
    spans = (("下周", monday + timedelta(days=7), monday + timedelta(days=14)),
             ("这周", monday, monday + timedelta(days=7)), ("本周", monday, monday + timedelta(days=7)),
             ("今天", today, today + timedelta(days=1)),
             ("明天", today + timedelta(days=1), today + timedelta(days=2)),
             ("这个月", today, _next_month(today)), ("本月", today, _next_month(today)))
    for word, start, end in spans:
        if word in text:
            return Question(kind, max(start, now) if word != "下周" else start, end,
                            "本周" if word == "这周" else "本月" if word == "这个月" else word)
    return Question(kind, now, None, "近期")


def _next_month(day: datetime) -> datetime:
    first = day.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def answer_question(db: sqlite_utils.Database, member: Member, question: Question,
                    now: datetime) -> str:
    found = [m for m in member_meetings(db, member, now, until=question.end)
             if m.end > question.start and (question.kind is None or m.kind == question.kind)]
    what = question.kind or "会议"
    if not found:
        return f"{question.span}没有安排你参加的{what}。"
    lines = [f"{question.span}你要参加的{what}（{len(found)} 个）："]
    for n, meeting in enumerate(found[:10], 1):
        state = _my_state(db, meeting, member, now)
        lines.append(f"{n}. 【{meeting.kind}】{meeting.title}\n   {when(meeting)}，{meeting.where}{state}")
    lines.append("回复「参加」确认最近一次会议，不能参加回复「请假 理由」。")
    return "\n".join(lines)


def _my_state(db: sqlite_utils.Database, meeting: Meeting, member: Member, now: datetime) -> str:
    answer = store.answers(db, meeting.id).get(member.id)
    leave = store.leaves(db, meeting.id).get(member.id)
    if answer is not None and answer.signed_at:
        return "（已签到）"
    if leave is not None:
        return f"（请假{store.LEAVE_STATUSES[leave.status]}）"
    if answer is not None and answer.joining:
        return "（已确认参加）"
    return ""


# --------------------------------------------------------------------------- compliance


@dataclass(frozen=True)
class Requirement:
    kind: str
    label: str        # 党课 / 党小组会（财务处党小组）
    held: int         # ended or started, not cancelled
    planned: int      # still to come this quarter
    required: int
    rule: str         # 每季度至少 1 次 / 每月 1 次

    @property
    def met(self) -> bool:
        return self.held >= self.required

    @property
    def sentence(self) -> str:
        return f"本季度{self.label}：已开 {self.held} 次，应开至少 {self.required} 次"


# 《中国共产党支部工作条例（试行）》第十九条: 党员大会一般每季度召开 1 次, 支委会一般每月召开
# 1 次, 党小组会一般每月召开 1 次, 党课每季度至少 1 次; 主题党日每月相对固定 1 天.
FREQUENCIES: tuple[tuple[str, int, str], ...] = (
    ("支部党员大会", 1, "一般每季度 1 次"),
    ("支委会", 3, "一般每月 1 次"),
    ("党小组会", 3, "一般每月 1 次（每个党小组）"),
    ("党课", 1, "每季度至少 1 次"),
    ("主题党日", 3, "每月 1 次"),
)


def quarter_of(day: date) -> tuple[date, date]:
    """The quarter's first day and the next quarter's first day."""
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    return start, end


def quarter_name(day: date) -> str:
    return f"{day.year}年第{(day.month - 1) // 3 + 1}季度"


def compliance(db: sqlite_utils.Database, branch: str, now: datetime) -> list[Requirement]:
    """This quarter's requirements for the branch, as of now."""
    return compliance_between(db, branch, quarter_of(now.date())[0], now)


def compliance_between(db: sqlite_utils.Database, branch: str, start: date,
                       now: datetime) -> list[Requirement]:
    """The requirements of the quarter starting `start`: held = started by `now`."""
    start, end = quarter_of(start)
    tz = now.tzinfo
    held_in = store.between(db, datetime.combine(start, time(0), tz),
                            datetime.combine(end, time(0), tz), branch=branch,
                            include_cancelled=False)
    rows = []
    for kind, required, rule in FREQUENCIES:
        these = [m for m in held_in if m.kind == kind]
        if kind == "党小组会":
            rows += _group_rows(db, branch, these, now, required, rule)
            continue
        rows.append(Requirement(kind, kind, sum(m.start <= now for m in these),
                                sum(m.start > now for m in these), required, rule))
    return rows


def _group_rows(db: sqlite_utils.Database, branch: str, meetings: list[Meeting], now: datetime,
                required: int, rule: str) -> list[Requirement]:
    rows = []
    for _branch, grp in store_members.list_groups(db, branch=branch):
        ref = audiences.group_ref(branch, grp)
        theirs = [m for m in meetings if ref in m.audience.get("groups", ())]
        rows.append(Requirement("党小组会", f"党小组会（{grp}）", sum(m.start <= now for m in theirs),
                                sum(m.start > now for m in theirs), required, rule))
    return rows


@dataclass(frozen=True)
class QuarterWarning:
    branch: str
    quarter: str           # 2026年第4季度
    days_left: int
    missing: list[Requirement]

    @property
    def heading(self) -> str:
        return f"{self.branch}：{self.quarter}还剩 {self.days_left} 天，以下组织生活还没有达到要求"


def quarter_warnings(db: sqlite_utils.Database, branches: Iterable[str], now: datetime, *,
                     within_days: int = 21) -> list[QuarterWarning]:
    """For 概览: in the quarter's last `within_days` days, each branch's requirements not met."""
    _start, end = quarter_of(now.date())
    left = (end - now.date()).days
    if left > within_days:
        return []
    found = []
    for branch in branches:
        missing = [r for r in compliance(db, branch, now) if not r.met]
        if missing:
            found.append(QuarterWarning(branch, quarter_name(now.date()), left, missing))
    return found
