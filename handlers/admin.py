"""Admins' chat commands: 定时 (schedule, previewed, then 确认), 定时列表, 取消定时 N.

"定时 12-01 08:00 第一党支部 请于本周五前完成第三章学习" -> a preview and a request to confirm.
Dates and audiences that could mean more than one thing are asked about, never guessed.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from bot import audience as audiences
from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import kv
from bot.store import members as store_members
from bot.store import schedules as store_schedules
from handlers.router import HelpLine, router

PENDING_TTL_S = 600
MAX_TEXT = 600
FORMAT_HELP = ("格式：定时 月-日 时:分 对象 内容\n例如：定时 12-01 08:00 第一党支部 请于本周五前完成第三章学习\n"
               "对象可以是「全体」、支部名或党小组名（同名党小组写成「第一党支部/第一党小组」）。")
EVERYONE_WORDS = {"全体", "全体党员", "所有人", "全部", "大家"}


def _pending_key(ctx: Context) -> str:
    assert ctx.member is not None
    return f"pending_schedule:{ctx.member.id}"


@router.text(pattern=r"定时\s+(?P<rest>.+)", admin_only=True,
             help=HelpLine(100, "定时（管理员）", "「定时 12-01 08:00 全体 内容」"))
def schedule_message(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.match is not None and ctx.member is not None
    parts = ctx.match.group("rest").split(maxsplit=3)
    if len(parts) < 4:
        return Reply(f"没看懂这条定时消息。\n{FORMAT_HELP}")
    day_text, time_text, who, text = parts
    if len(text) > MAX_TEXT:
        return Reply(f"内容太长（最多 {MAX_TEXT} 字），请精简后再发。")
    when = _when(ctx, day_text, time_text.replace("：", ":"))
    if isinstance(when, str):
        return Reply(when)
    audience = _audience(ctx, who)
    if isinstance(audience, str):
        return Reply(audience)
    size = len(audiences.members_of(ctx.db, audience))
    pending = {"at": when.strftime("%Y-%m-%dT%H:%M"), "audience": audience, "text": text}
    kv.put(ctx.db, _pending_key(ctx), json.dumps(pending, ensure_ascii=False),
           ctx.clock.timestamp() + PENDING_TTL_S)
    return Reply(f"请确认这条定时消息：\n时间：{when:%Y-%m-%d %H:%M}\n对象："
                 f"{audiences.describe(audience)}（{size} 人）\n内容：{text}\n"
                 f"{_duplicate_line(ctx, pending)}"
                 "回复「确认」创建，回复「放弃」作废（10 分钟内有效）。")


def _duplicate_line(ctx: Context, pending: dict) -> str:
    """A warning line when the same message already waits for the same people at that time."""
    from schedules.admin import duplicate_note, find_duplicate

    existing = find_duplicate(ctx.db, ctx.clock.now(), ctx.clock.tz, kind="once",
                              spec={"at": pending["at"]}, audience=pending["audience"],
                              content={"text": pending["text"]})
    return f"注意：{duplicate_note(existing)}。\n" if existing else ""


@router.text("确认", "确定", admin_only=True)
def confirm(inbound: Inbound, ctx: Context) -> Reply:
    stored = kv.get(ctx.db, _pending_key(ctx), ctx.clock.timestamp())
    if stored is None:
        from handlers.meetings import confirm_pending  # a previewed 会议 (handlers/meetings.py)

        return confirm_pending(ctx) or Reply("没有待确认的定时消息（或已超过 10 分钟）。")
    pending = json.loads(stored)
    spec = {"at": pending["at"]}
    content = {"text": pending["text"]}
    if not audiences.members_of(ctx.db, pending["audience"]):
        return Reply("发送对象中已没有在册党员，未创建。")
    if datetime.fromisoformat(pending["at"]).replace(tzinfo=ctx.clock.tz) <= ctx.clock.now():
        # Confirmed after its own time: it would never be sent, yet the admin would be told
        # "将于 ... 发送".
        kv.delete(ctx.db, _pending_key(ctx))
        return Reply(f"{pending['at'].replace('T', ' ')} 已经过去，这条定时消息未创建。"
                     "请换一个将来的时间重新设置。")
    schedule_id = store_schedules.add(ctx.db, kind="once", spec=spec, workdays_only=False,
                                      audience=pending["audience"], content=content,
                                      created_by=f"chat:{ctx.member.name}", now=ctx.clock.now())
    kv.delete(ctx.db, _pending_key(ctx))
    from bot.store import audit
    from schedules.admin import audit_facts

    audit.record(ctx.db, actor=f"chat:{ctx.member.name}", action="schedule add",
                 detail=audit_facts(schedule_id, kind="once", spec=spec, workdays_only=False,
                                    audience=pending["audience"], content=content),
                 at=ctx.clock.now())
    return Reply(f"已创建定时消息 {schedule_id}，将于 {pending['at'].replace('T', ' ')} 发送。"
                 f"\n发送「取消定时 {schedule_id}」可以取消。")


@router.text("放弃", "不发了", admin_only=True)
def discard(inbound: Inbound, ctx: Context) -> Reply:
    from handlers.meetings import discard_pending

    if kv.get(ctx.db, _pending_key(ctx), ctx.clock.timestamp()) is None and discard_pending(ctx):
        return Reply("已放弃这次会议安排。")
    kv.delete(ctx.db, _pending_key(ctx))
    return Reply("已放弃这条定时消息。")


@router.text("定时列表", "定时消息", "我的定时", admin_only=True,
             help=HelpLine(110, "定时列表（管理员）", "「定时列表」「取消定时 1」"))
def list_schedules(inbound: Inbound, ctx: Context) -> Reply:
    from schedules.admin import STATUS_NAMES, describe_when
    from schedules.jobs import describe_content

    rows = store_schedules.list_all(ctx.db)
    if not rows:
        return Reply("目前没有生效的定时消息。")
    lines = [f"{s.id}. [{STATUS_NAMES[s.status]}] {describe_when(s.kind, s.spec, s.workdays_only)}"
             f" → {audiences.describe(s.audience)}：{describe_content(s.content)[:20]}"
             for s in rows[:20]]
    return Reply("定时消息：\n" + "\n".join(lines))


@router.text(pattern=r"取消定时\s*(?P<id>\d+)", admin_only=True)
def cancel_schedule(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.match is not None and ctx.member is not None
    schedule_id = int(ctx.match.group("id"))
    # A number beyond SQLite's 64-bit integers names no schedule (and would overflow the query).
    schedule = store_schedules.get(ctx.db, schedule_id) if schedule_id < 2**63 else None
    if schedule is None or schedule.status not in ("active", "paused"):
        return Reply(f"没有可以取消的定时消息 {schedule_id}。发送「定时列表」查看。")
    if not _may_send_to(ctx, schedule.audience):
        # A secretary may only schedule for their own branch, so may only cancel those too.
        return Reply(f"定时消息 {schedule_id} 的对象不只是本支部（{ctx.member.branch}），"
                     "支部书记不能取消。请联系党务干部。")
    store_schedules.set_status(ctx.db, schedule_id, "cancelled")
    from bot.store import audit

    audit.record(ctx.db, actor=f"chat:{ctx.member.name}", action="schedule cancelled",
                 detail={"schedule": schedule_id}, at=ctx.clock.now())
    return Reply(f"定时消息 {schedule_id} 已取消。")


@router.refusal
def not_an_admin(inbound: Inbound, ctx: Context) -> Reply:
    return Reply("这个功能仅供党务干部使用。如需发送通知，请联系支部书记或党务干部。")


def _when(ctx: Context, day_text: str, time_text: str) -> datetime | str:
    if not re.fullmatch(r"\d{1,2}:\d{2}", time_text):
        return f"没看懂时间「{time_text}」，请写成 08:00 这样。\n{FORMAT_HELP}"
    today = ctx.clock.today()
    words = {"今天": today, "明天": date.fromordinal(today.toordinal() + 1),
             "后天": date.fromordinal(today.toordinal() + 2)}
    try:
        if day_text in words:
            day = words[day_text]
        elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", day_text):
            day = date(*map(int, day_text.split("-")))
        elif re.fullmatch(r"\d{1,2}-\d{1,2}", day_text):
            month, day_of_month = map(int, day_text.split("-"))
            day = date(today.year, month, day_of_month)
            if day < today:
                return (f"{day_text} 今年已经过去了：是指明年的 {day_text} 吗？"
                        f"请写完整日期，例如 {today.year + 1}-{day_text}")
        else:
            return f"没看懂日期「{day_text}」。\n{FORMAT_HELP}"
        hour, minute = map(int, time_text.split(":"))
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ctx.clock.tz)
    except ValueError:
        return f"日期或时间不存在：{day_text} {time_text}"
    if when <= ctx.clock.now():
        return f"{when:%Y-%m-%d %H:%M} 已经过去了，请换一个将来的时间。"
    return when


def _audience(ctx: Context, who: str) -> dict | str:
    assert ctx.member is not None
    if who in EVERYONE_WORDS:
        audience: dict = {"all": True}
    else:
        found = _targets(ctx, who)
        if isinstance(found, str):
            return found
        key, name = found
        audience = {key: [name]}
    if not _may_send_to(ctx, audience):
        return f"支部书记只能给本支部（{ctx.member.branch}）发送定时消息。"
    return audience


def _targets(ctx: Context, who: str) -> tuple[str, str] | str:
    """("branches", 支部) or ("groups", "支部/党小组") for what the admin wrote, or why not.
    A group is "第一党支部/第一党小组" or a name (or a part of one) that only one group has
    (for a secretary: only one group of their branch)."""
    assert ctx.member is not None
    everyone = store_members.list_members(ctx.db, active_only=True)
    written = who.replace("／", audiences.GROUP_SEPARATOR)
    if audiences.GROUP_SEPARATOR in written:
        try:
            return "groups", audiences.resolve_group(ctx.db, written)
        except audiences.AudienceError as exc:
            return f"{exc}。"
    branches = sorted({m.branch for m in everyone if _names_match(who, m.branch)})
    groups = sorted({(m.branch, m.grp) for m in everyone if m.grp and _names_match(who, m.grp)})
    if ctx.member.role == "secretary" and any(b == ctx.member.branch for b, _g in groups):
        # A secretary's 「第一党小组」 is their own branch's, whatever other branches call theirs.
        groups = [(b, g) for b, g in groups if b == ctx.member.branch]
    found = [("branches", b) for b in branches]
    found += [("groups", audiences.group_ref(b, g)) for b, g in groups]
    if not found:
        known = "、".join(sorted({m.branch for m in everyone}))
        return f"没有找到「{who}」。可以写「全体」或支部名（{known}）或党小组名。"
    if len(found) > 1:
        if not branches and len({g for _b, g in groups}) == 1:  # one name, several branches
            return audiences.ambiguity(groups[0][1], [ref for _key, ref in found]) + \
                f"，例如「{found[0][1]}」。"
        names = "、".join(audiences.group_label(name) for _key, name in found)
        hint = "（党小组写成「支部/党小组」）" if groups else ""
        return f"「{who}」可能指：{names}。请写出完整名称{hint}。"
    return found[0]


def _may_send_to(ctx: Context, audience: dict) -> bool:
    """Admins reach anyone; a branch secretary only members of their own branch (a group of
    the same name in another branch counts as another branch)."""
    assert ctx.member is not None
    if ctx.member.role != "secretary":
        return True
    reached = audiences.members_of(ctx.db, audience)
    return bool(reached) and all(m.branch == ctx.member.branch for m in reached)


def _names_match(said: str, name: str) -> bool:
    """"第一党支部" matches 第一党支部, 一支部, 第一支部; "综合处" matches 综合处党小组."""
    if said == name:
        return True
    short = name.replace("党", "").replace("第", "")
    return len(said) >= 2 and (said in name or said.replace("第", "") in short)
