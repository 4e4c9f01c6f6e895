"""The shipped reminders and quiz: enough of each kind, and every answer consistent.

The loader already rejects malformed entries; these tests hold the content to the editorial
rules (counts, lengths, the signature placeholder) and re-check answers independently, so a
loader bug cannot hide a wrong answer key.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.library import OCCASIONS, QuizQuestion, Reminder, load_library, load_quiz, load_reminders
from tests.paths import CONTENT, REGULATIONS

REMINDERS = load_reminders(CONTENT / "reminders.toml")
QUIZ = load_quiz(CONTENT / "quiz.toml")

# The seven sources the quiz may cite, with the revision it must cite.
SOURCE_VERSIONS = {
    "中国共产党纪律处分条例": "2023",
    "中国共产党廉洁自律准则": "2015",
    "中央八项规定及其实施细则精神": "2012",
    "中国共产党问责条例": "2019",
    "中华人民共和国监察法": "2024",
    "中华人民共和国公职人员政务处分法": "2020",
    "中国共产党章程": "2022",
}

# The real texts on disk, to check that cited articles exist (read, never copied in).
REAL_TEXTS = {
    "中国共产党纪律处分条例": "中国共产党纪律处分条例_2023.md",
    "中华人民共和国监察法": "监察法(2024-12-25).md",
    "中国共产党廉洁自律准则": "中国共产党廉洁自律准则.md",
}

_ARTICLE_RE = re.compile(r"第[一二三四五六七八九十百零]+条")


# ---- reminders ----------------------------------------------------------------------------------


def test_reminder_count() -> None:
    assert len(REMINDERS) >= 14


def test_every_occasion_has_exactly_one_default() -> None:
    defaults = Counter(r.occasion for r in REMINDERS if r.default)
    assert {occasion: defaults[occasion] for occasion in OCCASIONS} == dict.fromkeys(OCCASIONS, 1)


def test_combined_notices_use_the_earlier_holiday() -> None:
    by_title = {r.title: r for r in REMINDERS}
    new_year_spring = next(r for t, r in by_title.items() if "元旦春节" in t)
    double = next(r for t, r in by_title.items() if "中秋国庆" in t)
    assert new_year_spring.occasion == "元旦" and not new_year_spring.default
    assert double.occasion == "中秋" and not double.default


@pytest.mark.parametrize("reminder", REMINDERS, ids=lambda r: r.id)
def test_reminder_body(reminder: Reminder) -> None:
    body = reminder.body
    assert 120 <= len(body) <= 300, len(body)
    assert "{branch}" in body
    assert body.rstrip().endswith("{branch}")  # signed by the branch
    assert "反映" in body  # a reporting channel
    # 4-6 concrete don'ts, numbered 一、二、...
    items = re.findall(r"^[一二三四五六]、", body, flags=re.MULTILINE)
    assert 4 <= len(items) <= 6
    assert "{branch}" not in body.format(branch="第一党支部")


@pytest.mark.parametrize("reminder", REMINDERS, ids=lambda r: r.id)
def test_reminder_lead_is_a_few_working_days(reminder: Reminder) -> None:
    assert 1 <= reminder.lead_workdays <= 10


# ---- quiz ---------------------------------------------------------------------------------------


def test_quiz_counts() -> None:
    types = Counter(q.type for q in QUIZ)
    assert len(QUIZ) >= 52
    assert types["single"] >= 20
    assert types["multiple"] >= 12
    assert types["judge"] >= 12


def test_quiz_covers_every_source() -> None:
    assert {q.source for q in QUIZ} == set(SOURCE_VERSIONS)


def test_quiz_ids_are_sequential() -> None:
    assert [q.id for q in QUIZ] == [f"q{n:03d}" for n in range(1, len(QUIZ) + 1)]


@pytest.mark.parametrize("question", QUIZ, ids=lambda q: q.id)
def test_answer_is_consistent(question: QuizQuestion) -> None:
    if question.type == "judge":
        assert question.options == ()
        assert question.answer in ("对", "错")
        return
    letters = "ABCDE"[: len(question.options)]
    assert 2 <= len(question.options) <= 5
    assert len(set(question.options)) == len(question.options)
    assert set(question.answer) <= set(letters)
    if question.type == "single":
        assert len(question.answer) == 1
    else:
        assert question.type == "multiple"
        assert len(question.answer) >= 2
        assert question.answer == "".join(sorted(set(question.answer)))


@pytest.mark.parametrize("question", QUIZ, ids=lambda q: q.id)
def test_question_cites_source_version_and_article(question: QuizQuestion) -> None:
    assert SOURCE_VERSIONS.get(question.source) == question.version
    assert re.match(r"^第.+[条项]", question.article_no), question.article_no
    assert question.explanation


def test_quiz_answers_are_not_all_the_same_letter() -> None:
    singles = Counter(q.answer for q in QUIZ if q.type == "single")
    judges = Counter(q.answer for q in QUIZ if q.type == "judge")
    assert len(singles) >= 3
    assert set(judges) == {"对", "错"}


def _articles(path: Path) -> set[str]:
    # An article starts a line (after full-width indentation); mid-line references don't count.
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ARTICLE_RE.match(line.strip().lstrip("\u3000"))
        if match:
            found.add(match.group(0))
    return found


@pytest.mark.skipif(not REGULATIONS.is_dir(), reason="shared regulation texts not available")
@pytest.mark.parametrize("source", sorted(REAL_TEXTS))
def test_cited_articles_exist_in_the_real_text(source: str) -> None:
    articles = _articles(REGULATIONS / REAL_TEXTS[source])
    for question in (q for q in QUIZ if q.source == source):
        cited = _ARTICLE_RE.findall(question.article_no)
        assert cited, question.id
        assert set(cited) <= articles, (question.id, question.article_no)


def test_quiz_versions_agree_with_the_readings_library() -> None:
    # When a source is also in the readings library, quiz and readings must cite one revision.
    versions: dict[str, set[str]] = {}
    for reading in load_library(CONTENT).readings:
        versions.setdefault(reading.source.name, set()).add(reading.source.version)
    for question in QUIZ:
        if question.source in versions:
            assert question.version in versions[question.source], question.id
