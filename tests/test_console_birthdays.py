"""党员政治生日 in the console (issue 13, /admin/birthdays): config.toml's [birthday] gives the
first setting; an admin turns it on or off, moves the time and edits the 入党誓词, and that one
stored setting wins (no restart: the job reads it every tick, here on another process) until
「恢复为配置文件的设置」; a branch secretary sees their branch's month and a preview but a change
is refused (403, audited); bad input is explained and writes nothing; turning it on sends no
backlog for times already past. October 2026 with the roster of test_political_birthday."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from bot import audit_text
from bot.clock import SHANGHAI, SettableClock
from bot.config import MAX_OATH_CHARS, OATH
from bot.services import Services
from bot.store import kv
from schedules import birthday_push, jobs
from tests.console_helpers import PASSWORD, login, make_account, text, token
from tests.test_political_birthday import ONE, seed

pytest_plugins = ["tests.browser"]
OATH_2 = "我志愿加入中国共产党（本支部重温誓词用）。"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def services(make_services, clock: SettableClock) -> Services:
    clock.set(at(1, 8))
    built = make_services(demo=False)  # [birthday] enabled = false: config.toml's default
    seed(built)
    return built


@pytest.fixture
def scheduler(make_services) -> Services:
    """The scheduler's process: its own Services on the same file, built before any change."""
    return make_services(demo=False)


@pytest.fixture
def admin_client(services, client):
    make_account(services, "张书记")
    login(client, "张书记")
    return client


def post(client, path: str, data: dict | None = None, as_name: str = "张书记"):
    if client.get("/admin/").status_code != 200:  # idle past 30 minutes: logged out
        login(client, as_name)
    return client.post(path, data={**(data or {}), "csrf_token": token(client)})


def turn_on(client, time: str = "09:00", oath: str = OATH_2):
    return post(client, "/admin/birthdays", {"enabled": "1", "time": time, "oath": oath})


def greetings(services: Services) -> list[str]:
    return [key for (key,) in services.store.db.execute(
        "SELECT key FROM broadcasts WHERE key LIKE 'political-birthday%' ORDER BY key")]


def tick(scheduler: Services, clock: SettableClock, day: int, hour: int, minute: int) -> None:
    clock.set(at(day, hour, minute))
    jobs.fire_political_birthdays(scheduler)


def audits(services: Services) -> int:
    return services.store.db.execute("SELECT count(*) FROM audit").fetchone()[0]


def last_audit(services: Services) -> dict:
    return next(iter(services.store.db.query(
        "SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT 1")))


def sentence(services: Services) -> str:
    return audit_text.describe(last_audit(services), 2026).sentence


# --- seen -----------------------------------------------------------------------------------

def test_the_page_shows_config_tomls_setting_the_month_and_a_preview(admin_client):
    page = text(admin_client.get("/admin/birthdays"))
    assert 'id="birthday-status">未开启' in page and "每天 09:00" in page
    assert "现在按配置文件的设置（每天 09:00，未开启）" in page
    assert "恢复为配置文件的设置</button>" not in page  # nothing to go back to yet
    month = page[page.index('id="birthday-month"'):page.index('id="birthday-preview"')]
    assert "本月政治生日（10月，4 人）" in page
    assert [name for name in ("刘芳", "王书记", "吴敏", "郑新", "冯立", "孙悦", "赵磊")
            if name in month] == ["刘芳", "王书记", "吴敏", "郑新"]  # 冯立: not a year yet
    assert "刘芳 的政治生日（2026-10-03）会收到（按已保存的设置）" in page and "刘芳同志：" in page
    assert OATH in page and 'id="birthday-form"' in page
    assert 'class="active" aria-current="page">成员</a>' in page  # the menu: under 成员
    assert "党员政治生日</a>" in text(admin_client.get("/admin/members"))


