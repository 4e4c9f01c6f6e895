"""Replay memory (issue 11 §1): a captured query string cannot be sent again with another body.

WeChat's retries reuse the query string and the body: those keep getting the remembered reply.
The same (timestamp, nonce) with another body is refused (403, one log line, nothing written),
in every worker and after a restart, because the pairs live in SQLite. Official Account
plaintext mode is where it matters (its `signature` does not cover the body); the encrypted
modes are covered too, for the race a read-only check cannot settle.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest

from bot import create_app
from bot.conversation import handle_inbound
from bot.store import nonces
from bot.wire import to_inbound
from tests.conftest import MP_PLAIN, MP_TEST, WECOM_TEST
from tests.test_webhook_exactly_once import bind, http_post, serving
from tests.test_webhook_rejects import row_counts
from tests.wechat import Platform, plain_query, text_xml, wecom_request

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
REPLAY_LOG = "already used with another body"


def stored_pairs(path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT timestamp, nonce, channel FROM callback_nonces").fetchall()


def refusal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if REPLAY_LOG in r.getMessage()]


@pytest.mark.mp_plain
def test_a_captured_plaintext_query_with_another_body_is_refused(client, services, clock,
                                                                 caplog):
    bind(services, "mp", "oLiHongmei", 2, clock)
    ts = int(clock.timestamp())
    query = plain_query(MP, ts)
    first = client.post(f"/wechat/mp?{query}", data=text_xml("oLiHongmei", "打卡", 8001, ts))
    assert first.status_code == 200 and "打卡成功" in first.get_data(as_text=True)
    before = row_counts(services.config.store_path)
    caplog.set_level(logging.INFO, logger="bot.webhook")

    # Someone who read the access log sends the query string with their own message.
    forged = client.post(f"/wechat/mp?{query}", data=text_xml("oLiHongmei", "我的", 8002, ts))
    assert forged.status_code == 403 and "学习" not in forged.get_data(as_text=True)
    assert row_counts(services.config.store_path) == before
    assert len(refusal_lines(caplog)) == 1

    # Even reusing the first message's MsgId (whose reply is remembered) gets nothing.
    same_id = client.post(f"/wechat/mp?{query}",
                          data=text_xml("oLiHongmei", "打卡 另一段", 8001, ts))
    assert same_id.status_code == 403
    assert row_counts(services.config.store_path) == before


@pytest.mark.mp_plain
def test_a_platform_retry_still_gets_the_remembered_reply(client, services, clock):
    bind(services, "mp", "oLiHongmei", 2, clock)
    ts = int(clock.timestamp())
    query, body = plain_query(MP, ts), text_xml("oLiHongmei", "打卡", 8101, ts)
    first = client.post(f"/wechat/mp?{query}", data=body)
    before = row_counts(services.config.store_path)
    for _ in range(3):  # WeChat's retries: the same query string and body
        again = client.post(f"/wechat/mp?{query}", data=body)
        assert (again.status_code, again.get_data()) == (200, first.get_data())
    assert row_counts(services.config.store_path) == before
    assert len(stored_pairs(services.config.store_path)) == 1


@pytest.mark.mp_plain
def test_a_known_message_under_a_new_pair_claims_that_pair_too(client, services, clock):
    # Found by the fuzz test: a message already answered, delivered again under another
    # (timestamp, nonce), was answered from the dedupe record without remembering the new
    # pair, which then stayed free for another body.
    bind(services, "mp", "oLiHongmei", 2, clock)
    ts = int(clock.timestamp())
    body = text_xml("oLiHongmei", "打卡", 8151, ts)
    first = client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=body)
    second_query = plain_query(MP, ts)  # another nonce
    again = client.post(f"/wechat/mp?{second_query}", data=body)
    assert (again.status_code, again.get_data()) == (200, first.get_data())
    before = row_counts(services.config.store_path)
    forged = client.post(f"/wechat/mp?{second_query}",
                         data=text_xml("oLiHongmei", "我的", 8152, ts))
    assert forged.status_code == 403
    assert row_counts(services.config.store_path) == before


@pytest.mark.mp_plain
def test_a_failed_handler_still_remembers_the_pair(client, services, clock, monkeypatch):
    # The claim shares the message's transaction, which a failing handler rolls back; the pair
    # is then remembered on its own, and WeChat's retry of the same body runs the handler again.
    bind(services, "mp", "oLiHongmei", 2, clock)
    ts = int(clock.timestamp())
    query, body = plain_query(MP, ts), text_xml("oLiHongmei", "打卡", 8171, ts)
    dispatch = services.router.dispatch

    def broken(*_args):
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(services.router, "dispatch", broken)
    assert "出了点问题" in client.post(f"/wechat/mp?{query}", data=body).get_data(as_text=True)
    before = row_counts(services.config.store_path)
    forged = client.post(f"/wechat/mp?{query}", data=text_xml("oLiHongmei", "我的", 8172, ts))
    assert forged.status_code == 403
    assert row_counts(services.config.store_path) == before
    monkeypatch.setattr(services.router, "dispatch", dispatch)
    retry = client.post(f"/wechat/mp?{query}", data=body)
    assert "打卡成功" in retry.get_data(as_text=True)


def test_wecom_and_safe_mode_pairs_are_remembered_per_channel(client, services, clock):
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("wangjg", "帮助", 8201, ts), ts)
    assert client.post(f"/wechat/wecom?{query}", data=body).status_code == 200
    nonce = dict(p.split("=", 1) for p in query.split("&"))["nonce"]
    assert stored_pairs(services.config.store_path) == [(str(ts).zfill(20), nonce, "wecom")]


def test_a_race_past_the_read_only_check_is_settled_in_the_transaction(
        client, services, clock, monkeypatch):
    # Two deliveries of one pair with different bodies at once both pass the read-only
    # check; the claim inside the write transaction lets only the first through.
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("wangjg", "帮助", 8301, ts), ts)
    assert client.post(f"/wechat/wecom?{query}", data=body).status_code == 200
    before = row_counts(services.config.store_path)
    monkeypatch.setattr(nonces, "seen_digest", lambda *_args: None)
    other = nonces.sighting("wecom", str(ts), query.split("nonce=")[1], "POST", b"other")
    inbound = to_inbound("wecom", {"FromUserName": "wangjg", "CreateTime": str(ts),
                                   "MsgType": "text", "Content": "我的", "MsgId": "8302"},
                         services.clock.tz)
    with pytest.raises(nonces.Replayed):
        handle_inbound(services, inbound, other)
    assert row_counts(services.config.store_path) == before


def test_the_memory_holds_across_workers_and_a_restart(make_services, clock):
    first = make_services(mp=MP_PLAIN, wecom=WECOM_TEST)
    bind(first, "mp", "oLiHongmei", 2, clock)
    second = make_services(demo=False, mp=MP_PLAIN, wecom=WECOM_TEST)  # same file, own store
    ts = int(clock.timestamp())
    query = plain_query(MP, ts)
    path = first.config.store_path
    with serving(create_app(services=first)) as port_a, \
            serving(create_app(services=second)) as port_b:
        status, _ = http_post(port_a, f"/wechat/mp?{query}",
                              text_xml("oLiHongmei", "打卡", 8401, ts))
        assert status == 200
        before = row_counts(path)
        status, _ = http_post(port_b, f"/wechat/mp?{query}",
                              text_xml("oLiHongmei", "完成 1", 8402, ts))
        assert status == 403
    first.store.close()
    second.store.close()
    restarted = make_services(demo=False, mp=MP_PLAIN, wecom=WECOM_TEST)
    answer = create_app(services=restarted).test_client().post(
        f"/wechat/mp?{query}", data=text_xml("oLiHongmei", "我的", 8403, ts))
    assert answer.status_code == 403
    assert row_counts(path) == before


@pytest.mark.mp_plain
def test_in_plain_mode_a_url_check_query_cannot_become_a_message(client, services, clock):
    bind(services, "mp", "oLiHongmei", 2, clock)
    ts = int(clock.timestamp())
    query = plain_query(MP, ts, echostr="4721")
    check = client.get(f"/wechat/mp?{query}")
    assert (check.status_code, check.get_data(as_text=True)) == (200, "4721")
    assert client.get(f"/wechat/mp?{query}").status_code == 200  # the same check again
    assert client.get(f"/wechat/mp?{query.replace('4721', 'other')}").status_code == 403
    before = row_counts(services.config.store_path)
    forged = client.post(f"/wechat/mp?{query}", data=text_xml("oLiHongmei", "打卡", 8501, ts))
    assert forged.status_code == 403
    assert row_counts(services.config.store_path) == before


def test_in_safe_mode_a_url_check_writes_nothing(client, services, clock):
    ts = int(clock.timestamp())
    before = row_counts(services.config.store_path)
    assert client.get(f"/wechat/mp?{plain_query(MP, ts, echostr='x1')}").status_code == 200
    assert row_counts(services.config.store_path) == before


@pytest.mark.mp_plain
def test_pairs_past_the_skew_window_are_pruned(client, services, clock, monkeypatch):
    # The once-a-minute throttle is per process: start it afresh, whatever ran before.
    monkeypatch.setitem(nonces._last_prune, "at", 0.0)
    skew = services.config.get("server.max_clock_skew_s")
    ts = int(clock.timestamp())
    client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=text_xml("oA", "帮助", 8601, ts))
    clock.advance(seconds=skew)  # the first pair is at the window's edge: still acceptable
    ts2 = int(clock.timestamp())
    client.post(f"/wechat/mp?{plain_query(MP, ts2)}", data=text_xml("oB", "帮助", 8602, ts2))
    assert len(stored_pairs(services.config.store_path)) == 2
    clock.advance(seconds=skew)  # now the first is past it (its timestamp would be refused)
    ts3 = int(clock.timestamp())
    client.post(f"/wechat/mp?{plain_query(MP, ts3)}", data=text_xml("oC", "帮助", 8603, ts3))
    assert [t for t, _n, _c in stored_pairs(services.config.store_path)] == [
        str(ts2).zfill(20), str(ts3).zfill(20)]
