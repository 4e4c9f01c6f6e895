"""What the webhooks refuse, and how: 403 for authentication (signature, appid/corpid,
timestamp), 400 for malformed input, 413 for an oversized body, 404 for a disabled channel.
Never a 5xx for anything a client can send, and never a row written: every case compares the
row counts of every table (from sqlite_master) before and after.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto

from bot import create_app
from bot.wire import MAX_BODY_BYTES, sign
from tests.conftest import MP_TEST, WECOM_TEST
from tests.wechat import Platform, encrypted_request, plain_query, text_xml, wecom_request

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
NONCE = "1234567"

XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       "<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName>"
       "<CreateTime>{ts}</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>"
       "<MsgId>9001</MsgId></xml>")
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol">'
          + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
          + "]><xml><FromUserName>oX</FromUserName><CreateTime>{ts}</CreateTime>"
          "<MsgType>text</MsgType><Content>&i;</Content><MsgId>9002</MsgId></xml>")
BARE_DOCTYPE = ("<!DOCTYPE xml><xml><FromUserName>oX</FromUserName><CreateTime>{ts}</CreateTime>"
                "<MsgType>text</MsgType><Content>帮助</Content><MsgId>9003</MsgId></xml>")


def row_counts(path: Path) -> dict[str, int]:
    """Rows in every table of the database file, read on a separate connection."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def good_text(ts: int, msg_id: int = 7001, sender: str = "oREJECT") -> str:
    return text_xml(sender, "打卡", msg_id, ts)


def encrypt_raw(platform: Platform, payload: bytes, receive_id: str | None = None) -> str:
    key = base64.b64decode(platform.encoding_aes_key + "=")
    return PrpCrypto(key).encrypt(payload, receive_id or platform.receive_id).decode()


def mp_encrypted(encrypted: str, ts: int, *, sig_over: str | None = None) -> tuple[str, str]:
    """A safe-mode request carrying `encrypted`, signed over it (or over `sig_over`)."""
    signed = encrypted if sig_over is None else sig_over
    query = urlencode({"signature": sign(MP.token, str(ts), NONCE), "timestamp": ts,
                       "nonce": NONCE, "encrypt_type": "aes",
                       "msg_signature": sign(MP.token, str(ts), NONCE, signed)})
    return query, f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"


