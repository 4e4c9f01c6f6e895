"""The content library: reads and validates everything under content/.

The rest of the service never opens content/ itself; it calls `load_library(content_dir)` and
gets frozen dataclasses back. Admins edit these TOML files by hand, so validation is strict and
every problem is reported as a `ContentError` that names the file, the entry and the field: a
typo must stop a reload with a clear message, not surface weeks later as a broken push.

Layout (see the module-level loaders for each format):

    content/readings/*.toml   one file per source: [source] + [[reading]]
    content/reminders.toml    [[reminder]]  integrity reminders (廉洁提醒) per occasion
    content/quiz.toml         [[question]]  daily quiz (每日一题)
    content/tasks/*.toml      one file per month: month = "YYYY-MM" + [[task]]

Pure module: no database, no Flask.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

# The occasions the scheduler knows; must match bot.holidays.OCCASIONS (a combined notice such
# as 中秋国庆 uses the earlier holiday as its occasion).
OCCASIONS = ("元旦", "春节", "清明", "劳动节", "端午", "升学季", "中秋", "国庆", "年末")
READING_KINDS = ("quote", "summary")
QUESTION_TYPES = ("single", "multiple", "judge")
JUDGE_ANSWERS = ("对", "错")
TASK_KINDS = ("study", "主题党日", "三会一课", "other")
AUDIENCE_KEYS = ("branches", "groups", "members")

# Options are shown as "A. ...", so five is the most a phone screen takes comfortably.
MIN_OPTIONS, MAX_OPTIONS = 2, 5
# A reminder goes out N working days before the break; a month ahead is already too early.
MAX_LEAD_WORKDAYS = 30
# The only placeholder the sender fills in a reminder body.
REMINDER_PLACEHOLDERS = frozenset({"branch"})

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# "A. xxx", "B、xxx": the letter is added when the question is shown, so it must not be typed.
_LETTERED_OPTION_RE = re.compile(r"^[A-Ea-e]\s*[.、．:：)）]")
_TOML_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


# --------------------------------------------------------------------------------------------
# The content types (others code against exactly these names)


@dataclass(frozen=True)
class Source:
    name: str  # 中国共产党纪律处分条例
    short: str  # 纪律处分条例
    aliases: tuple[str, ...]  # other names members type: 处分条例
    version: str  # the revision year, e.g. "2023": regulations are revised, readings must say which


@dataclass(frozen=True)
class Reading:
    id: str
    source: Source
    article_no: str  # 第八十八条
    title: str
    kind: str  # "quote" (the article's words) or "summary" (a paraphrase)
    body: str
    tags: tuple[str, ...]
    gloss: str | None

    @property
    def is_summary(self) -> bool:
        # A summary must never be presented as the article's own words.
        return self.kind == "summary"


@dataclass(frozen=True)
class Reminder:
    id: str
    occasion: str  # one of OCCASIONS
    lead_workdays: int  # sent on the Nth working day before the break begins
    default: bool  # the one the scheduler sends for this occasion
    title: str
    body: str  # contains "{branch}", filled by the sender


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    type: str  # single | multiple | judge
    stem: str
    options: tuple[str, ...]  # empty for judge
    answer: str  # "B", "ACD", or "对"/"错"
    explanation: str
    source: str
    version: str
    article_no: str


@dataclass(frozen=True)
class TaskSpec:
    id: str
    month: str  # "2026-11"
    title: str
    detail: str
    link: str | None
    readings: tuple[str, ...]  # reading ids in the library
    due: dt.date
    required: bool
    kind: str  # one of TASK_KINDS
    # {"all": True} or {"branches": [...]} / {"groups": [...]} / {"members": [...]}; a group
    # is "支部/党小组", or its name alone when only one branch has a group of that name (the
    # roster decides: bot.tasks resolves it when the file is synced or imported).
    # Excluded from the hash so a TaskSpec stays hashable despite the dict.
    audience: dict[str, Any] = field(hash=False)
    file: Path | None = field(default=None, compare=False, hash=False)  # for errors at sync


@dataclass(frozen=True)
class Library:
    readings: tuple[Reading, ...]
    reminders: tuple[Reminder, ...]
    quiz: tuple[QuizQuestion, ...]
    tasks: tuple[TaskSpec, ...]


class ContentError(ValueError):
    """A problem in a content file, located precisely enough for an admin to fix it.

    `file` is the Path, `entry` the entry's id (or its 1-based position when it has no usable
    id, or a table name such as "source"), `field` the key; each is None when it does not apply.
    `line` is set for TOML syntax errors.
    """

    def __init__(
        self,
        file: Path,
        entry: str | int | None,
        field: str | None,
        problem: str,
        *,
        entry_kind: str = "",
        line: int | None = None,
    ) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        self.problem = problem
        self.entry_kind = entry_kind
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [display_path(self.file)]
        if self.entry is not None:
            label = f"#{self.entry}" if isinstance(self.entry, int) else str(self.entry)
            parts.append(f"{self.entry_kind} {label}".strip())
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.problem)
        return ": ".join(parts)


def display_path(path: Path) -> str:
    """The path from its `content` folder on ("content/quiz.toml"), else the path as given."""
    parts = path.parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "content":
            return "/".join(parts[i:])
    return str(path)


# --------------------------------------------------------------------------------------------
# Reading a TOML file and checking one table's fields


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContentError(path, None, None, "file not found") from None
    except OSError as exc:
        raise ContentError(path, None, None, f"cannot read file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(
            path, None, None, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8"
        ) from None
    # Windows editors like to add a byte-order mark, which TOML does not allow; it is harmless.
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE_RE.search(message)
        line = int(found.group(1)) if found else None
        reason = _TOML_LINE_RE.sub("", message).strip()
        where = f" at line {line}" if line is not None else ""
        raise ContentError(
            path, None, None, f"TOML syntax error{where}: {reason}", line=line
        ) from None


def _type_name(value: object) -> str:
    # TOML's own words, so the message matches what the admin sees in the file.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


@dataclass
class _Table:
    """One TOML table under validation; knows its file and entry so every error can say so."""

    file: Path
    entry_kind: str
    entry: str | int | None
    data: dict[str, Any]

    def fail(self, field_name: str | None, problem: str) -> NoReturn:
        raise ContentError(self.file, self.entry, field_name, problem, entry_kind=self.entry_kind)

    def only(self, allowed: Iterable[str]) -> None:
        # Unknown keys are almost always typos ("anwser"); silently ignoring them hides the bug.
        allowed = tuple(allowed)
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown field (expected some of: {', '.join(allowed)})")

    def raw(self, name: str) -> Any:
        if name not in self.data:
            self.fail(name, "missing")
        return self.data[name]

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str):
            self.fail(name, f"expected a string, got {_type_name(value)}")
        if not value.strip():
            self.fail(name, "is empty")
        return value.strip()

    def optional_text(self, name: str) -> str | None:
        return self.text(name) if name in self.data else None

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {_type_name(value)}")
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.raw(name)
        # bool is an int in Python; `lead_workdays = true` is still a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"expected an integer, got {_type_name(value)}")
        if not low <= value <= high:
            self.fail(name, f"{value} is out of range {low}-{high}")
        return value

    def text_list(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        if name not in self.data and not required:
            return ()
        value = self.raw(name)
        if not isinstance(value, list):
            self.fail(name, f"expected an array of strings, got {_type_name(value)}")
        items: list[str] = []
        for i, item in enumerate(value, start=1):
            if not isinstance(item, str):
                self.fail(name, f"item {i} should be a string, got {_type_name(item)}")
            if not item.strip():
                self.fail(name, f"item {i} is empty")
            if item.strip() in items:
                self.fail(name, f"item {i} {item.strip()!r} is listed twice")
            items.append(item.strip())
        return tuple(items)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in allowed:
            self.fail(name, f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    def version(self, name: str = "version") -> str:
        value = self.raw(name)
        if isinstance(value, int) and not isinstance(value, bool):
            # `version = 2023` is an easy slip; say exactly how to write it.
            self.fail(name, f'expected a string, write it in quotes: {name} = "{value}"')
        return self.text(name)


def _entries(doc: dict[str, Any], path: Path, key: str, entry_kind: str) -> list[_Table]:
    """The [[key]] array of tables, each wrapped with its position (replaced by its id later)."""
    if key not in doc:
        raise ContentError(path, None, key, f"no [[{key}]] entries")
    raw = doc[key]
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ContentError(path, None, key, f"expected [[{key}]] tables, got {_type_name(raw)}")
    if not raw:
        raise ContentError(path, None, key, f"no [[{key}]] entries")
    return [_Table(path, entry_kind, i, item) for i, item in enumerate(raw, start=1)]


def _only_top_level(doc: dict[str, Any], path: Path, allowed: tuple[str, ...]) -> None:
    for key in doc:
        if key not in allowed:
            expected = ", ".join(allowed)
            raise ContentError(path, None, key, f"unknown top-level key (expected: {expected})")


def _take_id(table: _Table, seen: dict[str, Path]) -> str:
    """Validate the entry's id, make it the entry's name in later errors, and check uniqueness."""
    value = table.text("id")
    if not _ID_RE.match(value):
        table.fail("id", f"{value!r} must be letters, digits, '-', '_' or '.', without spaces")
    if value in seen:
        first = seen[value]
        where = "earlier in this file" if first == table.file else f"in {display_path(first)}"
        table.entry = value
        table.fail("id", f"duplicate id, already used {where}")
    seen[value] = table.file
    table.entry = value
    return value


# --------------------------------------------------------------------------------------------
# Readings


def load_readings(path: Path) -> tuple[Reading, ...]:
    """One source file: a [source] table and its [[reading]] entries."""
    return _load_readings(path, {})


def _load_readings(path: Path, seen: dict[str, Path]) -> tuple[Reading, ...]:
    doc = _read_toml(path)
    _only_top_level(doc, path, ("source", "reading"))
    source = _parse_source(doc, path)
    readings = []
    for table in _entries(doc, path, "reading", "reading"):
        readings.append(_parse_reading(table, source, seen))
    return tuple(readings)


def _parse_source(doc: dict[str, Any], path: Path) -> Source:
    raw = doc.get("source")
    if not isinstance(raw, dict):
        got = "missing" if raw is None else f"expected a [source] table, got {_type_name(raw)}"
        raise ContentError(path, None, "source", got)
    table = _Table(path, "", "[source]", raw)
    table.only(("name", "short", "aliases", "version"))
    return Source(
        name=table.text("name"),
        short=table.text("short"),
        aliases=table.text_list("aliases"),
        version=table.version(),
    )


def _parse_reading(table: _Table, source: Source, seen: dict[str, Path]) -> Reading:
    reading_id = _take_id(table, seen)
    table.only(("id", "article_no", "title", "kind", "body", "tags", "gloss"))
    return Reading(
        id=reading_id,
        source=source,
        article_no=table.text("article_no"),
        title=table.text("title"),
        kind=table.choice("kind", READING_KINDS),
        body=table.text("body"),
        tags=table.text_list("tags"),
        gloss=table.optional_text("gloss"),
    )


def _check_source_names(by_file: list[tuple[Path, Source]]) -> None:
    """A short name or alias must point at one source, or "处分条例 第八条" becomes ambiguous."""
    owner: dict[str, tuple[str, Path]] = {}
    for path, source in by_file:
        for name in (source.name, source.short, *source.aliases):
            if name in owner and owner[name][0] != source.name:
                other_name, other_file = owner[name]
                raise ContentError(
                    path,
                    "[source]",
                    "aliases" if name in source.aliases else "short",
                    f"{name!r} already names {other_name} in {display_path(other_file)}",
                )
            owner.setdefault(name, (source.name, path))


# --------------------------------------------------------------------------------------------
# Reminders


def load_reminders(path: Path) -> tuple[Reminder, ...]:
    """content/reminders.toml: [[reminder]] entries, at most one default per occasion."""
    doc = _read_toml(path)
    _only_top_level(doc, path, ("reminder",))
    seen: dict[str, Path] = {}
    default_for: dict[str, str] = {}
    reminders = []
    for table in _entries(doc, path, "reminder", "reminder"):
        reminder = _parse_reminder(table, seen)
        if reminder.default:
            if reminder.occasion in default_for:
                table.fail(
                    "default",
                    f"{reminder.occasion} already has a default reminder "
                    f"({default_for[reminder.occasion]}); set default = false on one of them",
                )
            default_for[reminder.occasion] = reminder.id
        reminders.append(reminder)
    return tuple(reminders)


def _parse_reminder(table: _Table, seen: dict[str, Path]) -> Reminder:
    reminder_id = _take_id(table, seen)
    table.only(("id", "occasion", "lead_workdays", "default", "title", "body"))
    body = table.text("body")
    _check_placeholders(table, "body", body)
    return Reminder(
        id=reminder_id,
        occasion=table.choice("occasion", OCCASIONS),
        lead_workdays=table.integer("lead_workdays", 1, MAX_LEAD_WORKDAYS),
        default=table.flag("default"),
        title=table.text("title"),
        body=body,
    )


def _check_placeholders(table: _Table, name: str, text: str) -> None:
    # The sender calls str.format(branch=...); anything else in braces would crash the send.
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        table.fail(name, f"broken braces ({exc}); write a literal brace as {{{{ or }}}}")
    for placeholder in fields:
        if placeholder not in REMINDER_PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(REMINDER_PLACEHOLDERS))
            table.fail(name, f"unknown placeholder {{{placeholder}}} (only {known} is filled in)")


# --------------------------------------------------------------------------------------------
# Quiz


def load_quiz(path: Path) -> tuple[QuizQuestion, ...]:
    """content/quiz.toml: [[question]] entries whose answers must match their options."""
    doc = _read_toml(path)
    _only_top_level(doc, path, ("question",))
    seen: dict[str, Path] = {}
    return tuple(
        _parse_question(table, seen) for table in _entries(doc, path, "question", "question")
    )


def _parse_question(table: _Table, seen: dict[str, Path]) -> QuizQuestion:
    question_id = _take_id(table, seen)
    table.only(
        (
            "id",
            "type",
            "stem",
            "options",
            "answer",
            "explanation",
            "source",
            "version",
            "article_no",
        )
    )
    qtype = table.choice("type", QUESTION_TYPES)
    options = _question_options(table, qtype)
    return QuizQuestion(
        id=question_id,
        type=qtype,
        stem=table.text("stem"),
        options=options,
        answer=_question_answer(table, qtype, len(options)),
        explanation=table.text("explanation"),
        source=table.text("source"),
        version=table.version(),
        article_no=table.text("article_no"),
    )


def _question_options(table: _Table, qtype: str) -> tuple[str, ...]:
    if qtype == "judge":
        if "options" in table.data:
            table.fail("options", "a judge question has no options (its answer is 对 or 错)")
        return ()
    options = table.text_list("options", required=True)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        table.fail("options", f"has {len(options)} options; expected {MIN_OPTIONS}-{MAX_OPTIONS}")
    for i, option in enumerate(options, start=1):
        if _LETTERED_OPTION_RE.match(option):
            table.fail(
                "options",
                f"item {i} {option!r}: drop the letter, options are lettered automatically",
            )
    return options


def _letters(count: int) -> str:
    return "ABCDE"[:count]


def _question_answer(table: _Table, qtype: str, option_count: int) -> str:
    answer = table.text("answer")
    if qtype == "judge":
        if answer not in JUDGE_ANSWERS:
            table.fail("answer", f"{answer!r} is not 对 or 错")
        return answer
    letters = _letters(option_count)
    span = f"A-{letters[-1]}"
    for letter in answer:
        if letter not in letters:
            table.fail("answer", f"{letter!r} is not one of the options {span}")
    if qtype == "single":
        if len(answer) != 1:
            table.fail("answer", f"{answer!r}: a single-choice question has exactly one letter")
        return answer
    if len(set(answer)) != len(answer):
        table.fail("answer", f"{answer!r} repeats a letter")
    if len(answer) < 2:
        table.fail("answer", f"{answer!r}: a multiple-choice question has two or more answers")
    ordered = "".join(sorted(answer))
    if ordered != answer:
        table.fail("answer", f"{answer!r}: write the letters in order, {ordered!r}")
    return answer


# --------------------------------------------------------------------------------------------
# Tasks


def load_tasks(path: Path) -> tuple[TaskSpec, ...]:
    """One month file (content/tasks/2026-11.toml): month = "2026-11" and its [[task]] entries."""
    return _load_tasks(path, {})


def _load_tasks(path: Path, seen: dict[str, Path]) -> tuple[TaskSpec, ...]:
    doc = _read_toml(path)
    _only_top_level(doc, path, ("month", "task"))
    month, first_day = _parse_month(doc, path)
    return tuple(
        _parse_task(table, month, first_day, seen) for table in _entries(doc, path, "task", "task")
    )


def _parse_month(doc: dict[str, Any], path: Path) -> tuple[str, dt.date]:
    top = _Table(path, "", None, doc)
    month = top.text("month")
    found = _MONTH_RE.match(month)
    if not found or not 1 <= int(found.group(2)) <= 12:
        top.fail("month", f'{month!r} is not a month like "2026-11"')
    # The file name is what admins look for; a 2026-12.toml holding November would mislead.
    if _MONTH_RE.match(path.stem) and path.stem != month:
        top.fail("month", f"{month!r} does not match the file name {path.name}")
    return month, dt.date(int(found.group(1)), int(found.group(2)), 1)


def _parse_task(table: _Table, month: str, first_day: dt.date, seen: dict[str, Path]) -> TaskSpec:
    task_id = _take_id(table, seen)
    table.only(("id", "title", "detail", "link", "readings", "due", "required", "kind", "audience"))
    return TaskSpec(
        id=task_id,
        month=month,
        title=table.text("title"),
        detail=table.text("detail"),
        link=_task_link(table),
        readings=table.text_list("readings"),
        due=_task_due(table, month, first_day),
        required=table.flag("required"),
        kind=table.choice("kind", TASK_KINDS),
        audience=_task_audience(table),
        file=table.file,
    )


def _task_link(table: _Table) -> str | None:
    link = table.optional_text("link")
    if link is None:
        return None
    parsed = urlparse(link)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in link:
        table.fail("link", f"{link!r} is not an http(s) URL")
    return link


def _task_due(table: _Table, month: str, first_day: dt.date) -> dt.date:
    value = table.raw("due")
    # A TOML date (due = 2026-11-27) or its quoted form (due = "2026-11-27") are both fine.
    if isinstance(value, dt.datetime):
        table.fail("due", f"expected a date like 2026-11-27, got a date-time {value.isoformat()}")
    if isinstance(value, dt.date):
        due = value
    elif isinstance(value, str):
        try:
            due = dt.date.fromisoformat(value.strip())
        except ValueError:
            table.fail("due", f"{value!r} is not a date like 2026-11-27")
    else:
        table.fail("due", f"expected a date like 2026-11-27, got {_type_name(value)}")
    if due < first_day:
        table.fail("due", f"{due.isoformat()} is before the task's month {month}")
    return due


def _task_audience(table: _Table) -> dict[str, Any]:
    value = table.raw("audience")
    if value == "all":
        return {"all": True}
    shapes = 'expected "all" or a table such as {branches = ["第一党支部"]}'
    if not isinstance(value, dict):
        got = repr(value) if isinstance(value, str) else _type_name(value)
        table.fail("audience", f"{shapes}, got {got}")
    keys = list(value)
    if len(keys) != 1 or keys[0] not in AUDIENCE_KEYS:
        table.fail(
            "audience",
            f"{shapes}; one of the keys {', '.join(AUDIENCE_KEYS)}, got "
            f"{', '.join(keys) or 'an empty table'}",
        )
    key = keys[0]
    inner = _Table(table.file, table.entry_kind, table.entry, value)
    try:
        names = inner.text_list(key, required=True)
    except ContentError as exc:
        # Re-point the error at the task's own field, the one an admin can find in the file.
        table.fail("audience", f"{key}: {exc.problem}")
    if not names:
        table.fail("audience", f"{key} is empty")
    if key == "groups":
        for name in names:
            _check_group_name(table, name)
    return {key: list(names)}


def _check_group_name(table: _Table, name: str) -> None:
    """ "支部/党小组" needs both halves; whether the group exists is the roster's to say."""
    branch, separator, grp = name.partition("/")
    if separator and not (branch.strip() and grp.strip()):
        table.fail("audience", f'groups: {name!r} should be "支部/党小组", e.g. "第一党支部/第一党小组"')


