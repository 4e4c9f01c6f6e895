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

from bot import meetings
from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store.meetings import CODE_DIGITS, MeetingError
from handlers.router import router

JOIN_WORDS = ("参加", "参会", "我参加", "确认参加", "报名参加", "我要参加", "参加会议")


@router.text(pattern=r"签到\s*[:：]?\s*(?P<code>\d{1,12})")
def sign_in(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None and ctx.match is not None
    code = ctx.match.group("code")
    if len(code) != CODE_DIGITS:
        return Reply(f"签到码是 {CODE_DIGITS} 位数字，请核对会场公布的签到码，发送「签到 1234」这样。")
    return Reply(meetings.sign_in(ctx.db, ctx.member, code, ctx.clock.now()))


@router.text(*JOIN_WORDS)
def join(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    return Reply(meetings.join(ctx.db, ctx.member, ctx.clock.now()))


@router.text("请假", pattern=r"请假\s*[:：,，]?\s*(?P<reason>.+)")
def ask_leave(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    reason = ctx.match.group("reason") if ctx.match else ""
    return Reply(meetings.ask_leave(ctx.db, ctx.member, reason, ctx.clock.now()))


@router.text(pattern=r"(?P<no>不)?(?:准假|同意请假|批准请假)\s*(?P<id>\d{1,9})", admin_only=True)
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


@router.guess
def meeting_question(inbound: Inbound, ctx: Context) -> Reply | None:
    assert ctx.member is not None
    now = ctx.clock.now()
    question = meetings.parse_question(inbound.normalised_text, now)
    if question is None:
        return None
    return Reply(meetings.answer_question(ctx.db, ctx.member, question, now))


@router.text(*meetings.LIST_WORDS)
def list_meetings(inbound: Inbound, ctx: Context) -> Reply:
    reply = meeting_question(inbound, ctx)
    assert reply is not None
    return reply
