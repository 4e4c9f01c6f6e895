"""答题 / 每日一题: today's question; "A", "AC", "对" (or "答题 A") grades it, once a day.

A bare "A" or "对" is read as an answer only from a member who asked for today's question
today (quiz_asked): anyone else saying "对" to something else is not captured. Both the check
and the attempt happen in the message's one transaction.
"""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.quiz import (
    ANSWER_PATTERN,
    WrongShape,
    format_earlier,
    format_question,
    format_result,
    grade,
    looks_like_answer,
    question_for,
)
from bot.store import quiz as store_quiz
from handlers.router import HelpLine, router

QUIZ_WORDS = r"(?:每日一题|今日一题|每日答题|今日答题|答题)"
EMPTY_BANK = "每日一题的题库还是空的，请联系党务干部导入题目。"


@router.text(pattern=rf"{QUIZ_WORDS}(?:[\s:：]*(?P<answer>{ANSWER_PATTERN}))?",
             help=HelpLine(60, "答题", "「答题」，再回复 A、AC 或 对/错"))
def daily_quiz(inbound: Inbound, ctx: Context) -> Reply:
    answer = ctx.match.group("answer") if ctx.match else None
    return _quiz(ctx, answer)


@router.guess
def bare_answer(inbound: Inbound, ctx: Context) -> Reply | None:
    if not looks_like_answer(inbound.text):
        return None
    assert ctx.member is not None
    if not store_quiz.asked(ctx.db, ctx.member.id, ctx.clock.today()):
        return None  # not in a quiz today: "对" means something else
    return _quiz(ctx, inbound.text)


def _quiz(ctx: Context, answer: str | None) -> Reply:
    """Show today's question (answer None) or grade `answer`; the first graded one stands."""
    assert ctx.member is not None
    now = ctx.clock.now()
    today = now.date()
    question = question_for(ctx.db, today)
    if question is None:
        return Reply(EMPTY_BANK)
    earlier = store_quiz.get_attempt(ctx.db, ctx.member.id, today)
    if earlier is not None:
        return Reply(format_earlier(store_quiz.get_question(ctx.db, earlier.question_id),
                                    earlier))
    if answer is None:
        store_quiz.mark_asked(ctx.db, ctx.member.id, today, now)
        return Reply(format_question(question, today))
    try:
        graded = grade(question, answer)
    except WrongShape as hint:
        return Reply(f"{hint}\n（今天的题目：发送「答题」再看一遍）")
    store_quiz.record_attempt(ctx.db, member_id=ctx.member.id, day=today,
                              question_id=question.id, answer=graded.answer,
                              correct=graded.correct, at=now, via=ctx.channel)
    month = store_quiz.month_accuracy(ctx.db, ctx.member.id, f"{today:%Y-%m}")
    return Reply(format_result(question, graded, month))