def test_a_branch_secretary_sees_their_branch_but_cannot_change_or_reset(services, client):
    make_account(services, "王书记", role="secretary", branch=ONE)
    login(client, "王书记")
    page = text(client.get("/admin/birthdays"))
    assert "只有党委管理员可以开启、关闭或修改" in page and 'id="birthday-form"' not in page
    month = page[page.index('id="birthday-month"'):page.index('id="birthday-preview"')]
    assert "刘芳" in month and "王书记" in month and "吴敏" not in month
    assert "本月政治生日（10月，2 人）" in page and OATH in page
    for path, data in (("/admin/birthdays", {"enabled": "1", "time": "09:00", "oath": "x"}),
                       ("/admin/birthdays/reset", {})):
        assert post(client, path, data, as_name="王书记").status_code == 403
        assert last_audit(services)["action"] == "denied"
    assert kv.get(services.store.db, birthday_push.SETTING_KEY, 0) is None


# --- changed --------------------------------------------------------------------------------

def test_turning_it_on_reaches_the_running_job_and_sends_no_backlog(services, admin_client,
                                                                    scheduler, clock):
    for day, hour in ((1, 9), (3, 9)):
        tick(scheduler, clock, day, hour, 1)  # off: 10-03's greeting is not sent
    clock.set(at(3, 10))
    answer = turn_on(admin_client)
    assert answer.status_code == 303
    page = text(admin_client.get("/admin/birthdays"))
    assert "已保存政治生日推送：每天 09:00，已开启（已过去的日子不补发）" in page
    assert "由 张书记 于 2026-10-03 10:00 在这里修改" in page
    assert "配置文件中的设置（每天 09:00，未开启）现在不起作用" in page
    assert sentence(services) == ("张书记 于 10-03 10:00 修改政治生日推送：改为每天 09:00，已开启，"
                                  "原为每天 09:00，未开启，修改了入党誓词")
    tick(scheduler, clock, 3, 10, 1)
    tick(scheduler, clock, 4, 9, 1)
    assert greetings(services) == []  # 刘芳's 10-03 at 09:00 was before it was on
    tick(scheduler, clock, 8, 9, 1)  # 吴敏's day, and the month's first working day
    assert greetings(services) == ["political-birthday:2026:" + str(_id(services, "吴敏")),
                                   "political-birthdays:2026-10:all",
                                   "political-birthdays:2026-10:branch:第一党支部",
                                   "political-birthdays:2026-10:branch:第二党支部"]
    assert OATH_2 in _greeting_text(services, "吴敏")


def test_a_new_time_already_past_today_sends_nothing_until_tomorrow(services, admin_client,
                                                                    scheduler, clock):
    tick(scheduler, clock, 8, 7, 0)
    clock.set(at(8, 8))
    turn_on(admin_client, time="09:00")
    clock.set(at(8, 8, 30))  # no tick since 08:00: the change itself marks up to now handled
    post(admin_client, "/admin/birthdays", {"enabled": "1", "time": "08:15", "oath": OATH_2})
    tick(scheduler, clock, 8, 8, 45)
    tick(scheduler, clock, 8, 9, 1)
    assert greetings(services) == []  # 08:15 was past at the change; 09:00 no longer applies
    tick(scheduler, clock, 9, 8, 16)
    assert greetings(services) == ["political-birthday:2026:" + str(_id(services, "郑新"))]


def test_turning_it_off_in_the_console_stops_a_config_toml_switched_on(make_services, clock):
    clock.set(at(8, 8))
    on = make_services(demo=False, birthday={"enabled": True})
    seed(on)
    birthday_push.change(on, enabled=False, time="09:00", oath=OATH, actor="console:张书记")
    tick(on, clock, 8, 9, 1)
    assert greetings(on) == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("time", "", "请填写发送时间，格式如 09:00"),
    ("time", "25:00", "请填写发送时间，格式如 09:00"),
    ("time", "9点", "请填写发送时间，格式如 09:00"),
    ("oath", "", "请填写入党誓词"),
    ("oath", " \n\t ", "请填写入党誓词"),
    ("oath", "誓" * (MAX_OATH_CHARS + 1), f"入党誓词最多 {MAX_OATH_CHARS} 个字，现在是 501 个字"),
])
def test_bad_input_is_explained_and_nothing_is_written(services, admin_client, field, value,
                                                       message):
    before = audits(services)
    data = {"enabled": "1", "time": "09:30", "oath": OATH_2, field: value}
    answer = post(admin_client, "/admin/birthdays", data)
    assert answer.status_code == 200
    page = text(answer)
    assert 'id="form-error"' in page and message in page
    assert 'value="09:30"' in page or field == "time"  # what was typed is kept
    assert kv.get(services.store.db, birthday_push.SETTING_KEY, 0) is None
    assert audits(services) == before
    assert birthday_push.setting(services) == birthday_push.configured(services)
    preview = page[page.index('id="birthday-greeting"'):]
    assert f"“{OATH}”" in preview  # the greeting as saved, not the rejected input


