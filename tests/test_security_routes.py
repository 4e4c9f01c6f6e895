"""Security review of the web app, route by route, walked from app.url_map (no hand list):
every route is either public by a recorded decision or refuses a logged-out request; every
POST refuses a missing or foreign CSRF token and writes nothing; the session cookie changes at
login (no fixation); ?next= never leads off the site; uploads cannot write outside their folder.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.routing.converters import NumberConverter

from tests.conftest import MP_TEST
from tests.console_helpers import PASSWORD, csrf_of, login, make_account
from tests.fuzz.store import fingerprint

# Endpoints anyone may call, and why. A new route outside /admin fails the walk below until
# someone adds it here: being public must be a decision, not an accident.
PUBLIC = {
    "webhook.official_account": "WeChat calls it; authenticated by signature and AES",
    "webhook.wecom": "WeCom calls it; authenticated by signature and AES",
    "health.index": "a plain 'it runs' page",
    "health.healthz": "for the load balancer and monitoring; no secrets (test_security_secrets)",
    "metrics.metrics": "scraped by monitoring; counts only (test_security_secrets greps it)",
    "static": "CSS and scripts",
    "console.login": "the login form itself",
    "console.setup": "首次设置: 404 unless no account exists and `serve` issued a one-time token"
                     " (test_console_setup)",
}
# The simulator lets anyone act as any member by design; it exists only with sandbox.enabled
# (README: turn it off when a real channel goes live). Checked by the test below.
SANDBOX_ONLY = "simulator."
SAMPLES = {"verb": "pause", "month": "2026-11", "name": "admin", "filename": "x"}


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule, with sample values for its arguments."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        values = {}
        for arg in rule.arguments:
            numeric = isinstance(rule._converters[arg], NumberConverter)
            values[arg] = SAMPLES.get(arg, 1 if numeric else "x")
        url = adapter.build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


@pytest.fixture
def admin_app(services, app):
    make_account(services, "admin", role="admin")
    make_account(services, "secretary", role="secretary", branch="第一党支部")
    return app


def test_every_route_is_public_by_decision_or_refuses_a_stranger(admin_app):
    client = admin_app.test_client()
    walked = routes(admin_app)
    assert any(url.startswith("/admin") for _, _, url in walked), "the console is mounted"
    for endpoint, method, url in walked:
        if endpoint in PUBLIC or endpoint.startswith(SANDBOX_ONLY):
            continue
        assert url.startswith("/admin"), f"{endpoint} ({url}) is public by accident: decide"
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, (endpoint, url, response.status_code)
            assert urlsplit(response.headers["Location"]).path == "/admin/login", url
        else:
            assert response.status_code in (400, 401, 403), (endpoint, method, url)


def test_the_simulator_is_gone_when_the_sandbox_is_off(make_services):
    from bot import create_app

    app = create_app(services=make_services(sandbox={"enabled": False}, mp=MP_TEST))
    assert not [rule for rule in app.url_map.iter_rules()
                if rule.endpoint.startswith(SANDBOX_ONLY)]
    assert app.test_client().post("/sim/api/send", json={"user": "m1", "text": "打卡"}
                                  ).status_code == 404


@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
def test_every_post_refuses_a_bad_csrf_token_and_writes_nothing(admin_app, services, token):
    client = admin_app.test_client()
    assert login(client, "admin").status_code == 302
    other = admin_app.test_client()
    foreign = csrf_of(other.get("/admin/login").get_data(as_text=True))
    store = str(services.config.store_path)
    before = fingerprint(store)
    # The console's POST routes (the webhooks and the sandbox simulator have no sessions).
    posts = [(e, u) for e, m, u in routes(admin_app)
             if m == "POST" and u.startswith("/admin") and e != "console.login"]
    assert len(posts) >= 10
    for endpoint, url in posts:
        data = {} if token == "missing" else {
            "csrf_token": "x" * 43 if token == "wrong" else foreign}
        response = client.post(url, data=data)
        assert response.status_code == 400, (endpoint, url, response.status_code)
        # Also as fetch() would send it: in the header.
        if token != "missing":
            response = client.post(url, headers={"X-CSRF-Token": data["csrf_token"]})
            assert response.status_code == 400, (endpoint, url)
    assert fingerprint(store) == before, "a POST refused for its CSRF token wrote rows"


def test_login_issues_a_new_session_and_the_old_cookie_is_worth_nothing(admin_app):
    client = admin_app.test_client()
    cookie_name = admin_app.config["SESSION_COOKIE_NAME"]
    page = client.get("/admin/login")
    before = client.get_cookie(cookie_name).value
    token = csrf_of(page.get_data(as_text=True))
    response = client.post("/admin/login", data={"name": "admin", "password": PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302
    after = client.get_cookie(cookie_name).value
    assert after != before
    assert client.get("/admin/").status_code == 200
    # An attacker who planted (or read) the pre-login cookie gets nothing from it.
    planted = admin_app.test_client()
    planted.set_cookie(cookie_name, before)
    assert planted.get("/admin/").status_code == 302
    # The CSRF token changes with the login too: one read before login is useless after.
    assert csrf_of(client.get("/admin/").get_data(as_text=True)) != token


def test_logout_ends_the_session_for_a_copied_cookie(admin_app):
    client = admin_app.test_client()
    cookie_name = admin_app.config["SESSION_COOKIE_NAME"]
    login(client, "admin")
    copied = client.get_cookie(cookie_name).value
    token = csrf_of(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    thief = admin_app.test_client()
    thief.set_cookie(cookie_name, copied)
    assert thief.get("/admin/").status_code == 302, "a logged-out session still works"


OFFSITE = ["https://evil.example/", "//evil.example/", "///evil.example", "/\\evil.example",
           "\\\\evil.example", "/admin@evil.example", "https:/evil.example", "http:evil.example",
           "/admin/..//evil.example", "//evil.example/admin", " //evil.example",
           "/admin\r\nLocation: https://evil.example", "/admin\x00", "javascript:alert(1)",
           "/admin/%2F%2Fevil.example", "%2F%2Fevil.example", "/\t/evil.example",
           "/admin\\..\\..\\\\evil.example", "ftp://evil.example"]


def is_on_site(location: str) -> bool:
    """A browser following this Location stays on our host."""
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        return parts.netloc in ("", "localhost") and parts.scheme in ("", "http", "https")
    path = location.replace("\\", "/")
    return path.startswith("/") and not path.startswith("//") and not any(
        ord(ch) < 0x20 for ch in location)


@pytest.mark.parametrize("target", OFFSITE)
def test_next_never_leads_off_the_site(admin_app, target):
    client = admin_app.test_client()
    page = client.get("/admin/login", query_string={"next": target})
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    response = client.post("/admin/login", query_string={"next": target},
                           data={"name": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    assert is_on_site(response.headers["Location"]), response.headers["Location"]
    # Already logged in, the login page redirects at once: the same rule applies.
    again = client.get("/admin/login", query_string={"next": target})
    assert again.status_code == 302
    assert is_on_site(again.headers["Location"]), again.headers["Location"]


TRAVERSAL = ["../../../../etc/passwd.csv", "/etc/passwd.csv", "..\\..\\x.csv", "a/../../b.csv",
             "C:\\Windows\\x.csv", "....//....//x.csv", "%2e%2e%2fx.csv", "x.csv\x00.txt",
             "../" * 30 + "tmp/x.csv"]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", TRAVERSAL)
def test_upload_names_cannot_write_outside_the_upload_folder(admin_app, services, tmp_path,
                                                              name):
    client = admin_app.test_client()
    login(client, "admin")
    token = csrf_of(client.get("/admin/members/import").get_data(as_text=True))
    root = tmp_path.parent
    before = files_under(root)
    roster = "姓名,支部\n王五,第一党支部\n".encode()
    client.post("/admin/members/import", data={
        "csrf_token": token, "file": (io.BytesIO(roster), name)},
        content_type="multipart/form-data")
    client.post("/admin/content/import", data={
        "csrf_token": token, "file": (io.BytesIO("第一条 测试。\n".encode()), name)},
        content_type="multipart/form-data")
    created = files_under(root) - before
    for path in created:
        assert tmp_path in path.parents, f"an upload named {name!r} wrote {path}"
        assert "passwd" not in path.name and ".." not in path.name, path
    assert not Path("/etc/passwd.csv").exists() and not Path("/tmp/x.csv").exists()
