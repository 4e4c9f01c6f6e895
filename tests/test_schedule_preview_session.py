"""The schedule form's live preview never touches the session (issue 12: the 「已创建」 flash once
came back on the next page).

The console's session is one signed cookie. Before the fix every console response wrote it back
(the idle timer is in it), the preview's too: a preview sent with the cookie that still held the
「已创建」 flash, answered after the next page had shown and dropped that flash, put the whole old
session back, flash included. Now the preview's response carries no Set-Cookie at all.
"""

from __future__ import annotations

import pytest

from tests.console_helpers import login, make_account, text, token

COOKIE = "qingfeng_console"
FORM = {"kind": "daily", "time": "10:00", "target": "all", "content": "text",
        "text": "今晚七点支部学习，请准时参加"}


@pytest.fixture
def admin_client(services, client):
    make_account(services, "root")
    login(client, "root")
    return client


def cookie(client) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None
    return found.value


def preview(client, csrf: str, **changes: str):
    return client.post("/admin/schedules/preview", data={**FORM, **changes, "csrf_token": csrf},
                       headers={"X-CSRF-Token": csrf, "Accept": "application/json"})


def test_the_preview_answers_without_writing_the_session_cookie(admin_client):
    csrf = token(admin_client)
    before = cookie(admin_client)
    answer = preview(admin_client, csrf)
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert "Set-Cookie" not in answer.headers
    assert cookie(admin_client) == before
    # An error answer (the form half filled) writes nothing either.
    answer = preview(admin_client, csrf, time="")
    assert answer.get_json()["ok"] is False and "Set-Cookie" not in answer.headers
    assert cookie(admin_client) == before


def test_a_preview_sent_before_the_flash_was_shown_cannot_bring_it_back(app, admin_client):
    csrf = token(admin_client)
    created = admin_client.post("/admin/schedules/new", data={**FORM, "csrf_token": csrf})
    assert created.status_code == 303
    with_flash = cookie(admin_client)  # the cookie a preview still in flight was sent with
    shown = text(admin_client.get(created.headers["Location"]))
    assert shown.count("已创建定时消息") == 1
    # The preview from the form's page, sent with the old cookie, answered only now.
    late = app.test_client()
    late.set_cookie(COOKIE, with_flash)
    answer = preview(late, csrf, text="晚到的预览")
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert "Set-Cookie" not in answer.headers  # before the fix: the old session, flash and all
    assert cookie(late) == with_flash
    assert "已创建定时消息" not in text(admin_client.get("/admin/schedules"))


def test_a_flash_waiting_in_the_session_survives_a_preview_and_shows_once(admin_client):
    csrf = token(admin_client)
    created = admin_client.post("/admin/schedules/new", data={**FORM, "csrf_token": csrf})
    preview(admin_client, csrf, text="预览不读也不写提示")
    assert text(admin_client.get(created.headers["Location"])).count("已创建定时消息") == 1
    assert "已创建定时消息" not in text(admin_client.get("/admin/schedules"))


def test_an_idle_session_is_told_to_log_in_by_the_preview_and_left_alone(admin_client, clock):
    csrf = token(admin_client)
    before = cookie(admin_client)
    clock.advance(minutes=31)  # console.idle_minutes is 30
    answer = preview(admin_client, csrf)
    assert answer.status_code == 401 and answer.get_json() == {"error": "请先登录"}
    assert "Set-Cookie" not in answer.headers and cookie(admin_client) == before
    # The next page the person opens ends the session as before, with its explanation.
    page = admin_client.get("/admin/schedules")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]


def test_a_preview_does_not_count_as_use_for_the_idle_timer(admin_client, clock):
    csrf = token(admin_client)
    clock.advance(minutes=20)
    assert preview(admin_client, csrf).status_code == 200
    clock.advance(minutes=11)  # 31 minutes after the last page, 11 after the preview
    assert admin_client.get("/admin/schedules").status_code == 302
