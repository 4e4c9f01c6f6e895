"""学习任务 in chat: the month's list, 完成 N / 撤销 N, and questions in members' own words.

The words are read by handlers.task_intents.parse (pure); this module answers from the store.
Two entries: a text route for the plain commands (so an unbound sender is asked to bind), and a
guess for everything else parse understands. The guess must run before the search guess
(handlers/readings.py), which is why handlers/__init__ imports this module first.
"""

from __future__ import annotations

from datetime import date

from bot.context import Context
from bot.messages import Inbound, Reply
from bot.store import tasks as store_tasks
from bot.store.tasks import MemberTask, Task
from handlers.router import HelpLine, router
from handlers.task_intents import Intent, parse, resolve_month

_N = r"\s*第?\s*[\d零〇一二两三四五六七八九十]{1,3}\s*项?"
COMMAND = (rf"(?:完成|打卡|撤销|撤消)\s*[:：]?(?:{_N})(?:\s*[、,，和及]?\s*{_N})*")
# 查任务 must be claimed here: otherwise the search command (查 …) would take it.
LIST_WORDS = ("任务", "本月任务", "学习任务", "我的任务", "任务列表", "本月学习任务", "这个月的任务",
              "查任务", "查看任务", "查一下任务", "查询任务")
HOW_TO = "完成后回复「完成 序号」，如「完成 2」；问「第2项在哪里看」可查看学习材料。"
MAX_ANSWER_TASKS = 20  # a month never has more in practice; the reply must stay readable


@router.text(*LIST_WORDS, pattern=COMMAND,
             help=HelpLine(70, "任务", "「任务」看本月任务，「完成 2」打勾，当天可「撤销 2」"))
def task_command(inbound: Inbound, ctx: Context) -> Reply:
    intent = parse(inbound.text)
    assert intent is not None, inbound.text  # COMMAND and LIST_WORDS are a subset of parse's
    return Reply(answer(intent, ctx))


@router.guess
def task_question(inbound: Inbound, ctx: Context) -> Reply | None:
    intent = parse(inbound.text)
    return Reply(answer(intent, ctx)) if intent is not None else None


def answer(intent: Intent, ctx: Context) -> str:
    assert ctx.member is not None
    today = ctx.clock.today()
    month = resolve_month(intent, today)
    if intent.kind in ("done", "undo"):
        # Only this month's tasks are marked from chat: the numbers members see in 「任务」.
        month = _month_of(today)
        if not intent.positions:
            verb = "完成" if intent.kind == "done" else "撤销"
            return f"请告诉我是第几项，例如「{verb} 2」。发送「任务」查看本月任务和序号。"
        mark = _complete if intent.kind == "done" else _undo
        return "\n".join(mark(ctx, month, p) for p in intent.positions[:MAX_ANSWER_TASKS])
    mine = store_tasks.member_tasks(ctx.db, month, ctx.member)
    if not mine:
        return f"{_month_name(month)}没有给你安排学习任务。"
    if intent.positions:
        return "\n\n".join(_one(ctx, intent, month, mine, p)
                           for p in intent.positions[:MAX_ANSWER_TASKS])
    return _ANSWERS[intent.kind](ctx, month, mine, today)


# ----------------------------------------------------------------- the month's tasks


def _list(ctx: Context, month: str, mine: list[MemberTask], today: date) -> str:
    done = sum(1 for m in mine if m.done)
    lines = [f"{_month_name(month)}学习任务（已完成 {done}/{len(mine)}）："]
    lines += [_line(m, today) for m in mine[:MAX_ANSWER_TASKS]]
    if month == _month_of(today):
        lines.append(HOW_TO)
    return "\n".join(lines)


def _pending(ctx: Context, month: str, mine: list[MemberTask], today: date) -> str:
    left = [m for m in mine if not m.done]
    if not left:
        return f"{_month_name(month)}的 {len(mine)} 项任务你都已完成，辛苦了！"
    lines = [f"{_month_name(month)}你还有 {len(left)} 项任务未完成："]
    lines += [_line(m, today) for m in left[:MAX_ANSWER_TASKS]]
    if month == _month_of(today):
        lines.append("完成后回复「完成 序号」。")
    return "\n".join(lines)


def _due(ctx: Context, month: str, mine: list[MemberTask], today: date) -> str:
    left = sorted((m for m in mine if not m.done), key=lambda m: (m.task.due, m.task.position))
    if not left:
        return f"{_month_name(month)}的任务你都已完成，没有待截止的了。"
    lines = [f"{_month_name(month)}未完成任务的截止时间："]
    lines += [f"{m.task.position}. {m.task.title}：{_date(m.task.due)}截止，{_days_left(m.task.due, today)}"
              for m in left[:MAX_ANSWER_TASKS]]
    return "\n".join(lines)


