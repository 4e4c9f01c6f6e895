"""The daily quiz in the store: the question bank, each day's question, who asked, attempts.

Writes go through `db.execute` inside the caller's transaction (see bot/store/__init__.py).
The monthly report reads `accuracy_by_member`; the admin console reads `list_questions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlite_utils

from bot.library import QuizQuestion

_COLUMNS = ("id, position, type, stem, options, answer, explanation, source, version,"
            " article_no, active")


@dataclass(frozen=True)
class StoredQuestion:
    id: str
    position: int  # its place in content/quiz.toml, for listings
    type: str  # single | multiple | judge
    stem: str
    options: tuple[str, ...]
    answer: str  # "B", "ACD", "对" or "错"
    explanation: str
    source: str
    version: str
    article_no: str
    active: bool  # False once removed from the file; kept for the attempts that cite it


@dataclass(frozen=True)
class BankSync:
    changed: int  # questions added or edited
    retired: int  # questions turned inactive because the file no longer has them


@dataclass(frozen=True)
class Attempt:
    member_id: int
    day: date
    question_id: str
    answer: str  # as graded, canonical: "AC", "对"
    correct: bool
    at: datetime


@dataclass(frozen=True)
class Accuracy:
    answered: int
    correct: int

    @property
    def percent(self) -> int | None:
        """Rounded half up (5 of 6 is 83%); None before the first answer."""
        if not self.answered:
            return None
        return (self.correct * 200 + self.answered) // (self.answered * 2)


# ---- the bank -------------------------------------------------------------------------------


def sync_bank(db: sqlite_utils.Database, questions: Iterable[QuizQuestion],
              now: datetime) -> BankSync:
    """Upsert the file's questions; questions no longer in it turn inactive, never deleted,
    because attempts and past days reference them. Running it twice changes nothing."""
    changed, ids = 0, []
    for position, question in enumerate(questions, start=1):
        ids.append(question.id)
        changed += _upsert(db, question, position, now)
    # json_each, not "NOT IN (?, ?, ...)": no placeholder limit, and an empty bank retires all
    # (NOT IN (NULL) would retire nothing).
    retired = db.execute(
        "UPDATE quiz_questions SET active = 0, updated_at = ? WHERE active = 1"
        " AND id NOT IN (SELECT value FROM json_each(?))",
        [now.isoformat(), json.dumps(ids)]).rowcount
    return BankSync(changed, retired)


def _upsert(db: sqlite_utils.Database, question: QuizQuestion, position: int,
            now: datetime) -> int:
    values = [question.type, question.stem,
              json.dumps(list(question.options), ensure_ascii=False), question.answer,
              question.explanation, question.source, question.version, question.article_no]
    cursor = db.execute(
        "INSERT INTO quiz_questions (type, stem, options, answer, explanation, source, version,"
        " article_no, id, position, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, stem = excluded.stem,"
        " options = excluded.options, answer = excluded.answer,"
        " explanation = excluded.explanation, source = excluded.source,"
        " version = excluded.version, article_no = excluded.article_no, active = 1,"
        " updated_at = excluded.updated_at"
        # Only a real difference counts (and touches updated_at): idempotent syncs stay silent.
        " WHERE (type, stem, options, answer, explanation, source, version, article_no, active)"
        " IS NOT (excluded.type, excluded.stem, excluded.options, excluded.answer,"
        " excluded.explanation, excluded.source, excluded.version, excluded.article_no, 1)",
        [*values, question.id, position, now.isoformat()])
    # Removing one question moves the rest up: keep the listing order, but that is no edit.
    db.execute("UPDATE quiz_questions SET position = ? WHERE id = ? AND position != ?",
               [position, question.id, position])
    return cursor.rowcount


def get_question(db: sqlite_utils.Database, question_id: str) -> StoredQuestion | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM quiz_questions WHERE id = ?",
                     [question_id]).fetchone()
    return _question(row) if row else None


def list_questions(db: sqlite_utils.Database, *, include_inactive: bool = True
                   ) -> list[StoredQuestion]:
    """The bank in file order (inactive ones after, by id): what the console lists."""
    where = "" if include_inactive else " WHERE active = 1"
    rows = db.execute(f"SELECT {_COLUMNS} FROM quiz_questions{where}"
                      " ORDER BY active DESC, position, id")
    return [_question(row) for row in rows]


def _question(row: tuple) -> StoredQuestion:
    (qid, position, qtype, stem, options, answer, explanation, source, version, article_no,
     active) = row
    return StoredQuestion(qid, position, qtype, stem, tuple(json.loads(options)), answer,
                          explanation, source, version, article_no, bool(active))


# ---- the question of each day ---------------------------------------------------------------


def day_question(db: sqlite_utils.Database, day: date) -> str | None:
    row = db.execute("SELECT question_id FROM quiz_days WHERE day = ?",
                     [day.isoformat()]).fetchone()
    return row[0] if row else None


def current_cycle(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(max(cycle), 0) FROM quiz_days").fetchone()[0]


def used_in_cycle(db: sqlite_utils.Database, cycle: int) -> set[str]:
    return {qid for (qid,) in db.execute("SELECT question_id FROM quiz_days WHERE cycle = ?",
                                         [cycle])}


def record_day(db: sqlite_utils.Database, day: date, question_id: str, cycle: int) -> None:
    db.execute("INSERT INTO quiz_days (day, question_id, cycle) VALUES (?, ?, ?)",
               [day.isoformat(), question_id, cycle])


# ---- who asked today, and their attempts ----------------------------------------------------


def mark_asked(db: sqlite_utils.Database, member_id: int, day: date, at: datetime) -> None:
    db.execute("INSERT INTO quiz_asked (member_id, day, at) VALUES (?, ?, ?)"
               " ON CONFLICT (member_id, day) DO NOTHING",
               [member_id, day.isoformat(), at.isoformat()])


def asked(db: sqlite_utils.Database, member_id: int, day: date) -> bool:
    return db.execute("SELECT 1 FROM quiz_asked WHERE member_id = ? AND day = ?",
                      [member_id, day.isoformat()]).fetchone() is not None


def record_attempt(db: sqlite_utils.Database, *, member_id: int, day: date, question_id: str,
                   answer: str, correct: bool, at: datetime, via: str) -> bool:
    """The day's one graded attempt; False (and nothing written) if there already is one."""
    cursor = db.execute(
        "INSERT INTO quiz_attempts (member_id, day, question_id, answer, correct, at, via)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member_id, day) DO NOTHING",
        [member_id, day.isoformat(), question_id, answer, int(correct), at.isoformat(), via])
    return bool(cursor.rowcount)


