"""The webhook's fast path (docs/benchmarks.md, Webhook) against what it replaced: the thin WSGI
route, the expat-direct XML parse, the bounded streak query, the per-process writer lock and
migration 8. Each rewrite is checked against the original behaviour and its bad inputs."""

from __future__ import annotations

import io
import random
import sqlite3
import threading
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import wire
from bot.store import Store, StoreBusy
from bot.store import migrations as migrations_module
from bot.store.checkins import stats_for, streak_and_month
from bot.store.migrations import MIGRATIONS
from bot.wire import MAX_BODY_BYTES, Rejected, sign
from tests.conftest import MP_TEST, WECOM_TEST
from tests.test_webhook_rejects import row_counts
from tests.wechat import Platform, plain_query, text_xml, wecom_request

WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])


# --- the XML parse: same fields as ElementTree, same refusals ------------------------------------

NAMES = st.sampled_from(["ToUserName", "FromUserName", "Content", "MsgId", "Event", "Pad"])
# XML 1.0 allows neither surrogates, nor control characters but tab/LF/CR, nor U+FFFE/U+FFFF: a
# document carrying one is malformed for both parsers, which is tested with the refusals below.
TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                                       exclude_characters="\ufffe\uffff"),
                max_size=20).map(lambda t: t.replace("]]>", ""))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(NAMES, TEXTS, st.booleans(), st.booleans()), max_size=8))
def test_parse_xml_gives_what_elementtree_gives(children):
    parts = []
    for name, text, cdata, nested in children:
        body = f"<![CDATA[{text}]]>" if cdata else text.replace("&", "&amp;").replace("<", "&lt;")
        inner = "<Sub>x</Sub>tail" if nested else ""
        parts.append(f"<{name}>{body}{inner}</{name}>")
    document = f"<xml>{''.join(parts)}</xml>".encode()
    expected = {c.tag: (c.text or "").strip() for c in fromstring(document)}
    assert wire.parse_xml(document) == expected


@pytest.mark.parametrize("document", [
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
    '<!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;">]><xml><c>&b;</c></xml>',
    "<!DOCTYPE xml><xml><a>1</a></xml>",
    '<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml/>',
    "<xml><a>&undefined;</a></xml>",
    "<xml><a>1</a>",
    "<xml><a>\ufffe</a></xml>",
    "<notxml><a>1</a></notxml>",
    '<?xml version="1.0" encoding="x-unknown"?><xml/>',
    "",
])
def test_parse_xml_refuses_dtds_entities_and_garbage_with_400(document):
    with pytest.raises(Rejected) as refused:
        wire.parse_xml(document.encode())
    assert refused.value.status == 400


def test_parse_xml_refuses_an_oversized_body_with_413():
    with pytest.raises(Rejected) as refused:
        wire.parse_xml(b"<xml>" + b"x" * MAX_BODY_BYTES + b"</xml>")
    assert refused.value.status == 413


def test_a_lone_surrogate_in_a_signature_is_a_403_not_a_crash():
    with pytest.raises(Rejected) as refused:
        wire.check_signature("\udc80abc", "token", "1", "2")
    assert refused.value.status == 403
    assert sign("a\udc80", "b") != sign("a", "b")


# --- the thin WSGI route -------------------------------------------------------------------------


def _call(app, method: str, path: str, query: str = "", body: bytes = b"",
          length: str | None = None, terminated: bool = False) -> tuple[int, bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "wsgi.errors": io.StringIO(), "wsgi.multithread": True,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
               "REMOTE_ADDR": "127.0.0.1"}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if terminated:
        environ["wsgi.input_terminated"] = True
    status: list[str] = []
    chunks = app.wsgi_app(environ, lambda s, headers: status.append(s))
    return int(status[0].split()[0]), b"".join(chunks)