def _where(ctx: Context, month: str, mine: list[MemberTask], today: date) -> str:
    lines = [f"{_month_name(month)}任务的学习材料："]
    for m in mine[:MAX_ANSWER_TASKS]:
        lines.append(f"{m.task.position}. {m.task.title}")
        lines += [f"   {line}" for line in _materials(ctx, m.task)]
    return "\n".join(lines)


_ANSWERS = {"list": _list, "detail": _list, "pending": _pending, "due": _due, "where": _where}


# ----------------------------------------------------------------- one task


def _one(ctx: Context, intent: Intent, month: str, mine: list[MemberTask], position: int) -> str:
    found = next((m for m in mine if m.task.position == position), None)
    if found is None:
        return _no_such(month, position)
    task, today = found.task, ctx.clock.today()
    head = f"第{position}项：{task.title}"
    if intent.kind == "where":
        return "\n".join([f"{head}\n学习材料：", *_materials(ctx, task)])
    if intent.kind == "due":
        status = "你已完成" if found.done else _days_left(task.due, today)
        return f"{head}\n{_date(task.due)}截止，{status}。"
    state = f"已于{_date(found.done_day)}完成 ✓" if found.done_day else "未完成"
    lines = [head, f"类型：{store_tasks.KIND_NAMES[task.kind]}；{'必学' if task.required else '选学'}；"
                   f"{_date(task.due)}截止；{state}"]
    if task.detail:
        lines.append(task.detail)
    lines += ["学习材料：", *_materials(ctx, task)]
    return "\n".join(lines)


def _materials(ctx: Context, task: Task) -> list[str]:
    lines = [f"· 《{r.short}》{r.article_no}　{r.title}（发送「{r.short}{r.article_no}」看原文）"
             for r in store_tasks.readings_of(ctx.db, task.readings)]
    if task.link:
        lines.append(f"· 链接：{task.link}")
    if not lines:
        lines.append(f"· 没有指定材料。任务要求：{task.detail}" if task.detail
                     else "· 没有指定材料，按任务要求完成即可。")
    return lines


def _complete(ctx: Context, month: str, position: int) -> str:
    assert ctx.member is not None
    found = store_tasks.member_task(ctx.db, month, position, ctx.member)
    if found is None:
        return _no_such(month, position)
    now = ctx.clock.now()
    result = store_tasks.mark_done(ctx.db, found.task, ctx.member.id, at=now, day=now.date(),
                                   via=ctx.channel)
    title = f"第{position}项「{found.task.title}」"
    if not result.created:
        return f"{title}已于{_date(result.day)}记录完成，无需重复。"
    left = sum(1 for m in store_tasks.member_tasks(ctx.db, month, ctx.member) if not m.done)
    late = f"（已过{_date(found.task.due)}的截止时间）" if now.date() > found.task.due else ""
    rest = f"本月还有 {left} 项未完成。" if left else "本月任务已全部完成，辛苦了！"
    return f"已记录：{title}完成 ✓{late}\n{rest}当天发送「撤销 {position}」可以撤回。"


def _undo(ctx: Context, month: str, position: int) -> str:
    assert ctx.member is not None
    found = store_tasks.member_task(ctx.db, month, position, ctx.member)
    if found is None:
        return _no_such(month, position)
    result = store_tasks.undo_done(ctx.db, found.task, ctx.member.id, today=ctx.clock.today())
    title = f"第{position}项「{found.task.title}」"
    if result.status == "not_done":
        return f"{title}还没有记录完成，无需撤销。"
    if result.status == "too_late":
        assert result.day is not None
        return (f"{title}是{_date(result.day)}记录完成的，只能在完成当天撤销；"
                "如需更正，请联系党务干部。")
    return f"已撤销{title}的完成记录。"


def _no_such(month: str, position: int) -> str:
    return (f"{_month_name(month)}你的任务里没有第{position}项。"
            "发送「任务」查看本月任务和序号。")


# ----------------------------------------------------------------- formatting


def _line(m: MemberTask, today: date) -> str:
    task = m.task
    mark = "✓" if m.done else "✗"
    when = f"{_date(task.due)}截止"
    if not m.done:
        when += f"，{_days_left(task.due, today)}"
    optional = "" if task.required else "（选学）"
    return f"{task.position}. {mark} {task.title}{optional}（{when}）"


def _days_left(due: date, today: date) -> str:
    days = (due - today).days
    if days > 0:
        return f"还剩 {days} 天"
    if days == 0:
        return "今天截止"
    return f"已逾期 {-days} 天"


def _date(day: date | None) -> str:
    assert day is not None
    return f"{day.month}月{day.day}日"


def _month_of(today: date) -> str:
    return f"{today.year:04d}-{today.month:02d}"


def _month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{year}年{int(number)}月"
