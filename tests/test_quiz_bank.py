"""The shipped question bank, its sync into the store, and the choice of each day's question:
stable all day, the same for everyone, no repeat until the whole bank has been used."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bot.clock import SHANGHAI
from bot.library import QuizQuestion, load_quiz
from bot.quiz import question_for
from bot.store import Store, members
from bot.store import quiz as store_quiz
from tests.paths import CONTENT

BANK = load_quiz(CONTENT / "quiz.toml")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
DAY = NOW.date()


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "quiz.db")
    yield opened
    opened.close()


def sync(store: Store, questions=BANK) -> store_quiz.BankSync:
    with store.transaction() as db:
        return store_quiz.sync_bank(db, questions, NOW)


def today_id(store: Store, day: date) -> str | None:
    with store.transaction() as db:
        question = question_for(db, day)
    return question.id if question else None


# ---- the shipped bank -----------------------------------------------------------------------


def test_the_bank_is_big_enough_and_has_every_type() -> None:
    types = Counter(q.type for q in BANK)
    assert len(BANK) >= 50
    assert set(types) == {"single", "multiple", "judge"}
    assert min(types.values()) >= 10


@pytest.mark.parametrize("q", BANK, ids=lambda q: q.id)
def test_every_answer_is_in_range(q: QuizQuestion) -> None:
    if q.type == "judge":
        assert q.options == () and q.answer in ("对", "错")
    else:
        letters = "ABCDE"[:len(q.options)]
        assert 2 <= len(q.options) <= 5
        assert q.answer and set(q.answer) <= set(letters), (q.answer, letters)
        assert (len(q.answer) == 1) == (q.type == "single")


@pytest.mark.parametrize("q", BANK, ids=lambda q: q.id)
def test_every_question_explains_and_cites(q: QuizQuestion) -> None:
    assert "\n" not in q.explanation and 8 <= len(q.explanation) <= 90, q.explanation
    assert re.fullmatch(r"\d{4}", q.version)
    assert re.match(r"^第[一二三四五六七八九十百零]+[条项]", q.article_no), q.article_no
    assert q.source.startswith(("中国共产党", "中华人民共和国", "中央八项规定"))
    # A choice stem has the blank or a question mark the options fill.
    if q.type != "judge":
        assert "（ ）" in q.stem or "？" in q.stem, q.stem


def test_no_two_questions_share_a_stem() -> None:
    stems = Counter(q.stem for q in BANK)
    assert [s for s, n in stems.items() if n > 1] == []


# ---- sync -----------------------------------------------------------------------------------


def test_sync_stores_the_bank_once(store: Store) -> None:
    assert sync(store) == store_quiz.BankSync(changed=len(BANK), retired=0)
    assert sync(store) == store_quiz.BankSync(changed=0, retired=0)
    listed = store_quiz.list_questions(store.db)
    assert [q.id for q in listed] == [q.id for q in BANK]
    first = listed[0]
    assert (first.type, first.options, first.answer, first.article_no) == (
        BANK[0].type, BANK[0].options, BANK[0].answer, BANK[0].article_no)
    assert all(q.active for q in listed)


def test_an_edited_question_is_updated(store: Store) -> None:
    sync(store)
    edited = [replace(BANK[0], explanation="新的解析。"), *BANK[1:]]
    assert sync(store, edited) == store_quiz.BankSync(changed=1, retired=0)
    assert store_quiz.get_question(store.db, BANK[0].id).explanation == "新的解析。"


def test_a_removed_question_turns_inactive_and_keeps_its_attempts(store: Store) -> None:
    sync(store)
    with store.transaction() as db:
        member = members.add_member(db, name="李红梅", branch="第一党支部", now=NOW)
        store_quiz.record_attempt(db, member_id=member, day=DAY, question_id=BANK[0].id,
                                  answer="A", correct=False, at=NOW, via="sandbox")
    assert sync(store, BANK[1:]) == store_quiz.BankSync(changed=0, retired=1)
    gone = store_quiz.get_question(store.db, BANK[0].id)
    assert gone is not None and not gone.active
    assert store_quiz.get_attempt(store.db, member, DAY).question_id == BANK[0].id
    assert BANK[0].id not in [q.id for q in store_quiz.list_questions(store.db,
                                                                      include_inactive=False)]
    assert store_quiz.list_questions(store.db)[-1].id == BANK[0].id  # listed last, inactive
    # Put back in the file, it is active again.
    assert sync(store) == store_quiz.BankSync(changed=1, retired=0)
    assert store_quiz.get_question(store.db, BANK[0].id).active


def test_syncing_an_empty_bank_retires_every_question(store: Store) -> None:
    sync(store)
    assert sync(store, []) == store_quiz.BankSync(changed=0, retired=len(BANK))
    assert store_quiz.list_questions(store.db, include_inactive=False) == []
    assert len(store_quiz.list_questions(store.db)) == len(BANK)
    assert today_id(store, DAY) is None


def test_an_empty_bank_has_no_question_and_records_nothing(store: Store) -> None:
    assert today_id(store, DAY) is None
    assert store.db.execute("SELECT count(*) FROM quiz_days").fetchone()[0] == 0


# ---- today's question -----------------------------------------------------------------------


def test_the_days_question_is_stable(store: Store) -> None:
    sync(store)
    first = today_id(store, DAY)
    assert first is not None
    assert [today_id(store, DAY) for _ in range(3)] == [first] * 3
    assert today_id(store, DAY + timedelta(days=1)) != first


def test_the_choice_is_deterministic_across_stores(tmp_path) -> None:
    picks = []
    for name in ("one.db", "two.db"):
        other = Store(tmp_path / name)
        sync(other)
        picks.append([today_id(other, DAY + timedelta(days=n)) for n in range(5)])
        other.close()
    assert picks[0] == picks[1]


def test_a_cycle_covers_the_whole_bank_before_repeating(store: Store) -> None:
    sync(store)
    days = [DAY + timedelta(days=n) for n in range(len(BANK) * 2 + 1)]
    picked = [today_id(store, day) for day in days]
    first, second = picked[:len(BANK)], picked[len(BANK):2 * len(BANK)]
    assert sorted(first) == sorted(q.id for q in BANK)
    assert sorted(second) == sorted(q.id for q in BANK)
    cycles = [row[0] for row in store.db.execute("SELECT cycle FROM quiz_days ORDER BY day")]
    assert cycles == [0] * len(BANK) + [1] * len(BANK) + [2]


def test_editing_the_bank_mid_day_does_not_change_todays_question(store: Store) -> None:
    sync(store)
    todays = today_id(store, DAY)
    sync(store, [q for q in BANK if q.id != todays])  # today's question deactivated
    assert today_id(store, DAY) == todays
    later = [today_id(store, DAY + timedelta(days=n)) for n in range(1, len(BANK))]
    assert todays not in later  # never chosen again while inactive
    assert sorted([todays, *later]) == sorted(q.id for q in BANK)


def test_a_question_added_mid_cycle_joins_the_cycle(store: Store) -> None:
    sync(store, BANK[:5])
    early = [today_id(store, DAY + timedelta(days=n)) for n in range(3)]
    sync(store, BANK[:6])
    rest = [today_id(store, DAY + timedelta(days=n)) for n in range(3, 6)]
    assert sorted(early + rest) == sorted(q.id for q in BANK[:6])


# ---- accuracy (答题正确率) -----------------------------------------------------------------


def test_accuracy_counts_one_month_per_member(store: Store) -> None:
    sync(store)
    with store.transaction() as db:
        li = members.add_member(db, name="李红梅", branch="第一党支部", now=NOW)
        zhang = members.add_member(db, name="张伟", branch="第一党支部", now=NOW)
        rows = [(li, "2026-10-31", True), (li, "2026-11-01", True), (li, "2026-11-15", False),
                (li, "2026-11-30", True), (li, "2026-12-01", False), (zhang, "2026-11-20", False)]
        for member, day, correct in rows:
            store_quiz.record_attempt(db, member_id=member, day=date.fromisoformat(day),
                                      question_id=BANK[0].id, answer="A", correct=correct,
                                      at=NOW, via="sandbox")
    assert store_quiz.month_accuracy(store.db, li, "2026-11") == store_quiz.Accuracy(3, 2)
    assert store_quiz.month_accuracy(store.db, li, "2026-10") == store_quiz.Accuracy(1, 1)
    assert store_quiz.month_accuracy(store.db, zhang, "2026-12") == store_quiz.Accuracy(0, 0)
    assert store_quiz.accuracy_by_member(store.db, "2026-11") == {
        li: store_quiz.Accuracy(3, 2), zhang: store_quiz.Accuracy(1, 0)}
    assert store_quiz.accuracy_by_member(store.db, "2027-01") == {}


def test_one_attempt_a_day_in_the_store(store: Store) -> None:
    sync(store)
    with store.transaction() as db:
        member = members.add_member(db, name="李红梅", branch="第一党支部", now=NOW)
        kwargs = dict(member_id=member, day=DAY, question_id=BANK[0].id, at=NOW, via="sandbox")
        assert store_quiz.record_attempt(db, answer="A", correct=False, **kwargs)
        assert not store_quiz.record_attempt(db, answer="B", correct=True, **kwargs)
    attempt = store_quiz.get_attempt(store.db, member, DAY)
    assert (attempt.answer, attempt.correct) == ("A", False)


@pytest.mark.parametrize("month", ["2026-13", "2026", "十一月", "", "2026-11-01"])
def test_a_malformed_month_is_refused(store: Store, month: str) -> None:
    with pytest.raises(ValueError):
        store_quiz.month_accuracy(store.db, 1, month)


# ---- answers checked against the real texts -------------------------------------------------

# The regulations whose published text is in ../shared/data/regulations (read, never copied).
REAL_TEXTS = {
    "中国共产党纪律处分条例": "中国共产党纪律处分条例_2023.md",
    "中华人民共和国监察法": "监察法(2024-12-25).md",
    "中国共产党廉洁自律准则": "中国共产党廉洁自律准则.md",
}


def _articles(source: str) -> dict[str, str]:
    from bot.regulations import parse_regulation, read_regulation_file
    from tests.paths import REGULATIONS
    path = REGULATIONS / REAL_TEXTS[source]
    parsed = parse_regulation(read_regulation_file(path), filename=path.name)
    return {article.article_no: article.body for article in parsed.articles}


def _checkable(qtype: str) -> list[QuizQuestion]:
    return [q for q in BANK if q.type == qtype and q.source in REAL_TEXTS]


@pytest.mark.parametrize("q", _checkable("single"), ids=lambda q: q.id)
def test_a_single_choice_answer_is_what_the_cited_article_says(q: QuizQuestion) -> None:
    """Figures and names (期限, 机关, 种类) are quoted in options: the right one must be in the
    article the question cites, so a wrong key or a wrong citation fails here."""
    text = "".join(_articles(q.source).get(no, "") for no in re.findall(
        r"第[一二三四五六七八九十百零]+条", q.article_no))
    assert text, q.article_no
    right = q.options["ABCDE".index(q.answer)]
    if q.id == "q019":  # the option paraphrases the article's "红红脸、出出汗" form
        assert "“红红脸、出出汗”成为常态" in text
    else:
        assert right in text, (q.id, right)
