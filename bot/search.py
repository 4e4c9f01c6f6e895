"""Chinese full-text search on SQLite FTS5, with no tokenizer extension.

FTS5's trigram tokenizer cannot find two-character terms (四风, 礼金, 公车), and Chinese has no
spaces for unicode61 to split on. So text is indexed as overlapping character bigrams (四风 ->
"四风"; 八项规定 -> "八项 项规 规定") and a query becomes a phrase of its bigrams: a phrase
match on consecutive bigrams is exactly a substring match, ranked by bm25.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils

from bot.store import readings as store_readings  # a cycle: use its names at call time

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{CJK}]+|[A-Za-z0-9]+")
TITLE_WEIGHT, BODY_WEIGHT = 4.0, 1.0


@dataclass(frozen=True)
class Hit:
    kind: str   # "reading" or "task"
    ref: int    # the row id in that table
    title: str
    snippet: str
    score: float


def bigrams(text: str) -> list[str]:
    """Index tokens: CJK runs as overlapping bigrams (a lone character stays), words lowered."""
    tokens: list[str] = []
    for run in _RUNS.findall(text):
        if not re.match(rf"[{CJK}]", run):
            tokens.append(run.lower())
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


# Each document sits at a rowid derived from its kind and ref, so replacing or removing it is a
# rowid lookup. (kind and ref are UNINDEXED columns: finding a row by them reads the whole
# index, which made importing N articles cost O(N²).)
_KIND_CODES = {"reading": 0, "task": 1}
_DERIVED_ROWID_SQL = f"ref * {len(_KIND_CODES)} + CASE kind WHEN 'task' THEN 1 ELSE 0 END"


def _rowid(kind: str, ref: int) -> int:
    return ref * len(_KIND_CODES) + _KIND_CODES[kind]


def index_document(db: sqlite_utils.Database, kind: str, ref: int, title: str, body: str) -> None:
    """(Re)index one document; call inside the transaction that writes the document."""
    remove_document(db, kind, ref)
    db.execute("INSERT INTO search_index (rowid, kind, ref, title, body) VALUES (?, ?, ?, ?, ?)",
               [_rowid(kind, ref), kind, ref, " ".join(bigrams(title)), " ".join(bigrams(body))])


def remove_document(db: sqlite_utils.Database, kind: str, ref: int) -> None:
    db.execute("DELETE FROM search_index WHERE rowid = ?", [_rowid(kind, ref)])


def drop_misplaced(db: sqlite_utils.Database) -> int:
    """Delete rows not at their derived rowid (an index written before rowids were derived);
    their owners must index those documents again. Returns how many were dropped."""
    return db.execute(f"DELETE FROM search_index WHERE rowid != {_DERIVED_ROWID_SQL}").rowcount


def has_misplaced(db: sqlite_utils.Database) -> bool:
    return db.execute(f"SELECT 1 FROM search_index WHERE rowid != {_DERIVED_ROWID_SQL}"
                      " LIMIT 1").fetchone() is not None


def match_expressions(query: str) -> list[str]:
    """FTS5 MATCH texts from strictest to loosest: every term as an exact phrase; every
    bigram anywhere; any bigram (bm25 ranks documents with more of them first). A long phrase
    like 违规收送礼品礼金 rarely stands verbatim, so the looser stages still find 收送, 礼品礼金.
    A lone character (廉) is a prefix query: it finds the bigrams it starts (廉洁, 廉政)."""
    terms = [bigrams(term) for term in query.split()]
    terms = [tokens for tokens in terms if tokens]
    if not terms:
        return []
    # Tokens never contain quotes (see _RUNS), so quoting them is safe.
    phrases = " AND ".join(_phrase(tokens) for tokens in terms)
    every = sorted({token for tokens in terms for token in tokens})
    stages = [phrases]
    if len(every) > 1:
        stages.append(" AND ".join(_phrase([token]) for token in every))
        stages.append(" OR ".join(_phrase([token]) for token in every))
    return stages


def _phrase(tokens: list[str]) -> str:
    # The index holds bigrams, so a lone CJK character only matches as a prefix of one.
    lone = len(tokens) == 1 and len(tokens[0]) == 1 and re.match(rf"[{CJK}]", tokens[0])
    return '"' + " ".join(tokens) + '"' + ("*" if lone else "")


def search(db: sqlite_utils.Database, query: str, *, kinds: tuple[str, ...] = ("reading",),
           limit: int = 3) -> list[Hit]:
    """The best matches for `query`, best first: exact phrase matches, then looser ones."""
    hits: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    placeholders = ", ".join("?" for _ in kinds)
    for expression in match_expressions(query):
        # Superseded and shadowed readings stay indexed (a re-import re-indexes them) and are
        # skipped by _hit, so a fixed window of rows could hold none that pass and leave this
        # stage empty: the window grows until `limit` hits pass or the matches run out.
        window = limit * 4
        while True:
            rows = db.execute(
                f"SELECT kind, ref, bm25(search_index, 0, 0, {TITLE_WEIGHT}, {BODY_WEIGHT})"
                f" AS score FROM search_index WHERE search_index MATCH ? AND kind IN"
                f" ({placeholders}) ORDER BY score, rowid LIMIT ?",
                [expression, *kinds, window],
            ).fetchall()
            for kind, ref, score in rows:
                if (kind, int(ref)) in seen:
                    continue
                hit = _hit(db, kind, int(ref), query, score)
                if hit is not None:
                    seen.add((kind, int(ref)))
                    hits.append(hit)
                if len(hits) == limit:
                    return hits
            if len(rows) < window:
                break
            window *= 8
    return hits


def _hit(db: sqlite_utils.Database, kind: str, ref: int, query: str, score: float) -> Hit | None:
    if kind == "reading":
        # A superseded version stays for history but is not what a member should read; an
        # imported article the library curates is shown once, as the curated reading.
        row = db.execute("SELECT title, body, superseded, gloss FROM readings WHERE id = ?"
                         f" AND {store_readings.CURRENT}", [ref]).fetchone()
        if row is None:
            return None
        # The body is indexed with the gloss: when only the gloss has the term, show the gloss.
        if _locate(row[1], query) < 0 and _locate(row[3], query) >= 0:
            return Hit(kind, ref, row[0], snippet(row[3], query), float(score))
    else:
        row = db.execute("SELECT title, detail FROM tasks WHERE id = ?", [ref]).fetchone()
        if row is None:
            return None
    return Hit(kind, ref, row[0], snippet(row[1], query), float(score))


def snippet(body: str, query: str, width: int = 60) -> str:
    """A window of the body around the first query term found in it (or, for a looser match,
    its first bigram found), with ellipses where cut."""
    flat = " ".join(body.split())
    at = _locate(flat, query)
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = flat[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


def _locate(text: str, query: str) -> int:
    """Where the first query term (else the first of its bigrams) occurs in text, or -1."""
    for needle in [*query.split(), *(t for term in query.split() for t in bigrams(term))]:
        at = text.find(needle)
        if at >= 0:
            return at
    return -1
