"""Bring content into the store: the curated library from content/, and imported regulations.

Both are idempotent: running `init` twice, or importing the same file twice, changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from bot.library import Library, Reading
from bot.regulations import (
    ParsedRegulation,
    RegulationError,
    chinese_numeral_to_int,
    parse_regulation,
    read_regulation_file,
)
from bot.store import Store, audit
from bot.store import quiz as store_quiz
from bot.store import readings as store_readings
from bot.tasks import sync_tasks

LIBRARY = "library"
IMPORT = "import"
_ARTICLE_NO = re.compile(r"第([零〇一二两三四五六七八九十百千\d]+)[条项](?:之([一二三四五六七八九十]))?")


@dataclass(frozen=True)
class SyncReport:
    readings_changed: int
    readings_retired: int
    reminders: int


@dataclass(frozen=True)
class ImportReport:
    source: str
    version: str
    articles: int
    changed: int
    superseded_older: int
    is_current: bool   # False when a newer version of this source is already in the library
    already_imported: bool


def article_key(article_no: str) -> str:
    """'第八十八条' -> '88', '第十七条之一' -> '17-1', '第一项' -> '1'; '' if it has no number."""
    match = _ARTICLE_NO.search(article_no)
    if not match:
        return ""
    number = chinese_numeral_to_int(match.group(1))
    return f"{number}-{chinese_numeral_to_int(match.group(2))}" if match.group(2) else str(number)


def sync_library(store: Store, library: Library, now: datetime) -> SyncReport:
    """Upsert every curated reading and reminder; retire readings removed from the files."""
    changed = 0
    with store.transaction() as db:
        store_readings.ensure_index(db)
        for reading in library.readings:
            changed += _upsert_curated(db, reading, now)
        retired = store_readings.retire_missing(db, LIBRARY, {r.id for r in library.readings})
        for source in {r.source for r in library.readings}:
            store_readings.upsert_source(db, source.name, source.short, source.aliases)
            store_readings.supersede_older(db, source.name, source.version)
        db.execute("DELETE FROM reminders")
        for reminder in library.reminders:
            db.execute(
                "INSERT INTO reminders (id, occasion, lead_workdays, is_default, title, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [reminder.id, reminder.occasion, reminder.lead_workdays, int(reminder.default),
                 reminder.title, reminder.body])
        store_quiz.sync_bank(db, library.quiz, now)
        sync_tasks(db, library.tasks, now)
    return SyncReport(changed, retired, len(library.reminders))


def _upsert_curated(db: sqlite_utils.Database, reading: Reading, now: datetime) -> int:
    return int(store_readings.upsert_reading(
        db, slug=reading.id, source=reading.source.name, short=reading.source.short,
        version=reading.source.version, article_no=reading.article_no,
        article_key=article_key(reading.article_no), chapter="", title=reading.title,
        kind=reading.kind, body=reading.body, tags=reading.tags, gloss=reading.gloss or "",
        origin=LIBRARY, now=now))


def parse_file(path: Path) -> ParsedRegulation:
    """Read and split a regulation file; RegulationError says what is wrong with it."""
    return parse_regulation(read_regulation_file(path), filename=path.name)


def import_regulation(store: Store, path: Path, parsed: ParsedRegulation, *,
                      source: str | None, version: str | None, actor: str,
                      now: datetime) -> ImportReport:
    """Write a parsed regulation's articles as readings, in one transaction."""
    name = source or parsed.title
    year = version or parsed.version
    if not name:
        raise RegulationError("the text names no title: give --source NAME")
    if not year:
        raise RegulationError("the text names no version year: give --version YEAR")
    file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    with store.transaction() as db:
        store_readings.ensure_index(db)
        short = _short_name(db, name)
        newest = store_readings.newest_version(db, name)
        is_current = newest is None or store_readings._year(newest) <= store_readings._year(year)
        changed = 0
        slugs = []
        for article in parsed.articles:
            slug = f"import:{short}:{year}:{article.key}"
            slugs.append(slug)
            changed += store_readings.upsert_reading(
                db, slug=slug, source=name, short=short, version=year,
                article_no=article.article_no, article_key=article.key,
                chapter=article.chapter or article.section or "",
                title=_title(article.chapter or article.section, article.article_no),
                kind="quote", body=article.body, tags=(), gloss="", origin=IMPORT, now=now)
        superseded = store_readings.supersede_older(db, name, year) if is_current else 0
        if not is_current:
            store_readings.set_superseded(db, slugs)
        seen = db.execute("SELECT 1 FROM imports WHERE source = ? AND version = ? AND"
                          " file_hash = ?", [name, year, file_hash]).fetchone()
        if not seen:
            db.execute("INSERT INTO imports (source, version, file_hash, articles, at)"
                       " VALUES (?, ?, ?, ?, ?)",
                       [name, year, file_hash, len(parsed.articles), now.isoformat()])
            audit.record(db, actor=actor, action="regulation import",
                         detail={"source": name, "version": year,
                                 "articles": len(parsed.articles)}, at=now)
    return ImportReport(name, year, len(parsed.articles), changed, superseded, is_current,
                        already_imported=bool(seen) and changed == 0)


def _short_name(db: sqlite_utils.Database, name: str) -> str:
    """The name members type: the library's short name if the source is known, else the title
    without 中国共产党 / 中华人民共和国."""
    row = db.execute("SELECT short FROM sources WHERE name = ?", [name]).fetchone()
    if row:
        return row[0]
    short = re.sub(r"^(中国共产党|中华人民共和国)", "", name) or name
    store_readings.upsert_source(db, name, short, ())
    return short


def _title(heading: str | None, article_no: str) -> str:
    """Imported articles have no title of their own: use the chapter's name."""
    if heading:
        name = re.sub(r"^第[零一二三四五六七八九十百]+[编章节]\s*", "", heading).strip()
        if name:
            return name
    return article_no
