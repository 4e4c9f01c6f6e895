"""The callback protocol against the published vectors, the three Official Account modes, and
what the endpoints answer for each kind of message.

Every vector in ../shared/data/wechat_crypto_vectors.json goes through the HTTP endpoints of an
app configured with that vector's credentials (max_clock_skew_s = 0: the vectors are years
old) and must be accepted; its tampered twin (one character of the signature, or the nonce)
and a wrong appid/corpid must be refused with 403 and nothing stored.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot import create_app, wire
from bot.store import checkins, members
from handlers.bind import HOW_TO_BIND
from handlers.events import WHAT_I_UNDERSTAND
from tests.conftest import MP_TEST, WECOM_TEST
from tests.paths import CRYPTO_VECTORS
from tests.wechat import (
    Platform,
    encrypted_request,
    event_xml,
    media_xml,
    plain_query,
    reply_text,
    text_xml,
    wecom_request,
)

VECTORS: list[dict[str, Any]] = json.loads(CRYPTO_VECTORS.read_text(encoding="utf-8"))["vectors"]
ECHO = "7261827394017362541"  # what WeChat puts in echostr: any string, answered unchanged

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])


def of_kind(*kinds: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] in kinds]


def endpoint(vector: dict[str, Any]) -> str:
    """Which endpoint a decrypt_message vector belongs to, from its id."""
    if vector["id"].startswith(("wechatpy_enterprise", "wecom")):
        return "wecom"
    assert vector["id"].startswith(("oa_", "oplatform_")), vector["id"]
    return "mp"


def vector_app(make_services, vector: dict[str, Any], *, receive_id: str | None = None,
               skew: int = 0):
    """An app whose Official Account and WeCom channels use this vector's credentials."""
    rid = receive_id or vector.get("receive_id") or "wx0000000000000000"
    key = vector.get("encoding_aes_key", "")
    services = make_services(
        mp={"enabled": True, "app_id": rid, "token": vector["token"], "encoding_aes_key": key},
        wecom={"enabled": bool(key), "corp_id": rid, "agent_id": 1, "token": vector["token"],
               "encoding_aes_key": key or "x" * 43},
        server={"max_clock_skew_s": skew},
    )
    app = create_app(services=services)
    app.testing = True
    return services, app.test_client()


