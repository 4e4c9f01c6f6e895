"""What a member's words about study tasks mean: text -> Intent, a pure function.

    parse("第二项在哪里看")   -> Intent("where", positions=(2,))
    parse("上个月的任务")     -> Intent("list", offset=-1)
    parse("完成２")           -> Intent("done", positions=(2,))
    parse("什么是四风")       -> None   (not about tasks: search and help answer it)

Members type on phones: full-width digits, stray spaces, homophone typos (截至, 在那里, 撤消,
玩成), Chinese numerals. `canonical` folds those first; the rules below then read one spelling.
Order matters: commands (完成/撤销) first, then questions about one task, then the month's list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.messages import normalise
from bot.regulations import RegulationError, chinese_numeral_to_int

KINDS = ("list", "pending", "due", "where", "detail", "done", "undo")


@dataclass(frozen=True)
class Intent:
    kind: str                     # one of KINDS
    positions: tuple[int, ...] = ()  # task numbers named ("第二项", "完成 1、3")
    offset: int | None = None     # month relative to this one: 0, -1 (上个月), +1 (下个月)
    month: int | None = None      # a named calendar month, 1-12 ("十二月")
    year: int | None = None       # with `month`, when the year was written ("2026年12月")


# Common typos and variants, folded to one spelling (checked in order; longer ones first).
_TYPOS = (
    ("截至", "截止"), ("节止", "截止"), ("结止", "截止"), ("截只", "截止"),
    ("在那里", "在哪里"), ("在哪儿", "在哪里"), ("在那儿", "在哪里"), ("哪儿", "哪里"),
    ("从那里", "从哪里"), ("去那里", "去哪里"), ("那里看", "哪里看"), ("哪看", "哪里看"),
    ("撤消", "撤销"), ("撒销", "撤销"), ("撤回", "撤销"), ("取消完成", "撤销"),
    ("取消打卡", "撤销"),
    ("什么时侯", "什么时候"), ("什么时后", "什么时候"), ("啥时候", "什么时候"),
    ("神马", "什么"), ("啥", "什么"), ("甚么", "什么"),
    ("仁务", "任务"), ("认务", "任务"), ("任物", "任务"), ("任无", "任务"),
    ("那些", "哪些"), ("那几", "哪几"), ("玩成", "完成"), ("完城", "完成"), ("完层", "完成"),
    ("以完成", "已完成"), ("己完成", "已完成"),
    ("这个月份", "本月"), ("这个月", "本月"), ("这月", "本月"), ("当月", "本月"),
    ("本个月", "本月"), ("上上个月", "上上月"), ("上一个月", "上月"), ("上个月", "上月"),
    ("下一个月", "下月"), ("下个月", "下月"),
)
# "完成1、3" must stay two numbers once the punctuation goes: the separator becomes 和.
_NUMERALS = "零〇一二两三四五六七八九十"
_NUMBER_SEP = re.compile(rf"(?<=[\d{_NUMERALS}项])\s*[\s、,，和及与/]+(?=\s*第?\s*[\d{_NUMERALS}])")
_PUNCT = re.compile(r"[\s?？。.!！,，、：:；;~～\"'“”‘’（）()【】\[\]<>《》…-]+")

NUM = r"(?:\d{1,3}|[零〇一二两三四五六七八九十]{1,3})"
_ITEM = rf"第?({NUM})(?:项|个)?(?:任务)?"
# "完成 2", "打卡 2", "完成第二项", "完成1、3", "已完成第2项了", "做完2", "学完第三项"
_DONE = re.compile(rf"(?:我)?(?:已经?)?(?:完成|打卡|做完|学完|已完成)了?({_ITEM}(?:和?{_ITEM})*)"
                   rf"(?:了|啦|咯)?")
# "第二项完成了", "2完成", "第三项已完成", "第2项做完了"
_DONE_AFTER = re.compile(rf"({_ITEM}(?:和?{_ITEM})*)(?:我)?(?:已经?)?(?:完成|做完|学完|打卡)"
                         rf"(?:了|啦|咯)?")
_DONE_BARE = re.compile(r"(?:我)?(?:已经?)?(?:完成|做完|学完)(?:了|啦)?(?:任务)?")
_UNDO = re.compile(rf"(?:撤销)(?:完成|打卡)?({_ITEM}(?:和?{_ITEM})*)?")
_UNDO_BARE_WORDS = ("撤销", "撤销完成", "撤销打卡")

# A task number inside a question: needs 第 or a 项/任务 marker, so "八项规定" is not task 8.
_QUESTION_ITEM = re.compile(rf"第({NUM})(?:项|个)|(\d{{1,3}})项"
                            rf"|任务({NUM})(?![\d{_NUMERALS}月])")
_ARTICLE = re.compile(rf"第{NUM}[条章节编款](?!任务)")  # 第八十八条: an article, the search's business

_WHERE = ("在哪里", "哪里看", "去哪里", "从哪里", "链接", "网址", "地址", "材料", "资料",
          "原文", "怎么看", "看什么", "读什么", "哪里学", "出处")
_DETAIL = ("是什么", "要做什么", "做什么", "干什么", "内容", "详情", "具体", "要求", "怎么做",
           "说的什么", "讲什么")
_DUE = ("截止", "deadline", "几号前", "哪天前", "还有几天", "剩几天", "还有多少天")
# These also fit a regulation ("处分期限是多久"): a due question only about a task.
_DUE_WEAK = ("到期", "期限", "还有多久", "最后一天", "什么时候完成", "什么时候交", "什么时候做完",
             "什么时候要", "几号完成", "哪天完成")
_PENDING = ("没完成", "未完成", "没有完成", "没做", "没有做", "还差", "缺项", "没学", "未学",
            "还剩", "剩下", "剩哪", "还有哪些", "还有什么没")
_LIST = ("任务", "学什么", "学哪些", "要学", "学习安排", "学习计划", "学习内容", "做哪些",
         "要做什么", "安排了什么", "有什么安排")
# Meetings that are tasks too; "什么是三会一课" is a search, "本月主题党日哪天" a list.
_EVENTS = ("主题党日", "三会一课", "党课", "党员大会", "党小组会", "支委会")
_WHEN = ("什么时候", "哪天", "几号", "安排", "时间", "要不要", "参加")

_MONTH_NAMED = re.compile(r"(?:(\d{4})年)?(十[一二]|十|[一二三四五六七八九]|1[0-2]|0?[1-9])月份?")
_MONTH_ISO = re.compile(r"(\d{4})-(\d{1,2})(?!\d)")


def canonical(text: str) -> str:
    """Full-width folded, spaces and punctuation dropped, typos corrected."""
    folded = normalise(text).lower()
    folded = _MONTH_ISO.sub(lambda m: f"{m.group(1)}年{m.group(2)}月", folded)
    folded = _PUNCT.sub("", _NUMBER_SEP.sub("和", folded))
    for wrong, right in _TYPOS:
        folded = folded.replace(wrong, right)
    return folded


def number(text: str) -> int | None:
    """'2', '二', '十二', '两' -> int; None if it is not a number."""
    try:
        return chinese_numeral_to_int(text)
    except RegulationError:
        return None


def parse(text: str) -> Intent | None:
    """The task intent of a member's message, or None when it is not about tasks."""
    words = canonical(text)
    if not words or _ARTICLE.search(words):
        return None
    command = _command(words)
    if command is not None:
        return command
    return _question(words)


