"""The content loader: the real content/ loads, and every kind of bad input is located precisely.

Each bad-input test writes a small valid content/ into tmp_path, breaks one file, and checks that
ContentError names the file, the entry and the field, both as attributes and in the message an
admin reads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.library import (
    OCCASIONS,
    ContentError,
    Library,
    QuizQuestion,
    Reading,
    Reminder,
    TaskSpec,
    load_library,
    load_quiz,
    load_readings,
    load_reminders,
    load_tasks,
)
from tests.paths import CONTENT

# ---- a minimal valid content/ -----------------------------------------------------------------

READINGS = """\
[source]
name = "中国共产党纪律处分条例"
short = "纪律处分条例"
aliases = ["处分条例"]
version = "2023"

[[reading]]
id = "jlcf-2023-008"
article_no = "第八条"
title = "党纪处分的种类"
kind = "quote"
body = \"\"\"对党员的纪律处分种类：警告、严重警告、撤销党内职务、留党察看、开除党籍。\"\"\"
tags = ["纪律处分"]

[[reading]]
id = "jlcf-2023-097"
article_no = "第九十七条"
title = "收受礼品礼金"
kind = "summary"
body = "收受可能影响公正执行公务的礼品礼金等财物，要受处分。"
gloss = "节日前后尤须注意。"
"""

REMINDERS = """\
[[reminder]]
id = "spring-festival"
occasion = "春节"
lead_workdays = 2
default = true
title = "春节廉洁提醒"
body = \"\"\"
各位同志：不收送礼品礼金。
{branch}
\"\"\"

[[reminder]]
id = "spring-festival-alt"
occasion = "春节"
lead_workdays = 3
default = false
title = "春节廉洁提醒（备选）"
body = "各位同志：不公车私用。{branch}"
"""

QUIZ = """\
[[question]]
id = "q001"
type = "single"
stem = "留党察看最长不超过（ ）。"
options = ["一年", "一年半", "二年", "三年"]
answer = "C"
explanation = "最长二年。"
source = "中国共产党纪律处分条例"
version = "2023"
article_no = "第十二条"

[[question]]
id = "q002"
type = "multiple"
stem = "属于党纪处分的有（ ）。"
options = ["警告", "记过", "留党察看"]
answer = "AC"
explanation = "记过是政务处分。"
source = "中国共产党纪律处分条例"
version = "2023"
article_no = "第八条"

[[question]]
id = "q003"
type = "judge"
stem = "开除党籍是党内的最高处分。"
answer = "对"
explanation = "党章如此规定。"
source = "中国共产党章程"
version = "2022"
article_no = "第四十一条"
"""

TASKS = """\
month = "2026-11"

[[task]]
id = "2026-11-study"
title = "学习第八章"
detail = "通读第八章。"
link = "https://www.12371.cn/"
readings = ["jlcf-2023-097"]
due = "2026-11-27"
required = true
kind = "study"
audience = "all"

