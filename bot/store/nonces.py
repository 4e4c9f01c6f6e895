"""Replay memory for callbacks: each signed (timestamp, nonce) pair, per channel, with a digest
of what came with it (the POST body, or the URL check's echostr).

A query string's signature covers the token, timestamp and nonce (and, encrypted, the
<Encrypt>), so whoever reads one access-log line could, within the clock-skew window, send it
again. WeChat's own retries reuse the query string AND the body: the same digest is a retry
(answered from the dedupe record as before); another digest is a replay, refused before any
effect. Rows live in SQLite so every gunicorn worker and a restarted one see the same memory.

A pair stays acceptable while its timestamp is within the skew of now, and a timestamp may be
up to the skew ahead of the clock when first seen: so it is kept for twice the skew (a day
when the skew check is off, `server.max_clock_skew_s = 0`), then pruned as new pairs come in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlite_utils

KEEP_WITHOUT_SKEW_S = 24 * 3600


class Replayed(Exception):
    """The pair was seen before with something else: a replayed query string."""


@dataclass(frozen=True)
class Sighting:
    """One signed callback's pair and the digest of what it carried."""

    channel: str
    timestamp: str
    nonce: str
    digest: str


def sighting(channel: str, timestamp: str, nonce: str, kind: str, payload: bytes) -> Sighting:
    """`kind` keeps a URL check ("GET") and a message ("POST") with one pair apart."""
    digest = hashlib.blake2b(payload, digest_size=16, person=kind.encode()[:16]).hexdigest()
    return Sighting(channel, timestamp, nonce, digest)


def keep_seconds(max_skew_s: int) -> float:
    return 2 * max_skew_s if max_skew_s > 0 else KEEP_WITHOUT_SKEW_S


def seen_digest(db: sqlite_utils.Database, seen: Sighting) -> str | None:
    """The digest remembered for the pair (read-only: the cheap check before any lock)."""
    row = db.execute("SELECT digest FROM callback_nonces WHERE channel = ? AND timestamp = ? "
                     "AND nonce = ?", [seen.channel, seen.timestamp, seen.nonce]).fetchone()
    return None if row is None else row[0]


def claim(db: sqlite_utils.Database, seen: Sighting, now: float, keep_s: float) -> None:
    """Remember the pair, inside the caller's write transaction; raise Replayed when it was
    remembered with another digest (the caller rolls back: nothing written). Also prunes the
    pairs too old to pass the timestamp check any more (indexed on seen_at: a few rows)."""
    db.execute("DELETE FROM callback_nonces WHERE seen_at < ?", [now - keep_s])
    inserted = db.execute(
        "INSERT INTO callback_nonces (channel, timestamp, nonce, digest, seen_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [seen.channel, seen.timestamp, seen.nonce, seen.digest, now]).rowcount
    if not inserted and seen_digest(db, seen) != seen.digest:
        raise Replayed(f"{seen.channel}: timestamp and nonce already used with another body")
