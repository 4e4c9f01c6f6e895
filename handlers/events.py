"""Events and message types that are not text: subscribe, unsubscribe, menu clicks, media."""

from __future__ import annotations

from dataclasses import replace

from bot.context import Context
from bot.messages import NO_REPLY, Inbound, Reply
from bot.store import members
from handlers.bind import HOW_TO_BIND
from handlers.router import router

# Custom-menu keys (configured on the platform) and the command each one stands for.
MENU_KEYS = {"CHECKIN": "打卡", "STATS": "我的", "HELP": "帮助", "TASKS": "本月任务",
             "QUIZ": "每日一题", "READING": "今日纪法"}

WHAT_I_UNDERSTAND = "我目前只能读懂文字消息。发送「打卡」记录学习，发送「我的」查看进度，发送「帮助」查看全部功能。"


@router.event("subscribe")
def welcome(inbound: Inbound, ctx: Context) -> Reply:
    greeting = "欢迎关注清风！每天一条纪法条文，学习打卡、任务进度随时查。"
    if ctx.member is not None:
        members.set_identity_active(ctx.db, ctx.channel, ctx.user, True)
        return Reply(f"{greeting}\n欢迎回来，{ctx.member.name}。发送「帮助」查看能做什么。")
    return Reply(f"{greeting}\n{HOW_TO_BIND}")


@router.event("unsubscribe")
def goodbye(inbound: Inbound, ctx: Context) -> Reply:
    # Stop pushing to this account; the member and their history stay.
    members.set_identity_active(ctx.db, ctx.channel, ctx.user, False)
    return NO_REPLY


@router.event("click")
def menu_click(inbound: Inbound, ctx: Context) -> Reply:
    command = MENU_KEYS.get(inbound.event_key)
    if command is None:
        return Reply(WHAT_I_UNDERSTAND)
    as_text = replace(inbound, kind="text", text=command, event="")
    return router.dispatch(as_text, ctx)


@router.kind("image", "voice", "video", "shortvideo", "location", "link", "file", "event", "*")
def not_text(inbound: Inbound, ctx: Context) -> Reply:
    return Reply(WHAT_I_UNDERSTAND)
