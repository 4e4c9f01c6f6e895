"""Exactly once: WeChat redelivers a callback it got no answer to (same MsgId; for events the
same FromUserName + CreateTime). The effect happens once and every delivery gets the same
reply, within one app, across two app instances on one database file (two workers), and under
concurrent load over real HTTP (threaded servers on 127.0.0.1).
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from bot import create_app
from bot.store import members
from tests.conftest import MP_TEST, WECOM_TEST
from tests.wechat import (
    Platform,
    encrypted_request,
    event_xml,
    reply_text,
    text_xml,
    wecom_request,
)

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])


def row_counts(path: Path) -> dict[str, int]:
    """Rows in every table of the database file, read on a separate connection."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def checkin_rows(path: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT member_id, day, via FROM checkins ORDER BY member_id").fetchall()


def two_workers(make_services) -> tuple[Flask, Flask]:
    """Two app instances (as two gunicorn workers would build) on one database file."""
    first = make_services(mp=MP_TEST, wecom=WECOM_TEST)
    second = make_services(mp=MP_TEST, wecom=WECOM_TEST)
    assert first.store is not second.store and first.store.path == second.store.path
    return create_app(services=first), create_app(services=second)


def bind(services, channel: str, external_id: str, member_id: int, clock) -> None:
    with services.store.transaction() as db:
        members.bind_identity(db, channel=channel, external_id=external_id, member_id=member_id,
                              now=clock.now())


# --- redelivery within one app ---------------------------------------------------------------


def test_three_deliveries_of_one_checkin_give_one_row_and_one_reply(client, services, clock):
    bind(services, "wecom", "LiHongMei", 2, clock)
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("LiHongMei", "打卡 学习党章", 5001, ts), ts)
    envelopes = []
    for _ in range(3):  # WeChat's retries send the same bytes again
        answer = client.post(f"/wechat/wecom?{query}", data=body)
        assert answer.status_code == 200
        envelopes.append(answer.get_data(as_text=True))
        clock.advance(seconds=5)  # the retries come 5 s apart
    contents = [reply_text(WECOM, envelope) for envelope in envelopes]
    assert len(set(envelopes)) == 3  # fresh nonce and random prefix each time ...
    assert contents == [contents[0]] * 3  # ... around the same reply
    assert contents[0].startswith("打卡成功！李红梅，今天是你连续学习的第 1 天")
    assert contents[0].endswith("学习内容：学习党章")
    assert checkin_rows(services.config.store_path) == [(2, "2026-11-23", "wecom")]
    assert row_counts(services.config.store_path)["inbound"] == 1


def test_oa_redelivery_in_safe_mode_is_answered_from_the_record(client, services, clock):
    bind(services, "mp", "oWANG", 1, clock)
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, text_xml("oWANG", "打卡", 5002, ts), ts)
    contents = [reply_text(MP, client.post(f"/wechat/mp?{query}", data=body)
                           .get_data(as_text=True)) for _ in range(3)]
    assert contents == [contents[0]] * 3
    assert contents[0].startswith("打卡成功！王建国")
    assert checkin_rows(services.config.store_path) == [(1, "2026-11-23", "mp")]


def test_a_new_message_is_not_a_redelivery(client, services, clock):
    # A second MsgId is a second message: it is answered afresh ("already checked in"), which
    # is what the redeliveries above would have got without the dedupe record.
    bind(services, "wecom", "ZhangWei", 3, clock)
    ts = int(clock.timestamp())
    replies = []
    for msg_id in (5101, 5102):
        query, body = wecom_request(WECOM, text_xml("ZhangWei", "打卡", msg_id, ts), ts)
        replies.append(reply_text(WECOM, client.post(f"/wechat/wecom?{query}", data=body)
                                  .get_data(as_text=True)))
    assert replies[0].startswith("打卡成功！张伟")
    assert replies[1].startswith("今天已打卡（09:00）")
    assert len(checkin_rows(services.config.store_path)) == 1
    assert row_counts(services.config.store_path)["inbound"] == 2


