"""Fuzz /wechat/mp (plaintext and safe mode) and /wechat/wecom with everything a stranger can
send: random query strings, headers and bodies, DTDs and entities, broken envelopes (truncated
or re-padded ciphertext, wrong base64, bad PKCS#7 padding, a lying length, the wrong appid or
corpid), and - inside VALID signatures and envelopes - every message type and event with random
and missing fields, huge values, control characters and lone surrogates.

For every example: no 5xx and no exception out of the app (the test client re-raises them); a
refused request writes nothing; an accepted one is answered in its channel's format (plain or
encrypted XML with a valid signature, or "success"), never with the "something went wrong"
reply. The example count comes from tests/fuzz (QINGFENG_FUZZ=ci|long|quick).
"""

from __future__ import annotations

import base64
import itertools
from urllib.parse import quote_from_bytes, urlencode

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import given
from wechatpy.crypto import PrpCrypto

from bot.conversation import BUSY_REPLY, ERROR_REPLY
from bot.store import members
from bot.wire import MAX_BODY_BYTES, Rejected, parse_xml, sign
from tests.conftest import MP_TEST, WECOM_TEST
from tests.fuzz import FUZZ
from tests.fuzz.envelope import aes_key, envelope, pkcs7, seal
from tests.fuzz.messages import MP_USERS, NOW, SEED, WECOM_USERS, Gen
from tests.fuzz.store import fingerprint, writes

MP_KEY, WECOM_KEY = aes_key(MP_TEST["encoding_aes_key"]), aes_key(WECOM_TEST["encoding_aes_key"])
PARAMS = ["signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature",
          "openid"]
HEADER_NAMES = ["Content-Type", "X-Forwarded-For", "User-Agent", "Accept", "Cookie",
                "Content-Encoding", "X-Real-IP", "Host", "Transfer-Encoding"]
HEADER_VALUES = ["text/xml", "application/xml; charset=gbk", "multipart/form-data",
                 "application/x-www-form-urlencoded", "gzip", "", "a=b; session=x",
                 "127.0.0.1, 10.0.0.1", "\x7f", "*/*", "evil.example"]
Request = tuple[str, str, bytes, dict[str, str]]  # method, query, body, headers


@pytest.fixture
def fuzz_client(services, app):
    """One app per test function: members 1, 5 and 2 bound on WeCom and on the OA."""
    now = services.clock.now()
    with services.store.transaction() as db:
        for channel, users in (("wecom", WECOM_USERS), ("mp", MP_USERS)):
            for member_id, user in zip((1, 5, 2), users, strict=True):
                members.bind_identity(db, channel=channel, external_id=user,
                                      member_id=member_id, now=now)
    return app.test_client()


def raw_query(params: dict[str, bytes]) -> str:
    """Percent-encode arbitrary bytes, invalid UTF-8 included, as a client on the wire can."""
    return "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in params.items())


def any_bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def random_query(g: Gen) -> str:
    """A query string of random names and values; sometimes with a well-formed timestamp."""
    params = {any_bytes(g.pick(PARAMS) if g.one_in(2) else g.text(10, hostile=True)):
              any_bytes(g.text(hostile=True)) for _ in range(g.int(0, 6))}
    if g.one_in(2):
        params[b"timestamp"] = str(NOW + g.int(-400, 400)).encode()
    if g.one_in(20):  # a literal non-ASCII byte, not percent-encoded
        return raw_query(params) + "&nonce=\x80\xff"
    return raw_query(params)


def timestamp_nonce(g: Gen) -> tuple[str, str]:
    skew = g.int(-290, 290) if not g.one_in(10) else g.int(-10**6, 10**6)
    return str(NOW + skew), g.pick(["1", "123456789", "abc", g.text()])