def get_attempt(db: sqlite_utils.Database, member_id: int, day: date) -> Attempt | None:
    row = db.execute("SELECT question_id, answer, correct, at FROM quiz_attempts"
                     " WHERE member_id = ? AND day = ?", [member_id, day.isoformat()]).fetchone()
    if row is None:
        return None
    return Attempt(member_id, day, row[0], row[1], bool(row[2]), datetime.fromisoformat(row[3]))


# ---- accuracy (答题正确率) for 我的 and the monthly report ------------------------------------


def _month_bounds(month: str) -> tuple[str, str]:
    """'2026-11' -> ('2026-11-01', '2026-11-31'): ISO days compare as text, so a day string
    past the month's real end is a safe upper bound. ValueError for anything else."""
    year, mon = month.split("-")
    first = date(int(year), int(mon), 1)
    return first.isoformat(), f"{first:%Y-%m}-31"


def month_accuracy(db: sqlite_utils.Database, member_id: int, month: str) -> Accuracy:
    """One member's graded attempts in `month` ("YYYY-MM") and how many were right."""
    start, end = _month_bounds(month)
    answered, correct = db.execute(
        "SELECT count(*), coalesce(sum(correct), 0) FROM quiz_attempts"
        " WHERE member_id = ? AND day BETWEEN ? AND ?", [member_id, start, end]).fetchone()
    return Accuracy(answered, correct)


def accuracy_by_member(db: sqlite_utils.Database, month: str) -> dict[int, Accuracy]:
    """Every member who answered in `month`, in one query (the report covers thousands);
    a member absent from the result answered nothing that month."""
    start, end = _month_bounds(month)
    rows = db.execute(
        "SELECT member_id, count(*), sum(correct) FROM quiz_attempts"
        " WHERE day BETWEEN ? AND ? GROUP BY member_id", [start, end])
    return {member_id: Accuracy(answered, correct) for member_id, answered, correct in rows}
