"""Every console route's login and role checks, walked from app.url_map, and a branch secretary
held to their own branch on the raw HTTP routes (not only in what the pages show)."""

from __future__ import annotations

import pytest
from flask import Flask

from bot.store import members as store_members
from bot.store import schedules as store_schedules
from schedules import admin
from tests.console_helpers import login, make_account, token

SAMPLE = {"verb": "pause"}  # a valid value for converters with a fixed set of words


def console_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every /admin rule, with sample values for its arguments."""
    found = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        values = {arg: SAMPLE.get(arg, 1 if "int" in type(rule._converters[arg]).__name__.lower()
                                  else "x") for arg in rule.arguments}
        url = adapter.build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_the_walk_sees_every_page(app):
    endpoints = {endpoint for endpoint, _, _ in console_routes(app)}
    for expected in ("console.login", "console.dashboard", "console.members",
                     "console.members_import_preview", "console.schedules_preview",
                     "console.schedules_status", "console.accounts", "console.audit"):
        assert expected in endpoints
    assert len(endpoints) >= 20


def test_logged_out_every_route_but_login_redirects_or_refuses(app, client):
    routes = console_routes(app)
    for endpoint, method, url in routes:
        response = client.open(url, method=method)
        if endpoint == "console.login":
            assert response.status_code in (200, 400), (method, url)  # POST: no CSRF token
            continue
        if endpoint == "console.setup":  # public; 404 until `serve` issues a link (test_console_setup)
            assert response.status_code in (404, 400), (method, url)
            continue
        if method == "GET":
            assert response.status_code == 302, (endpoint, url, response.status_code)
            assert response.headers["Location"].startswith("/admin/login"), url
        else:
            assert response.status_code in (401, 403), (endpoint, method, url,
                                                         response.status_code)


def test_every_console_view_went_through_route(app):
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("console."):
            assert getattr(view, "console_guarded", False), endpoint


def test_a_secretary_is_refused_every_admin_only_route(services, app, client):
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    login(client, "sec1")
    csrf = token(client)
    admin_only = [(e, m, u) for e, m, u in console_routes(app)
                  if getattr(app.view_functions[e], "console_admin_only", False)]
    assert {e for e, _, _ in admin_only} >= {"console.accounts", "console.accounts_create",
                                              "console.audit"}
    for endpoint, method, url in admin_only:
        response = client.open(url, method=method, data={"csrf_token": csrf})
        assert response.status_code == 403, (endpoint, method, url)
        assert "无权访问" in response.get_data(as_text=True)
    page = client.get("/admin/")
    assert "操作日志" not in page.get_data(as_text=True)  # not in a secretary's menu


@pytest.fixture
def secretary(services, client):
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    login(client, "sec1")
    return client


def member_of(services, branch: str) -> store_members.Member:
    return next(m for m in store_members.list_members(services.store.db) if m.branch == branch)


def denied(services) -> list[str]:
    return [r[0] for r in services.store.db.execute(
        "SELECT detail FROM audit WHERE action = 'denied' AND actor = 'console:sec1'")]


def test_a_secretary_sees_only_their_branch(services, secretary):
    html = secretary.get("/admin/members?branch=第二党支部&status=all").get_data(as_text=True)
    first = [m.name for m in store_members.list_members(services.store.db)
             if m.branch == "第一党支部"]
    second = [m.name for m in store_members.list_members(services.store.db)
              if m.branch == "第二党支部"]
    assert all(name in html for name in first)
    assert not any(name in html for name in second)


def test_a_secretary_cannot_change_another_branchs_member(services, secretary):
    other = member_of(services, "第二党支部")
    csrf = token(secretary)
    for path, data in ((f"/admin/members/{other.id}/active", {"active": "0"}),
                       (f"/admin/members/{other.id}/bind-code", {})):
        response = secretary.post(path, data={**data, "csrf_token": csrf})
        assert response.status_code == 403
    row = services.store.db.execute("SELECT active, bind_code FROM members WHERE id = ?",
                                    [other.id]).fetchone()
    assert row == (1, None)
    assert len(denied(services)) == 2 and f"成员 #{other.id}" in denied(services)[0]
    # Their own branch works.
    mine = member_of(services, "第一党支部")
    assert secretary.post(f"/admin/members/{mine.id}/active",
                          data={"active": "0", "csrf_token": csrf}).status_code == 303
    assert not store_members.get_member(services.store.db, mine.id).active


def _schedule(services, audience: dict) -> int:
    return admin.create(services, kind="daily", spec={"time": "18:00"}, workdays_only=False,
                        audience=audience, content={"text": "学习提醒"}, actor="test")


def test_a_secretary_cannot_see_or_change_other_schedules(services, secretary):
    theirs = _schedule(services, {"branches": ["第二党支部"]})
    everyone = _schedule(services, {"all": True})
    mine = _schedule(services, {"branches": ["第一党支部"]})
    listing = secretary.get("/admin/schedules").get_data(as_text=True)
    assert f"#{mine}<" in listing and f"#{theirs}<" not in listing and f"#{everyone}<" not in listing
    csrf = token(secretary)
    for schedule_id in (theirs, everyone):
        assert secretary.get(f"/admin/schedules/{schedule_id}").status_code == 403
        assert secretary.get(f"/admin/schedules/{schedule_id}/edit").status_code == 403
        for verb in ("pause", "cancel", "send-now"):
            response = secretary.post(f"/admin/schedules/{schedule_id}/{verb}",
                                      data={"csrf_token": csrf})
            assert response.status_code == 403, verb
        edit = secretary.post(f"/admin/schedules/{schedule_id}/edit",
                              data={"csrf_token": csrf, "kind": "daily", "time": "07:00",
                                    "target": "branches", "branches": "第一党支部",
                                    "content": "text", "text": "改掉"})
        assert edit.status_code == 403
        s = store_schedules.get(services.store.db, schedule_id)
        assert s.status == "active" and s.spec == {"time": "18:00"}
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0
    assert len(denied(services)) == 2 * 6  # show, edit form, pause, cancel, send-now, edit
    assert secretary.get(f"/admin/schedules/{mine}").status_code == 200


@pytest.mark.parametrize("audience", [{"target": "all"},
                                      {"target": "branches", "branches": "第二党支部"},
                                      {"target": "groups", "groups": "综合处党小组"}])
def test_a_secretary_creates_only_for_their_own_branch(services, secretary, audience):
    form = {"csrf_token": token(secretary), "kind": "daily", "time": "18:00",
            "content": "text", "text": "学习提醒", **audience}
    assert secretary.post("/admin/schedules/new", data=form).status_code == 403
    assert secretary.post("/admin/schedules/preview", data=form).status_code == 403
    assert store_schedules.list_all(services.store.db, include_finished=True) == []
    own = {**form, "target": "branches", "branches": "第一党支部"}
    response = secretary.post("/admin/schedules/new", data=own)
    assert response.status_code == 303
    created = store_schedules.list_all(services.store.db)
    assert [s.audience for s in created] == [{"branches": ["第一党支部"]}]


def test_unknown_ids_are_404_not_500(services, secretary):
    csrf = token(secretary)
    assert secretary.get("/admin/schedules/999").status_code == 404
    assert secretary.post("/admin/members/999/active",
                          data={"active": "0", "csrf_token": csrf}).status_code == 404
    page = secretary.get("/admin/no-such-page")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)


def test_a_get_of_a_post_only_route_is_a_chinese_405(services, secretary):
    page = secretary.get("/admin/logout")
    assert page.status_code == 405 and "操作方式不对" in page.get_data(as_text=True)
    outside = secretary.post("/healthz")  # outside /admin the plain answer is kept
    assert outside.status_code == 405 and "操作方式不对" not in outside.get_data(as_text=True)
