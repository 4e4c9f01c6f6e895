"""立即发送 and duplicate schedules in the console, in headless Chromium: the confirm dialog says
what will happen (a one-off is consumed, a recurring schedule keeps its next fire); after
sending a one-off now it shows 已完成 and the scheduler, run with the clock past its time, sends
nothing more (counted in the delivery ledger); a second click on a stale page sends nothing; the
form warns about an identical running schedule, links to it and offers 仍然创建.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from bot.clock import SHANGHAI
from bot.services import Services
from bot.store import schedules as store_schedules
from schedules import admin, jobs
from schedules.runner import SchedulerRunner
from tests.console_helpers import PASSWORD, make_account

pytest_plugins = ["tests.browser"]

TEXT = "今晚七点支部学习，请准时参加"
EVERYONE = range(1, 9)
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
SHOTS = os.environ.get("QINGFENG_SHOTS")  # a folder: save screenshots there to look at


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("账号").fill("root")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")


def add(services: Services, kind: str, spec: dict) -> int:
    return admin.create(services, kind=kind, spec=spec, workdays_only=False,
                        audience={"all": True}, content={"text": TEXT}, actor="test")


def received(services: Services, schedule_id: int) -> Counter[int]:
    return Counter(member for (member,) in services.store.db.execute(
        "SELECT d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.schedule_id = ?", [schedule_id]))


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def send_now(page: Page) -> str:
    """Click 立即发送, accept the confirm, and return what it said."""
    said: list[str] = []

    def accept(dialog: Dialog) -> None:
        said.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="立即发送").click()
    page.wait_for_load_state()
    assert said, "no confirm dialog"
    return said[0]


@pytest.fixture
def root(services: Services) -> None:
    make_account(services, "root")


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_send_now_a_one_off_consumes_it(live_server, new_page, services, clock, root, device):
    sid = add(services, "once", {"at": "2026-11-23T10:00"})
    page = new_page(**device)
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/schedules/{sid}")
    expect(page.locator("#send-now-effect")).to_contain_text("原定的 2026-11-23 10:00 不会再发")
    shoot(page, f"send-now-once-{device['viewport']['width']}")
    said = send_now(page)
    assert "这是一次性消息：发送后即为「已完成」，原定的 2026-11-23 10:00 不会再发" in said
    assert "全体党员（8 人）" in said
    expect(page.locator(".flash.ok")).to_contain_text("这条一次性消息已完成")
    expect(page.locator("h1 .badge")).to_have_text("已完成")
    shoot(page, f"send-now-once-done-{device['viewport']['width']}")
    assert store_schedules.get(services.store.db, sid).status == "done"

    runner = SchedulerRunner(services, jobs=[jobs.fire_admin_schedules, jobs.drain_deliveries])
    runner.tick()
    clock.set(datetime(2026, 11, 23, 10, 0, 30, tzinfo=SHANGHAI))
    runner.tick()
    clock.set(datetime(2026, 11, 23, 10, 10, tzinfo=SHANGHAI))
    runner.tick()
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})
    log_in(page, live_server)  # an hour on: the console's idle timeout ended the session
    page.goto(f"{live_server}/admin/schedules/{sid}")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#history-table .sent")).to_have_text("8")


def test_a_second_click_on_a_stale_page_sends_nothing(live_server, new_page, services, root):
    sid = add(services, "once", {"at": "2026-11-23T10:00"})
    first, second = new_page(), new_page()  # two tabs, both opened before either sent
    for tab in (first, second):
        log_in(tab, live_server)
        tab.goto(f"{live_server}/admin/schedules/{sid}")
    send_now(first)
    send_now(second)
    expect(second.locator(".flash.error")).to_contain_text("已经发送过，这次没有再发送")
    assert received(services, sid) == Counter({m: 1 for m in EVERYONE})


def test_send_now_a_recurring_schedule_keeps_its_time(live_server, page, services, clock, root):
    sid = add(services, "daily", {"time": "18:00"})
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/schedules/{sid}")
    said = send_now(page)
    assert "额外的一次" in said and "下一次仍在 2026-11-23 18:00 按时发送" in said
    expect(page.locator("h1 .badge")).to_have_text("生效中")
    runner = SchedulerRunner(services, jobs=[jobs.fire_admin_schedules, jobs.drain_deliveries])
    runner.tick()
    clock.set(datetime(2026, 11, 23, 18, 0, 30, tzinfo=SHANGHAI))
    runner.tick()
    assert received(services, sid) == Counter({m: 2 for m in EVERYONE})  # now + 18:00


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_the_form_warns_about_an_identical_schedule(live_server, new_page, services, root,
                                                    device):
    existing = add(services, "once", {"at": "2026-11-23T10:00"})
    page = new_page(**device)
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/schedules/new")
    page.get_by_label("日期和时间").fill("2026-11-23T10:00")
    page.locator("textarea[name=text]").fill(TEXT)
    warning = page.locator("#duplicate-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(f"已有一条相同的定时消息 #{existing}（生效中")
    expect(page.locator("#duplicate-link")).to_have_attribute(
        "href", f"/admin/schedules/{existing}")
    shoot(page, f"duplicate-warning-{device['viewport']['width']}")

    page.locator("textarea[name=text]").fill(TEXT + "（更正）")  # different: the warning goes
    expect(warning).to_be_hidden()
    page.locator("textarea[name=text]").fill(TEXT)
    expect(warning).to_be_visible()

    page.get_by_role("button", name="创建", exact=True).click()  # refused: the form comes back
    expect(page.locator("#duplicate-warning")).to_be_visible()
    assert len(store_schedules.list_all(services.store.db)) == 1
    page.get_by_role("button", name="仍然创建").click()
    expect(page.locator(".flash.ok")).to_contain_text("已创建定时消息")
    assert len(store_schedules.list_all(services.store.db)) == 2


def test_the_link_goes_to_the_existing_schedule(live_server, page, services, root):
    existing = add(services, "daily", {"time": "18:00"})
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/schedules/new")
    page.get_by_label("发送方式").select_option("daily")
    page.get_by_label("时间", exact=True).fill("18:00")
    page.locator("textarea[name=text]").fill(TEXT)
    page.get_by_role("link", name="查看已有的那条").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"定时消息 #{existing}")
