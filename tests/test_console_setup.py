"""首次设置: the one-time link to create the first admin account in the browser.

Over HTTP to the app: the page exists only while no account exists and a link was issued;
the right token, a good name and the same password twice create one admin (audited as 首次设置)
and log them in; every bad input (wrong token, a token from an earlier start, the link once an
account exists, a weak password, passwords that differ, a bad name, no CSRF token) gets a clear
Chinese answer and writes nothing; two submissions of the same token at once create one account.
The served app (`python -m bot serve`, gunicorn, real sockets) prints the link in its banner,
once, and nowhere else in its output, and prints none once an account exists.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from bot.console import first_run
from bot.store import admins
from tests.console_helpers import PASSWORD, csrf_of, make_account, text
from tests.fuzz.store import fingerprint
from tests.paths import CONTENT, ROOT

GOOD = {"name": "张书记", "password": PASSWORD, "again": PASSWORD}


@pytest.fixture
def fresh(services):
    """No account yet; `serve` issued a link: its token."""
    return first_run.issue(services.store)


def open_form(client) -> str:
    page = client.get("/admin/setup")
    assert page.status_code == 200, text(page)
    return csrf_of(text(page))


def submit(client, token: str, **fields: str):
    form = {**GOOD, "token": token, "csrf_token": open_form(client), **fields}
    return client.post("/admin/setup", data=form)


def rows(services) -> dict[str, str]:
    return fingerprint(str(services.config.store_path))


def accounts_of(services) -> list[admins.Admin]:
    return admins.all_admins(services.store.db)


def test_the_link_creates_the_first_admin_logs_them_in_and_is_audited(services, client, fresh):
    response = submit(client, fresh)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")
    [account] = accounts_of(services)
    assert (account.name, account.role, account.active) == ("张书记", "admin", True)
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200 and "已创建管理员账号 张书记" in text(dashboard)
    actor, action, detail = services.store.db.execute(
        "SELECT actor, action, detail FROM audit WHERE action = 'account.create'").fetchone()
    assert (actor, action) == ("setup", "account.create") and fresh not in detail
    assert services.store.db.execute("SELECT count(*) FROM kv WHERE key = ?",
                                     [first_run.SETUP_KEY]).fetchone()[0] == 0
    # The password works at the login page too.
    other = client.application.test_client()
    login = other.post("/admin/login", data={"name": "张书记", "password": PASSWORD,
                                             "csrf_token": csrf_of(text(other.get("/admin/login")))})
    assert login.status_code == 302


def test_only_the_tokens_digest_is_stored(services, fresh):
    stored = services.store.db.execute("SELECT value FROM kv WHERE key = ?",
                                       [first_run.SETUP_KEY]).fetchone()[0]
    assert fresh not in stored and len(stored) == 64 and len(fresh) >= 40


@pytest.mark.parametrize("fields, answer", [
    ({"token": "x" * 43}, "设置链接不正确或已过期"),
    ({"token": ""}, "设置链接不正确或已过期"),
    ({"password": "short", "again": "short"}, "密码至少 10 个字符"),
    ({"password": " " + PASSWORD, "again": " " + PASSWORD}, "密码首尾不能是空格"),
    ({"again": PASSWORD + "x"}, "两次输入的密码不一致"),
    ({"name": "x"}, "账号名须为 2 到 32 个字符"),
    ({"name": "a b;--"}, "账号名须为 2 到 32 个字符"),
], ids=["wrong-token", "no-token", "weak", "spaces", "differ", "short-name", "bad-name"])
def test_a_bad_submission_is_answered_in_chinese_and_writes_nothing(services, client, fresh,
                                                                    fields, answer):
    before = rows(services)
    token = fields.pop("token", fresh)
    response = submit(client, token, **fields)
    assert response.status_code == 200 and answer in text(response), text(response)
    assert 'name="token"' in text(response), "the form is shown again to correct"
    assert rows(services) == before
    # The right submission still works afterwards: a mistake does not burn the link.
    assert submit(client, fresh).status_code == 303


def test_a_token_from_an_earlier_start_is_refused(services, client, fresh):
    newer = first_run.issue(services.store)  # the service was restarted
    before = rows(services)
    response = submit(client, fresh)
    assert "设置链接不正确或已过期" in text(response) and rows(services) == before
    assert submit(client, newer).status_code == 303


def test_the_token_cannot_be_used_twice(services, client, fresh):
    assert submit(client, fresh).status_code == 303
    before = rows(services)
    page = client.application.test_client().get("/admin/setup")
    assert page.status_code == 404 and first_run.ALREADY_SET_UP in text(page)
    # Submitted again from the same browser, with its valid CSRF token.
    response = client.post("/admin/setup", data={**GOOD, "token": fresh, "name": "李四书记",
                                                 "csrf_token": csrf_of(text(client.get("/admin/")))})
    assert response.status_code == 404 and first_run.ALREADY_SET_UP in text(response)
    assert rows(services) == before and [a.name for a in accounts_of(services)] == ["张书记"]


def test_the_link_is_dead_once_an_account_exists_however_it_was_made(services, client, fresh):
    make_account(services, "admin")  # e.g. `python -m bot admin create`
    before = rows(services)
    page = client.get("/admin/setup")
    assert page.status_code == 404 and first_run.ALREADY_SET_UP in text(page)
    assert rows(services) == before
    assert first_run.issue(services.store) is None  # the next start prints no link


def test_no_link_issued_no_page(services, client):
    page = client.get("/admin/setup")
    assert page.status_code == 404 and "python -m bot serve" in text(page)


def test_a_submission_without_the_csrf_token_is_refused(services, client, fresh):
    open_form(client)
    before = rows(services)
    response = client.post("/admin/setup", data={**GOOD, "token": fresh})
    assert response.status_code == 400 and "页面已过期" in text(response)
    assert rows(services) == before and accounts_of(services) == []


def test_two_submissions_at_once_create_one_account(services, app, fresh):
    clients = [app.test_client(), app.test_client()]
    forms = [{**GOOD, "name": name, "token": fresh, "csrf_token": open_form(c)}
             for c, name in zip(clients, ("甲书记", "乙书记"), strict=True)]
    start = threading.Barrier(2)
    answers: list = [None, None]

    def post(i: int) -> None:
        start.wait()
        answers[i] = clients[i].post("/admin/setup", data=forms[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes in ([200, 303], [303, 404]), codes
    loser = next(a for a in answers if a.status_code != 303)
    assert first_run.ALREADY_SET_UP in text(loser)
    assert len(accounts_of(services)) == 1


# --- the served app: the banner, real sockets ------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    import sys

    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 2\nthreads = 4\n'
                      f'[store]\npath = "{tmp_path / "q.db"}"\n[content]\npath = "{CONTENT}"\n',
                      encoding="utf-8")
    base = [sys.executable, "-m", "bot", "--config", str(config)]
    subprocess.run([*base, "init"], cwd=ROOT, check=True, capture_output=True)
    log = tmp_path / f"serve-{port}.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([*base, "serve", "--no-scheduler"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"})
    return proc, log


def wait_until_up(proc: subprocess.Popen, port: int, log: Path) -> None:
    from tests.test_crash_fanout import wait_for

    def up() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status in (200, 503)
        except OSError:
            return False

    wait_for("the server to answer", up, proc, log)


def stop(proc: subprocess.Popen) -> None:
    import os
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def test_serve_prints_the_link_once_and_it_works_over_real_http(tmp_path):
    port = free_port()
    proc, log = serve(tmp_path, port)
    try:
        wait_until_up(proc, port, log)
        banner = log.read_text(encoding="utf-8")
        base = f"http://127.0.0.1:{port}"
        assert f"成员模拟器：{base}/sim" in banner and f"管理后台：  {base}/admin" in banner
        found = re.search(rf"{re.escape(base)}/admin/setup#([A-Za-z0-9_-]+)", banner)
        assert found, banner
        token = found.group(1)
        # Two browsers submit the link at the same moment, on two gunicorn workers.
        sessions = [requests.Session(), requests.Session()]
        forms = []
        for s, name in zip(sessions, ("甲书记", "乙书记"), strict=True):
            page = s.get(f"{base}/admin/setup", timeout=10)
            assert page.status_code == 200
            forms.append({**GOOD, "name": name, "token": token, "csrf_token": csrf_of(page.text)})
        start = threading.Barrier(2)
        answers: list = [None, None]

        def post(i: int) -> None:
            start.wait()
            answers[i] = sessions[i].post(f"{base}/admin/setup", data=forms[i],
                                          allow_redirects=False, timeout=20)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(a.status_code == 303 for a in answers) == 1, [a.status_code for a in answers]
        loser = next(a for a in answers if a.status_code != 303)
        assert first_run.ALREADY_SET_UP in loser.text
        assert sessions[0].get(f"{base}/admin/setup", timeout=10).status_code == 404
    finally:
        stop(proc)
    output = log.read_text(encoding="utf-8")
    assert output.count(token) == 1, "the token appears in the banner only, in no log line"
    assert "/admin/setup" in output  # the access log has the path, without the token
    # Restarted with an account: no link, the console and the simulator still named.
    proc, log = serve(tmp_path, port)
    try:
        wait_until_up(proc, port, log)
        banner = log.read_text(encoding="utf-8")
        assert "/admin/setup" not in banner and "管理后台" in banner
    finally:
        stop(proc)


def test_init_says_how_to_get_the_first_account(tmp_path, built):
    from click.testing import CliRunner

    from bot.cli import cli

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "q.db"}"\n[content]\npath = "{CONTENT}"\n',
                      encoding="utf-8")
    first = CliRunner().invoke(cli, ["--config", str(config), "init"])
    assert first.exit_code == 0 and "还没有管理后台账号" in first.output, first.output
    make_account(built[-1], "admin")
    again = CliRunner().invoke(cli, ["--config", str(config), "init"])
    assert again.exit_code == 0 and "还没有管理后台账号" not in again.output, again.output
