"""Replay memory for callbacks: each signed (timestamp, nonce) pair, per channel, with a digest
of what came with it (the POST body, or the URL check's echostr).

A query string's signature covers the token, timestamp and nonce (and, encrypted, the
<Encrypt>), so whoever reads one access-log line could, within the clock-skew window, send it
again. WeChat's own retries reuse the query string AND the body: the same digest is a retry
(answered from the dedupe record as before); another digest is a replay, refused before any
effect. Rows live in SQLite so every gunicorn worker and a restarted one see the same memory.

A pair stays acceptable while its timestamp is within the skew of now, so rows whose timestamp
is older than now - skew are pruned (older than a day when the skew check is off,
`server.max_clock_skew_s = 0`: then an old query string passes the timestamp check anyway, and
only keeping the skew check on bounds replays). Pruning runs at most once a minute per process,
inside a claim's transaction: one range at the table's left edge, not a write per message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlite_utils

from bot.store import Store

KEEP_WITHOUT_SKEW_S = 24 * 3600
PRUNE_EVERY_S = 60
TIMESTAMP_WIDTH = 20  # wire.check_timestamp accepts at most 20 digits: padded, text order = numeric
_last_prune = {"at": 0.0}  # per process; a lost race only prunes twice


class Replayed(Exception):
    """The pair was seen before with something else: a replayed query string."""


@dataclass(frozen=True)
class Sighting:
    """One signed callback's pair (as it came: the signature covers these strings) and the
    digest of what it carried."""

    channel: str
    timestamp: str
    nonce: str
    digest: str

    def key(self) -> list[str]:
        return [self.timestamp.zfill(TIMESTAMP_WIDTH), self.nonce, self.channel]


def sighting(channel: str, timestamp: str, nonce: str, kind: str, payload: bytes) -> Sighting:
    """`kind` keeps a URL check ("GET") and a message ("POST") with one pair apart."""
    digest = hashlib.blake2b(payload, digest_size=16, person=kind.encode()[:16]).hexdigest()
    return Sighting(channel, timestamp, nonce, digest)


def keep_seconds(max_skew_s: int) -> int:
    return max_skew_s if max_skew_s > 0 else KEEP_WITHOUT_SKEW_S


def seen_digest(db: sqlite_utils.Database, seen: Sighting) -> str | None:
    """The digest remembered for the pair (read-only: the cheap check before any lock)."""
    row = db.execute("SELECT digest FROM callback_nonces WHERE timestamp = ? AND nonce = ? "
                     "AND channel = ?", seen.key()).fetchone()
    return None if row is None else row[0]


def claim(db: sqlite_utils.Database, seen: Sighting, now: float, keep_s: int) -> None:
    """Remember the pair, inside the caller's write transaction; raise Replayed when it was
    remembered with another digest (the caller rolls back: nothing written)."""
    inserted = db.execute(
        "INSERT INTO callback_nonces (timestamp, nonce, channel, digest) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING", [*seen.key(), seen.digest]).rowcount
    if not inserted and seen_digest(db, seen) != seen.digest:
        raise Replayed(f"{seen.channel}: timestamp and nonce already used with another body")
    if abs(now - _last_prune["at"]) >= PRUNE_EVERY_S:  # abs: a test's clock may go back
        _last_prune["at"] = now
        forget_before(db, int(now) - keep_s)


def claim_alone(store: Store, seen: Sighting, now: float, keep_s: int) -> None:
    """`claim` in a transaction of its own (a URL check; a message whose handler failed)."""
    with store.transaction() as db:
        claim(db, seen, now, keep_s)


def forget_before(db: sqlite_utils.Database, timestamp: int) -> int:
    """Drop the pairs whose timestamp is before `timestamp` (no longer acceptable)."""
    cutoff = str(max(0, timestamp)).zfill(TIMESTAMP_WIDTH)
    return db.execute("DELETE FROM callback_nonces WHERE timestamp < ?", [cutoff]).rowcount
