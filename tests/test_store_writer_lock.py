"""The cross-process writer lock in front of BEGIN IMMEDIATE: it orders writers of different
processes (two Store objects here: each has its own open file, so they exclude each other like
two processes), never loses a write, and a lock file held by someone stuck cannot stop writes."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

import bot.store as store_module
from bot.store import Store, StoreBusy


def test_writers_of_two_stores_take_turns_and_lose_nothing(tmp_path):
    path = tmp_path / "q.db"
    first, second = Store(path), Store(path)
    first.db.execute("CREATE TABLE t (n INTEGER)")
    errors: list[BaseException] = []

    def write(store: Store, start: int) -> None:
        try:
            for n in range(start, start + 200):
                with store.transaction() as db:
                    db.execute("INSERT INTO t VALUES (?)", [n])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(store, start))
               for store, start in ((first, 0), (second, 1000), (first, 2000), (second, 3000))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert first.db.execute("SELECT count(DISTINCT n) FROM t").fetchone()[0] == 800
    assert os.path.exists(f"{path}-writer.lock")
    first.close()
    second.close()


def test_a_waiting_writer_starts_as_soon_as_the_other_commits(tmp_path):
    path = tmp_path / "q.db"
    first, second = Store(path), Store(path)
    first.db.execute("CREATE TABLE t (n INTEGER)")
    holding, done = threading.Event(), threading.Event()
    waited: list[float] = []

    def hold() -> None:
        with first.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
            holding.set()
            time.sleep(0.3)
        done.set()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait()
    with second.transaction() as db:
        waited.append(time.monotonic())
        assert done.is_set()  # it did wait for the other writer
        db.execute("INSERT INTO t VALUES (2)")
    thread.join()
    assert second.db.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    first.close()
    second.close()


def test_a_lock_file_held_by_a_stuck_process_only_delays_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "WRITER_WAIT_S", 0.2)
    path = tmp_path / "q.db"
    store = Store(path)
    store.db.execute("CREATE TABLE t (n INTEGER)")
    stuck = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # someone holds the file lock but not SQLite's
    try:
        started = time.monotonic()
        with store.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
        assert time.monotonic() - started < 2  # waited its budget, then SQLite's lock decided
    finally:
        os.close(stuck)
    assert store.db.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    # And with the file free again, the next write takes it and releases it.
    with store.transaction() as db:
        db.execute("INSERT INTO t VALUES (2)")
    probe = os.open(f"{path}-writer.lock", os.O_RDWR)
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no exception
    os.close(probe)
    store.close()


def test_a_nested_transaction_is_refused_and_the_lock_released(tmp_path):
    store = Store(tmp_path / "q.db")
    with pytest.raises(StoreBusy, match="within a transaction"), store.transaction(), \
            store.transaction():
        pass
    probe = os.open(f"{tmp_path / 'q.db'}-writer.lock", os.O_RDWR)
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(probe)
    store.close()
