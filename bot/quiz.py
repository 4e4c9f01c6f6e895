"""The daily quiz (每日一题): today's question, reading a member's answer, grading, the texts.

Today's question is the same for everyone, picked on the first ask and recorded in quiz_days,
so editing the bank later that day does not change it; no question repeats until the whole
active bank has been used (a cycle), the rule the daily reading follows too (bot.daily).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from bot.daily import fresh_in_cycle, seeded_order
from bot.store import quiz as store_quiz
from bot.store.quiz import Accuracy, Attempt, StoredQuestion

# A fixed shuffle: the order is the same on every server and a new question slots in without
# reshuffling the rest.
SEED = "qingfeng-quiz"

LETTERS = "ABCDE"
TYPE_NAMES = {"single": "单选题", "multiple": "多选题", "judge": "判断题"}
TRUE_WORDS = frozenset({"对", "正确", "对的", "√", "✓", "✔", "T", "TRUE"})
FALSE_WORDS = frozenset({"错", "错误", "错的", "×", "✗", "✘", "F", "FALSE"})

# What an answer looks like, on NFKC-normalised text (so "ＡＣ" is "AC", "，" is ","):
# "A", "ac", "A C", "A,C", "A、C", "选AC", "答案是 B", "对", "错误", "√", "T".
_PREFIX = r"(?:我?选(?:择)?|(?:我的)?答案(?:是|为)?)?[:：\s]*"
_LETTER_RUN = r"[A-Ea-e](?:[\s,、;/+&和]*[A-Ea-e]){0,4}"
_JUDGE = "|".join(sorted((re.escape(w) for w in TRUE_WORDS | FALSE_WORDS), key=len, reverse=True))
ANSWER_PATTERN = (rf"{_PREFIX}(?:(?P<letters>{_LETTER_RUN})|(?P<judge>(?i:{_JUDGE})))"
                  r"\s*[。.!！]?")
_ANSWER_RE = re.compile(ANSWER_PATTERN)


class WrongShape(ValueError):
    """An answer the question cannot take (a letter for a judge question, two letters for a
    single choice...): the member gets this hint and the attempt is not graded."""


@dataclass(frozen=True)
class Graded:
    answer: str  # canonical: "AC", "对"
    correct: bool


def question_for(db: sqlite_utils.Database, day: date) -> StoredQuestion | None:
    """The question of `day`, picked and recorded on first ask; None when the bank is empty.

    Must run inside a transaction when it may pick: the quiz_days row makes the choice stick.
    """
    logged = store_quiz.day_question(db, day)
    if logged is not None:
        return store_quiz.get_question(db, logged)
    active = store_quiz.list_questions(db, include_inactive=False)
    if not active:
        return None
    candidates = seeded_order(active, SEED, key=lambda q: q.id)
    cycle = store_quiz.current_cycle(db)
    fresh, cycle = fresh_in_cycle(candidates, store_quiz.used_in_cycle(db, cycle), cycle,
                                  key=lambda q: q.id)
    store_quiz.record_day(db, day, fresh[0].id, cycle)
    return fresh[0]


# ---- reading an answer ----------------------------------------------------------------------


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def looks_like_answer(text: str) -> bool:
    """Whether a message has the shape of a quiz answer at all (whatever the question)."""
    return _ANSWER_RE.fullmatch(normalise(text)) is not None


def grade(question: StoredQuestion, text: str) -> Graded:
    """Read `text` as an answer to `question` and grade it; WrongShape says what to send."""
    found = _ANSWER_RE.fullmatch(normalise(text))
    if found is None:
        raise WrongShape(how_to_answer(question))
    if question.type == "judge":
        if found.group("judge") is None:
            raise WrongShape("这是判断题，请回复「对」或「错」。")
        answer = "对" if found.group("judge").upper() in TRUE_WORDS else "错"
    else:
        if found.group("letters") is None:
            raise WrongShape(f"这是{TYPE_NAMES[question.type]}，{how_to_answer(question)}")
        answer = _choice(question, found.group("letters").upper())
    return Graded(answer, answer == question.answer)


def _choice(question: StoredQuestion, run: str) -> str:
    chosen = sorted(set(re.findall(r"[A-E]", run)))
    letters = LETTERS[:len(question.options)]
    outside = [letter for letter in chosen if letter not in letters]
    if outside:
        raise WrongShape(f"本题只有 {'、'.join(letters)} {len(letters)} 个选项，"
                         f"没有 {'、'.join(outside)}。{how_to_answer(question)}")
    if question.type == "single" and len(chosen) > 1:
        raise WrongShape("这是单选题，只能选一个选项，例如「B」。")
    if question.type == "multiple" and len(chosen) < 2:
        raise WrongShape("这是多选题，请选出全部正确选项（至少两个），例如「AC」。")
    return "".join(chosen)


def how_to_answer(question: StoredQuestion) -> str:
    if question.type == "judge":
        return "请回复「对」或「错」。"
    if question.type == "multiple":
        return "请回复全部正确选项的字母，例如「AC」。"
    return "请回复一个选项字母，例如「B」。"


# ---- what the member sees -------------------------------------------------------------------


def format_question(question: StoredQuestion, day: date) -> str:
    lines = [f"【每日一题】{day:%Y年%-m月%-d日}（{TYPE_NAMES[question.type]}）", question.stem]
    lines += [f"{letter}. {option}" for letter, option in zip(LETTERS, question.options,
                                                               strict=False)]
    lines.append(how_to_answer(question))
    return "\n".join(lines)


def format_result(question: StoredQuestion, graded: Graded, month: Accuracy) -> str:
    verdict = "回答正确 ✓" if graded.correct else f"回答错误 ✗ 正确答案：{_answer_text(question)}"
    return "\n".join([verdict, *_explained(question), month_line(month)])


def format_earlier(question: StoredQuestion | None, attempt: Attempt) -> str:
    """A second answer the same day: the first one stands."""
    verdict = "回答正确" if attempt.correct else "回答错误"
    lines = [f"今天的每日一题你已经答过了：你的答案「{attempt.answer}」，{verdict}。"
             "每天只记第一次作答，明天再来！"]
    if question is not None:
        if not attempt.correct:
            lines.append(f"正确答案：{_answer_text(question)}")
        lines += _explained(question)
    return "\n".join(lines)


def month_line(month: Accuracy) -> str:
    if not month.answered:
        return "本月答题：还没有记录，发送「答题」做今天的每日一题"
    return f"本月答题：{month.answered} 题，答对 {month.correct} 题（{month.percent}%）"


def _answer_text(question: StoredQuestion) -> str:
    if question.type == "single":
        return f"{question.answer}（{question.options[LETTERS.index(question.answer)]}）"
    return question.answer


def _explained(question: StoredQuestion) -> list[str]:
    return [f"解析：{question.explanation}",
            f"出处：《{question.source}》（{question.version}年版）{question.article_no}"]