def test_two_senders_with_one_msg_id_each_get_their_own_reply(client, services, clock):
    # A MsgId is not unique across senders (nor across channels): the second member's message
    # must be handled, never answered with the first member's remembered reply.
    bind(services, "mp", "oWANG", 1, clock)
    bind(services, "mp", "oLI", 2, clock)
    ts = int(clock.timestamp())
    replies = []
    for sender in ("oWANG", "oLI"):
        query, body = encrypted_request(MP, text_xml(sender, "打卡", 5201, ts), ts)
        replies.append(reply_text(MP, client.post(f"/wechat/mp?{query}", data=body)
                                  .get_data(as_text=True)))
    assert replies[0].startswith("打卡成功！王建国")
    assert replies[1].startswith("打卡成功！李红梅")
    assert checkin_rows(services.config.store_path) == [(1, "2026-11-23", "mp"),
                                                        (2, "2026-11-23", "mp")]


def test_event_redelivery_is_keyed_on_sender_and_create_time(client, services, clock):
    bind(services, "mp", "oCLICK", 5, clock)
    ts = int(clock.timestamp())
    click = event_xml("oCLICK", "CLICK", ts, "CHECKIN")
    replies = []
    for _ in range(3):
        query, body = encrypted_request(MP, click, ts)  # new nonce each time, same event
        replies.append(reply_text(MP, client.post(f"/wechat/mp?{query}", data=body)
                                  .get_data(as_text=True)))
    assert replies == [replies[0]] * 3
    assert replies[0].startswith("打卡成功！陈静")
    # The same member clicking again later is a new event, not a redelivery.
    query, body = encrypted_request(MP, event_xml("oCLICK", "CLICK", ts + 60, "CHECKIN"), ts)
    again = reply_text(MP, client.post(f"/wechat/mp?{query}", data=body).get_data(as_text=True))
    assert again.startswith("今天已打卡")
    assert checkin_rows(services.config.store_path) == [(5, "2026-11-23", "mp")]
    assert row_counts(services.config.store_path)["inbound"] == 2


def test_unsubscribe_and_subscribe_redeliveries_change_nothing(client, services, clock):
    bind(services, "mp", "oFLIP", 6, clock)
    ts = int(clock.timestamp())
    unsubscribe = event_xml("oFLIP", "unsubscribe", ts)
    subscribe = event_xml("oFLIP", "subscribe", ts + 10)
    query, body = encrypted_request(MP, unsubscribe, ts)
    assert client.post(f"/wechat/mp?{query}", data=body).data == b"success"
    query, body = encrypted_request(MP, subscribe, ts + 10)
    welcome = reply_text(MP, client.post(f"/wechat/mp?{query}", data=body).get_data(as_text=True))
    assert "欢迎回来，杨帆" in welcome
    assert members.identities_of(services.store.db, 6) == [("mp", "oFLIP", True)]
    snapshot = row_counts(services.config.store_path)
    # A late redelivery of the unsubscribe must not undo the later subscribe.
    query, body = encrypted_request(MP, unsubscribe, ts)
    assert client.post(f"/wechat/mp?{query}", data=body).data == b"success"
    assert members.identities_of(services.store.db, 6) == [("mp", "oFLIP", True)]
    query, body = encrypted_request(MP, subscribe, ts + 10)
    assert reply_text(MP, client.post(f"/wechat/mp?{query}", data=body)
                      .get_data(as_text=True)) == welcome
    # Nothing changed but the replay memory: these redeliveries came under new nonces.
    assert row_counts(services.config.store_path) == {
        **snapshot, "callback_nonces": snapshot["callback_nonces"] + 2}


# --- two workers, one database file ------------------------------------------------------------


def test_redelivery_to_another_worker_is_answered_from_the_record(make_services, clock):
    first, second = two_workers(make_services)
    services = first.extensions["qingfeng"]
    bind(services, "wecom", "SunYue", 8, clock)
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("SunYue", "今天学习了 第二章", 5201, ts), ts)
    contents = []
    for app in (first, second, second, first):
        answer = app.test_client().post(f"/wechat/wecom?{query}", data=body)
        assert answer.status_code == 200
        contents.append(reply_text(WECOM, answer.get_data(as_text=True)))
    assert contents == [contents[0]] * 4
    assert contents[0].startswith("打卡成功！孙悦") and contents[0].endswith("学习内容：第二章")
    assert checkin_rows(services.config.store_path) == [(8, "2026-11-23", "wecom")]
    assert row_counts(services.config.store_path)["inbound"] == 1