def wecom_encrypted(encrypted: str, ts: int, token: str = WECOM.token) -> tuple[str, str]:
    query = urlencode({"msg_signature": sign(token, str(ts), NONCE, encrypted),
                       "timestamp": ts, "nonce": NONCE})
    return query, (f"<xml><ToUserName>ww</ToUserName><AgentID>1000002</AgentID>"
                   f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")


def assert_refused(client, services, status: int, cases: dict[str, tuple[str, str, str | bytes]]):
    """Each case (method, url, body) is answered `status` and changes no table."""
    before = row_counts(services.config.store_path)
    assert before["members"] > 0  # the demo roster: a real database, not an empty one
    for name, (method, url, body) in cases.items():
        answer = client.open(url, method=method, data=body)
        assert (name, answer.status_code) == (name, status)
        assert b"Traceback" not in answer.data and b"root:" not in answer.data
        assert (name, row_counts(services.config.store_path)) == (name, before)


# --- 403: authentication ------------------------------------------------------------------


def test_bad_signatures_are_403(client, services, clock):
    ts = int(clock.timestamp())
    plain = plain_query(MP, ts).replace("signature=", "signature=0", 1)
    query, body = encrypted_request(MP, good_text(ts), ts)
    bad_msg_sig = query.replace("msg_signature=", "msg_signature=f", 1)
    w_query, w_body = wecom_request(WECOM, good_text(ts), ts)
    w_bad = w_query.replace("msg_signature=", "msg_signature=f", 1)
    echo = urlencode({"msg_signature": "0" * 40, "timestamp": ts, "nonce": NONCE,
                      "echostr": encrypt_raw(WECOM, b"123")})
    no_sig = urlencode({"timestamp": ts, "nonce": NONCE})
    # The right signature over a different body (the signature covers Encrypt, not the rest).
    other = encrypt_raw(MP, good_text(ts, 7002).encode())
    swapped_q, _ = mp_encrypted(other, ts)
    oa_signed, oa_body = wecom_encrypted(encrypt_raw(WECOM, good_text(ts).encode()), ts,
                                         token=MP.token)
    assert_refused(client, services, 403, {
        "mp GET": ("GET", f"/wechat/mp?{plain}&echostr=e", None),
        "mp plaintext POST": ("POST", f"/wechat/mp?{plain}", good_text(ts)),
        "mp plaintext POST without signature": ("POST", f"/wechat/mp?{no_sig}", good_text(ts)),
        "mp safe POST": ("POST", f"/wechat/mp?{bad_msg_sig}", body),
        "mp safe POST without msg_signature": (
            "POST", f"/wechat/mp?{no_sig}&encrypt_type=aes", body),
        "mp safe POST, signature of another Encrypt": ("POST", f"/wechat/mp?{swapped_q}", body),
        "wecom GET": ("GET", f"/wechat/wecom?{echo}", None),
        "wecom POST": ("POST", f"/wechat/wecom?{w_bad}", w_body),
        "wecom POST signed with the OA token": ("POST", f"/wechat/wecom?{oa_signed}", oa_body),
    })


def test_wrong_appid_or_corpid_is_403(client, services, clock):
    ts = int(clock.timestamp())
    mp_q, mp_b = mp_encrypted(encrypt_raw(MP, good_text(ts).encode(), "wxSOMEONEELSE00000"), ts)
    w_q, w_b = wecom_encrypted(encrypt_raw(WECOM, good_text(ts).encode(), "wwSOMEONEELSE0000"), ts)
    # A WeCom envelope for our corp sent to the Official Account endpoint, and vice versa.
    cross_q, cross_b = mp_encrypted(encrypt_raw(MP, good_text(ts).encode(), WECOM.receive_id), ts)
    echo = encrypt_raw(WECOM, b"5927782489442352469", "wwSOMEONEELSE0000")
    echo_q = urlencode({"msg_signature": sign(WECOM.token, str(ts), NONCE, echo),
                        "timestamp": ts, "nonce": NONCE, "echostr": echo})
    assert_refused(client, services, 403, {
        "mp, another appid": ("POST", f"/wechat/mp?{mp_q}", mp_b),
        "mp, our corpid": ("POST", f"/wechat/mp?{cross_q}", cross_b),
        "wecom, another corpid": ("POST", f"/wechat/wecom?{w_q}", w_b),
        "wecom GET, another corpid": ("GET", f"/wechat/wecom?{echo_q}", None),
    })


@pytest.mark.parametrize("offset", [-301, +301, -86400])
def test_timestamp_outside_the_skew_is_403(client, services, clock, offset):
    assert services.config.get("server.max_clock_skew_s") == 300
    ts = int(clock.timestamp()) + offset
    mp_q, mp_b = encrypted_request(MP, good_text(ts), ts)
    w_q, w_b = wecom_request(WECOM, good_text(ts), ts)
    assert_refused(client, services, 403, {
        "mp GET": ("GET", f"/wechat/mp?{plain_query(MP, ts, echostr='e')}", None),
        "mp plaintext POST": ("POST", f"/wechat/mp?{plain_query(MP, ts)}", good_text(ts)),
        "mp safe POST": ("POST", f"/wechat/mp?{mp_q}", mp_b),
        "wecom POST": ("POST", f"/wechat/wecom?{w_q}", w_b),
    })


@pytest.mark.mp_plain
def test_timestamp_at_the_skew_limit_is_accepted(client, services, clock):
    ts = int(clock.timestamp()) - 300
    answer = client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=good_text(ts, 7100))
    assert answer.status_code == 200
    assert row_counts(services.config.store_path)["inbound"] == 1


