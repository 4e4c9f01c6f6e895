"""The reading library in the store: curated readings from content/ and imported articles."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from bot import search


@dataclass(frozen=True)
class StoredReading:
    id: int
    slug: str
    source: str
    short: str
    version: str
    article_no: str
    article_key: str
    chapter: str
    title: str
    kind: str
    body: str
    tags: tuple[str, ...]
    gloss: str
    origin: str
    superseded: bool

    @property
    def is_summary(self) -> bool:
        return self.kind == "summary"


_COLUMNS = ("id, slug, source, short, version, article_no, article_key, chapter, title, kind,"
            " body, tags, gloss, origin, superseded")


def _reading(row: tuple) -> StoredReading:
    values = list(row)
    values[11] = tuple(values[11].split()) if values[11] else ()
    values[14] = bool(values[14])
    return StoredReading(*values)


def content_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def upsert_reading(db: sqlite_utils.Database, *, slug: str, source: str, short: str,
                   version: str, article_no: str, article_key: str, chapter: str, title: str,
                   kind: str, body: str, tags: tuple[str, ...], gloss: str, origin: str,
                   now: datetime) -> bool:
    """Insert or update by slug; True if anything changed. Re-indexes changed rows."""
    digest = content_hash(source, short, version, article_no, chapter, title, kind, body, tags,
                          gloss)
    row = db.execute("SELECT id, content_hash, in_rotation FROM readings WHERE slug = ?",
                     [slug]).fetchone()
    # A retired reading put back in the content files must come back (rotation and index),
    # even when its text did not change.
    if row is not None and row[1] == digest and row[2]:
        return False
    values = [source, short, version, article_no, article_key, chapter, title, kind, body,
              " ".join(tags), gloss, origin, digest, now.isoformat()]
    if row is None:
        cursor = db.execute(
            "INSERT INTO readings (source, short, version, article_no, article_key, chapter,"
            " title, kind, body, tags, gloss, origin, content_hash, updated_at, slug)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*values, slug])
        reading_id = int(cursor.lastrowid)
    else:
        reading_id = int(row[0])
        db.execute(
            "UPDATE readings SET source = ?, short = ?, version = ?, article_no = ?,"
            " article_key = ?, chapter = ?, title = ?, kind = ?, body = ?, tags = ?, gloss = ?,"
            " origin = ?, content_hash = ?, updated_at = ?, in_rotation = 1 WHERE id = ?",
            [*values, reading_id])
    _index(db, reading_id, short, article_no, title, body, gloss, " ".join(tags))
    return True


def _index(db: sqlite_utils.Database, reading_id: int, short: str, article_no: str, title: str,
           body: str, gloss: str, tags: str) -> None:
    search.index_document(db, "reading", reading_id, f"{short} {article_no} {title}",
                          f"{body} {gloss} {tags}")


def ensure_index(db: sqlite_utils.Database) -> int:
    """Rebuild the readings' search index when an older version of the code laid it out
    differently (see bot.search); 0 when it is fine, which costs one scan of the index."""
    if not search.has_misplaced(db):
        return 0
    search.drop_misplaced(db)
    db.execute("DELETE FROM search_index WHERE kind = 'reading'")
    rows = db.execute("SELECT id, short, article_no, title, body, gloss, tags FROM readings"
                      " WHERE in_rotation = 1").fetchall()
    for row in rows:
        _index(db, *row)
    return len(rows)


def retire_missing(db: sqlite_utils.Database, origin: str, keep_slugs: set[str]) -> int:
    """Take readings no longer in the content files out of rotation (they stay for history)."""
    rows = db.execute("SELECT id, slug FROM readings WHERE origin = ? AND in_rotation = 1",
                      [origin]).fetchall()
    gone = [reading_id for reading_id, slug in rows if slug not in keep_slugs]
    for reading_id in gone:
        db.execute("UPDATE readings SET in_rotation = 0 WHERE id = ?", [reading_id])
        search.remove_document(db, "reading", reading_id)
    return len(gone)


def supersede_older(db: sqlite_utils.Database, source: str, version: str) -> int:
    """Mark every older version of a source superseded; returns how many rows changed."""
    rows = db.execute("SELECT id, version FROM readings WHERE source = ? AND superseded = 0",
                      [source]).fetchall()
    older = [reading_id for reading_id, v in rows if _year(v) < _year(version)]
    for reading_id in older:
        db.execute("UPDATE readings SET superseded = 1 WHERE id = ?", [reading_id])
    return len(older)


def newest_version(db: sqlite_utils.Database, source: str) -> str | None:
    versions = [v for (v,) in db.execute("SELECT DISTINCT version FROM readings WHERE source = ?",
                                         [source])]
    return max(versions, key=_year) if versions else None


def _year(version: str) -> int:
    digits = "".join(ch for ch in version if ch.isdigit())[:4]
    return int(digits) if digits else 0


def set_superseded(db: sqlite_utils.Database, slugs: list[str]) -> None:
    for slug in slugs:
        db.execute("UPDATE readings SET superseded = 1 WHERE slug = ?", [slug])


def upsert_source(db: sqlite_utils.Database, name: str, short: str,
                  aliases: tuple[str, ...]) -> None:
    db.execute(
        "INSERT INTO sources (name, short, aliases) VALUES (?, ?, ?) ON CONFLICT (name) DO"
        " UPDATE SET short = excluded.short, aliases = excluded.aliases",
        [name, short, " ".join(aliases)])


def sources(db: sqlite_utils.Database) -> list[tuple[str, str, tuple[str, ...]]]:
    rows = db.execute("SELECT name, short, aliases FROM sources ORDER BY name")
    return [(name, short, tuple(aliases.split())) for name, short, aliases in rows]


def get_reading(db: sqlite_utils.Database, reading_id: int) -> StoredReading | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM readings WHERE id = ?", [reading_id]).fetchone()
    return _reading(row) if row else None


def by_article(db: sqlite_utils.Database, article_key: str,
               short: str | None = None) -> list[StoredReading]:
    """Current readings of an article (not superseded, not retired from the library), in one
    source or in all of them."""
    sql = (f"SELECT {_COLUMNS} FROM readings"
           " WHERE article_key = ? AND superseded = 0 AND in_rotation = 1")
    params: list[object] = [article_key]
    if short:
        sql += " AND short = ?"
        params.append(short)
    # A curated reading (with a title and gloss) is preferred over the same imported article.
    sql += " ORDER BY origin = 'library' DESC, short, id"
    return [_reading(row) for row in db.execute(sql, params)]


# An imported article that the curated library also carries (same source, version and article)
# is shadowed: the curated reading, with its title and gloss, stands for it, so the daily push
# does not serve the same article twice and search does not list it twice.
SHADOWED = (
    "readings.origin = 'import' AND readings.article_key != '' AND EXISTS ("
    "SELECT 1 FROM readings AS curated WHERE curated.short = readings.short"
    " AND curated.article_key = readings.article_key AND curated.version = readings.version"
    " AND curated.origin = 'library' AND curated.superseded = 0 AND curated.in_rotation = 1)"
)
# The readings a member may be shown: current, in the library, not shadowed.
CURRENT = f"readings.in_rotation = 1 AND readings.superseded = 0 AND NOT ({SHADOWED})"


def rotation(db: sqlite_utils.Database) -> list[StoredReading]:
    """Readings eligible for the daily push, in library order (source, then article)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM readings WHERE {CURRENT}"
        " ORDER BY short, CAST(article_key AS INTEGER), article_key, id")
    return [_reading(row) for row in rows]


def library_only(db: sqlite_utils.Database, short: str) -> int:
    """How many current articles a source has when all of them come from the curated library
    (a selection, not the full text); 0 when its full text was imported or it has none."""
    curated, imported = db.execute(
        "SELECT sum(origin = 'library'), sum(origin = 'import') FROM readings"
        " WHERE short = ? AND superseded = 0 AND in_rotation = 1", [short]).fetchone()
    return 0 if imported else int(curated or 0)


def count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])


def all_tags(db: sqlite_utils.Database) -> set[str]:
    tags: set[str] = set()
    for (text,) in db.execute("SELECT DISTINCT tags FROM readings WHERE superseded = 0"):
        tags.update(text.split())
    return tags