# --- concurrency over real HTTP --------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[int]:
    """A real threaded HTTP server on 127.0.0.1 (an ephemeral port) for the test's duration."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def http_post(port: int, url: str, body: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", url, body=body.encode(), headers={"Content-Type": "text/xml"})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def add_bound_members(services, clock, count: int) -> list[int]:
    """`count` members, each bound to the WeCom userid User000, User001, ..."""
    with services.store.transaction() as db:
        ids = [members.add_member(db, name=f"党员{i:03d}", branch="并发测试支部", now=clock.now())
               for i in range(count)]
        for i, member_id in enumerate(ids):
            # Mixed case on purpose: WeCom answers userids lower-cased, the store folds them.
            members.bind_identity(db, channel="wecom", external_id=f"User{i:03d}",
                                  member_id=member_id, now=clock.now())
    return ids


def test_200_concurrent_checkins_on_two_workers_are_recorded_once(make_services, clock):
    first, second = two_workers(make_services)
    services = first.extensions["qingfeng"]
    path = services.config.store_path
    count = 200
    ids = add_bound_members(services, clock, count)
    ts = int(clock.timestamp())
    requests = [wecom_request(WECOM, text_xml(f"User{i:03d}", "打卡", 600000 + i, ts), ts)
                for i in range(count)]
    before = row_counts(path)
    assert before["checkins"] == 0

    with serving(first) as port_a, serving(second) as port_b:
        ports = (port_a, port_b)

        def deliver(i: int, round_: int) -> tuple[int, str]:
            query, body = requests[i]
            status, text = http_post(ports[(i + round_) % 2], f"/wechat/wecom?{query}", body)
            return status, reply_text(WECOM, text) if status == 200 else text

        with ThreadPoolExecutor(max_workers=8) as pool:
            first_round = list(pool.map(lambda i: deliver(i, 0), range(count)))
        after_first = row_counts(path)
        with ThreadPoolExecutor(max_workers=8) as pool:  # every one redelivered, other worker
            second_round = list(pool.map(lambda i: deliver(i, 1), range(count)))

    assert [status for status, _ in first_round] == [200] * count
    for i, (_, content) in enumerate(first_round):
        assert content.startswith(f"打卡成功！党员{i:03d}，"), (i, content)
    rows = checkin_rows(path)
    assert len(rows) == count
    assert sorted(member_id for member_id, _, _ in rows) == sorted(ids)  # each member once
    assert {(day, via) for _, day, via in rows} == {("2026-11-23", "wecom")}
    assert after_first["inbound"] == before["inbound"] + count
    assert after_first == {**before, "checkins": count, "inbound": before["inbound"] + count,
                           "callback_nonces": count}  # each callback's (timestamp, nonce)

    assert second_round == first_round  # same status, same reply, member by member
    assert row_counts(path) == after_first
    assert checkin_rows(path) == rows


def test_simultaneous_redeliveries_race_to_one_effect(make_services, clock):
    # WeChat's retry can arrive while the first delivery is still being handled, at another
    # worker: 40 check-ins, each delivered 3 times at once, shuffled over two servers.
    first, second = two_workers(make_services)
    services = first.extensions["qingfeng"]
    path = services.config.store_path
    count, copies = 40, 3
    ids = add_bound_members(services, clock, count)
    ts = int(clock.timestamp())
    requests = [wecom_request(WECOM, text_xml(f"User{i:03d}", "打卡", 700000 + i, ts), ts)
                for i in range(count)]
    jobs = [(i, copy) for i in range(count) for copy in range(copies)]  # copies side by side
    with serving(first) as port_a, serving(second) as port_b:
        ports = (port_a, port_b)

        def deliver(job: tuple[int, int]) -> tuple[int, int, str]:
            i, copy = job
            query, body = requests[i]
            status, text = http_post(ports[(i + copy) % 2], f"/wechat/wecom?{query}", body)
            return i, status, reply_text(WECOM, text) if status == 200 else text

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(deliver, jobs))

    replies: dict[int, set[str]] = {}
    for i, status, content in results:
        assert status == 200, (i, content)
        replies.setdefault(i, set()).add(content)
    for i in range(count):
        assert len(replies[i]) == 1, (i, replies[i])  # every copy got the same answer ...
        assert next(iter(replies[i])).startswith(f"打卡成功！党员{i:03d}，")  # ... the first one
    assert sorted(m for m, _, _ in checkin_rows(path)) == sorted(ids)
    assert row_counts(path)["inbound"] == count
