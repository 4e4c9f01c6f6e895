"""绑定: link an Official Account (or sandbox) user to a roster member, once.

Either "绑定 姓名 手机后四位" or "绑定 <one-time code from an admin>". A few wrong tries
start a pause, so the roster cannot be guessed through the chat.
"""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import binding, members
from handlers.router import HelpLine, router

HOW_TO_BIND = (
    "你还没有绑定党员身份。请发送：\n"
    "「绑定 姓名 手机后四位」，例如：绑定 张三 1234\n"
    "或发送党务干部给你的绑定码，例如：绑定 K7M2Q9XP"
)


@router.unbound
def ask_to_bind(inbound: Inbound, ctx: Context) -> Reply:
    if ctx.channel == "wecom":
        return Reply("你的企业微信账号还不在支部名册中，请联系党务干部添加后再试。")
    return Reply(HOW_TO_BIND)


@router.text(pattern=r"绑定(?:\s*(?P<args>.*))?", needs_member=False,
             help=HelpLine(80, "绑定", "「绑定 姓名 手机后四位」（公众号首次使用）"))
def bind(inbound: Inbound, ctx: Context) -> Reply:
    if ctx.member is not None:
        return Reply(f"你已绑定为 {ctx.member.branch} {ctx.member.name}，无需重复绑定。")
    if ctx.channel == "wecom":
        return ask_to_bind(inbound, ctx)
    who = f"{ctx.channel}:{ctx.user}"
    now = ctx.clock.now()
    until = binding.paused_until(ctx.db, who, now)
    if until is not None:
        return Reply(f"尝试次数过多，请在 {until.astimezone(ctx.clock.tz):%H:%M} 之后再试，"
                     "或请党务干部发给你绑定码。")
    args = ((ctx.match.group("args") if ctx.match else "") or "").split()
    member = _find(ctx, args)
    if member is None:
        return _wrong_try(ctx, who, args)
    members.bind_identity(ctx.db, channel=ctx.channel, external_id=ctx.user,
                          member_id=member.id, now=now)
    binding.clear(ctx.db, who)
    return Reply(f"绑定成功！欢迎你，{member.branch} {member.name}。\n发送「帮助」查看能做什么。")


def _find(ctx: Context, args: list[str]) -> members.Member | None:
    if len(args) == 1:
        return members.take_bind_code(ctx.db, args[0])
    if len(args) == 2 and args[1].isdigit() and len(args[1]) == 4:
        found = members.find_for_binding(ctx.db, args[0], args[1])
        # Two members sharing a name and phone tail cannot be told apart: ask for a code.
        return found[0] if len(found) == 1 else None
    return None


def _wrong_try(ctx: Context, who: str, args: list[str]) -> Reply:
    if not args:
        return Reply(HOW_TO_BIND)
    settings = ctx.config.section("bind")
    left = binding.record_failure(ctx.db, who, ctx.clock.now(),
                                  max_failures=settings["max_failures"],
                                  pause=timedelta(minutes=settings["pause_minutes"]))
    if left == 0:
        return Reply(f"信息不匹配。尝试次数过多，请 {settings['pause_minutes']} 分钟后再试，"
                     "或请党务干部发给你绑定码。")
    return Reply(f"没有找到匹配的党员信息，请核对姓名和手机后四位（还可尝试 {left} 次）。"
                 "\n也可以请党务干部发给你绑定码。")