def test_the_fast_route_checks_in_and_answers_like_flask(app, services, clock):
    from bot.store.members import bind_identity

    with services.store.transaction() as db:
        member_id = db.execute("SELECT MIN(id) FROM members").fetchone()[0]
        bind_identity(db, channel="wecom", external_id="LiHongMei", member_id=member_id,
                      now=clock.now())
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("LiHongMei", "打卡", 501, ts), ts)
    data = body.encode()
    status, answer = _call(app, "POST", "/wechat/wecom", query, data, str(len(data)))
    assert status == 200
    envelope = wire.parse_xml(answer)
    assert "打卡成功" in WECOM.decrypt(envelope["Encrypt"])
    # WeChat's redelivery: the same remembered reply, and still one check-in.
    again, answer2 = _call(app, "POST", "/wechat/wecom", query, data, str(len(data)))
    assert again == 200
    assert WECOM.decrypt(wire.parse_xml(answer2)["Encrypt"]) == WECOM.decrypt(envelope["Encrypt"])
    with sqlite3.connect(services.config.store_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1


def test_head_is_a_url_check_never_a_message(app, services, clock):
    ts = int(clock.timestamp())
    before = row_counts(services.config.store_path)
    body = text_xml("lihm", "打卡", 502, ts).encode()
    status, answer = _call(app, "HEAD", "/wechat/mp", plain_query(MP, ts, echostr="hello"),
                           body, str(len(body)))
    assert (status, answer) == (200, b"")
    status, _ = _call(app, "HEAD", "/wechat/mp", plain_query(MP, ts), body, str(len(body)))
    assert status == 400  # no echostr: refused, not handled as a POST
    assert row_counts(services.config.store_path) == before


@pytest.mark.mp_plain
@pytest.mark.parametrize(("length", "body", "terminated", "status"), [
    ("abc", b"<xml/>", False, 400),           # a malformed Content-Length
    ("-5", b"<xml/>", False, 400),
    (str(MAX_BODY_BYTES + 1), b"", False, 413),  # refused before reading
    (None, b"<xml>" + b"x" * MAX_BODY_BYTES + b"</xml>", True, 413),  # de-chunked, too long
    (None, b"<xml><a>1</a></xml>", False, 400),  # no length, not terminated: an empty body
])
def test_bodies_the_fast_route_refuses(app, services, clock, length, body, terminated, status):
    ts = int(clock.timestamp())
    before = row_counts(services.config.store_path)
    got, _ = _call(app, "POST", "/wechat/mp", plain_query(MP, ts), body, length, terminated)
    assert got == status
    assert row_counts(services.config.store_path) == before


@pytest.mark.mp_plain
def test_a_de_chunked_body_is_read(app, services, clock):
    ts = int(clock.timestamp())
    body = text_xml("lihm", "帮助", 503, ts).encode()
    status, answer = _call(app, "POST", "/wechat/mp", plain_query(MP, ts), body, None, True)
    assert status == 200 and "打卡".encode() in answer


def test_other_methods_and_paths_go_to_flask(app, clock):
    ts = int(clock.timestamp())
    assert _call(app, "PUT", "/wechat/mp", plain_query(MP, ts))[0] == 405
    assert _call(app, "GET", "/healthz")[0] == 200
    assert _call(app, "GET", "/wechat/nope")[0] == 404


def test_query_strings_decode_like_werkzeug(app, services, clock):
    ts = int(clock.timestamp())
    # Repeated names: the first wins; percent-encoded and raw UTF-8 both decode; junk is a 403.
    good = plain_query(MP, ts, echostr="第一")
    assert _call(app, "GET", "/wechat/mp", good + "&" + urlencode({"echostr": "x"}))[1] == \
        "第一".encode()
    raw = good.encode().decode("latin-1")  # as a WSGI server hands it over
    assert _call(app, "GET", "/wechat/mp", raw)[1] == "第一".encode()
    assert _call(app, "GET", "/wechat/mp", "timestamp=%ff%fe&nonce=1")[0] == 403


# --- the bounded streak query ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=70), max_size=60), st.integers(0, 69))
def test_streak_and_month_agree_with_stats_for(tmp_path_factory, offsets, today_offset):
    store = Store(tmp_path_factory.mktemp("streak") / "s.db")
    try:
        start = date(2026, 9, 20)
        today = start + timedelta(days=today_offset)
        with store.transaction() as db:
            db.execute("INSERT INTO members (id, name, branch, created_at) VALUES (1, 'a', 'b', 'x')")
            for offset in offsets:
                day = start + timedelta(days=offset)
                db.execute("INSERT INTO checkins (member_id, day, at, via) VALUES (1, ?, ?, 'sandbox')",
                           [day.isoformat(), datetime(2026, 1, 1).isoformat()])
        # stats_for counts every day it holds; the reply's query looks at days up to today.
        full = stats_for(store.db, 1, today)
        quick = streak_and_month(store.db, 1, today)
        past = {start + timedelta(days=o) for o in offsets if o <= today_offset}
        assert quick.current_streak == full.current_streak
        assert quick.month_count == sum(1 for d in past if d.strftime("%Y-%m") == today.strftime("%Y-%m"))
    finally:
        store.close()


# --- the writer lock ---------------------------------------------------------------------------------


def test_a_thread_waits_for_another_threads_write_then_gives_up_busy(tmp_path, monkeypatch):
    import bot.store as store_module

    monkeypatch.setattr(store_module, "WRITER_WAIT_S", 0.3)
    store = Store(tmp_path / "lock.db")
    holding, release, outcome = threading.Event(), threading.Event(), []

    def holder() -> None:
        with store.transaction() as db:
            db.execute("INSERT INTO kv (key, value) VALUES ('held', '1')")
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    try:
        with store.transaction() as db:
            db.execute("INSERT INTO kv (key, value) VALUES ('second', '1')")
    except StoreBusy as exc:
        outcome.append(str(exc))
    release.set()
    thread.join(5)
    assert outcome and "write lock" in outcome[0]
    keys = [k for (k,) in store.db.execute("SELECT key FROM kv WHERE key IN ('held', 'second')")]
    assert keys == ["held"]  # the first committed, the refused one wrote nothing
    # Once free, the lock is taken at once; a nested transaction still fails as it did before
    # the lock (SQLite refuses the inner BEGIN), instead of deadlocking on the lock.
    with store.transaction() as db:
        db.execute("INSERT INTO kv (key, value) VALUES ('third', '1')")
    with pytest.raises(StoreBusy, match="within a transaction"), store.transaction(), \
            store.transaction():
        pass
    assert store.db.execute("SELECT value FROM kv WHERE key = 'third'").fetchone() == ("1",)
    store.close()


def test_many_threads_many_writes_none_lost(tmp_path):
    store = Store(tmp_path / "many.db")
    rng = random.Random(5)
    keys = [f"k{i}" for i in range(200)]
    rng.shuffle(keys)

    def write(part: list[str]) -> None:
        for key in part:
            with store.transaction() as db:
                db.execute("INSERT INTO kv (key, value) VALUES (?, '1')", [key])

    threads = [threading.Thread(target=write, args=(keys[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert store.db.execute("SELECT COUNT(*) FROM kv WHERE key LIKE 'k%'").fetchone()[0] == 200
    store.close()


# --- migration 8 ----------------------------------------------------------------------------------


def test_migration_8_keeps_every_dedupe_record_and_drops_the_rowid(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:7], start=1):
        for statement in migrations_module._statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany("INSERT INTO inbound (dedupe_key, channel, reply, at) VALUES (?, ?, ?, ?)",
                     [(f"wecom:msg:{i}", "wecom", f"回复{i}", "2026-11-23T09:00:00+08:00")
                      for i in range(50)])
    conn.close()
    store = Store(path)  # migrates
    try:
        db = store.db
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 8
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'inbound'").fetchone()[0]
        assert "WITHOUT ROWID" in sql
        rows = db.execute("SELECT dedupe_key, reply FROM inbound ORDER BY reply").fetchall()
        assert len(rows) == 50 and ("wecom:msg:7", "回复7") in rows
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO inbound (dedupe_key, channel, reply, at) VALUES"
                       " ('wecom:msg:7', 'wecom', 'x', 'y')")
        with pytest.raises(sqlite3.OperationalError):
            db.execute("SELECT rowid FROM inbound")
    finally:
        store.close()
