"""Tests of the fake WeChat / WeCom API server itself, over real HTTP.

No test sleeps: time-based behaviour runs on the fake's ManualClock; timeout faults use short
client timeouts.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage

from tests.fakeapi import (
    DEFAULT_APPID,
    DEFAULT_CORPID,
    DEFAULT_CORPSECRET,
    DEFAULT_SECRET,
    FakeWeChatAPI,
    ManualClock,
    normalize_kind,
)
from tests.paths import ROOT

AGENT_ID = 1000002


@pytest.fixture
def fake_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(fake_clock: ManualClock) -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI(clock=fake_clock) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def mp_token(api: FakeWeChatAPI, http: requests.Session, secret: str = DEFAULT_SECRET) -> str:
    params = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": secret}
    return http.get(api.base_url + "token", params=params, timeout=5).json()["access_token"]


def wecom_token(api: FakeWeChatAPI, http: requests.Session) -> str:
    params = {"corpid": DEFAULT_CORPID, "corpsecret": DEFAULT_CORPSECRET}
    return http.get(api.base_url + "gettoken", params=params, timeout=5).json()["access_token"]


def post(
    api: FakeWeChatAPI,
    http: requests.Session,
    endpoint: str,
    body: dict[str, Any],
    timeout: float = 5,
    **params: str,
) -> requests.Response:
    return http.post(api.base_url + endpoint, params=params, json=body, timeout=timeout)


def custom(
    api: FakeWeChatAPI, http: requests.Session, token: str, touser: str = "o-1",
    content: str = "hi", timeout: float = 5,
) -> requests.Response:
    body = {"touser": touser, "msgtype": "text", "text": {"content": content}}
    return post(api, http, "message/custom/send", body, timeout, access_token=token)


def template(
    api: FakeWeChatAPI, http: requests.Session, token: str, touser: str = "o-1", **extra: Any
) -> requests.Response:
    body = {"touser": touser, "template_id": "tpl-1",
            "data": {"first": {"value": "学习提醒"}, "keyword1": {"value": "第一课"}}, **extra}
    return post(api, http, "message/template/send", body, access_token=token)


def wecom(
    api: FakeWeChatAPI, http: requests.Session, token: str, touser: str,
    content: str = "hi", **extra: Any,
) -> dict[str, Any]:
    body = {"touser": touser, "toparty": "", "totag": "", "msgtype": "text",
            "agentid": AGENT_ID, "text": {"content": content}, "safe": 0, **extra}
    return post(api, http, "message/send", body, access_token=token).json()


def robot(
    api: FakeWeChatAPI, http: requests.Session, content: str, msgtype: str = "text",
    key: str = "robot-key",
) -> dict[str, Any]:
    body = {"msgtype": msgtype, msgtype: {"content": content}}
    return post(api, http, "webhook/send", body, key=key).json()


# ---- lifecycle ---------------------------------------------------------------------------------


def test_starts_on_loopback_and_stops_fast_even_with_a_request_in_flight() -> None:
    began = time.monotonic()
    api = FakeWeChatAPI().start()
    assert api.base_url.startswith("http://127.0.0.1:") and api.base_url.endswith("/cgi-bin/")
    assert api.port > 0
    api.fail_next("token", "timeout", delay_s=30)
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            requests.get(api.base_url + "token", timeout=5)
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    deadline = time.monotonic() + 0.5
    while not api.calls and time.monotonic() < deadline:  # wait for it to reach the fake
        threading.Event().wait(0.005)
    api.stop()
    worker.join(timeout=2)
    assert time.monotonic() - began < 1.0
    assert outcome and isinstance(outcome[0], requests.ConnectionError)


def test_command_line_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeapi", "--port", "0", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split(" on ")[1].strip()
        params = {"grant_type": "client_credential", "appid": DEFAULT_APPID,
                  "secret": DEFAULT_SECRET}
        answer = requests.get(base_url + "token", params=params, timeout=5).json()
        assert answer["expires_in"] == 7200
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# ---- tokens ------------------------------------------------------------------------------------


def test_mp_token_issue_and_credential_errors(api: FakeWeChatAPI, http: requests.Session) -> None:
    url = api.base_url + "token"
    good = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    answer = http.get(url, params=good).json()
    assert set(answer) == {"access_token", "expires_in"} and answer["expires_in"] == 7200
    assert http.get(url, params={**good, "secret": "wrong"}).json() == {
        "errcode": 40001, "errmsg": "invalid credential"}
    assert http.get(url, params={**good, "appid": "wxnobody"}).json()["errcode"] == 40013
    assert api.token_fetches() == 3


def test_new_mp_token_supersedes_the_old_one(api: FakeWeChatAPI, http: requests.Session) -> None:
    old, new = mp_token(api, http), mp_token(api, http)
    assert old != new
    assert custom(api, http, old).json()["errcode"] == 40001
    assert custom(api, http, new).json()["errcode"] == 0


def test_overlap_window_keeps_the_old_token_alive_for_a_while(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    api.token_overlap_s = 300
    old = mp_token(api, http)
    mp_token(api, http)
    fake_clock.advance(299)
    assert custom(api, http, old).json()["errcode"] == 0
    fake_clock.advance(1)
    assert custom(api, http, old).json()["errcode"] == 40001


def test_token_expiry_by_clock_and_by_expire_tokens(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    token = mp_token(api, http)
    fake_clock.advance(7199)
    assert custom(api, http, token).json()["errcode"] == 0
    fake_clock.advance(1)
    assert custom(api, http, token).json() == {"errcode": 42001, "errmsg": "access_token expired"}
    fresh = mp_token(api, http)
    api.expire_tokens()
    assert custom(api, http, fresh).json()["errcode"] == 42001
    assert custom(api, http, mp_token(api, http)).json()["errcode"] == 0


def test_unknown_missing_and_wrong_kind_tokens(api: FakeWeChatAPI, http: requests.Session) -> None:
    assert custom(api, http, "made-up").json()["errcode"] == 40014
    body = {"touser": "o-1", "msgtype": "text", "text": {"content": "x"}}
    assert post(api, http, "message/custom/send", body).json()["errcode"] == 41001
    assert custom(api, http, wecom_token(api, http)).json()["errcode"] == 40014
    assert wecom(api, http, mp_token(api, http), "alice")["errcode"] == 40014
    assert api.delivered == []


def test_wecom_token_has_errcode_zero_and_is_reused_while_valid(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    params = {"corpid": DEFAULT_CORPID, "corpsecret": DEFAULT_CORPSECRET}
    first = http.get(api.base_url + "gettoken", params=params).json()
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["expires_in"] == 7200
    assert wecom_token(api, http) == first["access_token"]
    fake_clock.advance(7200)
    assert wecom_token(api, http) != first["access_token"]
    wrong = http.get(api.base_url + "gettoken", params={**params, "corpsecret": "x"}).json()
    assert wrong["errcode"] == 40001


def test_token_daily_quota(api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock) -> None:
    api.token_daily_quota = 2
    mp_token(api, http)
    mp_token(api, http)
    params = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    assert http.get(api.base_url + "token", params=params).json()["errcode"] == 45009
    fake_clock.advance(86400)
    assert mp_token(api, http)


# ---- Official Account sends --------------------------------------------------------------------


def test_custom_send_delivers(api: FakeWeChatAPI, http: requests.Session) -> None:
    answer = custom(api, http, mp_token(api, http), "o-1", "今天学习第一课").json()
    assert answer == {"errcode": 0, "errmsg": "ok"}
    [delivered] = api.delivered
    assert (delivered.channel, delivered.to, delivered.content) == ("mp_custom", "o-1", "今天学习第一课")
    [call] = api.calls_to("message/custom/send")
    assert call.body == {"touser": "o-1", "msgtype": "text", "text": {"content": "今天学习第一课"}}
    assert call.answer == answer and call.fault is None and call.status == 200


def test_closed_window_and_unsubscribed(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    api.window_closed("o-late")
    api.unsubscribed("o-gone")
    assert custom(api, http, token, "o-late").json()["errcode"] == 45015
    assert custom(api, http, token, "o-gone").json()["errcode"] == 43004
    assert template(api, http, token, "o-gone").json()["errcode"] == 43004
    assert api.delivered == []
    assert template(api, http, token, "o-late").json()["errcode"] == 0  # no window for templates
    api.window_open("o-late")
    assert custom(api, http, token, "o-late").json()["errcode"] == 0


def test_template_send_answers_a_msgid(api: FakeWeChatAPI, http: requests.Session) -> None:
    answer = template(api, http, mp_token(api, http), url="https://example.org/1").json()
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    [delivered] = api.delivered
    assert delivered.channel == "mp_template" and delivered.msgid == answer["msgid"]
    assert delivered.content == "first: 学习提醒\nkeyword1: 第一课"


def test_template_client_msg_id_is_delivered_once(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    token = mp_token(api, http)
    first = template(api, http, token, client_msg_id="job-7").json()
    again = template(api, http, token, client_msg_id="job-7").json()
    assert again == first
    assert len(api.delivered) == 1 and [d.msgid for d in api.duplicates] == [first["msgid"]]
    other = template(api, http, token, "o-2", client_msg_id="job-7").json()
    assert other["msgid"] != first["msgid"]  # the key is per openid
    fake_clock.advance(600)  # client_msg_id only holds for 10 minutes
    assert template(api, http, token, client_msg_id="job-7").json()["msgid"] != first["msgid"]
    assert len(api.delivered) == 3


# ---- WeCom app ---------------------------------------------------------------------------------


def test_wecom_send_delivers_to_each_user(api: FakeWeChatAPI, http: requests.Session) -> None:
    answer = wecom(api, http, wecom_token(api, http), "alice|bob|carol")
    assert answer["errcode"] == 0 and answer["invaliduser"] == "" and answer["msgid"]
    assert [d.to for d in api.delivered] == ["alice", "bob", "carol"]
    assert {d.msgid for d in api.delivered} == {answer["msgid"]}
    assert {d.channel for d in api.delivered} == {"wecom"}


def test_wecom_invaliduser_is_lower_cased(api: FakeWeChatAPI, http: requests.Session) -> None:
    api.valid_wecom_users = {"alice", "Bob"}
    answer = wecom(api, http, wecom_token(api, http), "alice|Carol|BOB|DAVE")
    assert answer["errcode"] == 0 and answer["invaliduser"] == "carol|dave"
    assert [d.to for d in api.delivered] == ["alice", "BOB"]


def test_wecom_all_invalid_is_81013(api: FakeWeChatAPI, http: requests.Session) -> None:
    api.valid_wecom_users = {"alice"}
    answer = wecom(api, http, wecom_token(api, http), "Ghost|nobody")
    assert answer["errcode"] == 81013 and answer["invaliduser"] == "ghost|nobody"
    assert api.delivered == []


def test_wecom_user_list_limit(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = wecom_token(api, http)
    assert wecom(api, http, token, "|".join(f"u{i}" for i in range(1001)))["errcode"] == 40032
    assert api.delivered == []
    assert wecom(api, http, token, "|".join(f"u{i}" for i in range(1000)))["errcode"] == 0
    assert len(api.delivered) == 1000


def test_wecom_body_checks_all_and_truncation(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = wecom_token(api, http)
    assert wecom(api, http, token, "alice", agentid="")["errcode"] == 41011
    assert wecom(api, http, token, "alice", content="")["errcode"] == 44004
    assert wecom(api, http, token, "")["errcode"] == 40058
    assert api.delivered == []
    api.valid_wecom_users = {"alice", "bob"}
    assert wecom(api, http, token, "@all", content="学" * 700)["errcode"] == 0
    assert sorted(d.to for d in api.delivered) == ["alice", "bob"]
    assert len(api.delivered[0].content.encode()) == 2046  # truncated at 2,048 bytes


def test_wecom_duplicate_check(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    token = wecom_token(api, http)
    check = {"enable_duplicate_check": 1, "duplicate_check_interval": 60}
    first = wecom(api, http, token, "alice|bob", **check)
    assert wecom(api, http, token, "alice|bob", **check) == first
    assert len(api.delivered) == 2 and len(api.duplicates) == 2
    assert wecom(api, http, token, "alice|bob", content="other", **check)["msgid"] != first["msgid"]
    fake_clock.advance(60)
    assert wecom(api, http, token, "alice|bob", **check)["msgid"] != first["msgid"]
    assert len(api.delivered) == 6


# ---- WeCom group robot -------------------------------------------------------------------------


def test_robot_text_and_markdown_limits(api: FakeWeChatAPI, http: requests.Session) -> None:
    at_limit = "学" * 682 + "ab"  # 2,048 bytes
    assert robot(api, http, at_limit) == {"errcode": 0, "errmsg": "ok"}
    assert robot(api, http, at_limit + "c")["errcode"] == 40058
    assert robot(api, http, "x" * 4096, "markdown")["errcode"] == 0
    assert robot(api, http, "x" * 4097, "markdown")["errcode"] == 40058
    assert robot(api, http, "x", "image")["errcode"] == 40058
    assert [(d.channel, d.to, len(d.content)) for d in api.delivered] == [
        ("robot", "robot-key", 684), ("robot", "robot-key", 4096)]
    api.valid_robot_keys = {"known"}
    assert robot(api, http, "x")["errcode"] == 93000


def test_robot_rate_limit_per_key(
    api: FakeWeChatAPI, http: requests.Session, fake_clock: ManualClock
) -> None:
    for i in range(20):
        assert robot(api, http, f"m{i}")["errcode"] == 0
        fake_clock.advance(1)
    assert robot(api, http, "m20")["errcode"] == 45009
    assert robot(api, http, "other", key="key-2")["errcode"] == 0
    fake_clock.advance(40)  # the first send is now a minute old
    assert robot(api, http, "m21")["errcode"] == 0
    assert robot(api, http, "m22")["errcode"] == 45009
    assert len(api.delivered) == 22


# ---- faults ------------------------------------------------------------------------------------


def test_fail_next_errcode_then_recovers(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    api.fail_next("message/custom/send", errcode=45009, times=2)
    codes = [custom(api, http, token).json()["errcode"] for _ in range(3)]
    assert codes == [45009, 45009, 0]
    assert [c.fault for c in api.calls_to("message/custom/send")] == ["45009", "45009", None]
    assert len(api.delivered) == 1


def test_fail_next_matches_whole_path_segments(api: FakeWeChatAPI, http: requests.Session) -> None:
    api.fail_next("token", 45009)
    assert wecom_token(api, http)  # gettoken is not "token"
    params = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    assert http.get(api.base_url + "token", params=params).json()["errcode"] == 45009
    api.fail_next("message/send", -1)
    assert custom(api, http, mp_token(api, http)).json()["errcode"] == 0


def test_http_500_fault(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    api.fail_next("message/custom/send", "500")
    response = custom(api, http, token)
    assert response.status_code == 500
    [call] = api.calls_to("message/custom/send")
    assert (call.fault, call.answer, call.status) == ("500", None, 500)
    assert api.delivered == []


def test_drop_fault(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    api.fail_next("message/custom/send", "drop")
    with pytest.raises(requests.ConnectionError):
        custom(api, http, token)
    assert api.delivered == []
    assert custom(api, http, token).json()["errcode"] == 0  # the session reconnects


def test_timeout_fault(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    api.fail_next("message/custom/send", "timeout", delay_s=0.5)
    with pytest.raises(requests.Timeout):
        custom(api, http, token, timeout=0.1)
    assert [c.fault for c in api.calls_to("custom/send")] == ["timeout"]
    assert api.delivered == []


def test_set_delay_delays_every_answer(api: FakeWeChatAPI, http: requests.Session) -> None:
    api.set_delay(0.15)
    began = time.monotonic()
    token = mp_token(api, http)
    assert time.monotonic() - began >= 0.15
    with pytest.raises(requests.Timeout):
        custom(api, http, token, timeout=0.05)
    api.set_delay(0)
    assert custom(api, http, token).json()["errcode"] == 0


def test_lost_answer_delivers_and_idempotency_key_prevents_a_double(
    api: FakeWeChatAPI, http: requests.Session
) -> None:
    token = mp_token(api, http)
    api.fail_next("message/template/send", "lost_answer")
    with pytest.raises(requests.ConnectionError):
        template(api, http, token, client_msg_id="delivery-42")
    [lost] = api.calls_to("template/send")
    assert lost.fault == "lost_answer" and lost.answer is not None
    retry = template(api, http, token, client_msg_id="delivery-42").json()
    assert retry["msgid"] == lost.answer["msgid"]
    assert len(api.delivered) == 1 and len(api.duplicates) == 1


def test_fail_rate_covers_every_kind_and_never_delivers(
    api: FakeWeChatAPI, http: requests.Session
) -> None:
    token = mp_token(api, http)
    api.fail_rate(share=1.0, seed=1, delay_s=0.3)
    outcomes = set()
    for _ in range(25):
        try:
            response = custom(api, http, token, timeout=0.1)
        except requests.Timeout:
            outcomes.add("timeout")
        except requests.ConnectionError:
            outcomes.add("drop")
        else:
            outcomes.add(str(response.json()["errcode"]) if response.ok else "500")
    assert outcomes == {"45009", "-1", "500", "timeout", "drop"}
    assert {c.fault for c in api.calls_to("custom/send")} == outcomes
    assert api.delivered == []
    fresh = mp_token(api, http)  # token fetches are not message endpoints
    api.fail_rate(0)
    assert custom(api, http, fresh).json()["errcode"] == 0


def test_fail_rate_is_reproducible_with_a_seed(http: requests.Session) -> None:
    def faults(seed: int) -> list[str | None]:
        with FakeWeChatAPI() as fake:
            token = mp_token(fake, http)
            fake.fail_rate(share=0.5, kinds=("45009", "-1"), seed=seed)
            for _ in range(20):
                custom(fake, http, token)
            return [c.fault for c in fake.calls_to("custom/send")]

    first = faults(3)
    assert first == faults(3)
    assert 0 < sum(f is not None for f in first) < 20


def test_unknown_fault_kind_is_refused() -> None:
    assert normalize_kind(45009) == "45009" and normalize_kind(500) == "500"
    with pytest.raises(ValueError, match="unknown fault kind"):
        normalize_kind("slow")


def test_http_level_errors(api: FakeWeChatAPI, http: requests.Session) -> None:
    assert http.get(api.base_url + "no/such/api").status_code == 404
    assert http.get(api.base_url + "message/send").json()["errcode"] == 43002
    bad = http.post(api.base_url + "webhook/send", params={"key": "k"}, data=b"{not json")
    assert bad.json()["errcode"] == 47001


def test_reset_forgets_everything(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    custom(api, http, token)
    api.fail_next("message/custom/send", 45009)
    api.valid_wecom_users = {"alice"}
    api.reset()
    assert api.calls == [] and api.delivered == [] and api.valid_wecom_users is None
    assert custom(api, http, token).json()["errcode"] == 40014  # old tokens are gone
    assert custom(api, http, mp_token(api, http)).json()["errcode"] == 0  # no fault left


# ---- concurrency -------------------------------------------------------------------------------


def test_calls_are_thread_safe_under_8_clients(api: FakeWeChatAPI, http: requests.Session) -> None:
    token = mp_token(api, http)
    per_client = 25
    start = threading.Barrier(9)
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with requests.Session() as session:
                start.wait()
                for i in range(per_client):
                    response = custom(api, session, token, f"o-{n}", f"{n}-{i}")
                    assert response.json()["errcode"] == 0
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    start.wait()
    while any(t.is_alive() for t in threads):
        assert len(api.calls) <= 1 + 8 * per_client  # reading while 8 clients write
    assert errors == []
    assert len(api.calls_to("custom/send")) == 8 * per_client
    contents = [d.content for d in api.delivered]
    assert sorted(contents) == sorted(f"{n}-{i}" for n in range(8) for i in range(per_client))


# ---- wechatpy 1.8.18 against the fake ----------------------------------------------------------


def wechatpy_mp_client(api: FakeWeChatAPI, auto_retry: bool = True) -> WeChatClient:
    client = WeChatClient(DEFAULT_APPID, DEFAULT_SECRET, session=MemoryStorage(), timeout=5,
                          auto_retry=auto_retry)
    client.API_BASE_URL = api.base_url
    # wechatpy hard-codes https://api.weixin.qq.com/cgi-bin/token in fetch_access_token.
    params = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    client.fetch_access_token = lambda: client._fetch_access_token(  # type: ignore[method-assign]
        url=api.base_url + "token", params=params)
    return client


def test_wechatpy_official_account_client(api: FakeWeChatAPI) -> None:
    client = wechatpy_mp_client(api)
    assert client.message.send_text("o-wechatpy", "你好")["errcode"] == 0
    api.expire_tokens()  # wechatpy refreshes once on 42001 and retries
    assert client.message.send_text("o-wechatpy", "再见")["errcode"] == 0
    assert [d.content for d in api.delivered_to("o-wechatpy", "mp_custom")] == ["你好", "再见"]
    assert api.token_fetches() == 2



def test_wechatpy_without_auto_retry_sees_42001(api: FakeWeChatAPI) -> None:
    client = wechatpy_mp_client(api, auto_retry=False)
    client.message.send_text("o-wechatpy", "before")
    api.expire_tokens()
    with pytest.raises(WeChatClientException) as raised:
        client.message.send_text("o-wechatpy", "after")
    assert raised.value.errcode == 42001
    assert [d.content for d in api.delivered] == ["before"]


def test_wechatpy_wecom_client(api: FakeWeChatAPI) -> None:
    client = WeComClient(DEFAULT_CORPID, DEFAULT_CORPSECRET, session=MemoryStorage(), timeout=5)
    client.API_BASE_URL = api.base_url
    params = {"corpid": DEFAULT_CORPID, "corpsecret": DEFAULT_CORPSECRET}
    client.fetch_access_token = lambda: client._fetch_access_token(  # type: ignore[method-assign]
        url=api.base_url + "gettoken", params=params)
    api.valid_wecom_users = {"zhangsan", "lisi"}
    answer = client.message.send_text(AGENT_ID, ["ZhangSan", "lisi", "Ghost"], "学习提醒")
    assert answer["errcode"] == 0 and answer["invaliduser"] == "ghost"
    assert [(d.to, d.content) for d in api.delivered] == [("ZhangSan", "学习提醒"), ("lisi", "学习提醒")]
    [call] = api.calls_to("message/send")
    assert call.body is not None and call.body["agentid"] == AGENT_ID and call.body["safe"] == 0

