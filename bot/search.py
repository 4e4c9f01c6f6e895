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


def index_document(db: sqlite_utils.Database, kind: str, ref: int, title: str, body: str) -> None:
    """(Re)index one document; call inside the transaction that writes the document."""
    remove_document(db, kind, ref)
    db.execute("INSERT INTO search_index (kind, ref, title, body) VALUES (?, ?, ?, ?)",
               [kind, ref, " ".join(bigrams(title)), " ".join(bigrams(body))])


def remove_document(db: sqlite_utils.Database, kind: str, ref: int) -> None:
    db.execute("DELETE FROM search_index WHERE kind = ? AND ref = ?", [kind, ref])


def match_expressions(query: str) -> list[str]:
    """FTS5 MATCH texts from strictest to loosest: every term as an exact phrase; every
    bigram anywhere; any bigram (bm25 ranks documents with more of them first). A long phrase
    like 违规收送礼品礼金 rarely stands verbatim, so the looser stages still find 收送, 礼品礼金."""
    terms = [bigrams(term) for term in query.split()]
    terms = [tokens for tokens in terms if tokens]
    if not terms:
        return []
    # Tokens never contain quotes (see _RUNS), so quoting them is safe.
    phrases = " AND ".join('"' + " ".join(tokens) + '"' for tokens in terms)
    every = sorted({token for tokens in terms for token in tokens})
    stages = [phrases]
    if len(every) > 1:
        stages.append(" AND ".join(f'"{token}"' for token in every))
        stages.append(" OR ".join(f'"{token}"' for token in every))
    return stages


def search(db: sqlite_utils.Database, query: str, *, kinds: tuple[str, ...] = ("reading",),
           limit: int = 3) -> list[Hit]:
    """The best matches for `query`, best first: exact phrase matches, then looser ones."""
    hits: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    placeholders = ", ".join("?" for _ in kinds)
    for expression in match_expressions(query):
        rows = db.execute(
            f"SELECT kind, ref, bm25(search_index, 0, 0, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS score"
            f" FROM search_index WHERE search_index MATCH ? AND kind IN ({placeholders})"
            " ORDER BY score LIMIT ?",
            [expression, *kinds, limit * 4],
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
    return hits


def _hit(db: sqlite_utils.Database, kind: str, ref: int, query: str, score: float) -> Hit | None:
    if kind == "reading":
        row = db.execute("SELECT title, body, superseded FROM readings WHERE id = ?",
                         [ref]).fetchone()
        # A superseded version stays for history but is not what a member should read.
        if row is None or row[2]:
            return None
    else:
        row = db.execute("SELECT title, detail FROM tasks WHERE id = ?", [ref]).fetchone()
        if row is None:
            return None
    return Hit(kind, ref, row[0], snippet(row[1], query), float(score))


def snippet(body: str, query: str, width: int = 60) -> str:
    """A window of the body around the first query term, with ellipses where cut."""
    flat = " ".join(body.split())
    first = query.split()[0] if query.split() else ""
    at = flat.find(first) if first else -1
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = flat[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")
