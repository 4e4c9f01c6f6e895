"""Secrets are never logged: a full run with every secret configured - webhook messages in both
Official Account modes and WeCom over real HTTP (with the access log on), token fetches and a
broadcast against the fake WeChat/WeCom API, a console login with a wrong and then the right
password - captures every log record (DEBUG and up, all loggers, tracebacks included), stdout
and stderr, and the health and metrics pages, then looks for each secret in all of it: the
tokens, AES keys and app secrets, the session key, the password, and every access_token the
fake API issued.
"""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import urlencode

import pytest
import requests

from bot import create_app, delivery
from bot.store import members
from tests.browser import serve
from tests.console_helpers import make_account
from tests.fakeapi import FakeWeChatAPI
from tests.wechat import Platform, encrypted_request, text_xml, wecom_request

APPID, CORPID = "wxsecrettest00001", "wwsecrettest00001"
SECRETS = {
    "mp.token": "mpTokenS3cretValue",
    "mp.encoding_aes_key": "MpAesKeyS3cret0123456789abcdefghijklmnopqrs",
    "mp.app_secret": "mpAppSecretS3cretValue",
    "wecom.token": "wecomTokenS3cretValue",
    "wecom.encoding_aes_key": "WecomAesKeyS3cret0123456789abcdefghijklmnop",
    "wecom.secret": "wecomCorpSecretS3cretValue",
    "server.secret_key": "serverSessionKeyS3cretValue",
}
PASSWORD = "console-Passw0rd-S3cret"


@pytest.fixture
def api(clock):
    with FakeWeChatAPI(clock=clock.timestamp, mp_apps={APPID: SECRETS["mp.app_secret"]},
                       wecom_apps=[(CORPID, SECRETS["wecom.secret"])]) as fake:
        yield fake


@pytest.fixture
def run(make_services, api):
    """Services with every secret set, two members bound on WeCom and the OA."""
    services = make_services(
        demo=True,
        server={"secret_key": SECRETS["server.secret_key"]},
        mp={"enabled": True, "app_id": APPID, "token": SECRETS["mp.token"],
            "encoding_aes_key": SECRETS["mp.encoding_aes_key"],
            "app_secret": SECRETS["mp.app_secret"], "api_base_url": api.base_url},
        wecom={"enabled": True, "corp_id": CORPID, "agent_id": 1000002,
               "token": SECRETS["wecom.token"], "encoding_aes_key": SECRETS["wecom.encoding_aes_key"],
               "secret": SECRETS["wecom.secret"], "api_base_url": api.base_url})
    now = services.clock.now()
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="wangjg", member_id=1, now=now)
        members.bind_identity(db, channel="mp", external_id="oLiHongmei", member_id=2, now=now)
    return services


def test_a_full_run_logs_no_secret(run, api, caplog, capfd):
    services, now = run, int(run.clock.timestamp())
    caplog.set_level(logging.DEBUG)  # everything, from every logger (urllib3's URLs included)
    app = create_app(services=services)
    mp = Platform(SECRETS["mp.token"], SECRETS["mp.encoding_aes_key"], APPID)
    wecom = Platform(SECRETS["wecom.token"], SECRETS["wecom.encoding_aes_key"], CORPID)
    with serve(app) as url:
        http = requests.Session()
        answers = [
            http.post(f"{url}/wechat/mp?{(p := encrypted_request(mp, text_xml('oLiHongmei', '打卡 学习了第三章', 1, now), now))[0]}",
                      data=p[1].encode()),
            http.post(f"{url}/wechat/mp?{(q := encrypted_request(mp, text_xml('oX', '帮助', 2, now), now))[0]}",
                      data=q[1].encode()),
            http.post(f"{url}/wechat/wecom?{(w := wecom_request(wecom, text_xml('wangjg', '我的', 3, now), now))[0]}",
                      data=w[1].encode()),
            http.post(f"{url}/wechat/wecom?" + urlencode({"msg_signature": "0" * 40,
                                                          "timestamp": now, "nonce": 1}),
                      data=b"<xml><Encrypt>AAAA</Encrypt></xml>"),
            http.get(f"{url}/healthz"), http.get(f"{url}/metrics"), http.get(f"{url}/"),
        ]
        assert [a.status_code for a in answers[:4]] == [200, 200, 200, 403]
        # The console: a wrong password, then the right one.
        make_account(services, "secretary", role="admin", password=PASSWORD)
        for password in ("wrong-" + PASSWORD, PASSWORD):
            page = http.get(f"{url}/admin/login")
            token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
            answers.append(http.post(f"{url}/admin/login", allow_redirects=False,
                                     data={"name": "secretary", "password": password,
                                           "csrf_token": token}))
        assert answers[-1].status_code == 302 and http.get(f"{url}/admin/").status_code == 200
    # Outbound: a broadcast to both channels, with the token fetches it needs.
    delivery.create_broadcast(services, key="secret-test", text="今日学习", audience={"all": True},
                              fire_at=services.clock.now())
    delivery.drain(services, delivery.build_channels(services))
    issued = [c.answer["access_token"] for c in api.calls
              if c.answer and "access_token" in c.answer]
    assert len(issued) >= 2, "both channels fetched a token"
    assert api.delivered, "the broadcast reached the fake API"

    logged = "\n".join(logging.Formatter("%(name)s %(message)s").format(r) for r in caplog.records)
    out, err = capfd.readouterr()
    pages = "\n".join(a.text for a in answers[4:7])
    everything = "\n".join([logged, out, err, pages])
    assert "GET /healthz" in everything or "/healthz" in logged, "the access log was captured"
    secrets = {**SECRETS, "password": PASSWORD,
               **{f"access_token {n}": t for n, t in enumerate(issued)},
               "mp AES key bytes": base64.b64decode(SECRETS["mp.encoding_aes_key"] + "=").hex()}
    leaked = {name for name, value in secrets.items() if value in everything}
    assert not leaked, f"logged: {sorted(leaked)}"


def test_the_redaction_masks_values_and_keeps_the_line(run, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s "%s %s"', "http://127.0.0.1:1", "GET",
        "/cgi-bin/gettoken?corpid=ww1&corpsecret=abc123&x=1")
    logging.getLogger("urllib3.connectionpool").debug(
        "POST /cgi-bin/message/send?access_token=TOKEN42 HTTP/1.1")
    text = caplog.text
    assert "corpid=ww1&corpsecret=***&x=1" in text and "access_token=***" in text
    assert "abc123" not in text and "TOKEN42" not in text
