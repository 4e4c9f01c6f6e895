"""Fuzz the simulator's JSON API (/sim/api/send, /sim/api/inbox, /sim/api/visitor): random
JSON of every shape, raw bytes, wrong content types, member ids of every form, text with
control characters and lone surrogates (as JSON escapes), oversized text.

For every example: no 5xx, no exception out of the app; a refused request (400) writes nothing
and says why in Chinese; an accepted message is answered with a JSON reply that is never the
"something went wrong" text. Example counts: tests/fuzz (QINGFENG_FUZZ); why one seed per
example: tests/fuzz/messages.py.
"""

from __future__ import annotations

import json

from hypothesis import given

from bot.conversation import BUSY_REPLY, ERROR_REPLY
from bot.simulator import MAX_TEXT
from tests.fuzz import FUZZ
from tests.fuzz.messages import SEED, Gen
from tests.fuzz.store import fingerprint, writes

USERS = ["m1", "m2", "m5", "m8", "m9", "m0", "m999999999", "m9999999999", "m-1", "m²", "m١",
         "v1a2b3c4", "vZZ", "v", "M1", "m01", " m1", "m1\n", "m1\x00", ""]
KINDS = ["text", "subscribe", "event", "image", "", None, 1, ["text"]]
CONTENT_TYPES = ["application/json", "application/json; charset=gbk", "text/plain",
                 "application/x-www-form-urlencoded", ""]
AFTERS = ["0", "1", "", "-1", "1e3", "²", "9" * 18, "9" * 19, "18446744073709551616", " 1"]


def json_value(g: Gen, depth: int = 0) -> object:
    roll = g.int(0, 7 if depth < 3 else 4)
    if roll == 0:
        return None
    if roll == 1:
        return g.pick([True, False])
    if roll == 2:
        return g.pick([0, -1, 2**63, 2**64 + 1, 1.5, 1e308, -0.0])
    if roll <= 4:
        return g.text(hostile=True)
    if roll <= 5:
        return [json_value(g, depth + 1) for _ in range(g.int(0, 3))]
    return {g.text(8, hostile=True): json_value(g, depth + 1) for _ in range(g.int(0, 3))}


def send_body(g: Gen) -> tuple[bytes, str]:
    shape = g.int(0, 9)
    if shape == 0:
        return g.bytes(200), g.pick(CONTENT_TYPES)
    if shape == 1:
        return json.dumps(json_value(g)).encode(), "application/json"
    body: dict = {"user": g.pick(USERS) if not g.one_in(8) else json_value(g),
                  "text": g.content() if not g.one_in(6) else g.pick(
                      [g.text(hostile=True), "x" * (MAX_TEXT + 1), "  ", json_value(g)])}
    if g.one_in(2):
        body["kind"] = g.pick(KINDS)
    if g.one_in(5):
        body.pop(g.pick(sorted(body)))
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, the way a browser's JSON can.
    content_type = "application/json" if not g.one_in(8) else g.pick(CONTENT_TYPES)
    return json.dumps(body, ensure_ascii=True).encode(), content_type


@FUZZ
@given(seed=SEED)
def test_send(client, services, seed):
    data, content_type = send_body(Gen(seed))
    before = writes(services.store)
    response = client.post("/sim/api/send", data=data, content_type=content_type)
    assert response.status_code in (200, 400), (response.status_code, data[:300])
    answer = response.get_json()
    if response.status_code == 400:
        assert writes(services.store) == before, f"a refused message wrote rows: {data[:300]}"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer["error"]), answer
        return
    assert isinstance(answer["reply"], str) and answer["at"]
    assert answer["reply"] not in (ERROR_REPLY.text, BUSY_REPLY.text), (data[:300], answer)


@FUZZ
@given(seed=SEED)
def test_inbox(client, services, seed):
    g = Gen(seed)
    user = g.pick(USERS) if not g.one_in(4) else g.text(hostile=True)
    after = g.pick(AFTERS) if not g.one_in(4) else g.text(hostile=True)
    before = writes(services.store)
    response = client.get("/sim/api/inbox", query_string={
        "user": user.encode("utf-8", "surrogatepass"),
        "after": after.encode("utf-8", "surrogatepass")})
    assert response.status_code in (200, 400), (user, after)
    assert writes(services.store) == before, "reading the inbox wrote rows"
    answer = response.get_json()
    if response.status_code == 200:
        assert isinstance(answer["messages"], list)
    else:
        assert answer["error"]


def test_visitor_and_refusals_change_nothing(client, services):
    """The thorough check behind `writes`: every row hashed around a batch of refusals."""
    path = str(services.config.store_path)
    before = fingerprint(path)
    assert client.post("/sim/api/visitor").get_json()["user"].startswith("v")
    for body in (b"", b"null", b"[]", b'{"user": "m1"}', b'{"user": "m9999", "text": "x"}',
                 b'{"user": "m1", "text": "\\ud800", "kind": "image"}'):
        assert client.post("/sim/api/send", data=body,
                           content_type="application/json").status_code == 400
    assert fingerprint(path) == before
