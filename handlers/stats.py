"""我的 / 进度 / 统计: this month's check-ins, the streaks and the daily quiz's accuracy."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.quiz import month_line
from bot.store import checkins
from bot.store import quiz as store_quiz
from handlers.router import HelpLine, router


@router.text("我的", "进度", "统计", "我的进度", "我的统计", "打卡记录", "学习统计", "我的打卡",
             help=HelpLine(20, "进度", "「我的」看本月打卡、连续天数和答题"))
def my_progress(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    today = ctx.clock.today()
    stats = checkins.stats_for(ctx.db, ctx.member.id, today)
    today_line = "今天已打卡 ✓" if stats.checked_today else "今天还没打卡，发送「打卡」即可"
    quiz = store_quiz.month_accuracy(ctx.db, ctx.member.id, f"{today:%Y-%m}")
    return Reply(
        f"{ctx.member.name}的学习进度（{today:%Y年%-m月}）\n"
        f"本月打卡：{stats.month_count} 天\n"
        f"{month_line(quiz)}\n"
        f"当前连续：{stats.current_streak} 天\n"
        f"最长连续：{stats.longest_streak} 天\n"
        f"{today_line}"
    )
