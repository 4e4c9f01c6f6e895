"""Events and message types that are not text: subscribe, unsubscribe, menu clicks, media.

An event is not a conversation. The platforms push many events that no member typed: WeCom's
enter_agent each time a member opens the app, LOCATION reports, VIEW (a menu link was opened),
the results of template and mass sends, customer-service sessions, contact changes, batch jobs,
approvals, and more to come. Those get no passive reply ("success"): a member who merely opened
the app must not be told "I only read text". The note is kept for what a member sent and waits
on: an image, voice, location, ... message, a menu button we do not know, and a scan-and-wait
button (WeChat shows 「消息接收中」 until a reply comes).
"""

from __future__ import annotations

from dataclasses import replace

from bot.context import Context
from bot.messages import NO_REPLY, Inbound, Reply
from bot.store import members
from handlers.bind import HOW_TO_BIND
from handlers.router import router

# Custom-menu keys (configured on the platform) and the command each one stands for.
MENU_KEYS = {"CHECKIN": "打卡", "STATS": "我的", "HELP": "帮助", "TASKS": "本月任务",
             "QUIZ": "每日一题", "READING": "今日纪法",
             "MEETING_SIGNIN": "会议签到"}  # handlers/meetings.py

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


@router.event("scancode_waitmsg")
@router.kind("image", "voice", "video", "shortvideo", "location", "link", "file", "*")
def not_text(inbound: Inbound, ctx: Context) -> Reply:
    return Reply(WHAT_I_UNDERSTAND)


@router.kind("event")
def not_a_question(inbound: Inbound, ctx: Context) -> Reply:
    # Every other event, including ones the platforms add later: nothing to answer.
    return NO_REPLY