def test_missing_or_malformed_timestamp_is_403(client, services, clock):
    ts = int(clock.timestamp())
    w_q, w_b = wecom_request(WECOM, good_text(ts), ts)

    def without_ts(query: str) -> str:
        return "&".join(p for p in query.split("&") if not p.startswith("timestamp="))

    def with_ts(query: str, value: str) -> str:
        return query.replace(f"timestamp={ts}", f"timestamp={value}")

    plain = plain_query(MP, ts)
    assert_refused(client, services, 403, {
        "mp GET": ("GET", f"/wechat/mp?{without_ts(plain)}&echostr=e", None),
        "mp POST": ("POST", f"/wechat/mp?{without_ts(plain)}", good_text(ts)),
        "mp POST empty timestamp": ("POST", f"/wechat/mp?{with_ts(plain, '')}", good_text(ts)),
        "wecom GET": ("GET", f"/wechat/wecom?{without_ts(w_q)}&echostr=abc", None),
        "wecom POST": ("POST", f"/wechat/wecom?{without_ts(w_q)}", w_b),
        # Unicode digits pass str.isdigit() but not int(); once a 500.
        "superscript two": ("GET", f"/wechat/mp?{with_ts(plain, '%C2%B2')}&echostr=e", None),
        "full-width digit": ("GET", f"/wechat/mp?{with_ts(plain, '%EF%BC%91')}&echostr=e", None),
        # Too large for float arithmetic, or for int() at all; once a 500.
        "400 digits": ("GET", f"/wechat/mp?{with_ts(plain, '9' * 400)}&echostr=e", None),
        "5000 digits": ("POST", f"/wechat/mp?{with_ts(plain, '9' * 5000)}", good_text(ts)),
        "negative": ("GET", f"/wechat/mp?{with_ts(plain, '-1')}&echostr=e", None),
    })


# --- 400: malformed input -------------------------------------------------------------------


MALFORMED_BODIES: dict[str, Callable[[int], str | bytes]] = {
    "malformed": lambda ts: "<xml><FromUserName>oX</ToUserName></xml>",
    "truncated": lambda ts: good_text(ts)[:-20],
    "empty": lambda ts: b"",
    "not XML": lambda ts: b"\x00\xff garbage",
    "JSON": lambda ts: '{"FromUserName": "oX"}',
    "non-<xml> root": lambda ts: good_text(ts).replace("<xml>", "<msg>").replace("</xml>", "</msg>"),
    "XXE file:///etc/passwd": lambda ts: XXE.format(ts=ts),
    "billion laughs": lambda ts: LAUGHS.format(ts=ts),
    "bare DOCTYPE": lambda ts: BARE_DOCTYPE.format(ts=ts),
    "unknown encoding": lambda ts: '<?xml version="1.0" encoding="bogus"?><xml/>',
    "no FromUserName": lambda ts: f"<xml><CreateTime>{ts}</CreateTime><MsgType>text</MsgType></xml>",
    "CreateTime beyond year 9999": lambda ts: good_text(999999999999),
    "CreateTime in Unicode digits": lambda ts: good_text(ts).replace("<CreateTime>", "<CreateTime>²"),
}


@pytest.mark.mp_plain
@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
def test_malformed_xml_is_400_in_every_mode(client, services, clock, name):
    ts = int(clock.timestamp())
    body = MALFORMED_BODIES[name](ts)
    raw = body if isinstance(body, bytes) else body.encode()
    # Inside a correctly signed envelope (Official Account safe mode and WeCom) ...
    mp_q, mp_b = mp_encrypted(encrypt_raw(MP, raw), ts)
    w_q, w_b = wecom_encrypted(encrypt_raw(WECOM, raw), ts)
    cases = {
        "plaintext mode": ("POST", f"/wechat/mp?{plain_query(MP, ts)}", body),
        "mp envelope": ("POST", f"/wechat/mp?{mp_q}", mp_b),
        "wecom envelope": ("POST", f"/wechat/wecom?{w_q}", w_b),
    }
    # ... and as the outer body of the encrypted modes (checked before any signature).
    if not name.startswith(("no FromUserName", "CreateTime")):
        query, _ = encrypted_request(MP, good_text(ts), ts)
        cases["mp outer"] = ("POST", f"/wechat/mp?{query}", body)
        cases["wecom outer"] = ("POST", f"/wechat/wecom?{wecom_request(WECOM, good_text(ts), ts)[0]}",
                                body)
    assert_refused(client, services, 400, cases)


