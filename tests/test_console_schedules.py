"""定时推送 pages: live preview JSON, create, edit, pause/resume/cancel, send now, and the
history with delivery counts, with the test client, the test clock and the scheduler's own job
functions (no sleeping)."""

from __future__ import annotations

import pytest

from bot import create_app
from bot.store import schedules as store_schedules
from schedules import jobs
from tests.conftest import MP_TEST
from tests.console_helpers import login, make_account, token

FORM = {"kind": "once", "at": "2026-11-23T10:00", "target": "all", "content": "text",
        "text": "今晚七点支部学习，请准时参加"}


@pytest.fixture
def admin_client(services, client):
    make_account(services, "root")
    login(client, "root")
    return client


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": token(client)})


def test_preview_json(services, admin_client):
    response = post(admin_client, "/admin/schedules/preview",
                    {**FORM, "kind": "weekly", "time": "08:30", "weekdays": ["mon", "fri"],
                     "target": "branches", "branches": "第二党支部"})
    assert response.status_code == 200
    data = response.get_json()
    assert data == {"ok": True, "text": FORM["text"], "audience": "第二党支部", "audience_size": 4,
                    "when": "每周一、周五 08:30",
                    "next_fires": ["2026-11-27 08:30", "2026-11-30 08:30", "2026-12-04 08:30",
                                   "2026-12-07 08:30", "2026-12-11 08:30"],
                    "duplicate": None}
    assert store_schedules.list_all(services.store.db) == []  # a preview creates nothing


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "sometimes"}, "请选择发送方式"),
    ({"at": ""}, "请填写发送的日期和时间"),
    ({"at": "not a date"}, "只发一次需要日期和时间"),
    ({"kind": "daily", "time": ""}, "请填写发送时间"),
    ({"kind": "daily", "time": "25:00"}, "时间请写成 时:分"),
    ({"kind": "weekly", "time": "08:00"}, "请至少选择一天"),
    ({"kind": "monthly", "time": "08:00", "day": "32"}, "每月的日期须是 1 到 31"),
    ({"kind": "cron", "cron": "not cron"}, ""),
    ({"target": "nobody"}, "请选择发送对象"),
    ({"target": "branches"}, "请至少选择一个支部"),
    ({"target": "branches", "branches": "不存在的支部"}, "没有在册党员"),
    ({"content": "text", "text": "   "}, "消息内容不能为空"),
    ({"content": "text", "text": "长" * 601}, "消息太长"),
    ({"content": "reminder", "reminder": "no-such"}, "没有编号为「no-such」的廉洁提醒"),
    ({"content": "poem"}, "请选择发送内容"),
])
def test_bad_definitions_are_explained_and_nothing_is_created(services, admin_client, changes,
                                                              message):
    preview = post(admin_client, "/admin/schedules/preview", {**FORM, **changes})
    assert preview.status_code == 200
    assert preview.get_json()["ok"] is False and message in preview.get_json()["error"]
    created = post(admin_client, "/admin/schedules/new", {**FORM, **changes})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    assert 'id="form-error"' in html
    assert store_schedules.list_all(services.store.db, include_finished=True) == []


def test_a_time_already_past_is_refused_on_create(services, admin_client):
    response = post(admin_client, "/admin/schedules/new", {**FORM, "at": "2026-11-23T08:00"})
    assert response.status_code == 200
    assert "今后不会发送" in response.get_data(as_text=True)


def test_create_fire_and_history_counts(services, admin_client, clock):
    created = post(admin_client, "/admin/schedules/new", FORM)
    assert created.status_code == 303
    schedule_id = int(created.headers["Location"].rsplit("/", 1)[1])
    show = admin_client.get(f"/admin/schedules/{schedule_id}").get_data(as_text=True)
    assert "尚未发送过" in show and "11-23 10:00" in show
    clock.advance(hours=1, minutes=1)
    jobs.fire_admin_schedules(services)
    jobs.drain_deliveries(services)
    login(admin_client, "root")  # an hour idle: the session timed out
    show = admin_client.get(f"/admin/schedules/{schedule_id}").get_data(as_text=True)
    assert '<td class="targeted">8</td><td class="sent">8</td>' in show
    assert store_schedules.get(services.store.db, schedule_id).status == "done"
    texts = [r[0] for r in services.store.db.execute("SELECT text FROM sandbox_inbox")]
    assert texts.count(FORM["text"]) == 8


def test_pause_resume_cancel_and_wrong_transitions(services, admin_client):
    schedule_id = int(post(admin_client, "/admin/schedules/new",
                           {**FORM, "kind": "daily", "time": "18:00"}
                           ).headers["Location"].rsplit("/", 1)[1])
    for verb, status in (("pause", "paused"), ("resume", "active"), ("cancel", "cancelled")):
        assert post(admin_client, f"/admin/schedules/{schedule_id}/{verb}", {}).status_code == 303
        assert store_schedules.get(services.store.db, schedule_id).status == status
    again = post(admin_client, f"/admin/schedules/{schedule_id}/pause", {})
    assert again.status_code == 303
    assert "不能改为「已暂停」" in admin_client.get(again.headers["Location"]).get_data(as_text=True)
    assert post(admin_client, f"/admin/schedules/{schedule_id}/explode", {}).status_code == 404
    assert post(admin_client, f"/admin/schedules/{schedule_id}/send-now", {}).status_code == 303
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0
    actions = [r[0] for r in services.store.db.execute(
        "SELECT action FROM audit WHERE actor = 'console:root' AND action LIKE 'schedule%'")]
    assert actions == ["schedule add", "schedule paused", "schedule active", "schedule cancelled"]


