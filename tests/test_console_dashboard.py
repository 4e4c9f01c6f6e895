"""概览's numbers (bot/console/dashboard_data.py) on a real database with the test clock, and the
page as an admin and as a secretary."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.console import dashboard_data as data
from bot.store import checkins
from bot.store import members as store_members
from schedules import admin
from tests.console_helpers import login, make_account

TODAY = date(2026, 11, 23)


def check_in(services, member_ids, day: date) -> None:
    with services.store.transaction() as db:
        for member_id in member_ids:
            checkins.record_checkin(db, member_id=member_id, day=day, note="",
                                    at=services.clock.now(), via="test")


def by_branch(services) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for m in store_members.list_members(services.store.db, active_only=True):
        found.setdefault(m.branch, []).append(m.id)
    return found


def test_today_rate_and_trend_by_scope(services):
    people = by_branch(services)
    check_in(services, people["第一党支部"][:3] + people["第二党支部"][:1], TODAY)
    check_in(services, people["第一党支部"][:1], TODAY - timedelta(days=29))
    check_in(services, people["第一党支部"][:4], TODAY - timedelta(days=30))  # outside the window
    db = services.store.db
    assert data.checkin_rate(db, None, TODAY) == data.Rate(4, 8)
    assert data.checkin_rate(db, None, TODAY).percent == 50.0
    assert data.checkin_rate(db, "第一党支部", TODAY).percent == 75.0
    assert data.checkin_rate(db, "第三党支部", TODAY).percent is None  # nobody: no rate, not 0
    points = data.trend(db, "第一党支部", TODAY)
    assert len(points) == 30 and points[0] == ("10-25", 25.0) and points[-1] == ("11-23", 75.0)
    assert all(value == 0 for _, value in points[1:-1])
    # A deactivated member leaves both the numerator and the base.
    with services.store.transaction() as tx:
        store_members.deactivate(tx, people["第一党支部"][0])
    assert data.checkin_rate(db, "第一党支部", TODAY) == data.Rate(2, 3)


def test_branch_completion_uses_the_months_required_tasks(services):
    db = services.store.db
    tasks = [r[0] for r in db.execute(
        "SELECT id FROM tasks WHERE month = '2026-11' AND required = 1 AND removed = 0")]
    assert tasks  # the shipped content has November tasks
    first = by_branch(services)["第一党支部"]
    with services.store.transaction() as tx:
        for member_id in first:
            for task_id in tasks:
                tx.execute("INSERT INTO task_done (task_id, member_id, day, at, via)"
                           " VALUES (?, ?, ?, ?, 'test')",
                           [task_id, member_id, TODAY.isoformat(), services.clock.now().isoformat()])
    measured, rows = data.branch_completion(services, None, TODAY)
    assert measured == "本月必学任务完成率"
    assert dict(rows) == {"第一党支部": 100.0, "第二党支部": 0.0}
    assert data.branch_completion(services, "第二党支部", TODAY)[1] == [("第二党支部", 0.0)]


def test_branch_completion_falls_back_to_working_day_checkins(services):
    services.store.db.execute("UPDATE tasks SET removed = 1")
    first = by_branch(services)["第一党支部"]
    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        check_in(services, first, day)
    check_in(services, first, date(2026, 11, 1))  # a Sunday: not a working day, not counted up
    measured, rows = data.branch_completion(services, None, TODAY)
    assert measured == "本月工作日打卡率"
    # 16 working days from Nov 2 to Nov 23; the Sunday check-in still counts as a check-in day
    # but never lifts a member above 100 %.
    assert dict(rows)["第一党支部"] == round(100 * 3 / 16, 1)
    assert dict(rows)["第二党支部"] == 0.0


def test_upcoming_and_scope(services):
    mine = admin.create(services, kind="daily", spec={"time": "10:00"}, workdays_only=False,
                        audience={"branches": ["第一党支部"]}, content={"text": "一支部学习"},
                        actor="test")
    admin.create(services, kind="daily", spec={"time": "09:30"}, workdays_only=False,
                 audience={"branches": ["第二党支部"]}, content={"text": "二支部学习"}, actor="test")
    everything = data.upcoming(services, None, limit=3)
    assert [(u.at.strftime("%H:%M"), u.what) for u in everything] == [
        ("09:30", "二支部学习"), ("10:00", "一支部学习"), ("08:30", "每日纪法条文")]  # Tue
    scoped = data.upcoming(services, "第一党支部", limit=20)
    assert {u.schedule_id for u in scoped} == {mine, None}  # None: the daily reading, for all
    assert all(u.what != "二支部学习" for u in scoped)


def test_failed_deliveries_by_scope(services):
    db = services.store.db
    people = by_branch(services)
    with services.store.transaction() as tx:
        tx.execute("INSERT INTO broadcasts (key, fire_at, text, audience, status, created_at)"
                   " VALUES ('t', ?, 'x', '{}', 'done', ?)",
                   [services.clock.now().isoformat(), services.clock.now().isoformat()])
        broadcast_id = tx.execute("SELECT id FROM broadcasts WHERE key = 't'").fetchone()[0]
        for member_id, status, why in ((people["第一党支部"][0], "failed", "errcode 43004: x"),
                                       (people["第二党支部"][0], "undeliverable", "no channel"),
                                       (people["第二党支部"][1], "sent", "")):
            tx.execute("INSERT INTO deliveries (broadcast_id, member_id, channel, external_id,"
                       " text, status, last_error) VALUES (?, ?, 'mp', 'o', 'x', ?, ?)",
                       [broadcast_id, member_id, status, why])
    since = services.clock.now() - timedelta(days=30)
    assert {(r["status"], r["n"]) for r in data.failed_deliveries(db, None, since)} == {
        ("failed", 1), ("undeliverable", 1)}
    assert [r["last_error"] for r in data.failed_deliveries(db, "第一党支部", since)] == [
        "errcode 43004: x"]


def test_the_page_for_an_admin_and_for_a_secretary(services, client):
    people = by_branch(services)
    check_in(services, people["第一党支部"][:2], TODAY)
    make_account(services, "root")
    login(client, "root")
    html = client.get("/admin/").get_data(as_text=True)
    assert "今日打卡率（2 / 8 人）" in html and "25%" in html
    assert 'class="chart chart-line"' in html and 'class="chart chart-bars"' in html
    assert 'id="alerts-table"' in html
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    other = client.application.test_client()
    login(other, "sec1")
    html = other.get("/admin/").get_data(as_text=True)
    assert "今日打卡率（2 / 4 人）" in html and "50%" in html
    assert "第二党支部" not in html and 'id="alerts-table"' not in html


def test_an_admin_sees_open_alerts_and_closes_one(services, client):
    from bot.store import alerts
    from tests.console_helpers import token

    now = services.clock.now()
    with services.store.transaction() as tx:
        first = alerts.raise_alert(tx, kind="ip_whitelist", channel="mp", detail="errcode 40164",
                                   at=now)
        alerts.raise_alert(tx, kind="token_quota", channel="wecom", detail="errcode 45009", at=now)
    make_account(services, "root")
    login(client, "root")
    html = client.get("/admin/").get_data(as_text=True)
    assert "服务器 IP 不在平台白名单（40164）（公众号）" in html
    assert "平台调用凭证今日获取次数已用完（45009）（企业微信）" in html
    ack = f"/admin/alerts/{first}/ack"
    # Without the CSRF token nothing is closed.
    assert client.post(ack).status_code == 400
    assert alerts.open_count(services.store.db) == 2
    done = client.post(ack, data={"csrf_token": token(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "已确认告警" in done and "40164" not in done.split("告警</h2>")[-1]
    assert alerts.open_count(services.store.db) == 1
    again = client.post(ack, data={"csrf_token": token(client)},
                        follow_redirects=True).get_data(as_text=True)
    assert "已经确认过了" in again
    audit = services.store.db.execute("SELECT actor, action FROM audit WHERE action = 'alert ack'")
    assert audit.fetchall() == [("console:root", "alert ack")]


def test_a_secretary_cannot_close_an_alert(services, client):
    from bot.store import alerts
    from tests.console_helpers import token

    with services.store.transaction() as tx:
        first = alerts.raise_alert(tx, kind="ip_whitelist", channel="mp", detail="x",
                                   at=services.clock.now())
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    login(client, "sec1")
    refused = client.post(f"/admin/alerts/{first}/ack",
                          data={"csrf_token": token(client)})
    assert refused.status_code == 403
    assert alerts.open_count(services.store.db) == 1


def test_upcoming_count_is_every_push_in_the_next_24_hours_not_the_lists_length(services,
                                                                                 client):
    # Mon 11-23 09:00: an hourly push from 10:00 to 20:00 (11 fires), two one-offs (one in the
    # window, one after it) and the daily reading at 08:30 on Tue: 13 pushes, the list shows 5.
    admin.create(services, kind="cron", spec={"cron": "0 10-20 * * *"}, workdays_only=False,
                 audience={"all": True}, content={"text": "整点学习"}, actor="test")
    admin.create(services, kind="once", spec={"at": "2026-11-24T08:59"}, workdays_only=False,
                 audience={"all": True}, content={"text": "窗口内"}, actor="test")
    admin.create(services, kind="once", spec={"at": "2026-11-24T09:01"}, workdays_only=False,
                 audience={"all": True}, content={"text": "窗口外"}, actor="test")
    assert data.upcoming_count(services, None) == 13
    assert len(data.upcoming(services, None)) == 5
    assert data.upcoming_count(services, "第一党支部") == 1  # the reading; the rest are admin's
    make_account(services, "admin1")
    login(client, "admin1")
    page = client.get("/admin/").get_data(as_text=True)
    assert '<div class="value" id="upcoming-count">13</div>' in page
    assert "未来 24 小时推送" in page
    assert "接下来的推送（未来 24 小时共 13 次，显示最近 5 次）" in page


@pytest.mark.parametrize(("in_window", "shown", "note"), [
    (13, 5, "未来 24 小时共 13 次，显示最近 5 次"),
    (5, 5, "未来 24 小时共 5 次"),
    (2, 5, "未来 24 小时共 2 次，另列出之后的 3 次"),
    (0, 3, "未来 24 小时没有推送，显示之后最近的 3 次"),
    (0, 0, ""),
])
def test_the_lists_heading_counts_the_window_the_stat_names(in_window, shown, note):
    assert data.upcoming_note(in_window, shown) == note


def test_the_heading_says_how_many_of_the_windows_pushes_the_list_shows(services, client):
    # Mon 09:00: the daily reading Tue 08:30 is the only push within 24 hours; a weekly one on
    # Thursday comes after it in the list.
    admin.create(services, kind="weekly", spec={"time": "15:00", "weekdays": ["thu"]},
                 workdays_only=False, audience={"all": True}, content={"text": "周四学习"},
                 actor="test")
    make_account(services, "admin1")
    login(client, "admin1")
    page = client.get("/admin/").get_data(as_text=True)
    assert '<div class="value" id="upcoming-count">1</div>' in page
    assert "接下来的推送（未来 24 小时共 1 次，另列出之后的 4 次）" in page