def test_an_oath_of_exactly_the_limit_is_kept_trimmed(services, admin_client):
    oath = "誓" * MAX_OATH_CHARS
    assert turn_on(admin_client, time=" 07:05 ", oath=f"\n  {oath}  \n").status_code == 303
    assert birthday_push.setting(services).oath == oath
    assert birthday_push.setting(services).time == "07:05"
    assert birthday_push.setting(services).enabled


def test_the_stored_setting_wins_over_config_toml_until_reset(make_services, services,
                                                             admin_client, clock):
    turn_on(admin_client, time="10:15")
    restarted = make_services(demo=False, birthday={"enabled": False, "send_time": "07:00"})
    assert birthday_push.setting(restarted).when == "每天 10:15，已开启"
    assert birthday_push.setting(restarted).oath == OATH_2
    assert "恢复为配置文件的设置</button>" in text(admin_client.get("/admin/birthdays"))
    assert post(admin_client, "/admin/birthdays/reset").status_code == 303
    assert birthday_push.setting(restarted) == birthday_push.configured(restarted)
    assert birthday_push.setting(restarted).when == "每天 07:00，未开启"
    assert sentence(services).endswith(" 政治生日推送恢复为配置文件的设置：每天 09:00，未开启")
    page = text(admin_client.get("/admin/birthdays"))
    assert "已恢复为配置文件的设置：每天 09:00，未开启" in page and OATH in page
    post(admin_client, "/admin/birthdays/reset")
    assert "已经在按配置文件的设置发送" in text(admin_client.get("/admin/birthdays"))


@pytest.mark.parametrize("stored", ['{"enabled": true}', "not json",
                                    '{"enabled": true, "time": "09:00", "oath": "", "by": "x",'
                                    ' "at": "2026-10-01T08:00:00+08:00"}'])
def test_a_hand_edited_setting_falls_back_to_config_toml(services, stored, caplog):
    with services.store.transaction() as db:
        kv.put(db, birthday_push.SETTING_KEY, stored, None)
    assert birthday_push.setting(services) == birthday_push.configured(services)
    assert "unreadable console setting" in caplog.text


# --- Chromium -------------------------------------------------------------------------------

def test_an_admin_turns_it_on_in_chromium(services, live_server, page: Page):
    make_account(services, "张书记")
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("账号").fill("张书记")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/admin/members")
    page.get_by_role("link", name="党员政治生日").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("党员政治生日"))
    page.get_by_label(re.compile("开启政治生日推送")).check()
    page.get_by_label("每天发送时间").fill("08:30")
    page.get_by_label(re.compile("入党誓词")).fill(OATH_2)
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash.ok")).to_contain_text("每天 08:30，已开启")
    expect(page.locator("#birthday-status")).to_have_text("已开启")
    expect(page.locator("#birthday-greeting")).to_contain_text(OATH_2)
    assert birthday_push.setting(services).time == "08:30"


def _id(services: Services, name: str) -> int:
    return services.store.db.execute("SELECT id FROM members WHERE name = ?", [name]).fetchone()[0]


def _greeting_text(services: Services, name: str) -> str:
    key = f"political-birthday:2026:{_id(services, name)}"
    return services.store.db.execute(
        "SELECT text FROM broadcasts WHERE key = ?", [key]).fetchone()[0] or ""

