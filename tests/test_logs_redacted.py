"""The logs never hold a callback's signature, msg_signature, timestamp, nonce, echostr or
openid (issue 11 §1): a real `python -m bot serve` (gunicorn, its access log on stdout and its
error log with every application logger on stderr) receives real signed callbacks on
/wechat/mp (safe mode) and /wechat/wecom - URL checks, messages, a plaintext POST it refuses,
a stale one and a replay - and then both logs are searched for every query value sent. The
path and the status of each request are still there.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from bot import redact
from bot.wire import sign
from tests.conftest import MP_TEST, WECOM_TEST
from tests.paths import CONTENT, ROOT
from tests.test_crash_fanout import wait_for
from tests.test_crash_loop import bot, free_port
from tests.wechat import Platform, encrypted_request, plain_query, text_xml, wecom_request

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
SECRETS = {"QINGFENG_MP_TOKEN": MP_TEST["token"],
           "QINGFENG_MP_ENCODING_AES_KEY": MP_TEST["encoding_aes_key"],
           "QINGFENG_WECOM_TOKEN": WECOM_TEST["token"],
           "QINGFENG_WECOM_ENCODING_AES_KEY": WECOM_TEST["encoding_aes_key"]}
OPENID = "oQf7LogsMemberOpenid01"  # WeChat adds the sender's openid to an OA callback's query
LOGGED = ("signature", "msg_signature", "timestamp", "nonce", "echostr", "openid")


def write_config(directory: Path, port: int) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 2\nthreads = 2\n\n'
        f'[store]\npath = "{directory / "logs.db"}"\n\n[content]\npath = "{CONTENT}"\n\n'
        "[sandbox]\nenabled = false\n\n"
        f'[mp]\nenabled = true\napp_id = "{MP_TEST["app_id"]}"\n\n'  # safe mode: the default
        f'[wecom]\nenabled = true\ncorp_id = "{WECOM_TEST["corp_id"]}"\nagent_id = 1000002\n',
        encoding="utf-8")
    return config


def call(port: int, method: str, url: str, body: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, url, body=body.encode() if body is not None else None,
                 headers={"Content-Type": "text/xml"})
    answer = conn.getresponse()
    answer.read()
    return answer.status


def healthy(port: int) -> bool:
    try:
        return call(port, "GET", "/healthz") == 200
    except OSError:
        return False


def requests_to_send(now: int) -> list[tuple[str, str, str | None, int]]:
    """(method, url, body, expected status): every kind of callback both doors take."""
    mp_query, mp_body = encrypted_request(MP, text_xml(OPENID, "帮助", 9101, now), now)
    mp_query += f"&openid={OPENID}"
    wecom_query, wecom_body = wecom_request(WECOM, text_xml("wangjg", "帮助", 9102, now), now)
    echo = WECOM.encrypt("4815162342")
    wecom_check = {"timestamp": str(now), "nonce": "770077"}
    wecom_check["msg_signature"] = sign(WECOM.token, wecom_check["timestamp"], "770077", echo)
    wecom_check["echostr"] = echo
    other_body = mp_body.replace("<ToUserName>", "<ToUserName>x", 1)
    return [
        ("GET", f"/wechat/mp?{plain_query(MP, now, echostr='9988776655', openid=OPENID)}", None, 200),
        ("GET", f"/wechat/wecom?{urlencode(wecom_check)}", None, 200),
        ("POST", f"/wechat/mp?{mp_query}", mp_body, 200),
        ("POST", f"/wechat/mp?{mp_query}", mp_body, 200),  # WeChat's retry
        ("POST", f"/wechat/mp?{mp_query}", other_body, 403),  # another body: bad msg_signature
        ("POST", f"/wechat/wecom?{wecom_query}", wecom_body, 200),
        # Plaintext in safe mode (refused), and a stale one: both logged as refusals.
        ("POST", f"/wechat/mp?{plain_query(MP, now, openid=OPENID)}", text_xml(OPENID, "我的", 9103, now),
         403),
        ("POST", f"/wechat/mp?{plain_query(MP, now - 4000, openid=OPENID)}",
         text_xml(OPENID, "我的", 9104, now), 403),
    ]


def test_no_callback_value_reaches_the_access_or_error_log(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")},
           **SECRETS, "PYTHONUNBUFFERED": "1"}
    with access.open("w") as out, errors.open("w") as err:
        proc = subprocess.Popen(bot(config, "serve", "--no-scheduler"), cwd=ROOT, env=env,
                                stdout=out, stderr=err, start_new_session=True)
    try:
        wait_for("the server to answer /healthz", lambda: healthy(port), proc, errors)
        sent = requests_to_send(int(time.time()))
        statuses = [call(port, method, url, body) for method, url, body, _ in sent]
        assert statuses == [expected for *_, expected in sent]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # gunicorn's graceful stop flushes both logs
        proc.wait(timeout=30)

    access_log, error_log = access.read_text(), errors.read_text()
    values = {value for _m, url, _b, _s in sent
              for name, value in parse_qsl(url.partition("?")[2]) if name in LOGGED}
    assert len(values) > 10
    for name, text in (("access log", access_log), ("error log", error_log)):
        leaked = sorted(v for v in values if v in text)
        assert not leaked, f"{name} holds {leaked}"
    # Still there: each request's method, path and status, and the refusals' reasons.
    lines = [line for line in access_log.splitlines() if "/wechat/" in line]
    assert len(lines) == len(sent)
    for line, (method, url, _body, status) in zip(lines, sent, strict=True):
        assert re.search(rf'"{method} {url.partition("?")[0]}\?\S+ HTTP/1.1" {status} ', line), line
        assert "nonce=***" in line
    assert "WeChat seems to be in 明文模式" in error_log
    assert re.search(r"timestamp is -4\d\d\ds from now \(more than 300s\)", error_log)
    assert error_log.count("callback rejected") == 3


def test_every_application_logger_reaching_a_handler_is_masked():
    # The filter sits on the handlers (the root's under `serve`), so a record from any logger
    # that propagates there is masked, traceback included; the rest of the line stays.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact.install()
        log = logging.getLogger("bot.some.module")
        log.warning("callback on %s", "/wechat/mp?signature=5ec7e7&timestamp=1796&nonce=4242&x=1")
        try:
            raise ValueError("bad echostr=Zm9vYmFy in /wechat/wecom?msg_signature=abcdef")
        except ValueError:
            log.exception("failed for openid=oQfMember")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "callback on /wechat/mp?signature=***&timestamp=***&nonce=***&x=1" in text
    assert "ValueError: bad echostr=*** in /wechat/wecom?msg_signature=***" in text
    assert "failed for openid=***" in text
    for value in ("5ec7e7", "1796", "4242", "Zm9vYmFy", "abcdef", "oQfMember"):
        assert value not in text