def test_edit_changes_the_definition_and_never_backfills(services, admin_client, clock):
    schedule_id = int(post(admin_client, "/admin/schedules/new",
                           {**FORM, "kind": "daily", "time": "18:00"}
                           ).headers["Location"].rsplit("/", 1)[1])
    form = admin_client.get(f"/admin/schedules/{schedule_id}/edit").get_data(as_text=True)
    assert 'value="18:00"' in form and FORM["text"] in form
    clock.advance(hours=2)  # 11:00
    login(admin_client, "root")  # two hours idle: log in again
    changed = post(admin_client, f"/admin/schedules/{schedule_id}/edit",
                   {**FORM, "kind": "daily", "time": "10:00", "target": "branches",
                    "branches": "第一党支部", "text": "改为上午十点"})
    assert changed.status_code == 303
    s = store_schedules.get(services.store.db, schedule_id)
    assert (s.spec, s.audience, s.content) == ({"time": "10:00"}, {"branches": ["第一党支部"]},
                                               {"text": "改为上午十点"})
    jobs.fire_admin_schedules(services)  # today's 10:00 is before the edit: not sent
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0
    clock.advance(days=1)
    jobs.fire_admin_schedules(services)
    assert services.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 1
    login(admin_client, "root")
    bad = post(admin_client, f"/admin/schedules/{schedule_id}/edit", {**FORM, "kind": "daily",
                                                                      "time": "nope"})
    assert bad.status_code == 200
    assert store_schedules.get(services.store.db, schedule_id).spec == {"time": "10:00"}
    post(admin_client, f"/admin/schedules/{schedule_id}/cancel", {})
    late = post(admin_client, f"/admin/schedules/{schedule_id}/edit",
                {**FORM, "kind": "daily", "time": "09:00"})
    assert late.status_code == 200 and "不能再修改" in late.get_data(as_text=True)


def test_send_now_queues_and_history_shows_undeliverable_reasons(make_services, clock):
    services = make_services(sandbox={"enabled": False}, mp=MP_TEST)

    client = create_app(services=services).test_client()
    make_account(services, "root")
    login(client, "root")
    schedule_id = int(post(client, "/admin/schedules/new", {**FORM, "kind": "daily",
                                                             "time": "18:00"}
                           ).headers["Location"].rsplit("/", 1)[1])
    sent = post(client, f"/admin/schedules/{schedule_id}/send-now", {})
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "已加入发送队列：应发 8 人" in page
    assert '<td class="undeliverable">8</td>' in page
    assert "8 人：未绑定企业微信或公众号" in page
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "未绑定企业微信或公众号" in dashboard and "无法送达" in dashboard
    clock.advance(minutes=5)
    assert services.store.db.execute(
        "SELECT count(*) FROM audit WHERE action = 'schedule send-now'").fetchone()[0] == 1


def test_schedules_list_hides_finished_unless_asked(services, admin_client):
    keep = int(post(admin_client, "/admin/schedules/new", {**FORM, "kind": "daily",
                                                            "time": "18:00"}
                    ).headers["Location"].rsplit("/", 1)[1])
    gone = int(post(admin_client, "/admin/schedules/new", {**FORM, "kind": "daily",
                                                            "time": "19:00"}
                    ).headers["Location"].rsplit("/", 1)[1])
    post(admin_client, f"/admin/schedules/{gone}/cancel", {})
    listing = admin_client.get("/admin/schedules").get_data(as_text=True)
    assert f"#{keep}<" in listing and f"#{gone}<" not in listing
    assert f"#{gone}<" in admin_client.get("/admin/schedules?all=1").get_data(as_text=True)


@pytest.mark.parametrize(("changes", "fields"), [
    ({"kind": "weekly", "time": ""}, ["time"]),
    ({"kind": "weekly", "time": "08:00"}, ["weekdays"]),
    ({"at": ""}, ["at"]),
    ({"kind": "daily", "time": "25:00"}, ["time"]),
    ({"kind": "monthly", "time": "08:00", "day": "0"}, ["day"]),
    ({"kind": "cron", "cron": "x"}, ["cron"]),
    ({"target": "branches"}, ["branches"]),
    ({"target": "branches", "branches": "不存在的支部"}, ["target", "branches", "groups"]),
    ({"text": " "}, ["content", "text", "reminder"]),
    ({"content": "reminder"}, ["reminder"]),
])
def test_a_preview_problem_names_the_fields_it_is_about(admin_client, changes, fields):
    """The form shows a problem only once one of these fields was filled in or left (or the
    form was submitted): static/console/schedule.js reads `fields`."""
    answer = post(admin_client, "/admin/schedules/preview", {**FORM, **changes}).get_json()
    assert answer["ok"] is False and answer["error"]
    assert answer["fields"] == fields


def test_a_form_sent_back_with_its_problem_counts_as_submitted(admin_client):
    fresh = admin_client.get("/admin/schedules/new").get_data(as_text=True)
    assert "data-submitted" not in fresh
    refused = post(admin_client, "/admin/schedules/new", {**FORM, "at": ""})
    assert 'id="schedule-form" data-submitted' in refused.get_data(as_text=True)
