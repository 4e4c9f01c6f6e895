"""定时推送 in headless Chromium (issue 12's small confusions): no red problem before a field is
touched, a preview in flight never brings the 「已创建」 flash back, the built-in 每日纪法 push seen,
moved and paused on its page and shown so on 概览, the 接下来的推送 heading's count; and the
pages at 390 px and 1280 px (screenshots in /tmp/sched-shots for a person to look at)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from bot.clock import SHANGHAI
from bot.services import Services
from schedules import admin, daily_push
from schedules.runner import SchedulerRunner, default_jobs
from tests.console_helpers import PASSWORD, make_account

pytest_plugins = ["tests.browser"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
SHOTS = Path("/tmp/sched-shots")
WAIT_S = 5


@pytest.fixture
def services(make_services) -> Services:
    return make_services()  # sandbox only: the scheduler's pushes land in the /sim inboxes


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("概览")


def previews(page: Page) -> int:
    return int(page.locator("#schedule-form").get_attribute("data-previews") or 0)


def answered(page: Page, action: Callable[[], Any]) -> None:
    """Do `action`, then wait until the form has shown a newer preview answer."""
    before = previews(page)
    action()
    page.wait_for_function(
        "n => Number(document.getElementById('schedule-form').dataset.previews || 0) > n",
        arg=before)


# --- 1. no red problem before the field is touched --------------------------------------------

def test_weekly_shows_no_problem_until_its_fields_are_touched(live_server: str, page: Page,
                                                              services: Services):
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/schedules/new")
    status = page.locator("#preview-status")
    page.wait_for_function("document.getElementById('schedule-form').dataset.previews")
    expect(status).not_to_have_class("flash error")  # 一次 with an empty date: not yet a problem
    answered(page, lambda: page.get_by_label("发送方式").select_option("weekly"))
    expect(status).to_have_class("hint")
    expect(status).not_to_contain_text("请填写")
    # Leaving the time empty is a problem with it.
    page.get_by_label("时间", exact=True).focus()
    answered(page, lambda: page.get_by_label("发送对象").focus())
    expect(status).to_have_text("请填写发送时间（如 08:30）")
    expect(status).to_have_class("flash error")
    # Filled: the weekdays come next, untouched, so no red about them yet.
    answered(page, lambda: page.get_by_label("时间", exact=True).fill("08:30"))
    expect(status).to_have_class("hint")
    answered(page, lambda: page.get_by_role("checkbox", name="周一").check())
    answered(page, lambda: page.get_by_role("checkbox", name="周一").uncheck())
    expect(status).to_have_text("请至少选择一天（周一到周日）")
    answered(page, lambda: page.get_by_role("checkbox", name="周五").check())
    expect(status).to_have_class("hint")  # the text is still empty, and untouched
    # The text was never touched: submitting says what is missing, and the preview agrees.
    page.get_by_role("button", name="创建").click()
    expect(page.locator("#form-error")).to_have_text("消息内容不能为空")
    expect(page.locator("#preview-status")).to_have_text("消息内容不能为空")
    expect(page.locator("#preview-status")).to_have_class("flash error")


# --- 2. a preview in flight cannot bring a flash back -----------------------------------------

class Gate:
    """Holds one view's requests on the live server until opened; says when one is waiting."""

    def __init__(self, app: Flask, endpoint: str) -> None:
        self.armed = False
        self.waiting = threading.Event()
        self.opened = threading.Event()
        view = app.view_functions[endpoint]

        @functools.wraps(view)  # keeps the console's markers (guarded, session_readonly)
        def held(*args: Any, **kwargs: Any) -> Any:
            if self.armed:
                self.waiting.set()
                assert self.opened.wait(WAIT_S), "the test never opened the gate"
            return view(*args, **kwargs)

        app.view_functions[endpoint] = held

    def arm(self) -> None:
        self.armed = True

    def open(self) -> None:
        self.armed = False
        self.opened.set()


