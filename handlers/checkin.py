"""打卡 / 签到 and its natural variants: record today's check-in, once a day."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import checkins
from handlers.router import HelpLine, router

# "打卡", "签到了", "学习打卡", "今日打卡 学习了第三章", "打卡：读完党章"
CHECKIN_WORDS = r"(?:今天|今日)?(?:学习)?(?:打卡|签到)(?:了|啦)?"
# "今天学习了", "已学习", "学习完了，读了第二章", "我今天已经学习了"
STUDIED_WORDS = r"(?:我)?(?:今天|今日)?(?:已经?|我)?学(?:习)?(?:了|完了|完毕|好了)"
NOTE = r"(?:[\s:：,，。!！]+(?P<note>.+))?"
# "打卡 2", "打卡第二项", "打卡 1、3" name study tasks: handlers/tasks.py marks them done.
_ITEM = r"\s*第?\s*[\d零〇一二两三四五六七八九十]{1,3}\s*项?"
TASK_NUMBER = rf"打卡\s*[:：]?{_ITEM}(?:\s*[、,，和及]?{_ITEM})*$"


@router.text(pattern=rf"(?!{TASK_NUMBER})(?:{CHECKIN_WORDS}|{STUDIED_WORDS}|已学习){NOTE}",
             help=HelpLine(10, "打卡", "「打卡」或「打卡 学习了第三章」"))
def check_in(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.member is not None
    now = ctx.clock.now()
    note = (ctx.match.group("note") or "").strip() if ctx.match else ""
    result = checkins.record_checkin(ctx.db, member_id=ctx.member.id, day=now.date(),
                                     note=note[:200], at=now, via=ctx.channel)
    stats = checkins.streak_and_month(ctx.db, ctx.member.id, now.date())  # bounded read
    if not result.created:
        return Reply(f"今天已打卡（{result.at.astimezone(ctx.clock.tz):%H:%M}），明天继续加油！\n"
                     f"已连续 {stats.current_streak} 天，本月共 {stats.month_count} 天。")
    noted = f"\n学习内容：{note[:200]}" if note else ""
    return Reply(f"打卡成功！{ctx.member.name}，今天是你连续学习的第 {stats.current_streak} 天，"
                 f"本月已打卡 {stats.month_count} 天。{noted}")
