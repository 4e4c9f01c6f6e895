"""The store: one SQLite file (WAL), opened per thread, migrated at start.

This package owns the schema (migrations.py); every other module calls the functions in its
sibling modules (members, checkins, inbound, ...), which take a `sqlite_utils.Database`.

Writes that must be atomic go inside `store.transaction()`, which holds SQLite's write lock from
the first statement (BEGIN IMMEDIATE). Inside it use `db.execute(...)` only: sqlite-utils'
table helpers (`insert`, `upsert`) wrap themselves in `with conn:`, which would commit early.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bot.store.migrations import migrate

BUSY_TIMEOUT_MS = 3000  # below WeChat's 5 s limit, so a locked database still gets a reply
# The longest a write transaction waits to start, in all: first for the other threads of this
# process (the writer lock), then, with what is left, for other processes (SQLite's busy
# timeout, shortened to fit). 4 s leaves the reply time to reach WeChat within its 5 s. (1.5 s
# for the lock alone was too short: in the morning-peak bench, threads queued behind the 08:30
# fan-out's write gave up with 2.0 s answers and 6 of 10,000 check-ins unrecorded.)
WRITER_WAIT_S = 4.0


class StoreBusy(RuntimeError):
    """The database stayed locked or could not be written (disk full): try again later."""


class Store:
    """A SQLite file and one connection per thread (sqlite3 connections are not shareable)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # One writer per process at a time. SQLite has one writer anyway; without this, the
        # other threads sleep in its busy handler (1, 2, 5, ... 100 ms between tries) and sleep
        # through free moments: that was the webhook's p99 (docs/benchmarks.md, Webhook).
        # Re-entrant so that a nested transaction() still fails as SQLite says, not deadlocks.
        self._writer = threading.RLock()
        self._lock_file: int | None = None  # the cross-process writer lock, opened on first use
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        migrate(self.db)

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite_utils.Database(self._connect())
            self._local.db = db
        return db

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

        Lock and disk errors surface as StoreBusy so callers can answer "try again later".
        """
        db = self.db
        started = time.monotonic()
        if not self._writer.acquire(timeout=WRITER_WAIT_S):
            raise StoreBusy(f"another thread held the write lock for {WRITER_WAIT_S} s")
        locked_file = False
        try:
            locked_file = self._lock_processes(started)
            self._begin(db, WRITER_WAIT_S - (time.monotonic() - started))
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                _rollback(db.conn)
                if isinstance(exc, sqlite3.OperationalError) and is_transient(exc):
                    raise StoreBusy(str(exc)) from exc
                raise
        finally:
            if locked_file:
                self._local.holds_file = False
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._writer.release()

    def _lock_processes(self, started: float) -> bool:
        """Queue behind the other processes' writers on a lock file beside the database.

        SQLite's own busy handler sleeps 1, 2, 5, ... up to 100 ms between tries, so a process
        waiting for another one's short transaction sleeps through the moment it ends (the
        webhook's p99 with two workers). Polling a file lock every fraction of a millisecond
        wakes within that moment; at most one thread per process polls (the writer lock). A
        process that never takes the file lock (the sqlite3 shell, an old release) is still
        excluded by SQLite's own lock, which BEGIN IMMEDIATE takes next: this only orders.
        Returns False when the lock could not be had in time; BEGIN then waits as before.
        """
        if self.path == ":memory:" or getattr(self._local, "holds_file", False):
            return False  # in memory, or a nested transaction (which SQLite refuses anyway)
        if self._lock_file is None:
            with self._lock:
                if self._lock_file is None:
                    self._lock_file = os.open(f"{self.path}-writer.lock",
                                              os.O_RDWR | os.O_CREAT, 0o640)
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._local.holds_file = True
                return True
            except BlockingIOError:
                if time.monotonic() - started + pause >= WRITER_WAIT_S:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    @staticmethod
    def _begin(db: sqlite_utils.Database, left_s: float) -> None:
        """BEGIN IMMEDIATE, waiting for other processes at most `left_s` (and BUSY_TIMEOUT_MS)."""
        left_ms = max(1, int(left_s * 1000))
        shorter = left_ms < BUSY_TIMEOUT_MS
        try:
            if shorter:
                db.execute(f"PRAGMA busy_timeout = {left_ms}")
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreBusy(str(exc)) from exc
        finally:
            if shorter:
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            if self._lock_file is not None:
                os.close(self._lock_file)
                self._lock_file = None
        self._local = threading.local()


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo an open transaction without hiding why it failed: on a full disk SQLite may have
    rolled back already, and a failing ROLLBACK must not replace the real error."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the caller re-raises the original error
            conn.execute("ROLLBACK")


def is_transient(exc: sqlite3.OperationalError) -> bool:
    """A lock or disk problem that may be gone on the next try."""
    text = str(exc).lower()
    return any(word in text for word in ("locked", "busy", "disk", "full", "i/o"))
