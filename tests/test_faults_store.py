"""The database locked for longer than the busy timeout, and the disk full: the member gets a
"稍后再试" reply well within WeChat's 5 s, nothing is half-written, and WeChat's retry of the
same message later succeeds. Over real HTTP (a threaded server on 127.0.0.1).

The lock is real: another connection holds SQLite's write lock (BEGIN IMMEDIATE) for longer
than BUSY_TIMEOUT_MS. The full disk is SQLite's own SQLITE_FULL ("database or disk is full"),
produced by `PRAGMA max_page_count` set to the file's current size on the service's
connections (a tiny filesystem would need root to mount); check-ins keep coming until one
needs a new page and is refused.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from bot.store import BUSY_TIMEOUT_MS
from tests.test_webhook_exactly_once import (
    WECOM,
    add_bound_members,
    checkin_rows,
    http_post,
    row_counts,
    serving,
)
from tests.wechat import reply_text, text_xml, wecom_request

WECHAT_LIMIT_S = 5.0
BUSY = "系统繁忙，请稍后再试。"


def integrity(path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def post_checkin(port: int, query: str, body: str) -> tuple[int, str, float]:
    started = time.monotonic()
    status, text = http_post(port, f"/wechat/wecom?{query}", body)
    elapsed = time.monotonic() - started
    return status, reply_text(WECOM, text) if status == 200 else text, elapsed


def test_locked_longer_than_the_busy_timeout_answers_busy_then_the_retry_succeeds(
        app, services, clock) -> None:
    path = services.config.store_path
    [member_id] = add_bound_members(services, clock, 1)
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("User000", "打卡 学习第三章", 7001, ts), ts)
    before = row_counts(path)

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held by someone else
    released = threading.Event()

    def release_later() -> None:  # held well past the busy timeout, then let go
        time.sleep(BUSY_TIMEOUT_MS / 1000 + 1.5)
        holder.execute("ROLLBACK")
        released.set()

    with serving(app) as port:
        threading.Thread(target=release_later, daemon=True).start()
        status, reply, elapsed = post_checkin(port, query, body)
        assert not released.is_set()  # the answer came while the lock was still held
        assert (status, reply) == (200, BUSY)
        assert BUSY_TIMEOUT_MS / 1000 <= elapsed < WECHAT_LIMIT_S
        print(f"\nlocked database: busy reply after {elapsed:.2f} s")
        assert row_counts(path) == before  # nothing half-written

        assert released.wait(10)
        holder.close()
        status, reply, elapsed = post_checkin(port, query, body)  # WeChat's retry: same bytes
        assert status == 200 and reply.startswith("打卡成功！党员000")
        assert elapsed < WECHAT_LIMIT_S
    assert checkin_rows(path) == [(member_id, "2026-11-23", "wecom")]
    assert row_counts(path)["inbound"] == before["inbound"] + 1
    assert integrity(path) == "ok"


def test_disk_full_answers_busy_keeps_nothing_half_written_and_the_retry_succeeds(
        app, services, clock) -> None:
    path = services.config.store_path
    ids = add_bound_members(services, clock, 300)
    store = services.store
    connect = store._connect
    limit = {"pages": 0}

    def full_connect() -> sqlite3.Connection:  # every server thread's connection is limited
        conn = connect()
        conn.execute(f"PRAGMA max_page_count = {limit['pages']}")
        return conn

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")  # no free pages left to reuse: growth needs new pages
        limit["pages"] = conn.execute("PRAGMA page_count").fetchone()[0]
    store.close()  # reopen every connection through the limit
    store._connect = full_connect  # type: ignore[method-assign]

    ts = int(clock.timestamp())
    requests = [wecom_request(WECOM, text_xml(f"User{i:03d}", "打卡 " + "学" * 150, 8000 + i, ts),
                              ts) for i in range(len(ids))]
    answered: list[int] = []  # who got a success reply
    refused = None
    with serving(app) as port:
        for i, (query, body) in enumerate(requests):
            before = row_counts(path)
            status, reply, elapsed = post_checkin(port, query, body)
            assert status == 200 and elapsed < WECHAT_LIMIT_S
            if reply == BUSY:
                assert row_counts(path) == before  # nothing half-written
                refused = i
                print(f"\ndisk full after {i} check-ins: busy reply in {elapsed:.2f} s")
                break
            assert reply.startswith(f"打卡成功！党员{i:03d}")
            answered.append(ids[i])
        assert refused is not None, "the size limit was never reached"
        assert answered  # some fitted before the disk filled up

        for conn in list(store._all):  # space is freed
            conn.execute("PRAGMA max_page_count = 1073741823")
        limit["pages"] = 1073741823
        query, body = requests[refused]
        status, reply, _ = post_checkin(port, query, body)  # WeChat's retry
        assert status == 200 and reply.startswith(f"打卡成功！党员{refused:03d}")
    stored = sorted(member_id for member_id, _, _ in checkin_rows(path))
    assert stored == sorted([*answered, ids[refused]])  # every answered check-in, once
    assert integrity(path) == "ok"