def _command(words: str) -> Intent | None:
    for pattern, kind in ((_DONE, "done"), (_DONE_AFTER, "done"), (_UNDO, "undo")):
        found = pattern.fullmatch(words)
        if found and found.group(1):
            # "完成 十十十" is still a command: the handler asks for the number again.
            return Intent(kind, _positions(found.group(1)))
    if words in _UNDO_BARE_WORDS:
        return Intent("undo")
    if _DONE_BARE.fullmatch(words):
        return Intent("done")
    return None


def _positions(items: str) -> tuple[int, ...]:
    found = [number(n) for n in re.findall(NUM, items)]
    if any(n is None for n in found):
        return ()
    return tuple(dict.fromkeys(n for n in found if n is not None))


def _question(words: str) -> Intent | None:
    positions = _question_positions(words)
    offset, month, year = _month_of(words)
    when = {"offset": offset, "month": month, "year": year}
    if any(w in words for w in _WHERE) and (positions or re.search(r"任务|学习|要学", words)):
        return Intent("where", positions, **when)
    about_task = bool(positions or offset is not None or month or re.search(r"任务|学", words))
    if any(w in words for w in _DUE) or about_task and any(w in words for w in _DUE_WEAK):
        return Intent("due", positions, **when)
    if positions and any(w in words for w in _DETAIL):
        return Intent("detail", positions, **when)
    if any(w in words for w in _PENDING) and _about_tasks(words, positions, when):
        return Intent("pending", positions, **when)
    if positions and re.fullmatch(rf"第{NUM}(?:项|个)(?:任务)?", words):
        return Intent("detail", positions, **when)
    if any(w in words for w in _LIST) or (month or offset is not None) and "学" in words:
        return Intent("list", (), **when)
    if any(w in words for w in _EVENTS) and (month or offset is not None
                                              or any(w in words for w in _WHEN)):
        return Intent("list", (), **when)
    return None


def _about_tasks(words: str, positions: tuple[int, ...], when: dict) -> bool:
    """"还有哪些没完成" is; "欠款怎么处分" is not: a pending word needs a task-ish word too."""
    return bool(positions or when["offset"] is not None or when["month"]
                or re.search(r"我|任务|学|几项|哪些|哪几|什么没|多少没", words))


def _question_positions(words: str) -> tuple[int, ...]:
    found = []
    for match in _QUESTION_ITEM.finditer(words):
        value = number(next(g for g in match.groups() if g))
        if value is not None:
            found.append(value)
    return tuple(dict.fromkeys(found))


def _month_of(words: str) -> tuple[int | None, int | None, int | None]:
    """(offset, month, year): 本月 -> (0, None, None); 上月 -> (-1, ...); 十二月 -> (None, 12, ...)."""
    for word, offset in (("上上月", -2), ("上月", -1), ("下月", 1), ("本月", 0)):
        if word in words:
            return offset, None, None
    found = _MONTH_NAMED.search(words)
    if found:
        month = number(found.group(2))
        if month is not None and 1 <= month <= 12:
            return None, month, int(found.group(1)) if found.group(1) else None
    return None, None, None


def resolve_month(intent: Intent, today: date) -> str:
    """The "YYYY-MM" an intent asks about; a named month without a year is the nearest one
    (in November, 一月 is next January, 十月 last October)."""
    if intent.month is not None:
        if intent.year is not None:
            return f"{intent.year:04d}-{intent.month:02d}"
        here = today.year * 12 + today.month - 1
        candidates = [(y * 12 + intent.month - 1) for y in (today.year - 1, today.year,
                                                            today.year + 1)]
        # Nearest; a tie (six months either way) goes to the coming one.
        best = min(candidates, key=lambda c: (abs(c - here), c < here))
        return f"{best // 12:04d}-{best % 12 + 1:02d}"
    index = today.year * 12 + today.month - 1 + (intent.offset or 0)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