def row_counts(path: Path) -> dict[str, int]:
    """Rows in every table of the database file, read on a separate connection."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def tamper(text: str) -> str:
    """Change exactly one character (the last), keeping the alphabet (hex or digits)."""
    last = text[-1]
    swapped = "1" if last == "0" else "0"
    return text[:-1] + swapped


def vector_keys(vector: dict[str, Any], receive_id: str | None = None) -> wire.Keys:
    return wire.Keys(vector["token"], vector["encoding_aes_key"],
                     receive_id or vector["receive_id"])


def decrypt_query(vector: dict[str, Any], **override: str) -> str:
    params = {"msg_signature": vector["msg_signature"], "timestamp": vector["timestamp"],
              "nonce": vector["nonce"]}
    if endpoint(vector) == "mp":
        params["encrypt_type"] = "aes"
    params.update(override)
    return urlencode(params)


# --- the vector file itself ----------------------------------------------------------------


def test_every_published_vector_is_of_a_kind_these_tests_exercise():
    assert len(VECTORS) == 16
    assert len({v["id"] for v in VECTORS}) == 16
    assert Counter(v["kind"] for v in VECTORS) == {
        "plain_signature": 3, "wecom_verify_url": 3, "decrypt_message": 6,
        "encrypt_message_fixed_random": 2, "prp_encrypt_fixed_random": 2,
    }


# --- plain_signature: Official Account URL verification ------------------------------------


def _plain_params(vector: dict[str, Any]) -> dict[str, str]:
    return {"signature": vector["signature"], "timestamp": vector["timestamp"],
            "nonce": vector["nonce"], "echostr": ECHO}


@pytest.mark.parametrize("vector", of_kind("plain_signature"))
def test_plain_signature_vector_is_accepted_and_its_twins_refused(make_services, vector):
    _, client = vector_app(make_services, vector)
    answer = client.get(f"/wechat/mp?{urlencode(_plain_params(vector))}")
    assert answer.status_code == 200
    assert answer.data == ECHO.encode()
    for field in ("signature", "nonce"):
        params = _plain_params(vector)
        params[field] = tamper(params[field])
        answer = client.get(f"/wechat/mp?{urlencode(params)}")
        assert (field, answer.status_code) == (field, 403)
        assert ECHO.encode() not in answer.data


# --- wecom_verify_url: WeCom URL verification (encrypted echostr) ---------------------------


def _verify_params(vector: dict[str, Any]) -> dict[str, str]:
    return {"msg_signature": vector["msg_signature"], "timestamp": vector["timestamp"],
            "nonce": vector["nonce"], "echostr": vector["echostr"]}


@pytest.mark.parametrize("vector", of_kind("wecom_verify_url"))
def test_wecom_verify_url_vector_answers_the_plaintext_exactly(make_services, vector):
    _, client = vector_app(make_services, vector)
    answer = client.get(f"/wechat/wecom?{urlencode(_verify_params(vector))}")
    assert answer.status_code == 200
    # Byte for byte: no quotes, no BOM, no trailing newline, no JSON.
    assert answer.data == vector["expected_plaintext"].encode("ascii")
    assert answer.mimetype == "text/plain"
    for field in ("msg_signature", "nonce"):
        params = _verify_params(vector)
        params[field] = tamper(params[field])
        answer = client.get(f"/wechat/wecom?{urlencode(params)}")
        assert (field, answer.status_code) == (field, 403)
        assert vector["expected_plaintext"].encode() not in answer.data


@pytest.mark.parametrize("vector", of_kind("wecom_verify_url"))
def test_wecom_verify_url_for_another_corp_is_refused(make_services, vector):
    _, client = vector_app(make_services, vector, receive_id="ww_not_this_corp")
    answer = client.get(f"/wechat/wecom?{urlencode(_verify_params(vector))}")
    assert answer.status_code == 403
    assert vector["expected_plaintext"].encode() not in answer.data


# --- decrypt_message: encrypted callbacks -------------------------------------------------


@pytest.mark.parametrize("vector", of_kind("decrypt_message"))
def test_decrypt_vector_opens_to_the_published_fields(vector):
    outer = wire.parse_xml(vector["post_xml"])
    inner = wire.decrypt(vector_keys(vector), outer["Encrypt"])
    if "expected_plaintext" in vector:
        assert inner == vector["expected_plaintext"]
    fields = wire.parse_xml(inner)
    assert {k: fields.get(k) for k in vector["expected_fields"]} == vector["expected_fields"]


@pytest.mark.parametrize("vector", of_kind("decrypt_message"))
def test_decrypt_vector_is_accepted_and_its_twins_refused(make_services, vector):
    services, client = vector_app(make_services, vector)
    path = f"/wechat/{endpoint(vector)}"
    before = row_counts(services.config.store_path)
    for field in ("msg_signature", "nonce"):  # the tampered twins first: nothing stored
        tampered = decrypt_query(vector, **{field: tamper(vector[field])})
        answer = client.post(f"{path}?{tampered}", data=vector["post_xml"])
        assert (field, answer.status_code) == (field, 403)
        assert row_counts(services.config.store_path) == before

    answer = client.post(f"{path}?{decrypt_query(vector)}", data=vector["post_xml"])
    assert answer.status_code == 200
    inner = wire.parse_xml(wire.decrypt(vector_keys(vector),
                                        wire.parse_xml(vector["post_xml"])["Encrypt"]))
    if inner["MsgType"] == "event":  # an event is not a question: no passive reply
        assert answer.get_data(as_text=True) == "success"
        stored = services.store.db.execute("SELECT reply FROM inbound").fetchall()
        assert stored == [("",)]
        return
    assert answer.mimetype == "application/xml"
    platform = Platform(vector["token"], vector["encoding_aes_key"], vector["receive_id"])
    body = answer.get_data(as_text=True)
    outer = wire.parse_xml(body)
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}  # nothing in clear
    reply = wire.parse_xml(platform.decrypt(outer["Encrypt"]))  # same key, same appid/corpid
    assert reply["ToUserName"] == inner["FromUserName"]
    assert reply["FromUserName"] == inner["ToUserName"]
    assert reply["MsgType"] == "text"
    assert reply_text(platform, body) == reply["Content"]  # and its MsgSignature verifies
    if inner["MsgType"] != "text":
        assert reply["Content"] == WHAT_I_UNDERSTAND
    # The message was remembered for dedupe with exactly the reply sent; nothing else written.
    stored = services.store.db.execute("SELECT dedupe_key, reply FROM inbound").fetchall()
    assert len(stored) == 1 and stored[0][1] == reply["Content"] != ""
    if "MsgId" in inner:
        assert stored[0][0] == f"{endpoint(vector)}:msg:{inner['FromUserName']}:{inner['MsgId']}"
    after = row_counts(services.config.store_path)
    assert after == {**before, "inbound": before["inbound"] + 1,
                     "callback_nonces": before["callback_nonces"] + 1}  # its (timestamp, nonce)


@pytest.mark.parametrize("vector", of_kind("decrypt_message"))
def test_decrypt_vector_for_another_appid_or_corpid_is_refused(make_services, vector):
    services, client = vector_app(make_services, vector, receive_id="wx_not_the_receiver")
    before = row_counts(services.config.store_path)
    answer = client.post(f"/wechat/{endpoint(vector)}?{decrypt_query(vector)}",
                         data=vector["post_xml"])
    assert answer.status_code == 403
    assert row_counts(services.config.store_path) == before


def _first(kind: str) -> dict[str, Any]:
    return next(v for v in VECTORS if v["kind"] == kind)


@pytest.mark.parametrize("vector", [pytest.param(_first(k), id=k) for k in (
    "plain_signature", "wecom_verify_url", "decrypt_message")])
def test_vectors_are_stale_under_the_default_clock_skew(make_services, vector):
    # The vectors were signed years before the test clock: with the default 300 s they are
    # replays, and refused. (max_clock_skew_s = 0 is what lets the tests above accept them.)
    services, client = vector_app(make_services, vector, skew=300)
    before = row_counts(services.config.store_path)
    if vector["kind"] == "plain_signature":
        answer = client.get(f"/wechat/mp?{urlencode(_plain_params(vector))}")
    elif vector["kind"] == "wecom_verify_url":
        answer = client.get(f"/wechat/wecom?{urlencode(_verify_params(vector))}")
    else:
        answer = client.post(f"/wechat/{endpoint(vector)}?{decrypt_query(vector)}",
                             data=vector["post_xml"])
    assert answer.status_code == 403
    assert row_counts(services.config.store_path) == before


# --- the encrypt kinds: bot.wire's envelope round-trips them -------------------------------


@pytest.mark.parametrize("vector", of_kind("prp_encrypt_fixed_random"))
def test_prp_vector_round_trips_through_bot_wire(vector, monkeypatch):
    keys = vector_keys(vector)
    assert wire.decrypt(keys, vector["expected_ciphertext"]) == vector["plaintext"]
    # With the published "random" prefix, bot.wire's own encryption gives the same bytes.
    monkeypatch.setattr(wire, "_random_prefix", lambda: vector["random"].encode())
    envelope = wire.parse_xml(wire.encrypt_reply(keys, vector["plaintext"], now=0))
    assert envelope["Encrypt"] == vector["expected_ciphertext"]


@pytest.mark.parametrize("vector", of_kind("encrypt_message_fixed_random"))
def test_encrypt_reply_vector_round_trips_through_bot_wire(vector, monkeypatch):
    if "expected_xml" in vector:
        published = wire.parse_xml(vector["expected_xml"])
        encrypted, signature = published["Encrypt"], published["MsgSignature"]
    else:
        encrypted, signature = vector["expected_encrypt"], vector["expected_msg_signature"]
    keys = vector_keys(vector)
    assert wire.decrypt(keys, encrypted) == vector["plaintext"]
    assert wire.sign(vector["token"], vector["timestamp"], vector["nonce"], encrypted) == signature
    # Same random prefix and nonce: encrypt_reply reproduces the published envelope exactly.
    monkeypatch.setattr(wire, "_random_prefix", lambda: vector["random"].encode())
    monkeypatch.setattr(wire.secrets, "randbelow", lambda _: int(vector["nonce"]))
    ours = wire.parse_xml(wire.encrypt_reply(keys, vector["plaintext"],
                                             now=int(vector["timestamp"])))
    assert ours == {"Encrypt": encrypted, "MsgSignature": signature,
                    "TimeStamp": vector["timestamp"], "Nonce": vector["nonce"]}


def test_reply_envelope_is_fresh_each_time_and_opens_to_the_same_xml():
    keys = wire.Keys(MP.token, MP.encoding_aes_key, MP.receive_id)
    first, second = (wire.parse_xml(wire.encrypt_reply(keys, "<xml>x</xml>", now=1)) for _ in "ab")
    assert first["Encrypt"] != second["Encrypt"]  # random prefix
    assert wire.decrypt(keys, first["Encrypt"]) == wire.decrypt(keys, second["Encrypt"]) == \
        "<xml>x</xml>"
    key = base64.b64decode(MP.encoding_aes_key + "=")
    assert len(key) == 32 and len(base64.b64decode(first["Encrypt"])) % 16 == 0


# --- Official Account modes, told apart by the query string ---------------------------------


def test_mp_url_verification_echoes_echostr_unchanged(client, clock):
    echostr = "echo-中文-+/= 1"
    answer = client.get(f"/wechat/mp?{plain_query(MP, int(clock.timestamp()), echostr=echostr)}")
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == echostr


@pytest.mark.mp_plain
def test_mp_plaintext_mode_answers_in_plain_xml(client, clock):
    ts = int(clock.timestamp())
    answer = client.post(f"/wechat/mp?{plain_query(MP, ts)}", data=text_xml("oPLAIN", "帮助", 31, ts))
    assert answer.status_code == 200
    reply = wire.parse_xml(answer.data)
    assert "Encrypt" not in reply
    assert reply["ToUserName"] == "oPLAIN" and reply["FromUserName"] == "gh_qingfeng"
    assert reply["MsgType"] == "text" and reply["CreateTime"] == str(ts)
    assert reply["Content"].startswith("清风学习助手可以帮你")


def test_mp_safe_mode_answers_encrypted(client, clock):
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, text_xml("oSAFE", "帮助", 32, ts), ts)
    answer = client.post(f"/wechat/mp?{query}", data=body)
    assert answer.status_code == 200
    assert set(wire.parse_xml(answer.data)) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert reply_text(MP, answer.get_data(as_text=True)).startswith("清风学习助手可以帮你")


def test_mp_compatible_mode_trusts_only_the_signed_envelope(client, clock):
    # The clear copy says 帮助, the signed envelope says 打卡 (from an unbound user): only the
    # envelope is covered by msg_signature, so it is what the bot answers.
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, text_xml("oCOMPAT", "打卡", 33, ts), ts, compatible=True)
    body = body.replace("<![CDATA[打卡]]>", "<![CDATA[帮助]]>")
    assert "帮助" in body and "Encrypt" in body
    answer = client.post(f"/wechat/mp?{query}", data=body)
    assert answer.status_code == 200
    assert reply_text(MP, answer.get_data(as_text=True)).endswith(HOW_TO_BIND)


def test_mp_encrypted_mode_checks_msg_signature_not_signature(client, services, clock):
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, text_xml("oSIG", "帮助", 34, ts), ts)
    params = dict(p.split("=", 1) for p in query.split("&"))
    params["msg_signature"] = tamper(params["msg_signature"])  # `signature` is still valid
    before = row_counts(services.config.store_path)
    answer = client.post("/wechat/mp?" + "&".join(f"{k}={v}" for k, v in params.items()), data=body)
    assert answer.status_code == 403
    assert row_counts(services.config.store_path) == before


def test_wecom_callback_answers_encrypted_to_a_bound_member(client, services, clock):
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="ZhangWei", member_id=3,
                              now=clock.now())
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("ZhangWei", "打卡", 35, ts), ts)
    answer = client.post(f"/wechat/wecom?{query}", data=body)
    assert answer.status_code == 200
    assert reply_text(WECOM, answer.get_data(as_text=True)).startswith("打卡成功！张伟")


# --- what each kind of message gets -------------------------------------------------------


def _bind_mp(services, clock, openid: str, member_id: int) -> None:
    with services.store.transaction() as db:
        members.bind_identity(db, channel="mp", external_id=openid, member_id=member_id,
                              now=clock.now())


def _send_mp(client, clock, inner: str) -> str:
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, inner, ts)
    answer = client.post(f"/wechat/mp?{query}", data=body)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _location_xml(sender: str, msg_id: int, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[location]]></MsgType><Location_X>39.9</Location_X>"
            f"<Location_Y>116.3</Location_Y><Scale>15</Scale><Label><![CDATA[北京]]></Label>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def _link_xml(sender: str, msg_id: int, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[标题]]></Title>"
            f"<Description><![CDATA[描述]]></Description><Url><![CDATA[http://x.invalid/]]></Url>"
            f"<MsgId>{msg_id}</MsgId></xml>")


@pytest.mark.parametrize("kind", ["image", "voice", "video", "shortvideo", "location", "link",
                                  "miniprogrampage"])
def test_non_text_messages_get_a_short_polite_text_reply(client, services, clock, kind):
    _bind_mp(services, clock, "oMEDIA", 2)
    ts = int(clock.timestamp())
    if kind == "location":
        inner = _location_xml("oMEDIA", 41, ts)
    elif kind == "link":
        inner = _link_xml("oMEDIA", 41, ts)
    else:
        inner = media_xml("oMEDIA", kind, 41, ts)
    before = row_counts(services.config.store_path)
    content = reply_text(MP, _send_mp(client, clock, inner))
    assert content == WHAT_I_UNDERSTAND
    assert len(content) < 80 and "文字" in content and "打卡" in content
    assert row_counts(services.config.store_path)["checkins"] == before["checkins"]


def test_subscribe_welcomes_and_explains_how_to_bind(client, clock):
    ts = int(clock.timestamp())
    content = reply_text(MP, _send_mp(client, clock, event_xml("oNEWCOMER", "subscribe", ts)))
    assert content.startswith("欢迎关注清风")
    assert content.endswith(HOW_TO_BIND)


def test_unsubscribe_answers_success_and_keeps_history(client, services, clock):
    _bind_mp(services, clock, "oLEAVING", 4)
    ts = int(clock.timestamp())
    assert reply_text(MP, _send_mp(client, clock, text_xml("oLEAVING", "打卡", 51, ts))) \
        .startswith("打卡成功！刘芳")
    clock.advance(minutes=1)
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, event_xml("oLEAVING", "unsubscribe", ts), ts)
    answer = client.post(f"/wechat/mp?{query}", data=body)
    assert answer.status_code == 200
    assert answer.data == b"success"  # no passive reply, no encryption needed
    db = services.store.db
    assert members.identities_of(db, 4) == [("mp", "oLEAVING", False)]
    assert members.get_member(db, 4).active is True
    assert checkins.checkin_days(db, 4) == [clock.today()]


def test_menu_click_checkin_checks_in(client, services, clock):
    _bind_mp(services, clock, "oMENU", 6)
    ts = int(clock.timestamp())
    content = reply_text(MP, _send_mp(client, clock, event_xml("oMENU", "CLICK", ts, "CHECKIN")))
    assert content.startswith("打卡成功！杨帆")
    assert checkins.checkin_days(services.store.db, 6) == [clock.today()]


# --- the reply XML -------------------------------------------------------------------------


def _note_xml(sender: str, note: str, msg_id: int, created: int) -> str:
    # "]]>" cannot sit inside CDATA; WeChat escapes it in the element text.
    content = "打卡 " + note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content>{content}</Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


@pytest.mark.mp_plain
def test_reply_escapes_cdata_terminator_in_a_note_plaintext_mode(client, services, clock):
    _bind_mp(services, clock, "oNOTE", 7)
    ts = int(clock.timestamp())
    answer = client.post(f"/wechat/mp?{plain_query(MP, ts)}",
                         data=_note_xml("oNOTE", "a]]>b", 61, ts))
    assert answer.status_code == 200
    assert answer.data.count(b"<![CDATA[") == answer.data.count(b"]]>")  # every section closed
    reply = wire.parse_xml(answer.data)
    assert reply["Content"].endswith("学习内容：a]]>b")
    assert set(reply) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}
    assert services.store.db.execute("SELECT note FROM checkins WHERE member_id = 7") \
        .fetchone()[0] == "a]]>b"


def test_reply_escapes_cdata_terminator_in_a_note_safe_mode(client, services, clock):
    _bind_mp(services, clock, "oNOTE2", 8)
    ts = int(clock.timestamp())
    content = reply_text(MP, _send_mp(client, clock,
                                      _note_xml("oNOTE2", "x]]><evil/>]]>y", 62, ts)))
    assert content.endswith("学习内容：x]]><evil/>]]>y")