def test_a_preview_in_flight_while_the_form_is_submitted_never_brings_the_flash_back(
        live_server: str, new_page, browser, app: Flask, services: Services):
    """The session is one cookie, shared by every tab. The form is submitted in one tab while
    the preview of the same form open in a second tab is in flight: it was sent with the cookie
    that held 「已创建」 and is answered after the new page showed (and dropped) it. (One tab alone
    loses this race only within microseconds, between the redirect and the new page.)"""
    make_account(services, "root")
    first = new_page()
    log_in(first, live_server, "root")
    second = first.context.new_page()  # the same browser session (cookie jar)
    for tab in (first, second):
        tab.goto(f"{live_server}/admin/schedules/new")
        tab.get_by_label("发送方式").select_option("daily")
        tab.get_by_label("时间", exact=True).fill("10:00")
        answered(tab, lambda tab=tab: tab.get_by_label("文字（最多 600 字）").fill("晚上学习"))
        # Leave the text now: leaving it as 创建 is clicked would send one more preview then.
        answered(tab, lambda tab=tab: tab.get_by_role("heading", level=1).click())
    show, preview = (Gate(app, "console.schedules_show"), Gate(app, "console.schedules_preview"))
    show.arm()
    first.get_by_role("button", name="创建").click(no_wait_after=True)
    assert show.waiting.wait(WAIT_S)  # created; the cookie now holds the flash; next page held
    preview.arm()
    second.get_by_label("文字（最多 600 字）").fill("晚上学习（改）")
    assert preview.waiting.wait(WAIT_S)  # sent with the cookie that holds the flash
    before = previews(second)
    show.open()
    expect(first.locator(".flash.ok")).to_have_text("已创建定时消息 #1")
    preview.open()
    second.wait_for_function(
        "n => Number(document.getElementById('schedule-form').dataset.previews || 0) > n",
        arg=before)
    expect(second.locator("#preview-text")).to_have_text("晚上学习（改）")
    first.goto(f"{live_server}/admin/schedules")
    expect(first.get_by_role("heading", level=1)).to_have_text("定时推送")
    expect(first.locator(".flash")).to_have_count(0)  # before the fix: 「已创建」 again
    browser.contexts  # noqa: B018 (the fixture closes them)


# --- 3. the built-in 每日纪法 push ---------------------------------------------------------------

def test_the_daily_push_seen_moved_paused_and_shown_on_the_overview(live_server: str, page: Page,
                                                                    services: Services, clock):
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="定时推送").click()
    row = page.locator("#daily-push-row")
    expect(row).to_contain_text("每天 08:30（仅工作日）")
    row.get_by_role("link", name="每日纪法条文").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("每日纪法推送")
    expect(page.locator("#daily-source")).to_have_text("现在按配置文件的设置发送。")
    page.get_by_label("每天发送时间").fill("10:30")
    page.get_by_label("仅工作日发送（节假日调休自动处理）").uncheck()
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash.ok")).to_have_text(
        "已保存每日纪法推送：每天 10:30。下一次推送：2026-11-23 10:30")
    expect(page.locator("#daily-source")).to_contain_text("由 root 于 2026-11-23 09:00 在这里修改")
    assert daily_push.setting(services).when == "每天 10:30"
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="概览").click()
    first_daily = page.locator("#upcoming-table tr", has_text="每日纪法条文").first
    expect(first_daily).to_contain_text("11-23 10:30")
    first_daily.get_by_role("link", name="每日纪法条文").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="暂停推送").click()
    expect(page.locator("#daily-status")).to_have_text("已暂停")
    expect(page.locator("#daily-next")).to_have_text("已暂停：恢复前不会推送")
    page.goto(f"{live_server}/admin/")
    expect(page.locator("#upcoming-table")).not_to_contain_text("每日纪法条文")
    page.goto(f"{live_server}/admin/schedules/daily")
    page.get_by_role("button", name="恢复推送").click()
    expect(page.locator("#daily-status")).to_have_text("生效中")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="恢复为配置文件的设置").click()
    expect(page.locator("#daily-when")).to_have_text("每天 08:30（仅工作日）")


