"""组织生活 in chat: 参加, 请假 理由, 签到 1234, a secretary's 准假 N / 不准假 N, and questions such
as 「这周有什么会」「党课什么时候」「我要参加哪些会」, answered from the store by bot/meetings.py.

Every effect is written in the message's transaction; the messages it causes (a leave request
to the secretaries, the decision to the member) are marked in kv in the same transaction and
sent by the scheduler's next tick (bot.meetings.send_leave_messages), never from here: a
broadcast cannot be made inside the message's transaction.

handlers/__init__ imports this module before checkin: 「签到 1234」 is a meeting sign-in, while a
bare 「签到」 stays the daily 打卡.
"""

from __future__ import annotations

import json
import re

from bot import audience as audiences
from bot import meetings
from bot.audit_text import meeting_facts
from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import audit, kv
from bot.store import meetings as store
from bot.store.meetings import CODE_DIGITS, MeetingError
from handlers.router import HelpLine, router

JOIN_WORDS = ("参加", "参会", "我参加", "确认参加", "报名参加", "我要参加", "参加会议")
MENU_SIGN_IN = "会议签到"  # the WeCom menu button's words (handlers/events.py MENU_KEYS)
# The member's commands are one route (and so one line of 帮助): 签到 1234, 请假 理由, 参加,
# 会议, 会议签到. The questions (「这周有什么会」) are the guess below.
MEMBER_PATTERN = r"签到\s*[:：]?\s*(?P<code>\d{1,12})|请假(?:\s*[:：,，]?\s*(?P<reason>.+))?"


@router.text(*JOIN_WORDS, *meetings.LIST_WORDS, MENU_SIGN_IN, pattern=MEMBER_PATTERN,
             help=HelpLine(75, "会议", "「会议」「参加」「请假 理由」「签到 1234」"))
