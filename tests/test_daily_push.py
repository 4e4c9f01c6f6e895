"""The built-in 每日纪法 push in 定时推送 (issue 12): seen by admins and branch secretaries,
changed, paused, resumed and reset by admins only, audited, picked up by a running scheduler on
another process without a restart, exactly once a day whatever the time is moved to, shown the
same on 概览; config.toml gives the first setting, the console's stored one wins after.

The clock is set, the scheduler's tick is called; nothing sleeps."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot import audit_text
from bot.clock import SHANGHAI
from bot.console import dashboard_data
from bot.services import Services
from schedules import daily_push
from schedules.runner import SchedulerRunner, default_jobs
from tests.console_helpers import login, make_account, text, token

EVERYONE = 8  # the demo roster


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def services(make_services) -> Services:
    return make_services()  # sandbox only: pushes land in the /sim inboxes


@pytest.fixture
def scheduler(make_services) -> SchedulerRunner:
    """The scheduler in another process: its own Services and Store on the same file."""
    return SchedulerRunner(make_services(), holder="worker-B", jobs=default_jobs())


@pytest.fixture
def admin_client(services, client):
    make_account(services, "张书记")
    login(client, "张书记")
    return client


def post(client, path: str, data: dict | None = None, as_name: str = "张书记"):
    """POST as a person who has just logged in (the tests move the clock by hours)."""
    if client.get("/admin/").status_code != 200:  # idle past 30 minutes: logged out
        login(client, as_name)
    return client.post(path, data={**(data or {}), "csrf_token": token(client)})


def readings(services: Services) -> list[tuple[str, str]]:
    """(key, fire time HH:MM) of every daily-reading broadcast."""
    return [(key, datetime.fromisoformat(fire).strftime("%H:%M")) for key, fire in
            services.store.db.execute("SELECT key, fire_at FROM broadcasts WHERE key LIKE"
                                      " 'reading:%' ORDER BY fire_at")]


def readings_in_inbox(services: Services, member: int = 6) -> int:
    return services.store.db.execute(
        "SELECT count(*) FROM sandbox_inbox WHERE external_id = ? AND text LIKE '【每日纪法】%'",
        [f"m{member}"]).fetchone()[0]


def last_audit(services: Services) -> dict:
    row = next(iter(services.store.db.query(
        "SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT 1")))
    return row


def sentence(services: Services) -> str:
    return audit_text.describe(last_audit(services), 2026).sentence


# --- seen -----------------------------------------------------------------------------------

def test_the_list_and_the_page_show_config_tomls_setting_at_first(admin_client, clock):
    listing = text(admin_client.get("/admin/schedules"))
    assert 'id="daily-push-row"' in listing and "每天 08:30（仅工作日）" in listing
    page = text(admin_client.get("/admin/schedules/daily"))
    assert "每天 08:30（仅工作日）" in page and "全体党员（8 人）" in page
    assert "现在按配置文件的设置发送" in page
    assert "下一次推送：2026-11-24 08:30" in page  # Mon 09:00 now: today's is past
    assert 'id="daily-form"' in page and "暂停推送" in page
    assert "恢复为配置文件的设置</button>" not in page  # nothing to go back to yet


def test_a_branch_secretary_sees_it_but_cannot_change_pause_or_reset_it(services, client):
    make_account(services, "李书记", role="secretary", branch="第一党支部")
    login(client, "李书记")
    page = text(client.get("/admin/schedules/daily"))
    assert "每天 08:30（仅工作日）" in page and "只有党委管理员可以修改时间或暂停" in page
    assert 'id="daily-form"' not in page and "暂停推送" not in page
    assert 'id="history-table"' not in page  # counts over every branch are an admin's
    assert 'id="daily-push-row"' in text(client.get("/admin/schedules"))
    for path, data in (("/admin/schedules/daily", {"time": "10:00"}),
                       ("/admin/schedules/daily/pause", {}),
                       ("/admin/schedules/daily/reset", {})):
        assert post(client, path, data, as_name="李书记").status_code == 403
        assert last_audit(services)["action"] == "denied"
    assert daily_push.setting(services) == daily_push.configured(services)


# --- changed ----------------------------------------------------------------------------------

def test_a_new_time_reaches_the_running_scheduler_on_another_process(services, admin_client,
                                                                     scheduler, clock):
    clock.set(at(24, 8, 0))
    scheduler.tick()  # running since before the change
    answer = post(admin_client, "/admin/schedules/daily", {"time": "08:45", "workdays_only": "1"})
    assert answer.status_code == 303
    shown = text(admin_client.get("/admin/schedules/daily"))
    assert "已保存每日纪法推送：每天 08:45（仅工作日）。下一次推送：2026-11-24 08:45" in shown
    assert "由 张书记 于 2026-11-24 08:00 在这里修改" in shown
    assert "配置文件中的设置（每天 08:30（仅工作日））现在不起作用" in shown
    clock.set(at(24, 8, 30, 5))
    scheduler.tick()
    assert readings(services) == []  # the old time no longer sends
    clock.set(at(24, 8, 45, 5))
    scheduler.tick()
    assert readings(services) == [("reading:2026-11-24", "08:45")]
    assert readings_in_inbox(services) == 1
    assert sentence(services) == ("张书记 于 11-24 08:00 修改每日纪法推送时间："
                                  "改为每天 08:45（仅工作日），原为每天 08:30（仅工作日）")


def test_moving_the_time_later_after_todays_push_does_not_send_twice(services, admin_client,
                                                                      scheduler, clock):
    clock.set(at(24, 8, 0))
    scheduler.tick()
    clock.set(at(24, 8, 30, 5))
    scheduler.tick()
    assert readings(services) == [("reading:2026-11-24", "08:30")]
    clock.set(at(24, 9, 0))
    post(admin_client, "/admin/schedules/daily", {"time": "10:00", "workdays_only": "1"})
    page = text(admin_client.get("/admin/schedules/daily"))
    assert "下一次推送：2026-11-25 10:00（今天已推送过，每天只推送一次）" in page
    # 概览 agrees: not today 10:00, which will not send.
    assert [u.at for u in dashboard_data.upcoming(services, None) if u.daily][0] == at(25, 10)
    for moment in (at(24, 10, 0, 5), at(24, 18, 0)):
        clock.set(moment)
        scheduler.tick()
    assert readings(services) == [("reading:2026-11-24", "08:30")]
    assert readings_in_inbox(services) == 1
    clock.set(at(25, 10, 0, 5))
    scheduler.tick()
    assert readings(services)[-1] == ("reading:2026-11-25", "10:00")
    assert readings_in_inbox(services) == 2


def test_moving_the_time_to_one_already_past_today_sends_nothing_until_tomorrow(
        services, admin_client, scheduler, clock):
    clock.set(at(24, 8, 0))
    scheduler.tick()
    clock.set(at(24, 8, 10))
    post(admin_client, "/admin/schedules/daily", {"time": "07:30", "workdays_only": "1"})
    assert "下一次推送：2026-11-25 07:30（今天的推送时间已过，今天不补发）" in text(
        admin_client.get("/admin/schedules/daily"))
    for moment in (at(24, 8, 30, 5), at(24, 23, 0), at(25, 7, 30, 5)):
        clock.set(moment)
        scheduler.tick()
    assert readings(services) == [("reading:2026-11-25", "07:30")]


def test_working_days_only_can_be_turned_off_and_a_saturday_gets_its_push(
        services, admin_client, scheduler, clock):
    clock.set(at(27, 12))  # Fri
    scheduler.tick()
    post(admin_client, "/admin/schedules/daily", {"time": "08:30"})  # box unticked
    assert daily_push.setting(services).when == "每天 08:30"
    clock.set(at(28, 8, 30, 5))  # Sat
    scheduler.tick()
    assert readings(services) == [("reading:2026-11-28", "08:30")]


@pytest.mark.parametrize("bad", ["", "25:00", "8:3", "08:30:00", "八点半", "12:60"])
def test_a_bad_time_is_explained_and_nothing_changes(services, admin_client, bad):
    before = services.store.db.execute("SELECT count(*) FROM audit").fetchone()[0]
    answer = post(admin_client, "/admin/schedules/daily", {"time": bad, "workdays_only": "1"})
    assert answer.status_code == 200
    page = text(answer)
    assert 'id="form-error"' in page and "请填写发送时间，格式如 08:30" in page
    assert daily_push.setting(services) == daily_push.configured(services)
    assert services.store.db.execute("SELECT count(*) FROM audit").fetchone()[0] == before


# --- paused, resumed, reset -----------------------------------------------------------------

def test_pause_stops_it_everywhere_and_resume_sends_no_backlog(services, admin_client,
                                                              scheduler, clock):
    clock.set(at(24, 8, 0))
    scheduler.tick()
    assert post(admin_client, "/admin/schedules/daily/pause").status_code == 303
    page = text(admin_client.get("/admin/schedules/daily"))
    assert "已暂停每日纪法推送" in page and "已暂停：恢复前不会推送" in page and "恢复推送" in page
    assert 'class="badge warn"' in text(admin_client.get("/admin/schedules"))
    assert not [u for u in dashboard_data.upcoming(services, None) if u.daily]
    assert "张书记 于 11-24 08:00 暂停每日纪法推送" in sentence(services)
    clock.set(at(24, 8, 30, 5))
    scheduler.tick()
    assert readings(services) == []
    # A second pause (another tab) is told so; nothing changes.
    post(admin_client, "/admin/schedules/daily/pause")
    assert "每日纪法推送已经暂停" in text(admin_client.get("/admin/schedules/daily"))
    clock.set(at(24, 9, 0))
    post(admin_client, "/admin/schedules/daily/resume")
    assert "恢复每日纪法推送" in sentence(services)
    for moment in (at(24, 9, 0, 10), at(24, 12, 0)):
        clock.set(moment)
        scheduler.tick()
    assert readings(services) == []  # 08:30 fell due while paused: not sent afterwards
    clock.set(at(25, 8, 30, 5))
    scheduler.tick()
    assert readings(services) == [("reading:2026-11-25", "08:30")]
    post(admin_client, "/admin/schedules/daily/resume")
    assert "每日纪法推送没有暂停，无需恢复" in text(admin_client.get("/admin/schedules/daily"))


def test_the_stored_setting_wins_over_config_toml_until_reset(make_services, admin_client,
                                                             services, clock):
    post(admin_client, "/admin/schedules/daily", {"time": "10:15"})
    # config.toml changed and the service restarted: the console's setting still wins.
    restarted = make_services(reading={"push_time": "06:00", "workdays_only": False})
    assert daily_push.setting(restarted).when == "每天 10:15"
    assert daily_push.configured(restarted).when == "每天 06:00"
    page = text(admin_client.get("/admin/schedules/daily"))
    assert "恢复为配置文件的设置</button>" in page
    assert post(admin_client, "/admin/schedules/daily/reset").status_code == 303
    assert daily_push.setting(restarted).when == "每天 06:00"
    assert daily_push.setting(services).from_config
    assert "每日纪法推送恢复为配置文件的设置：每天 08:30（仅工作日）" in sentence(services)
    post(admin_client, "/admin/schedules/daily/reset")
    assert "已经在按配置文件的设置发送" in text(admin_client.get("/admin/schedules/daily"))


# --- 概览 -------------------------------------------------------------------------------------

def test_overview_lists_the_push_at_its_console_time_and_links_its_page(services, admin_client,
                                                                         clock):
    post(admin_client, "/admin/schedules/daily", {"time": "11:00"})
    dashboard = text(admin_client.get("/admin/"))
    assert "11-23 11:00" in dashboard and 'href="/admin/schedules/daily"' in dashboard
    assert "11-24 08:30" not in dashboard
    assert dashboard_data.upcoming_count(services, None) == 1  # 11:00 today (tomorrow is past 24 h)


def test_a_day_missed_in_an_outage_is_not_sent_later_that_day_and_the_page_says_missed(
        services, admin_client, scheduler, clock):
    clock.set(at(24, 7, 0))
    scheduler.tick()
    clock.set(at(24, 10, 0))  # down from 07:00 to 10:00: 08:30 is beyond the hour of grace
    scheduler.tick()
    assert services.store.db.execute(
        "SELECT status FROM broadcasts WHERE key = 'reading:2026-11-24'").fetchone() == ("missed",)
    post(admin_client, "/admin/schedules/daily", {"time": "11:00", "workdays_only": "1"})
    assert "下一次推送：2026-11-25 11:00（今天的推送因服务停机已错过，每天只推送一次）" in text(
        admin_client.get("/admin/schedules/daily"))
    clock.set(at(24, 11, 0, 5))
    scheduler.tick()
    assert readings_in_inbox(services) == 0


@pytest.mark.parametrize("stored", ["not json", '{"time": "25:00"}', "[]", '{"time": 8}'])
def test_a_hand_edited_setting_falls_back_to_config_toml(services, admin_client, stored, caplog):
    with services.store.transaction() as db:
        db.execute("INSERT INTO kv (key, value, expires_at) VALUES (?, ?, NULL)",
                   [daily_push.SETTING_KEY, stored])
    assert daily_push.setting(services) == daily_push.configured(services)
    assert "unreadable console setting" in caplog.text
    assert admin_client.get("/admin/schedules/daily").status_code == 200