def test_broken_envelopes_are_400(client, services, clock):
    ts = int(clock.timestamp())
    good = encrypt_raw(MP, good_text(ts).encode())
    w_good = encrypt_raw(WECOM, good_text(ts).encode())
    not_utf8 = encrypt_raw(MP, b"\xff\xfe<xml/>")
    cases = {}
    for name, encrypted in {
        "bad base64": "!!!not*base64!!!",
        "base64 with junk": good[:20] + "*" + good[21:],
        "ciphertext not a multiple of 16": base64.b64encode(base64.b64decode(good)[:-3]).decode(),
        "one block of noise": base64.b64encode(bytes(range(16))).decode(),
        "32 blocks of zeros": base64.b64encode(bytes(512)).decode(),
        "not UTF-8 inside": not_utf8,
    }.items():
        q, b = mp_encrypted(encrypted, ts)
        cases[f"mp: {name}"] = ("POST", f"/wechat/mp?{q}", b)
        q, b = wecom_encrypted(encrypted if name != "not UTF-8 inside" else
                               encrypt_raw(WECOM, b"\xff\xfe<xml/>"), ts)
        cases[f"wecom: {name}"] = ("POST", f"/wechat/wecom?{q}", b)
    # An echostr that does not decrypt, correctly signed.
    bad_echo = base64.b64encode(bytes(range(20))).decode()
    cases["wecom GET, echostr not a whole block"] = ("GET", "/wechat/wecom?" + urlencode(
        {"msg_signature": sign(WECOM.token, str(ts), NONCE, bad_echo), "timestamp": ts,
         "nonce": NONCE, "echostr": bad_echo}), None)
    assert w_good != good
    assert_refused(client, services, 400, cases)


def test_encrypted_mode_without_encrypt_is_400(client, services, clock):
    ts = int(clock.timestamp())
    query, _ = encrypted_request(MP, good_text(ts), ts)
    w_query, _ = wecom_request(WECOM, good_text(ts), ts)
    assert_refused(client, services, 400, {
        "mp safe, no Encrypt": ("POST", f"/wechat/mp?{query}", "<xml><ToUserName>gh</ToUserName></xml>"),
        "mp compatible, clear fields only": ("POST", f"/wechat/mp?{query}", good_text(ts)),
        "mp safe, empty Encrypt": ("POST", f"/wechat/mp?{query}", "<xml><Encrypt></Encrypt></xml>"),
        "wecom, no Encrypt": ("POST", f"/wechat/wecom?{w_query}", good_text(ts)),
    })


def test_missing_query_parameters_are_400(client, services, clock):
    ts = str(int(clock.timestamp()))
    sig = sign(MP.token, ts, NONCE)
    enc = encrypt_raw(WECOM, b"1")
    w_sig = sign(WECOM.token, ts, NONCE, enc)
    assert_refused(client, services, 400, {
        "mp GET without echostr": (
            "GET", "/wechat/mp?" + urlencode({"signature": sig, "timestamp": ts, "nonce": NONCE}),
            None),
        "mp GET without nonce": (
            "GET", "/wechat/mp?" + urlencode({"signature": sig, "timestamp": ts, "echostr": "e"}),
            None),
        "mp GET without signature": (
            "GET", "/wechat/mp?" + urlencode({"timestamp": ts, "nonce": NONCE, "echostr": "e"}),
            None),
        "mp POST without nonce": (
            "POST", "/wechat/mp?" + urlencode({"signature": sig, "timestamp": ts}), good_text(int(ts))),
        "wecom GET without echostr": (
            "GET", "/wechat/wecom?" + urlencode({"msg_signature": w_sig, "timestamp": ts,
                                                 "nonce": NONCE}), None),
        "wecom GET without msg_signature": (
            "GET", "/wechat/wecom?" + urlencode({"timestamp": ts, "nonce": NONCE, "echostr": enc}),
            None),
        "wecom POST without nonce": (
            "POST", "/wechat/wecom?" + urlencode({"msg_signature": w_sig, "timestamp": ts}),
            f"<xml><Encrypt>{enc}</Encrypt></xml>"),
    })


# --- 413, 404 ------------------------------------------------------------------------------