def meeting_command(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    text = inbound.normalised_text
    if ctx.match is not None and ctx.match.group("code"):
        return _sign_in(ctx, ctx.match.group("code"))
    if text.startswith("请假"):
        reason = (ctx.match.group("reason") if ctx.match else "") or ""
        return Reply(meetings.ask_leave(ctx.db, ctx.member, reason, ctx.clock.now()))
    if text == MENU_SIGN_IN:
        return _menu_sign_in(ctx)
    if text in JOIN_WORDS:
        return Reply(meetings.join(ctx.db, ctx.member, ctx.clock.now()))
    reply = meeting_question(inbound, ctx)  # 会议, 会议安排, 我的会议, ...
    assert reply is not None
    return reply


def _sign_in(ctx: Context, code: str) -> Reply:
    assert ctx.member is not None
    if len(code) != CODE_DIGITS:
        return Reply(f"签到码是 {CODE_DIGITS} 位数字，请核对会场公布的签到码，发送「签到 1234」这样。")
    return Reply(meetings.sign_in(ctx.db, ctx.member, code, ctx.clock.now()))


def _menu_sign_in(ctx: Context) -> Reply:
    """The WeCom menu button: WeCom vouches for the member. On the Official Account or the
    sandbox the code is still needed."""
    assert ctx.member is not None
    if ctx.channel != "wecom":
        return Reply("请发送「签到 签到码」签到（签到码在会场公布），例如「签到 1234」。")
    return Reply(meetings.sign_in_without_code(ctx.db, ctx.member, ctx.clock.now()))


@router.guess
def meeting_question(inbound: Inbound, ctx: Context) -> Reply | None:
    assert ctx.member is not None
    now = ctx.clock.now()
    question = meetings.parse_question(inbound.normalised_text, now)
    if question is None:
        return None
    return Reply(meetings.answer_question(ctx.db, ctx.member, question, now))


@router.text(pattern=r"(?P<no>不)?(?:准假|同意请假|批准请假)\s*(?P<id>\d{1,9})", admin_only=True,
             help=HelpLine(106, "请假审批（管理员）", "「准假 1」「不准假 1」"))
def decide_leave(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None and ctx.match is not None
    # A branch secretary decides for their own branch; a 党务干部 (role admin) for every one.
    branch = ctx.member.branch if ctx.member.role == "secretary" else None
    try:
        return Reply(meetings.decide_leave(
            ctx.db, int(ctx.match.group("id")), approve=not ctx.match.group("no"),
            by=ctx.member.name, branch=branch, now=ctx.clock.now()))
    except MeetingError as exc:
        return Reply(str(exc))


# --- an admin's or secretary's 会议 command: preview, then 确认 (as 定时 in handlers/admin.py) ----

PENDING_TTL_S = 600
MEETING_HELP = ("格式：会议 月-日 开始-结束 类型 名称 地点\n"
                "例如：会议 12-03 14:30-16:00 党课 学习党的二十届四中全会精神 三楼会议室\n"
                f"类型：{'、'.join(store.KINDS)}；对象是你所在支部的全体党员（其他对象请在管理后台安排）。")
_COMMAND = re.compile(r"(?P<day>\S+)\s+(?P<start>\d{1,2}[:：]\d{2})\s*[-—~至到]\s*"
                      r"(?P<end>\d{1,2}[:：]\d{2})\s+(?P<kind>\S+)\s+(?P<title>\S+)\s+(?P<place>.+)")


def _pending_key(ctx: Context) -> str:
    assert ctx.member is not None
    return f"pending_meeting:{ctx.member.id}"


@router.text(pattern=r"(?:安排)?会议\s+(?P<rest>.+)", admin_only=True,
             help=HelpLine(105, "会议（管理员）", "「会议 日期 起止时间 类型 名称 地点」"))
def plan_meeting(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None and ctx.match is not None
    found = _COMMAND.fullmatch(ctx.match.group("rest").strip())
    if found is None:
        return Reply(f"没看懂这条会议安排。\n{MEETING_HELP}")
    from handlers.admin import FORMAT_HELP, _when

    start = _when(ctx, found["day"], found["start"].replace("：", ":"))
    if isinstance(start, str):  # its wording is 定时's: name the 会议 format instead
        return Reply(start.replace(FORMAT_HELP, MEETING_HELP))
    end = start.replace(hour=int(found["end"].replace("：", ":").split(":")[0]),
                        minute=int(found["end"].replace("：", ":").split(":")[1]))
    fields = {"branch": ctx.member.branch, "kind": found["kind"], "title": found["title"],
              "start": start.isoformat(), "end": end.isoformat(), "place": found["place"]}
    try:
        preview = _checked(ctx, fields)
    except MeetingError as exc:
        return Reply(f"{exc}\n{MEETING_HELP}")
    kv.put(ctx.db, _pending_key(ctx), json.dumps(fields, ensure_ascii=False),
           ctx.clock.timestamp() + PENDING_TTL_S)
    size = len(audiences.members_of(ctx.db, preview.audience))
    return Reply("请确认这次会议：\n" + "\n".join(meetings.summary(ctx.db, preview)[:3])
                 + f"\n对象：{ctx.member.branch}全体党员（{size} 人）\n"
                 "确认后立即向参会党员发出会议通知。\n回复「确认」安排，回复「放弃」作废（10 分钟内有效）。")


def _checked(ctx: Context, fields: dict) -> store.Meeting:
    """Every check store.add makes, on a savepoint that is rolled back: the preview is the
    meeting as it would be, and nothing is written."""
    ctx.db.execute("SAVEPOINT meeting_preview")
    try:
        return store.add(ctx.db, now=ctx.clock.now(), created_by="preview", **fields)
    finally:
        ctx.db.execute("ROLLBACK TO meeting_preview")
        ctx.db.execute("RELEASE meeting_preview")


def confirm_pending(ctx: Context) -> Reply | None:
    """确认 of a previewed meeting (handlers/admin.py asks here when no 定时 waits); None when
    no meeting waits either."""
    assert ctx.member is not None
    stored = kv.get(ctx.db, _pending_key(ctx), ctx.clock.timestamp())
    if stored is None:
        return None
    kv.delete(ctx.db, _pending_key(ctx))
    try:
        meeting = store.add(ctx.db, now=ctx.clock.now(), created_by=f"chat:{ctx.member.name}",
                            **json.loads(stored))
    except MeetingError as exc:
        return Reply(f"会议未安排：{exc}")
    audit.record(ctx.db, actor=f"chat:{ctx.member.name}", action="meeting add",
                 detail=meeting_facts(meeting), at=ctx.clock.now())
    return Reply(f"已安排会议 #{meeting.id}：{meeting.title}（{meetings.when(meeting)}），"
                 f"会议通知将在一分钟内发出。签到码 {meeting.code}，请在会场公布。\n"
                 f"发送「取消会议 {meeting.id}」可以取消。")


def discard_pending(ctx: Context) -> bool:
    """放弃: drops a previewed meeting; True if there was one."""
    had = kv.get(ctx.db, _pending_key(ctx), ctx.clock.timestamp()) is not None
    kv.delete(ctx.db, _pending_key(ctx))
    return had


@router.text(pattern=r"取消会议\s*#?(?P<id>\d{1,9})", admin_only=True,
             help=HelpLine(107, "取消会议（管理员）", "「取消会议 1」"))
def cancel_meeting(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None and ctx.match is not None
    meeting = store.get(ctx.db, int(ctx.match.group("id")))
    if meeting is None or (ctx.member.role == "secretary" and meeting.branch != ctx.member.branch):
        return Reply(f"没有编号为 {ctx.match.group('id')} 的会议。")
    try:
        store.cancel(ctx.db, meeting.id, now=ctx.clock.now())
    except MeetingError as exc:
        return Reply(str(exc))
    audit.record(ctx.db, actor=f"chat:{ctx.member.name}", action="meeting cancel",
                 detail=meeting_facts(meeting), at=ctx.clock.now())
    return Reply(f"已取消会议 #{meeting.id}：{meeting.title}。已收到通知的党员会收到取消通知。")