[[task]]
id = "2026-11-group"
title = "党小组会"
detail = "交流体会。"
due = 2026-11-30
required = false
kind = "三会一课"
audience = {groups = ["综合科党小组"]}
"""

GOOD = {
    "readings/jlcf.toml": READINGS,
    "reminders.toml": REMINDERS,
    "quiz.toml": QUIZ,
    "tasks/2026-11.toml": TASKS,
}


def write_content(root: Path, files: dict[str, str | bytes]) -> Path:
    content = root / "content"
    for rel, text in files.items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return content


def broken(tmp_path: Path, rel: str, text: str | bytes, **extra: str) -> Path:
    """A valid content/ with one file replaced (and optionally more files added)."""
    return write_content(tmp_path, {**GOOD, rel: text, **extra})


def expect_error(
    content: Path, rel: str, entry: str | int | None, field: str | None, fragment: str
) -> ContentError:
    with pytest.raises(ContentError) as info:
        load_library(content)
    err = info.value
    message = str(err)
    assert err.file == content / rel, message
    assert err.entry == entry, message
    assert err.field == field, message
    assert f"content/{rel}" in message
    if entry is not None:
        assert (f"#{entry}" if isinstance(entry, int) else str(entry)) in message
    if field is not None:
        assert f"field '{field}'" in message
    assert fragment in message, message
    return err


# ---- the real content and the good fixture ----------------------------------------------------


def test_real_content_loads() -> None:
    library = load_library(CONTENT)
    assert isinstance(library, Library)
    # readings are being written alongside; whatever is there must load and be well-formed
    assert all(isinstance(r, Reading) and r.source.version for r in library.readings)
    assert len(library.reminders) >= 14
    assert len(library.quiz) >= 52
    assert {t.month for t in library.tasks} >= {"2026-11", "2026-12"}
    reading_ids = {r.id for r in library.readings}
    assert all(set(t.readings) <= reading_ids for t in library.tasks)


def test_real_task_files_are_realistic() -> None:
    for month in ("2026-11", "2026-12"):
        tasks = load_tasks(CONTENT / "tasks" / f"{month}.toml")
        assert 3 <= len(tasks) <= 5
        for task in tasks:
            assert task.due.strftime("%Y-%m") == month, task.id
            assert task.link or task.readings or task.detail


def test_good_fixture_loads_into_the_documented_types(tmp_path: Path) -> None:
    library = load_library(write_content(tmp_path, GOOD))
    first, second = library.readings
    assert first.source is second.source  # one Source per file, shared
    assert first.source.aliases == ("处分条例",)
    assert first.tags == ("纪律处分",) and first.gloss is None and not first.is_summary
    assert second.is_summary and second.tags == () and second.gloss == "节日前后尤须注意。"

    reminder = library.reminders[0]
    assert reminder == Reminder(
        "spring-festival", "春节", 2, True, "春节廉洁提醒", "各位同志：不收送礼品礼金。\n{branch}"
    )
    assert reminder.occasion in OCCASIONS

    single, multiple, judge = library.quiz
    assert isinstance(single, QuizQuestion) and single.options == ("一年", "一年半", "二年", "三年")
    assert multiple.answer == "AC" and judge.options == () and judge.answer == "对"

    study, group = library.tasks
    assert isinstance(study, TaskSpec)
    assert study.due == dt.date(2026, 11, 27) and study.month == "2026-11"
    assert study.audience == {"all": True} and study.readings == ("jlcf-2023-097",)
    assert group.due == dt.date(2026, 11, 30) and group.link is None
    assert group.audience == {"groups": ["综合科党小组"]}
    hash(study)  # the audience dict must not make a TaskSpec unhashable


def test_single_file_loaders(tmp_path: Path) -> None:
    content = write_content(tmp_path, GOOD)
    assert len(load_readings(content / "readings" / "jlcf.toml")) == 2
    assert len(load_reminders(content / "reminders.toml")) == 2
    assert len(load_quiz(content / "quiz.toml")) == 3
    assert len(load_tasks(content / "tasks" / "2026-11.toml")) == 2


def test_readings_and_tasks_folders_are_optional(tmp_path: Path) -> None:
    content = write_content(tmp_path, {"reminders.toml": REMINDERS, "quiz.toml": QUIZ})
    library = load_library(content)
    assert library.readings == () and library.tasks == ()


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    content = broken(tmp_path, "quiz.toml", "\ufeff" + QUIZ)
    assert len(load_library(content).quiz) == 3


# ---- TOML syntax, encoding, missing files ------------------------------------------------------


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = QUIZ.replace('answer = "C"', 'answer = "C', 1)
    line = bad.splitlines().index('answer = "C') + 1
    err = expect_error(broken(tmp_path, "quiz.toml", bad), "quiz.toml", None, None, "syntax")
    assert err.line == line
    assert f"line {line}" in str(err)


def test_toml_syntax_error_in_a_readings_file(tmp_path: Path) -> None:
    bad = READINGS.replace('kind = "quote"', "kind = quote")
    err = expect_error(
        broken(tmp_path, "readings/jlcf.toml", bad), "readings/jlcf.toml", None, None, "syntax"
    )
    assert err.line == bad.splitlines().index("kind = quote") + 1


def test_not_utf8(tmp_path: Path) -> None:
    content = broken(tmp_path, "reminders.toml", REMINDERS.encode("gbk"))
    expect_error(content, "reminders.toml", None, None, "UTF-8")


def test_missing_quiz_file(tmp_path: Path) -> None:
    content = write_content(tmp_path, {"reminders.toml": REMINDERS})
    expect_error(content, "quiz.toml", None, None, "file not found")


# ---- missing and wrongly typed fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "old", "new", "entry", "field", "fragment"),
    [
        ("quiz.toml", 'answer = "C"\n', "", "q001", "answer", "missing"),
        ("quiz.toml", 'id = "q002"\n', "", 2, "id", "missing"),
        ("reminders.toml", "default = true\n", "", "spring-festival", "default", "missing"),
        (
            "readings/jlcf.toml",
            'article_no = "第八条"\n',
            "",
            "jlcf-2023-008",
            "article_no",
            "missing",
        ),
        ("readings/jlcf.toml", 'version = "2023"\n', "", "[source]", "version", "missing"),
        ("tasks/2026-11.toml", 'kind = "study"\n', "", "2026-11-study", "kind", "missing"),
        ("tasks/2026-11.toml", 'audience = "all"\n', "", "2026-11-study", "audience", "missing"),
        ("tasks/2026-11.toml", 'month = "2026-11"\n', "", None, "month", "missing"),
    ],
    ids=[
        "quiz-answer",
        "quiz-id",
        "reminder-default",
        "reading-article",
        "source-version",
        "task-kind",
        "task-audience",
        "task-month",
    ],
)
def test_missing_field(
    tmp_path: Path,
    rel: str,
    old: str,
    new: str,
    entry: str | int | None,
    field: str,
    fragment: str,
) -> None:
    good = GOOD[rel]
    assert old in good
    expect_error(broken(tmp_path, rel, good.replace(old, new, 1)), rel, entry, field, fragment)


@pytest.mark.parametrize(
    ("rel", "old", "new", "entry", "field", "fragment"),
    [
        (
            "reminders.toml",
            "lead_workdays = 2",
            'lead_workdays = "2"',
            "spring-festival",
            "lead_workdays",
            "expected an integer, got a string",
        ),
        (
            "reminders.toml",
            "lead_workdays = 2",
            "lead_workdays = true",
            "spring-festival",
            "lead_workdays",
            "expected an integer, got a boolean",
        ),
        (
            "reminders.toml",
            "lead_workdays = 2",
            "lead_workdays = 0",
            "spring-festival",
            "lead_workdays",
            "out of range",
        ),
        (
            "reminders.toml",
            "default = true",
            'default = "yes"',
            "spring-festival",
            "default",
            "expected true or false",
        ),
        ("quiz.toml", 'version = "2023"', "version = 2023", "q001", "version", 'version = "2023"'),
        (
            "quiz.toml",
            'options = ["一年", "一年半", "二年", "三年"]',
            'options = "一年,二年"',
            "q001",
            "options",
            "expected an array of strings",
        ),
        (
            "quiz.toml",
            'stem = "留党察看最长不超过（ ）。"',
            "stem = 12",
            "q001",
            "stem",
            "expected a string, got an integer",
        ),
        (
            "readings/jlcf.toml",
            'tags = ["纪律处分"]',
            'tags = ["纪律处分", 3]',
            "jlcf-2023-008",
            "tags",
            "item 2 should be a string",
        ),
        (
            "readings/jlcf.toml",
            'aliases = ["处分条例"]',
            'aliases = "处分条例"',
            "[source]",
            "aliases",
            "expected an array of strings",
        ),
        (
            "tasks/2026-11.toml",
            "required = true",
            'required = "yes"',
            "2026-11-study",
            "required",
            "expected true or false",
        ),
        (
            "tasks/2026-11.toml",
            'link = "https://www.12371.cn/"',
            'link = "www.12371.cn"',
            "2026-11-study",
            "link",
            "not an http(s) URL",
        ),
        (
            "tasks/2026-11.toml",
            'audience = "all"',
            'audience = "everyone"',
            "2026-11-study",
            "audience",
            "'everyone'",
        ),
        (
            "tasks/2026-11.toml",
            'audience = {groups = ["综合科党小组"]}',
            'audience = {teams = ["综合科"]}',
            "2026-11-group",
            "audience",
            "teams",
        ),
        (
            "tasks/2026-11.toml",
            'audience = {groups = ["综合科党小组"]}',
            "audience = {groups = []}",
            "2026-11-group",
            "audience",
            "groups is empty",
        ),
        (
            "tasks/2026-11.toml",
            'month = "2026-11"',
            'month = "2026-13"',
            None,
            "month",
            "not a month",
        ),
        ("quiz.toml", 'id = "q002"', 'id = "q 002"', "q 002", "id", "without spaces"),
    ],
    ids=[
        "lead-string",
        "lead-bool",
        "lead-zero",
        "default-string",
        "version-int",
        "options-string",
        "stem-int",
        "tags-item",
        "aliases-string",
        "required-string",
        "link-not-url",
        "audience-word",
        "audience-key",
        "audience-empty",
        "month-13",
        "id-space",
    ],
)
def test_wrongly_typed_field(
    tmp_path: Path,
    rel: str,
    old: str,
    new: str,
    entry: str | int | None,
    field: str,
    fragment: str,
) -> None:
    good = GOOD[rel]
    assert old in good
    if entry == "q 002":
        entry = 2  # an unusable id cannot name its entry; the position does
    expect_error(broken(tmp_path, rel, good.replace(old, new, 1)), rel, entry, field, fragment)


def test_unknown_field_is_a_typo(tmp_path: Path) -> None:
    bad = QUIZ.replace('explanation = "最长二年。"', 'explanation = "最长二年。"\nanwser = "C"')
    expect_error(broken(tmp_path, "quiz.toml", bad), "quiz.toml", "q001", "anwser", "unknown field")


def test_unknown_top_level_table(tmp_path: Path) -> None:
    bad = READINGS.replace("[[reading]]", "[[readings]]")
    expect_error(
        broken(tmp_path, "readings/jlcf.toml", bad),
        "readings/jlcf.toml",
        None,
        "readings",
        "unknown top-level key",
    )


# ---- unknown kind / type / occasion -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "old", "new", "entry", "field"),
    [
        ("readings/jlcf.toml", 'kind = "quote"', 'kind = "excerpt"', "jlcf-2023-008", "kind"),
        ("quiz.toml", 'type = "judge"', 'type = "truefalse"', "q003", "type"),
        (
            "reminders.toml",
            'occasion = "春节"',
            'occasion = "圣诞节"',
            "spring-festival",
            "occasion",
        ),
        ("tasks/2026-11.toml", 'kind = "study"', 'kind = "学习"', "2026-11-study", "kind"),
    ],
    ids=["reading-kind", "question-type", "reminder-occasion", "task-kind"],
)
def test_unknown_choice(
    tmp_path: Path, rel: str, old: str, new: str, entry: str, field: str
) -> None:
    bad_value = new.split(" = ")[1]
    expect_error(
        broken(tmp_path, rel, GOOD[rel].replace(old, new, 1)),
        rel,
        entry,
        field,
        f"{bad_value.strip(chr(34))!r} is not one of",
    )


# ---- duplicate ids ------------------------------------------------------------------------------


def test_duplicate_question_id(tmp_path: Path) -> None:
    bad = QUIZ.replace('id = "q003"', 'id = "q001"')
    expect_error(
        broken(tmp_path, "quiz.toml", bad),
        "quiz.toml",
        "q001",
        "id",
        "duplicate id, already used earlier in this file",
    )


def test_duplicate_reminder_id(tmp_path: Path) -> None:
    bad = REMINDERS.replace('id = "spring-festival-alt"', 'id = "spring-festival"')
    expect_error(
        broken(tmp_path, "reminders.toml", bad),
        "reminders.toml",
        "spring-festival",
        "id",
        "duplicate id",
    )


def test_duplicate_reading_id_across_files(tmp_path: Path) -> None:
    other = (
        READINGS.replace("中国共产党纪律处分条例", "中国共产党纪律处分条例（另一文件）")
        .replace('id = "jlcf-2023-097"', 'id = "jlcf-2023-999"')
        .replace('short = "纪律处分条例"', 'short = "另一条例"')
        .replace('["处分条例"]', "[]")
    )
    # "zz" sorts after "jlcf", so the second file is the one that repeats the id
    content = broken(tmp_path, "readings/zz.toml", other)
    expect_error(
        content,
        "readings/zz.toml",
        "jlcf-2023-008",
        "id",
        "already used in content/readings/jlcf.toml",
    )


def test_duplicate_task_id_across_months(tmp_path: Path) -> None:
    december = TASKS.replace("2026-11", "2026-12").replace(
        'id = "2026-12-group"', 'id = "2026-11-group"'
    )
    december = december.replace('readings = ["jlcf-2023-097"]\n', "")
    content = broken(tmp_path, "tasks/2026-12.toml", december)
    expect_error(content, "tasks/2026-12.toml", "2026-11-group", "id", "duplicate id")


def test_same_month_in_two_files(tmp_path: Path) -> None:
    extra = TASKS.replace('id = "2026-11-', 'id = "x-2026-11-')
    content = broken(tmp_path, "tasks/extra.toml", extra)
    expect_error(content, "tasks/extra.toml", None, "month", "already planned in")


def test_alias_naming_two_sources(tmp_path: Path) -> None:
    other = READINGS.replace('name = "中国共产党纪律处分条例"', 'name = "中国共产党问责条例"')
    other = other.replace('short = "纪律处分条例"', 'short = "问责条例"').replace("jlcf-", "wz-")
    content = broken(tmp_path, "readings/wz.toml", other)
    expect_error(content, "readings/wz.toml", "[source]", "aliases", "'处分条例' already names")


# ---- answers that do not match their options ----------------------------------------------------


def test_single_answer_outside_options_exact_message(tmp_path: Path) -> None:
    bad = QUIZ.replace('answer = "C"', 'answer = "E"')
    err = expect_error(broken(tmp_path, "quiz.toml", bad), "quiz.toml", "q001", "answer", "A-D")
    assert (
        str(err) == "content/quiz.toml: question q001: field 'answer': 'E' is not one of the "
        "options A-D"
    )


@pytest.mark.parametrize(
    ("old", "new", "entry", "field", "fragment"),
    [
        ('answer = "C"', 'answer = "AC"', "q001", "answer", "exactly one letter"),
        ('answer = "C"', 'answer = "c"', "q001", "answer", "'c' is not one of the options A-D"),
        ('answer = "AC"', 'answer = "CA"', "q002", "answer", "in order, 'AC'"),
        ('answer = "AC"', 'answer = "A"', "q002", "answer", "two or more"),
        ('answer = "AC"', 'answer = "AD"', "q002", "answer", "'D' is not one of the options A-C"),
        ('answer = "AC"', 'answer = "AAC"', "q002", "answer", "repeats a letter"),
        ('answer = "对"', 'answer = "是"', "q003", "answer", "not 对 or 错"),
        (
            'answer = "对"',
            'answer = "对"\noptions = ["对", "错"]',
            "q003",
            "options",
            "has no options",
        ),
        (
            'options = ["警告", "记过", "留党察看"]',
            'options = ["警告"]',
            "q002",
            "options",
            "expected 2-5",
        ),
        (
            'options = ["警告", "记过", "留党察看"]',
            'options = ["A. 警告", "记过", "留党察看"]',
            "q002",
            "options",
            "drop the letter",
        ),
        (
            'options = ["警告", "记过", "留党察看"]',
            'options = ["警告", "警告", "留党察看"]',
            "q002",
            "options",
            "listed twice",
        ),
    ],
    ids=[
        "single-two",
        "single-lowercase",
        "multiple-order",
        "multiple-one",
        "multiple-range",
        "multiple-repeat",
        "judge-word",
        "judge-options",
        "too-few-options",
        "lettered-option",
        "duplicate-option",
    ],
)
def test_answer_must_match_options(
    tmp_path: Path, old: str, new: str, entry: str, field: str, fragment: str
) -> None:
    assert old in QUIZ
    expect_error(
        broken(tmp_path, "quiz.toml", QUIZ.replace(old, new, 1)),
        "quiz.toml",
        entry,
        field,
        fragment,
    )


# ---- task due dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ('due = "2026-11-31"', "'2026-11-31' is not a date"),
        ('due = "next friday"', "is not a date"),
        ("due = 20261127", "got an integer"),
        ("due = 2026-11-27T18:00:00", "got a date-time"),
        ('due = "2026-10-30"', "before the task's month 2026-11"),
    ],
    ids=["no-such-day", "words", "integer", "date-time", "before-month"],
)
def test_task_due_must_be_a_date(tmp_path: Path, new: str, fragment: str) -> None:
    bad = TASKS.replace('due = "2026-11-27"', new)
    expect_error(
        broken(tmp_path, "tasks/2026-11.toml", bad),
        "tasks/2026-11.toml",
        "2026-11-study",
        "due",
        fragment,
    )


def test_task_month_must_match_file_name(tmp_path: Path) -> None:
    bad = TASKS.replace('month = "2026-11"', 'month = "2026-12"')
    expect_error(
        broken(tmp_path, "tasks/2026-11.toml", bad),
        "tasks/2026-11.toml",
        None,
        "month",
        "does not match the file name",
    )


def test_task_reading_must_exist(tmp_path: Path) -> None:
    bad = TASKS.replace('readings = ["jlcf-2023-097"]', 'readings = ["jlcf-2023-404"]')
    expect_error(
        broken(tmp_path, "tasks/2026-11.toml", bad),
        "tasks/2026-11.toml",
        "2026-11-study",
        "readings",
        "no reading with id 'jlcf-2023-404'",
    )


# ---- empty bodies and other text checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "old", "new", "entry"),
    [
        (
            "reminders.toml",
            '"各位同志：不公车私用。{branch}"',
            '"""\n   \n"""',
            "spring-festival-alt",
        ),
        (
            "readings/jlcf.toml",
            'body = "收受可能影响公正执行公务的礼品礼金等财物，要受处分。"',
            'body = ""',
            "jlcf-2023-097",
        ),
    ],
    ids=["reminder", "reading"],
)
def test_empty_body(tmp_path: Path, rel: str, old: str, new: str, entry: str) -> None:
    assert old in GOOD[rel]
    expect_error(
        broken(tmp_path, rel, GOOD[rel].replace(old, new, 1)), rel, entry, "body", "is empty"
    )


def test_empty_question_list(tmp_path: Path) -> None:
    expect_error(
        broken(tmp_path, "quiz.toml", "question = []\n"),
        "quiz.toml",
        None,
        "question",
        "no [[question]] entries",
    )


def test_two_defaults_for_one_occasion(tmp_path: Path) -> None:
    bad = REMINDERS.replace("default = false", "default = true")
    expect_error(
        broken(tmp_path, "reminders.toml", bad),
        "reminders.toml",
        "spring-festival-alt",
        "default",
        "春节 already has a default reminder (spring-festival)",
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('"各位同志：{name}，节日快乐。{branch}"', "unknown placeholder {name}"),
        ('"各位同志：{branch"', "broken braces"),
        ('"各位同志：{}"', "unknown placeholder {}"),
    ],
    ids=["unknown", "unclosed", "positional"],
)
def test_reminder_placeholders(tmp_path: Path, body: str, fragment: str) -> None:
    bad = REMINDERS.replace('"各位同志：不公车私用。{branch}"', body)
    expect_error(
        broken(tmp_path, "reminders.toml", bad),
        "reminders.toml",
        "spring-festival-alt",
        "body",
        fragment,
    )


def test_literal_braces_are_allowed_when_doubled(tmp_path: Path) -> None:
    good = REMINDERS.replace("不公车私用。", "不公车私用{{示例}}。")
    library = load_library(broken(tmp_path, "reminders.toml", good))
    assert (
        library.reminders[1]
        .body.format(branch="第一党支部")
        .startswith("各位同志：不公车私用{示例}")
    )
