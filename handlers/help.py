"""帮助 / 菜单: the short menu, also the answer to anything not understood."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound, Reply
from handlers.router import router

MENU = (
    "清风学习助手可以帮你：\n"
    "· 打卡：发送「打卡」或「打卡 学习了第三章」\n"
    "· 进度：发送「我的」查看本月打卡、连续天数和答题正确率\n"
    "· 答题：发送「答题」或「每日一题」，再回复 A、AC 或 对/错\n"
    "· 任务：发送「任务」查看本月学习任务；「完成 2」标记第2项完成，当天可「撤销 2」；"
    "也可以问「第二项在哪里看」「还有几天截止」\n"
    "· 帮助：发送「帮助」再看这份菜单"
)


@router.text("帮助", "菜单", "?", "help", "HELP", "Help", "功能", "怎么用", needs_member=False)
def show_menu(inbound: Inbound, ctx: Context) -> Reply:
    return Reply(MENU)


@router.fallback
def not_understood(inbound: Inbound, ctx: Context) -> Reply:
    return Reply("抱歉，没有听懂这句话。\n" + MENU)