def with_headers(g: Gen, body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = {g.pick(HEADER_NAMES): g.pick(HEADER_VALUES) for _ in range(g.int(0, 3))}
    headers.pop("Transfer-Encoding", None)  # the test client cannot send a chunked body
    if g.one_in(50):
        body = b"<xml><Content>" + b"x" * (MAX_BODY_BYTES + 1) + b"</Content></xml>"
    return body, headers


def method(g: Gen) -> str:
    return "POST" if not g.one_in(10) else g.pick(["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])


# --- Official Account, plaintext mode -------------------------------------------------------

def mp_plain_request(g: Gen) -> Request:
    body, headers = with_headers(g, g.inner_message())
    if not g.one_in(10):  # mostly: a correctly signed request, so the body is parsed
        ts, nonce = timestamp_nonce(g)
        params = {"signature": sign(MP_TEST["token"], ts, nonce), "timestamp": ts,
                  "nonce": nonce, "openid": "o"}
        if g.one_in(3):
            params["encrypt_type"] = g.pick(["raw", "RAW", "", "aes2"])
        query = raw_query({k.encode(): any_bytes(v) for k, v in params.items()})
    else:
        query = random_query(g)
    return method(g), query, body, headers


@FUZZ
@given(seed=SEED)
def test_mp_plaintext(fuzz_client, services, seed):
    verb, query, body, headers = request = mp_plain_request(Gen(seed))
    before = writes(services.store)
    response = fuzz_client.open(f"/wechat/mp?{query}", method=verb, data=body, headers=headers)
    check(response, before, services, request, encrypted=False)


@FUZZ
@given(seed=SEED)
def test_plaintext_in_safe_mode_is_refused(fuzz_client, services, seed):
    # The services' Official Account is in safe mode (a key, no mp.mode): a plaintext POST,
    # correctly signed or not, whatever its body, is refused before it is read.
    verb, query, body, headers = mp_plain_request(Gen(seed))
    assert services.config.get("mp.mode") == "safe"
    before = writes(services.store)
    response = fuzz_client.open(f"/wechat/mp?{query}", method="POST", data=body, headers=headers)
    assert response.status_code in (400, 403), (verb, query, body[:200])
    assert writes(services.store) == before


# --- Replayed (timestamp, nonce) ------------------------------------------------------------

NONCES = itertools.count(1)  # a fresh nonce per example: the first request is never a replay


def signed_pair(g: Gen, channel: str, body: bytes) -> tuple[str, str, str, bytes]:
    """(path, timestamp, nonce, body to send): a plaintext-mode OA or a WeCom request's parts;
    WeCom's body is sealed in a valid envelope (the fuzzer holds the token and key)."""
    ts, nonce = str(NOW + g.int(-290, 290)), f"{next(NONCES)}{g.text(4)}"
    if channel == "mp":
        return "/wechat/mp", ts, nonce, body
    sealed = envelope(WECOM_KEY, body, WECOM_TEST["corp_id"].encode(), prefix=g.r.randbytes(16))
    return "/wechat/wecom", ts, nonce, outer_body(g, sealed, WECOM_TEST["corp_id"])


def pair_query(channel: str, ts: str, nonce: str, body: bytes) -> str:
    if channel == "mp":
        params = {"signature": sign(MP_TEST["token"], ts, nonce), "timestamp": ts,
                  "nonce": nonce, "openid": "o"}
    else:
        encrypted = (parse_xml_or_none(body) or {}).get("Encrypt", "")
        params = {"msg_signature": sign(WECOM_TEST["token"], ts, nonce, encrypted),
                  "timestamp": ts, "nonce": nonce}
    return raw_query({k.encode(): any_bytes(v) for k, v in params.items()})


def parse_xml_or_none(body: bytes) -> dict[str, str] | None:
    try:
        return parse_xml(body)
    except Rejected:
        return None


@pytest.mark.mp_plain
@FUZZ
@given(seed=SEED)
def test_replayed_nonce_with_another_body(fuzz_client, services, seed):
    # A message, then its (timestamp, nonce) again, validly signed, with another body: when
    # the first was accepted the second is refused (403) and writes nothing; the first body
    # again is WeChat's retry and gets the same answer, writing nothing either.
    g = Gen(seed)
    channel = g.pick(["mp", "wecom"])
    path, ts, nonce, first_body = signed_pair(g, channel, g.inner_message())
    _, _, _, other_body = signed_pair(g, channel, g.inner_message())
    first = fuzz_client.post(f"{path}?{pair_query(channel, ts, nonce, first_body)}",
                             data=first_body)
    assert first.status_code < 500
    before = writes(services.store)
    other = fuzz_client.post(f"{path}?{pair_query(channel, ts, nonce, other_body)}",
                             data=other_body)
    assert other.status_code < 500, (channel, other_body[:200])
    if first.status_code == 200 and other_body != first_body:
        # Refused as soon as the pair is authenticated: before the body is parsed (403). Only
        # a WeCom body whose outer XML cannot even be read has no signed pair to check (400).
        unreadable = channel == "wecom" and other.status_code == 400
        assert other.status_code == 403 or unreadable, (channel, other_body[:200])
        assert writes(services.store) == before
    if first.status_code == 200:
        again = fuzz_client.post(f"{path}?{pair_query(channel, ts, nonce, first_body)}",
                                 data=first_body)
        assert again.status_code == 200
        assert answered(again, channel) == answered(first, channel)
        assert writes(services.store) == before


def answered(response, channel: str) -> str:
    """What a reply says: "success", or its Content (a WeCom reply opened: each envelope is
    sealed afresh, so two replies of one text differ in bytes)."""
    body = response.get_data(as_text=True)
    if body == "success" or channel == "mp":
        return body
    return open_reply(fromstring(body), channel).findtext("Content") or ""


# --- Encrypted: Official Account safe mode and WeCom ----------------------------------------

def ciphertext(g: Gen, key: bytes, receive_id: str) -> str:
    """The <Encrypt> text around a random message: valid, or broken one way."""
    inner, rid = g.inner_message(), receive_id.encode()
    prefix = g.r.randbytes(16)
    shape = g.int(0, 19)
    if shape <= 10:
        return envelope(key, inner, rid, prefix=prefix)
    if shape == 11:  # the wrong appid / corpid, or none
        other = g.pick([b"", b"wx0000000000000000", rid + b"x", rid[:-1], rid.upper(),
                        b"ww0123456789abcdeF", b"\xff" + rid])
        return envelope(key, inner, other, prefix=prefix)
    if shape == 12:  # the declared length lies
        declared = g.pick([0, 2**32 - 1, 2**31, len(inner) + 1, len(inner) + len(rid),
                           len(inner) + len(rid) + 1])
        return envelope(key, inner, rid, declared=declared, prefix=prefix)
    if shape == 13:  # bad PKCS#7 padding (kept to whole AES blocks)
        plain = prefix + len(inner).to_bytes(4, "big") + inner + rid
        pad = bytes([g.pick([0, 33, 255, 17, 32])]) * (16 - len(plain) % 16)
        return base64.b64encode(seal(key, plain + pad)).decode()
    good = envelope(key, inner, rid, prefix=prefix)
    raw = base64.b64decode(good)
    if shape == 14:  # truncated ciphertext, re-padded base64
        return base64.b64encode(raw[:g.int(0, len(raw))]).decode()
    if shape == 15:  # truncated base64 text (broken padding)
        return good[:g.int(0, len(good))]
    if shape == 16:  # wrong base64: url-safe alphabet, stray characters, whitespace
        return g.pick([good.replace("+", "-").replace("/", "_"), good + "!", " " + good,
                       good[:-2] + "\n==", good + "====", "=" + good])
    if shape == 17:  # flipped bits
        at = g.int(0, len(raw) - 1)
        return base64.b64encode(raw[:at] + bytes([raw[at] ^ g.int(1, 255)])
                                + raw[at + 1:]).decode()
    if shape == 18:  # another key altogether, properly padded
        plain = prefix + len(inner).to_bytes(4, "big") + inner + rid
        return base64.b64encode(seal(g.r.randbytes(32), pkcs7(plain))).decode()
    return g.text(hostile=False)


def outer_body(g: Gen, encrypted: str, to: str) -> bytes:
    shape = g.int(0, 9)
    if shape == 0:
        return g.inner_message()  # no <Encrypt> at all, or garbage
    if shape == 1:
        return f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><Encrypt>x</Encrypt></xml>".encode()
    if shape == 2:
        return f"<!DOCTYPE xml><xml><Encrypt>{encrypted}</Encrypt></xml>".encode()
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><AgentID>1000002</AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode()


def encrypted_request(g: Gen, channel: str) -> Request:
    settings = MP_TEST if channel == "mp" else WECOM_TEST
    receive_id = settings["app_id"] if channel == "mp" else settings["corp_id"]
    encrypted = ciphertext(g, MP_KEY if channel == "mp" else WECOM_KEY, receive_id)
    body, headers = with_headers(g, outer_body(g, encrypted, receive_id))
    ts, nonce = timestamp_nonce(g)
    signed_over = encrypted if not g.one_in(20) else g.text()
    params = {"timestamp": ts, "nonce": nonce,
              "msg_signature": sign(settings["token"], ts, nonce, signed_over)}
    if channel == "mp":
        params |= {"signature": sign(settings["token"], ts, nonce),
                   "encrypt_type": g.pick(["aes", "AES", "aes"])}
    if g.one_in(20):
        params.pop(g.pick(sorted(params)))
    query = raw_query({k.encode(): any_bytes(v) for k, v in params.items()})
    if g.one_in(20):
        query = random_query(g)
    return method(g), query, body, headers


@FUZZ
@given(seed=SEED)
def test_mp_safe_mode(fuzz_client, services, seed):
    verb, query, body, headers = request = encrypted_request(Gen(seed), "mp")
    before = writes(services.store)
    response = fuzz_client.open(f"/wechat/mp?{query}", method=verb, data=body, headers=headers)
    # Without encrypt_type=aes (a parameter dropped) it is a plaintext-mode request.
    check(response, before, services, request, channel="mp",
          encrypted="encrypt_type=aes" in query.lower())


@FUZZ
@given(seed=SEED)
def test_wecom(fuzz_client, services, seed):
    verb, query, body, headers = request = encrypted_request(Gen(seed), "wecom")
    before = writes(services.store)
    response = fuzz_client.open(f"/wechat/wecom?{query}", method=verb, data=body,
                                headers=headers)
    check(response, before, services, request, encrypted=True, channel="wecom")


# --- URL verification (GET with echostr) ----------------------------------------------------

def verification(g: Gen) -> tuple[str, str, str | None]:
    """(path, query, the echo expected if accepted): both channels, valid and broken."""
    ts, nonce = timestamp_nonce(g)
    if g.one_in(2):
        echostr = g.text(hostile=True)
        query = raw_query({b"signature": sign(MP_TEST["token"], ts, nonce).encode(),
                           b"timestamp": ts.encode(), b"nonce": any_bytes(nonce),
                           b"echostr": any_bytes(echostr)})
        plain = not any(0xD800 <= ord(ch) <= 0xDFFF for ch in echostr)
        return "/wechat/mp", query, echostr if plain else None
    echostr = ciphertext(g, WECOM_KEY, WECOM_TEST["corp_id"])
    query = raw_query({b"msg_signature": sign(WECOM_TEST["token"], ts, nonce, echostr).encode(),
                       b"timestamp": ts.encode(), b"nonce": any_bytes(nonce),
                       b"echostr": echostr.encode()})
    if g.one_in(10):
        query = random_query(g)
    return "/wechat/wecom", query, None


@FUZZ
@given(seed=SEED)
def test_url_verification(fuzz_client, services, seed):
    path, query, echo = verification(Gen(seed))
    before = writes(services.store)
    response = fuzz_client.get(f"{path}?{query}")
    assert response.status_code < 500, (path, query)
    assert writes(services.store) == before, "a URL verification wrote to the store"
    if response.status_code == 200 and echo is not None:
        assert response.get_data(as_text=True) == echo


# --- the checks -----------------------------------------------------------------------------

def check(response, before: int, services, request: Request, *, encrypted: bool,
          channel: str = "mp") -> None:
    status = response.status_code
    assert status < 500, (request[:2], request[2][:300], response.get_data()[:300])
    if status != 200 or request[0] != "POST":
        assert writes(services.store) == before, f"a refused request ({status}) wrote rows"
        return
    body = response.get_data(as_text=True)
    if body == "success":
        return
    reply = fromstring(body)
    if encrypted:
        reply = open_reply(reply, channel)
    assert reply.tag == "xml"
    assert reply.findtext("MsgType") == "text"
    assert (reply.findtext("CreateTime") or "").isdigit()
    assert reply.findtext("ToUserName"), "a reply to nobody"
    content = reply.findtext("Content")
    assert content and content not in (ERROR_REPLY.text, BUSY_REPLY.text), content


def open_reply(outer, channel: str):
    settings = MP_TEST if channel == "mp" else WECOM_TEST
    receive_id = settings["app_id"] if channel == "mp" else settings["corp_id"]
    encrypted = outer.findtext("Encrypt")
    assert outer.findtext("MsgSignature") == sign(
        settings["token"], outer.findtext("TimeStamp"), outer.findtext("Nonce"), encrypted)
    key = MP_KEY if channel == "mp" else WECOM_KEY
    return fromstring(PrpCrypto(key).decrypt(encrypted, receive_id))


def test_refusals_leave_every_row_alone(fuzz_client, services):
    """The thorough check behind `writes`: a batch of refused requests, every row hashed."""
    path = services.config.store_path
    before = fingerprint(str(path))
    bad = [("/wechat/mp?" + urlencode({"signature": "0" * 40, "timestamp": NOW, "nonce": 1}),
            b"<xml><FromUserName>oMember1</FromUserName></xml>"),
           ("/wechat/wecom?" + urlencode({"msg_signature": "x", "timestamp": NOW, "nonce": 1}),
            b"<xml><Encrypt>AAAA</Encrypt></xml>"),
           ("/wechat/mp?timestamp=1", b"")]
    for url, body in bad:
        assert fuzz_client.post(url, data=body).status_code in (400, 403)
    assert fingerprint(str(path)) == before