# --------------------------------------------------------------------------------------------
# The whole library


def load_library(content_dir: Path) -> Library:
    """Load and cross-check everything under content_dir; the first problem raises ContentError.

    readings/ and tasks/ may be absent or empty (a fresh install); reminders.toml and quiz.toml
    are required.
    """
    readings = _load_all_readings(content_dir / "readings")
    reminders = load_reminders(content_dir / "reminders.toml")
    quiz = load_quiz(content_dir / "quiz.toml")
    tasks = _load_all_tasks(content_dir / "tasks", {r.id for r in readings})
    return Library(readings=readings, reminders=reminders, quiz=quiz, tasks=tasks)


def _toml_files(folder: Path) -> list[Path]:
    # Sorted, so the library's order (and "today's reading") does not depend on the filesystem.
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def _load_all_readings(folder: Path) -> tuple[Reading, ...]:
    seen: dict[str, Path] = {}  # ids are unique across all source files
    readings: list[Reading] = []
    sources: list[tuple[Path, Source]] = []
    for path in _toml_files(folder):
        loaded = _load_readings(path, seen)
        sources.append((path, loaded[0].source))
        readings.extend(loaded)
    _check_source_names(sources)
    return tuple(readings)


def _load_all_tasks(folder: Path, reading_ids: set[str]) -> tuple[TaskSpec, ...]:
    seen: dict[str, Path] = {}
    months: dict[str, Path] = {}
    tasks: list[TaskSpec] = []
    for path in _toml_files(folder):
        loaded = _load_tasks(path, seen)
        month = loaded[0].month
        if month in months:
            raise ContentError(
                path, None, "month", f"{month} is already planned in {display_path(months[month])}"
            )
        months[month] = path
        for task in loaded:
            _check_task_readings(path, task, reading_ids)
        tasks.extend(loaded)
    return tuple(tasks)


def _check_task_readings(path: Path, task: TaskSpec, reading_ids: set[str]) -> None:
    for reading_id in task.readings:
        if reading_id not in reading_ids:
            raise ContentError(
                path,
                task.id,
                "readings",
                f"no reading with id {reading_id!r} in the library",
                entry_kind="task",
            )