@pytest.mark.mp_plain
def test_body_over_64_kb_is_413(client, services, clock):
    ts = int(clock.timestamp())
    padding = "<Pad>" + "x" * MAX_BODY_BYTES + "</Pad>"
    big_text = good_text(ts).replace("</xml>", padding + "</xml>")
    query, _ = encrypted_request(MP, good_text(ts), ts)
    w_query, _ = wecom_request(WECOM, good_text(ts), ts)
    assert len(big_text.encode()) > 64 * 1024 == MAX_BODY_BYTES
    assert_refused(client, services, 413, {
        "mp plaintext": ("POST", f"/wechat/mp?{plain_query(MP, ts)}", big_text),
        "mp safe": ("POST", f"/wechat/mp?{query}", big_text),
        "wecom": ("POST", f"/wechat/wecom?{w_query}", big_text),
    })
    # Just under the limit is not refused for its size.
    small = good_text(ts, 7200).replace("</xml>", "<Pad>" + "x" * 60_000 + "</Pad></xml>")
    answer = client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=small)
    assert answer.status_code == 200


def test_disabled_channels_answer_404(make_services, clock):
    ts = int(clock.timestamp())
    only_wecom = make_services(wecom=WECOM_TEST)
    assert only_wecom.config.get("mp.enabled") is False
    client = create_app(services=only_wecom).test_client()
    assert_refused(client, only_wecom, 404, {
        "mp GET": ("GET", f"/wechat/mp?{plain_query(MP, ts, echostr='e')}", None),
        "mp POST": ("POST", f"/wechat/mp?{plain_query(MP, ts)}", good_text(ts)),
        "mp POST, no query": ("POST", "/wechat/mp", good_text(ts)),
    })
    # The enabled channel still works on the same app.
    w_q, w_b = wecom_request(WECOM, good_text(ts), ts)
    assert client.post(f"/wechat/wecom?{w_q}", data=w_b).status_code == 200


def test_disabled_wecom_answers_404(make_services, clock):
    ts = int(clock.timestamp())
    only_mp = make_services(mp=MP_TEST)
    client = create_app(services=only_mp).test_client()
    w_q, w_b = wecom_request(WECOM, good_text(ts), ts)
    assert_refused(client, only_mp, 404, {"wecom POST": ("POST", f"/wechat/wecom?{w_q}", w_b)})


# --- never a 5xx ---------------------------------------------------------------------------


FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.mp_plain
@FUZZ
@given(body=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_no_body_gives_a_5xx_in_plaintext_mode(client, services, clock, body):
    ts = int(clock.timestamp())
    answer = client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=body)
    assert answer.status_code in {200, 400}, body


@FUZZ
@given(payload=st.binary(max_size=300))
def test_no_signed_envelope_gives_a_5xx(client, services, clock, payload):
    ts = int(clock.timestamp())
    q, b = wecom_encrypted(encrypt_raw(WECOM, payload), ts)
    assert client.post(f"/wechat/wecom?{q}", data=b).status_code in {200, 400}


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["signature", "timestamp", "nonce", "echostr", "encrypt_type",
                     "msg_signature"]), st.text(max_size=24)),
    method=st.sampled_from(["GET", "POST"]), path=st.sampled_from(["/wechat/mp", "/wechat/wecom"]))
def test_no_query_string_gives_a_5xx(client, services, clock, params, method, path):
    answer = client.open(f"{path}?{urlencode(params)}", method=method,
                         data="<xml><Encrypt>abcd</Encrypt></xml>")
    assert answer.status_code in {400, 403}, params
    assert services.store.db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 0


# --- safe mode: a plaintext POST with a key configured ---------------------------------------


def test_plaintext_post_with_a_key_configured_is_403(client, services, clock, caplog):
    """The `signature` of a safe-mode callback (logged by every access log) covers only
    token + timestamp + nonce: replaying it as a plaintext POST must not be handled."""
    ts = int(clock.timestamp())
    query, _ = encrypted_request(MP, good_text(ts), ts)
    captured = urlencode({k: v for k, v in parse_qsl(query) if k in ("signature", "timestamp",
                                                                      "nonce")})
    with caplog.at_level("INFO"):
        assert_refused(client, services, 403, {
            "captured signature": ("POST", f"/wechat/mp?{captured}", good_text(ts, 7301)),
            "plaintext query": ("POST", f"/wechat/mp?{plain_query(MP, ts)}", good_text(ts, 7302)),
        })
    assert "明文模式" in caplog.text
