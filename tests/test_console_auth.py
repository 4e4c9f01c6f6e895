"""Console login, sessions, CSRF and the failed-login throttle, with the Flask test client
against a real SQLite file and the test's clock (no sleeping)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from bot import create_app
from bot.console import sessions, throttle
from bot.store import admins
from tests.console_helpers import PASSWORD, csrf_of, login, make_account, token


def session_cookie(client) -> str:
    cookie = client.get_cookie("qingfeng_console")
    return cookie.value if cookie else ""


def audit_actions(services) -> list[str]:
    return [r[0] for r in services.store.db.execute("SELECT action FROM audit ORDER BY id")]


def test_login_then_dashboard_then_logout(services, client):
    make_account(services, "alice")
    assert client.get("/admin/").status_code == 302
    response = login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>概览" in html and "alice（管理员）" in html
    assert admins.by_name(services.store.db, "alice").last_login_at == "2026-11-23T09:00:00+08:00"

    out = client.post("/admin/logout", data={"csrf_token": csrf_of(html)})
    assert out.status_code == 302 and out.headers["Location"] == "/admin/login"
    assert client.get("/admin/").status_code == 302
    assert audit_actions(services)[-2:] == ["login", "logout"]


def test_wrong_password_unknown_name_and_disabled_account_get_the_same_answer(services, client,
                                                                            clock):
    make_account(services, "alice")
    make_account(services, "bob")
    with services.store.transaction() as db:
        admins.set_active(db, admins.by_name(db, "bob").id, False)
    for name, password in (("alice", "wrong-password-1"), ("nobody", PASSWORD), ("bob", PASSWORD)):
        response = login(client, name, password)
        assert response.status_code == 200
        assert "账号或密码不正确，或账号已停用。" in response.get_data(as_text=True)
        assert client.get("/admin/").status_code == 302
        clock.advance(minutes=1)  # past the address's growing delay


def test_empty_fields_are_refused_clearly(services, client):
    make_account(services, "alice")
    response = login(client, "alice", "")
    assert response.status_code == 200
    assert "请输入账号和密码。" in response.get_data(as_text=True)


def test_cookie_flags_and_no_fixation(services, client):
    make_account(services, "alice")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["csrf_token"] = "known-token"
    page = client.get("/admin/login")
    assert csrf_of(page.get_data(as_text=True)) == "known-token"
    response = client.post("/admin/login", data={"name": "alice", "password": PASSWORD,
                                                 "csrf_token": "known-token"})
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP in the test: a Secure cookie would be lost
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["csrf_token"] != "known-token"
        assert set(sess) == {"uid", "sv", "seen", "csrf_token"}


def test_secure_cookie_over_https_and_only_trusted_forwarded_proto(make_services):
    services = make_services(console={"trust_proxy": False})
    make_account(services, "alice")
    app = create_app(services=services)
    client = app.test_client()
    over_https = app.test_client()
    page = over_https.get("/admin/login", base_url="https://localhost")
    assert "Secure" in page.headers["Set-Cookie"]
    forged = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in forged.headers["Set-Cookie"]


def test_forwarded_proto_honoured_when_the_proxy_is_trusted(make_services):
    services = make_services(console={"trust_proxy": True})
    client = create_app(services=services).test_client()
    page = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["Set-Cookie"]


def test_post_without_or_with_a_wrong_csrf_token_is_refused(services, client):
    make_account(services, "alice")
    login(client, "alice")
    before = services.store.db.execute("SELECT count(*) FROM admin_users").fetchone()[0]
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post("/admin/accounts", data={"name": "mallory", "password": PASSWORD,
                                                        "role": "admin", **data})
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "页面已过期" in html and "安全校验未通过" in html
    assert services.store.db.execute("SELECT count(*) FROM admin_users").fetchone()[0] == before
    # The header works for fetch(), the form field for forms.
    ok = client.post("/admin/accounts", data={"name": "carol", "password": PASSWORD,
                                              "role": "admin"},
                     headers={"X-CSRF-Token": token(client)})
    assert ok.status_code == 303
    assert admins.by_name(services.store.db, "carol") is not None


def test_login_form_itself_needs_the_token(services, client):
    make_account(services, "alice")
    response = client.post("/admin/login", data={"name": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_slowdown_then_lockout_then_unlock_with_the_clock(services, client, clock):
    make_account(services, "alice")
    policy = throttle.Policy()
    assert [throttle.delay_after(n) for n in range(1, 6)] == [0, 1, 2, 4, 8]
    assert login(client, "alice", "wrong-password-1").status_code == 200  # failure 1: no delay
    assert login(client, "alice", "wrong-password-2").status_code == 200  # failure 2: 1 s
    refused = login(client, "alice", PASSWORD)  # right password, but within the delay
    assert refused.status_code == 200
    assert "登录失败次数过多，请在 09:00:01 之后再试。" in refused.get_data(as_text=True)
    clock.advance(seconds=1)
    for _ in range(policy.max_failures - 2):
        assert login(client, "alice", "wrong-password-x").status_code == 200
        clock.advance(seconds=30)
    # Five failures: locked for 15 minutes, even with the right password.
    locked = login(client, "alice", PASSWORD)
    assert locked.status_code == 200 and "登录失败次数过多" in locked.get_data(as_text=True)
    clock.advance(minutes=14)
    assert login(client, "alice", PASSWORD).status_code == 200
    clock.advance(minutes=2)
    assert login(client, "alice", PASSWORD).status_code == 302
    # A success forgets the account's failures.
    assert admins.failures_of(services.store.db, "user:alice").failures == 0
    assert audit_actions(services).count("login.failed") == 5


def test_lockout_is_per_account_but_an_address_is_counted_too(services, client, clock):
    make_account(services, "alice")
    make_account(services, "bob")
    for _ in range(5):
        login(client, "alice", "wrong-password-1")
        clock.advance(seconds=61)
    assert "登录失败次数过多" in login(client, "alice", PASSWORD).get_data(as_text=True)
    assert login(client, "bob", PASSWORD).status_code == 302  # bob is not locked out by alice
    # 15 failures from one address lock the address, whatever the account.
    guesser = services_client(services)
    for i in range(9):
        assert login(guesser, f"guess{i}", "wrong-password-1").status_code == 200
        clock.advance(seconds=61)
    assert login(services_client(services), "bob", PASSWORD).status_code == 302  # 14 so far
    login(guesser, "guess9", "wrong-password-1")
    clock.advance(seconds=61)
    refused = login(services_client(services), "bob", PASSWORD)
    assert "登录失败次数过多" in refused.get_data(as_text=True)


def test_idle_timeout(services, client, clock):
    make_account(services, "alice")
    login(client, "alice")
    clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200  # activity renews the idle timer
    clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    notice = client.get(response.headers["Location"])
    assert "长时间未操作，已自动退出" in notice.get_data(as_text=True)


@pytest.mark.parametrize("change", ["password", "disable", "role"])
def test_password_change_disable_or_role_change_ends_sessions(services, client, change):
    make_account(services, "root")
    make_account(services, "alice")
    login(client, "alice")
    assert client.get("/admin/").status_code == 200
    admin_client = services_client(services)
    login(admin_client, "root")
    path, data = {"password": ("/admin/accounts/alice/password", {"password": "new-password-99"}),
                  "disable": ("/admin/accounts/alice/active", {"active": "0"}),
                  "role": ("/admin/accounts/alice/role", {"role": "secretary",
                                                          "branch": "第一党支部"})}[change]
    assert admin_client.post(path, data={**data, "csrf_token": token(admin_client)}
                             ).status_code == 303
    assert client.get("/admin/").status_code == 302


def services_client(services) -> object:
    app: Flask = create_app(services=services)
    return app.test_client()


def test_the_session_key_is_shared_by_workers_and_restarts(make_services, monkeypatch):
    monkeypatch.delenv("QINGFENG_SERVER_SECRET_KEY", raising=False)
    services = make_services()
    first = create_app(services=services).config["SECRET_KEY"]
    second = create_app(services=services).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    make_account(services, "alice")
    worker_a = create_app(services=services).test_client()
    login(worker_a, "alice")
    worker_b = create_app(services=services).test_client()
    worker_b.set_cookie("qingfeng_console", session_cookie(worker_a))
    assert worker_b.get("/admin/").status_code == 200


def test_a_configured_key_wins(make_services):
    services = make_services(server={"secret_key": "k" * 40})
    assert create_app(services=services).config["SECRET_KEY"] == "k" * 40
    assert sessions.SECRET_KV_KEY not in {r[0] for r in services.store.db.execute(
        "SELECT key FROM kv")}


def test_a_forged_cookie_is_not_a_login(services, client):
    make_account(services, "alice")
    other = Flask("other")
    other.secret_key = "not-our-key"
    with other.test_request_context():
        from flask.sessions import SecureCookieSessionInterface
        forged = SecureCookieSessionInterface().get_signing_serializer(other).dumps(
            {"uid": 1, "sv": 1, "seen": 1e12})
    client.set_cookie("qingfeng_console", forged)
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/sim"])
def test_next_never_leaves_the_console(services, client, target):
    make_account(services, "alice")
    page = client.get(f"/admin/login?next={target}")
    response = client.post(f"/admin/login?next={target}",
                           data={"name": "alice", "password": PASSWORD,
                                 "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/admin/"


def test_next_returns_to_the_page_asked_for(services, client):
    make_account(services, "alice")
    response = client.get("/admin/members?q=%E7%8E%8B")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    page = client.get(login_url)
    back = client.post(login_url, data={"name": "alice", "password": PASSWORD,
                                        "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert re.match(r"^/admin/members\?q=", back.headers["Location"])


@pytest.mark.parametrize("key", ["idle_minutes", "max_failures", "lockout_minutes"])
def test_console_settings_below_one_stop_start_up(tmp_path, key):
    from bot.config import ConfigError, load_config
    from tests.conftest import test_config

    with pytest.raises(ConfigError, match=f"console.{key} must be at least 1"):
        load_config(test_config(tmp_path, console={key: 0}))


def test_an_old_hash_is_upgraded_at_login(services, client):
    from argon2 import PasswordHasher

    make_account(services, "alice")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with services.store.transaction() as db:
        admins.rehash(db, admins.by_name(db, "alice").id, weak)
    assert login(client, "alice").status_code == 302
    upgraded = admins.by_name(services.store.db, "alice").password_hash
    assert upgraded != weak and "m=19456,t=2,p=1" in upgraded
    assert client.get("/admin/").status_code == 200  # a rehash does not end the session