def test_moving_the_daily_push_after_todays_went_out_sends_nothing_more_today(
        live_server: str, page: Page, services: Services, clock):
    scheduler = SchedulerRunner(services, jobs=default_jobs())
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    scheduler.tick()
    clock.set(datetime(2026, 11, 24, 8, 30, 5, tzinfo=SHANGHAI))
    scheduler.tick()  # today's push, at 08:30
    clock.set(datetime(2026, 11, 24, 8, 40, tzinfo=SHANGHAI))
    make_account(services, "root")
    log_in(page, live_server, "root")
    page.goto(f"{live_server}/admin/schedules/daily")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#history-table tbody tr")).to_contain_text("2026-11-24 08:30")
    page.get_by_label("每天发送时间").fill("10:00")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash.ok")).to_have_text(
        "已保存每日纪法推送：每天 10:00（仅工作日）。"
        "下一次推送：2026-11-25 10:00（今天已推送过，每天只推送一次）")
    page.goto(f"{live_server}/admin/")
    expect(page.locator("#upcoming-table tr", has_text="每日纪法条文").first).to_contain_text(
        "11-25 10:00")
    clock.set(datetime(2026, 11, 24, 10, 0, 5, tzinfo=SHANGHAI))
    scheduler.tick()
    sent = services.store.db.execute(
        "SELECT key FROM broadcasts WHERE key LIKE 'reading:%'").fetchall()
    assert sent == [("reading:2026-11-24",)]
    log_in(page, live_server, "root")  # idle for over 30 minutes meanwhile
    page.goto(f"{live_server}/admin/schedules/daily")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#daily-next")).to_have_text(
        "下一次推送：2026-11-25 10:00（今天已推送过，每天只推送一次）")


def test_a_secretary_sees_the_daily_push_without_its_buttons(live_server: str, page: Page,
                                                             services: Services):
    make_account(services, "李书记", role="secretary", branch="第一党支部")
    log_in(page, live_server, "李书记")
    page.goto(f"{live_server}/admin/schedules")
    page.locator("#daily-push-row").get_by_role("link", name="内置").click()
    expect(page.locator("#daily-when")).to_have_text("每天 08:30（仅工作日）")
    expect(page.locator("#daily-readonly")).to_be_visible()
    expect(page.get_by_role("button", name="保存")).to_have_count(0)
    expect(page.get_by_role("button", name="暂停推送")).to_have_count(0)


# --- 4. the heading counts what the stat counts ---------------------------------------------

def test_the_upcoming_heading_counts_the_24_hour_window(live_server: str, page: Page,
                                                        services: Services):
    admin.create(services, kind="cron", spec={"cron": "0 10-20 * * *"}, workdays_only=False,
                 audience={"all": True}, content={"text": "整点学习"}, actor="test")
    make_account(services, "root")
    log_in(page, live_server, "root")
    expect(page.locator("#upcoming-count")).to_have_text("12")
    expect(page.locator("#upcoming-heading")).to_have_text(
        "接下来的推送（未来 24 小时共 12 次，显示最近 5 次）")
    expect(page.locator("#upcoming-table tbody tr")).to_have_count(5)


# --- the pages at both widths -----------------------------------------------------------------

@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop-1280", "phone-390"])
def test_the_schedule_pages_fit_and_are_photographed(live_server: str, new_page,
                                                     services: Services, device):
    admin.create(services, kind="weekly", spec={"time": "18:00", "weekdays": ["mon", "thu"]},
                 workdays_only=True, audience={"branches": ["第一党支部"]},
                 content={"text": "周一、周四晚上支部集中学习，请准时参加。"}, actor="test")
    make_account(services, "root")
    page = new_page(**device)
    width = device["viewport"]["width"]
    log_in(page, live_server, "root")
    SHOTS.mkdir(exist_ok=True)
    for name, path in (("list", "/admin/schedules"), ("new", "/admin/schedules/new"),
                       ("daily", "/admin/schedules/daily"), ("overview", "/admin/")):
        page.goto(live_server + path)
        if name == "new":
            answered(page, lambda: page.get_by_label("发送方式").select_option("weekly"))
        overflow = page.evaluate("[document.documentElement.scrollWidth,"
                                 " document.body.scrollWidth]")
        assert max(overflow) <= width, (path, overflow)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
